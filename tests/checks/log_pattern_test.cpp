// The log_pattern check on real files in a temp dir (written, renamed, truncated, deleted the
// way writers and logrotate do), with its clock injected so that the window moves in simulated
// time; and its match window as a pure value.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "checks/kinds.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

// Bytes are appended with O_APPEND, as a logger does.
void append(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out << bytes;
  ASSERT_TRUE(out.good()) << p;
}

std::size_t count_of(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

class LogPatternCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "acis-lp-XXXXXX").string();
    ASSERT_NE(::mkdtemp(t.data()), nullptr);
    dir_ = t;
    log_ = dir_ / "trading.log";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<check> make(std::string pattern = "ERROR|ORDER (REJECTED|FAILED)",
                              int max_matches = 0, config::duration within = 5min,
                              asio::thread_pool* pool = nullptr) {
    config::log_pattern_check k;
    k.path = log_.string();
    k.pattern = std::move(pattern);
    k.window = within;
    k.max_matches = max_matches;
    config::check_config c;
    c.name = "trading-log";
    c.kind = k;
    return make_log_pattern_check(c, k, {io_.get_executor(), pool ? pool : &pool_},
                                  [this] { return now_; });
  }

  // One attempt; the loop has a fail-safe deadline. Returns the single result.
  check_result run(check& c, steady_clock::duration timeout = 10s) {
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
    EXPECT_LT((*out)[0].reason.size(), 1536u) << (*out)[0].reason;
    EXPECT_NO_THROW((void)nlohmann::json((*out)[0].reason).dump()) << "reason is not valid UTF-8";
    return (*out)[0];
  }

  fs::path dir_, log_;
  asio::io_context io_{1};
  asio::thread_pool pool_{2};
  steady_clock::time_point now_ = steady_clock::time_point{} + 1000h;  // simulated
};

// ---- the window, pure -------------------------------------------------------------------------

// A line counts while it is younger than the window, and not at or after its end.
TEST(log_match_window, lines_expire_at_the_end_of_the_window) {
  const auto t0 = steady_clock::time_point{} + 10h;
  log_match_window w(5min);
  w.add(t0, 3);
  w.add(t0 + 2min, 1, 4096);
  w.add(t0 + 3min, 0);  // nothing found: nothing recorded
  EXPECT_EQ(w.entries(), 2u);
  w.expire(t0 + 4min + 59s);
  EXPECT_EQ(w.matches(), 4u);
  EXPECT_EQ(w.skipped_bytes(), 4096u);
  w.expire(t0 + 5min);
  EXPECT_EQ(w.matches(), 1u);
  w.expire(t0 + 6min + 59s);
  EXPECT_EQ(w.matches(), 1u);
  w.expire(t0 + 7min);
  EXPECT_EQ(w.matches(), 0u);
  EXPECT_EQ(w.skipped_bytes(), 0u);
  EXPECT_EQ(w.entries(), 0u);
}

// A day of runs every 100ms with a match each keeps at most ~1024 entries, counts every match
// while it is in the window, and lets a line count at most window/1024 too long, never too short.
TEST(log_match_window, memory_is_bounded_and_counts_stay_exact_to_a_1024th) {
  const auto t0 = steady_clock::time_point{} + 10h;
  log_match_window w(1h);
  auto t = t0;
  for (int i = 0; i < 24 * 36000; ++i, t += 100ms) {
    w.add(t, 1);
    w.expire(t);
  }
  EXPECT_LE(w.entries(), 1025u);
  const auto last = t - 100ms;
  // Exactly 36000 matches were seen in the last hour; up to 1h/1024 (~3.5 s) more may linger.
  EXPECT_GE(w.matches(), 36000u);
  EXPECT_LE(w.matches(), 36000u + 36u);
  w.expire(last + 1h - 1ms);
  EXPECT_GE(w.matches(), 1u);  // the newest, seen at `last`, still counts
  w.expire(last + 1h);
  EXPECT_EQ(w.matches(), 0u);
  EXPECT_EQ(w.entries(), 0u);
}

// ---- the check on real files ----------------------------------------------------------------

// Lines already in the file at the first run are not counted; lines appended after it are, the
// non-matching ones are not, and the reason quotes the matching ones.
TEST_F(LogPatternCheck, counts_lines_appended_after_the_first_run_only) {
  append(log_, "09:00 ERROR old one\n09:01 ERROR old two\n09:02 ok\n");
  const auto size = fs::file_size(log_);
  auto c = make();
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason, "0 lines matching \"ERROR|ORDER (REJECTED|FAILED)\" in " + log_.string() +
                          " in the last 5m; following from byte " + std::to_string(size) +
                          " (lines written before are not counted)");
  EXPECT_GT(r.latency.count(), 0);

  append(log_, "10:00 ORDER REJECTED id=7\n10:01 heartbeat\n10:02 ERROR broker timeout\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, "2 lines matching \"ERROR|ORDER (REJECTED|FAILED)\" in " + log_.string() +
                          " in the last 5m, more than max_matches 0; the last 2: \"10:00 ORDER "
                          "REJECTED id=7\" \"10:02 ERROR broker timeout\"");
  r = run(*c);  // nothing new: the same two are still in the window
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("2 lines matching", 0), 0u) << r.reason;
}

