// The file_age check on real files in a temp dir.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "checks/kinds.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

class FileAgeCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "acis-fa-XXXXXX").string();
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
    file_ = dir_ / "eod_prices.log";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<check> make(config::duration max_age, asio::thread_pool* pool = nullptr) {
    config::file_age_check k;
    k.path = file_.string();
    k.max_age = max_age;
    config::check_config c;
    c.name = "pipeline";
    c.kind = k;
    return make_file_age_check(c, k, {io_.get_executor(), pool ? pool : &pool_});
  }

  // One attempt; the loop has a fail-safe deadline. Returns the single result.
  check_result run(check& c, steady_clock::duration timeout = 5s) {
    std::optional<std::vector<check_result>> out;
    asio::co_spawn(io_, c.run(steady_clock::now() + timeout),
                   [&](std::exception_ptr e, acis::checks::attempt_result a) {
                     auto r = std::move(a.targets);
                     EXPECT_FALSE(e) << "run() threw";
                     out = std::move(r);
                   });
    io_.restart();
    io_.run_for(timeout + 10s);
    if (!out || out->size() != 1) {
      ADD_FAILURE() << "run() did not complete with exactly one result";
      return check_result::failing("test harness: no result");
    }
    EXPECT_EQ((*out)[0].target, "");
    return (*out)[0];
  }

  fs::path dir_, file_;
  asio::io_context io_{1};
  asio::thread_pool pool_{2};
};

// A file modified just now is within max_age.
TEST_F(FileAgeCheck, FreshFileIsOk) {
  std::ofstream(file_) << "line\n";
  auto c = make(1h);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason.rfind(file_.string() + ": last modified ", 0), 0u) << r.reason;
  EXPECT_GT(r.latency.count(), 0);
}

// A file last modified 27h ago fails a 26h max_age, saying both.
TEST_F(FileAgeCheck, OldFileFails) {
  std::ofstream(file_) << "line\n";
  fs::last_write_time(file_, fs::file_time_type::clock::now() - 27h);
  auto c = make(26h);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, file_.string() + ": last modified 27h ago, max_age 26h");
}

// A missing file fails, naming it.
TEST_F(FileAgeCheck, MissingFileFails) {
  auto c = make(1h);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, file_.string() + ": missing");
}

// A stat() stuck on the pool fails at the deadline; the next attempt is refused while the
// first is still blocked.
TEST_F(FileAgeCheck, BlockedAttemptTimesOut) {
  std::ofstream(file_) << "line\n";
  asio::thread_pool one(1);
  std::promise<void> release;
  auto released = release.get_future().share();
  asio::post(one, [released] { released.wait_for(30s); });  // a stand-in for a hung NFS stat
  auto c = make(1h, &one);
  auto r = run(*c, 100ms);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind(file_.string() + ": timed out after ", 0), 0u) << r.reason;
  EXPECT_EQ(run(*c, 100ms).reason, "previous attempt still blocked");
  release.set_value();
  std::promise<void> drained;  // the pool is FIFO on one thread: this runs after the stuck work
  asio::post(one, [&drained] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(run(*c).status, health::ok);
}

}  // namespace
}  // namespace acis::checks
