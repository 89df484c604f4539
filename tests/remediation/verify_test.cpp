// verify_until on a real model_metadata check over real folders: a missing target fails, a
// passing one passes, `rise` and `stable_for` make it wait for a streak, a failing folder fails
// a whole-check verify, a stop ends it. Real time, each case bounded by a fail-safe deadline.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "remediation/verify.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using acis::remediation::verify_spec;

class verify_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "acis-verify-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    model("good", 0.9);
    model("bad", 0.1);
    acis::config::model_metadata_check k;
    k.models_dir = dir_.string();
    k.rules = {{"/metrics/sharpe_ratio", 0.5, std::nullopt, std::nullopt}};
    cfg_.name = "models";
    cfg_.kind = k;
    cfg_.interval = 1s;
    cfg_.timeout = 500ms;
    cfg_.pending_interval = 100ms;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void model(const std::string& name, double sharpe) {
    fs::create_directories(dir_ / name);
    std::ofstream(dir_ / name / "metadata.json") << R"({"metrics": {"sharpe_ratio": )" << sharpe << "}}";
  }

  verify_spec spec(std::string target, bool per_target = true) {
    verify_spec s;
    s.check = &cfg_;
    s.target = std::move(target);
    s.per_target = per_target;
    s.within = 1500ms;
    return s;
  }

  // Runs verify_until to its end (fail-safe 10 s); counts the attempts it fed.
  std::string run(verify_spec s, std::function<bool()> stopped = {}) {
    asio::io_context ioc{1};
    auto f = asio::co_spawn(
        ioc,
        acis::remediation::verify_until({ioc.get_executor(), &pool_}, std::move(s),
                                        [this](const acis::checks::attempt_result&) { ++attempts_; },
                                        std::move(stopped)),
        asio::use_future);
    const auto t = std::chrono::steady_clock::now();
    ioc.run_for(10s);
    took_ = std::chrono::steady_clock::now() - t;
    return f.get();
  }

  fs::path dir_;
  acis::config::check_config cfg_;
  asio::thread_pool pool_{2};
  int attempts_ = 0;
  std::chrono::steady_clock::duration took_{};
};

}  // namespace

// A target the check does not report is not verified, however healthy the others are.
TEST_F(verify_test, missing_target_fails) {
  auto why = run(spec("gone"));
  EXPECT_NE(why.find("no result for target gone"), std::string::npos) << why;
  EXPECT_GE(took_, 1s);
  EXPECT_LT(took_, 3s);
}

// The incident's own target passing: verified on the first answer when rise is 1.
TEST_F(verify_test, passing_target_passes) {
  EXPECT_EQ(run(spec("good")), "");
  EXPECT_EQ(attempts_, 1);
}

// A failing target fails with the check's reason.
TEST_F(verify_test, failing_target_fails_with_its_reason) {
  auto why = run(spec("bad"));
  EXPECT_NE(why.find("sharpe_ratio"), std::string::npos) << why;
}

// rise 3: three passing answers in a row are needed.
TEST_F(verify_test, rise_needs_a_streak) {
  auto s = spec("good");
  s.rise = 3;
  EXPECT_EQ(run(s), "");
  EXPECT_EQ(attempts_, 3);
}

// stable_for: it passes only once the first passing answer of the streak is that old.
TEST_F(verify_test, stable_for_waits) {
  auto s = spec("good");
  s.stable_for = 500ms;
  EXPECT_EQ(run(s), "");
  EXPECT_GE(took_, 500ms);
  EXPECT_GE(attempts_, 2);
}

// A streak that cannot finish within the bound fails and says how far it got.
TEST_F(verify_test, streak_too_short_fails) {
  auto s = spec("good");
  s.stable_for = 5s;
  s.within = 600ms;
  auto why = run(s);
  EXPECT_NE(why.find("passing for"), std::string::npos) << why;
}

// On another check (no own target): every folder must pass.
TEST_F(verify_test, whole_check_needs_every_target) {
  auto why = run(spec("", false));
  EXPECT_NE(why.find("bad"), std::string::npos) << why;
  fs::remove_all(dir_ / "bad");
  attempts_ = 0;
  EXPECT_EQ(run(spec("", false)), "");
}

// The models folder gone: an incomplete attempt never verifies a whole-check verify.
TEST_F(verify_test, incomplete_attempt_fails) {
  fs::remove_all(dir_);
  auto why = run(spec("", false));
  EXPECT_FALSE(why.empty());
  fs::create_directories(dir_);
}

// A stop ends it at once.
TEST_F(verify_test, stop_ends_it) {
  auto why = run(spec("gone"), [] { return true; });
  EXPECT_EQ(why, "stopped");
  EXPECT_LT(took_, 1s);
}