// A line the writer had only half written when watching began is not counted when completed.
TEST_F(LogPatternCheck, first_run_starts_after_a_half_written_line) {
  append(log_, "09:00 ok\n09:01 ERROR half");
  auto c = make();
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, " written\n09:02 ok\n");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
}

// Up to max_matches lines in the window pass; one more fails.
TEST_F(LogPatternCheck, max_matches_is_the_bound) {
  std::ofstream(log_) << "";
  auto c = make("ERROR", 2);
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR a\nERROR b\n");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason, "2 lines matching \"ERROR\" in " + log_.string() +
                          " in the last 5m (at most 2 allowed)");
  append(log_, "ERROR c\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find("3 lines matching \"ERROR\""), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("more than max_matches 2; the last 3: \"ERROR a\" \"ERROR b\" \"ERROR c\""),
            std::string::npos)
      << r.reason;
}

// Matches leave the window as simulated time passes: failing, then ok with nothing quoted.
TEST_F(LogPatternCheck, matches_expire_with_the_window) {
  std::ofstream(log_) << "";
  auto c = make("ERROR", 0, 5min);
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR first\n");
  EXPECT_EQ(run(*c).status, health::failing);
  now_ += 3min;
  append(log_, "ERROR second\n");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find("2 lines"), std::string::npos) << r.reason;
  now_ += 2min;  // the first is 5 minutes old: out
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find("1 line matching"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("the last 1: \"ERROR second\""), std::string::npos) << r.reason;
  now_ += 3min;
  r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason.rfind("0 lines matching", 0), 0u) << r.reason;
}

// Rotation by rename + new file: what the writer still wrote to the old file after our last
// read and what is in the new file are both counted; the old file is read once more at the next
// run, for a writer that has not reopened its log yet.
TEST_F(LogPatternCheck, follows_rotation_by_rename) {
  std::ofstream writer(log_, std::ios::binary | std::ios::app);  // a logger's open descriptor
  writer << "start\n" << std::flush;
  auto c = make();
  EXPECT_EQ(run(*c).status, health::ok);
  writer << "ERROR before rotation\n" << std::flush;
  fs::rename(log_, dir_ / "trading.log.1");
  writer << "ERROR after rename, old file\n" << std::flush;
  append(log_, "ERROR in the new file\n");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find("3 lines"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("\"ERROR in the new file\""), std::string::npos) << r.reason;

  writer << "ERROR late, old file\n" << std::flush;  // before the logger reopens
  append(log_, "ERROR new file again\n");
  r = run(*c);
  EXPECT_NE(r.reason.find("5 lines"), std::string::npos) << r.reason;

  writer << "ERROR too late\n" << std::flush;  // the old file is let go after one more run
  r = run(*c);
  EXPECT_NE(r.reason.find("5 lines"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.find("too late"), std::string::npos) << r.reason;
}

// copytruncate: the file shrinks under us and is read again from its start.
TEST_F(LogPatternCheck, follows_truncation) {
  append(log_, std::string(4096, 'x') + "\n");
  auto c = make();
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR before truncation\n");
  EXPECT_NE(run(*c).reason.find("1 line matching"), std::string::npos);
  fs::resize_file(log_, 0);
  append(log_, "ERROR after truncation\n");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find("2 lines"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("\"ERROR after truncation\""), std::string::npos) << r.reason;
}

// A deleted log fails the check with the OS error; once recreated, all of it is new and counted.
TEST_F(LogPatternCheck, deleted_file_fails_and_recreated_file_is_read) {
  append(log_, "start\n");
  auto c = make();
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR just before deletion\n");
  fs::remove(log_);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("cannot open " + log_.string() + ": No such file or directory; 1 line", 0), 0u)
      << r.reason;
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  append(log_, "ERROR in the recreated file\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("2 lines matching", 0), 0u) << r.reason;
  EXPECT_NE(r.reason.find("\"ERROR in the recreated file\""), std::string::npos) << r.reason;
}

// A log missing at the first run fails; when it appears, its lines are all new and counted.
TEST_F(LogPatternCheck, missing_at_start_then_appears) {
  auto c = make();
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, "cannot open " + log_.string() + ": No such file or directory");
  append(log_, "ERROR first line ever\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("1 line matching", 0), 0u) << r.reason;
}

// A directory where the log should be is refused, not read.
TEST_F(LogPatternCheck, not_a_regular_file) {
  fs::create_directory(log_);
  auto c = make();
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, log_.string() + ": not a regular file");
}

// A 1 MiB line without its newline neither crashes nor grows without bound: it is matched on
// its first 64 KiB once completed, and quoted cut to 200 bytes.
TEST_F(LogPatternCheck, one_mebibyte_line) {
  std::ofstream(log_) << "";
  auto c = make("ERROR");
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR " + std::string(1024 * 1024, 'y'));
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;  // not a line until its newline comes
  append(log_, "\n" + std::string(1024 * 1024, 'z') + " ERROR beyond 64 KiB\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("1 line matching", 0), 0u) << r.reason;
  EXPECT_NE(r.reason.find("\"ERROR " + std::string(194, 'y') + "...\""), std::string::npos)
      << r.reason;
  // The same under a pattern that libstdc++'s std::regex would recurse on per character.
  auto deep = make("(y|z)+$");
  EXPECT_EQ(run(*deep).status, health::ok);
  append(log_, std::string(1024 * 1024, 'y') + "\n");
  EXPECT_EQ(run(*deep).status, health::failing);
}

// Control bytes, invalid UTF-8 and NUL are escaped in the reason; valid UTF-8 is kept; the
// whole line is matched, also after a NUL byte.
TEST_F(LogPatternCheck, binary_garbage_is_escaped) {
  std::ofstream(log_) << "";
  auto c = make("ERROR");
  EXPECT_EQ(run(*c).status, health::ok);
  std::string line = "\x01";
  line += '\0';
  line += "\xff\xfe \x1b[31mERROR\x1b[0m \"q\" \\ \xe2\x82\xac\tend\r\n";
  append(log_, line);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_NE(r.reason.find(R"("\x01\x00\xff\xfe \x1b[31mERROR\x1b[0m \"q\" \\ €\tend")"),
            std::string::npos)
      << r.reason;
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    int byte = (i * 37) % 256;
    garbage.push_back(static_cast<char>(byte == '\n' ? 0 : byte));
  }
  append(log_, garbage + "ERROR\n");
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("2 lines matching", 0), 0u) << r.reason;
}

// 1000 matching lines of 300 bytes: all counted, 5 quoted (the newest), each cut, the reason
// bounded.
TEST_F(LogPatternCheck, reason_is_bounded_with_a_thousand_matches) {
  std::ofstream(log_) << "";
  auto c = make();
  EXPECT_EQ(run(*c).status, health::ok);
  std::string lines;
  for (int i = 1; i <= 1000; ++i)
    lines += "ORDER FAILED #" + std::to_string(i) + " " + std::string(300, 'r') + "\n";
  append(log_, lines);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("1000 lines matching", 0), 0u) << r.reason;
  EXPECT_NE(r.reason.find("the last 5: \"ORDER FAILED #996 "), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("\"ORDER FAILED #1000 "), std::string::npos) << r.reason;
  EXPECT_EQ(count_of(r.reason, "ORDER FAILED #"), 5u) << r.reason;
  EXPECT_EQ(count_of(r.reason, "...\""), 5u) << r.reason;
  EXPECT_LT(r.reason.size(), 1536u);
}

// More than 16 MiB appended between two runs: the oldest part is skipped and the reason says
// so; the newest lines are still counted.
TEST_F(LogPatternCheck, skips_what_is_beyond_the_read_bound) {
  std::ofstream(log_) << "";
  auto c = make("ERROR");
  EXPECT_EQ(run(*c).status, health::ok);
  std::string filler(1024 * 1024 - 1, '.');
  filler += '\n';
  {
    std::ofstream out(log_, std::ios::binary | std::ios::app);
    out << "ERROR in the skipped part\n";
    for (int i = 0; i < 20; ++i) out << filler;
    out << "ERROR at the end\n";
  }
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("1 line matching", 0), 0u) << r.reason;
  EXPECT_NE(r.reason.find("\"ERROR at the end\""), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("4 MiB not read (more than 16 MiB appended between two runs)"),
            std::string::npos)
      << r.reason;
}

// A read stuck on the pool fails at the deadline; the next attempt is refused while it is
// blocked; what the late read found is counted by the attempt after it.
TEST_F(LogPatternCheck, blocked_attempt_times_out_and_loses_no_line) {
  std::ofstream(log_) << "";
  asio::thread_pool one(1);
  auto c = make("ERROR", 0, 5min, &one);
  EXPECT_EQ(run(*c).status, health::ok);
  append(log_, "ERROR during the stall\n");
  std::promise<void> release;
  auto released = release.get_future().share();
  asio::post(one, [released] { released.wait_for(30s); });  // a stand-in for a hung read
  auto r = run(*c, 100ms);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind(log_.string() + ": timed out after ", 0), 0u) << r.reason;
  EXPECT_EQ(run(*c, 100ms).reason, "previous attempt still blocked");
  release.set_value();
  std::promise<void> drained;  // FIFO on one thread: runs after the late scan
  asio::post(one, [&drained] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(10s), std::future_status::ready);
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("1 line matching", 0), 0u) << r.reason;
}

// A pattern that does not compile (a config built in code, not parsed) fails every run.
TEST_F(LogPatternCheck, invalid_pattern_fails) {
  std::ofstream(log_) << "";
  auto c = make("ORDER (REJECTED");
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason.rfind("invalid pattern \"ORDER (REJECTED\": ", 0), 0u) << r.reason;
}

}  // namespace
}  // namespace acis::checks
