// End-to-end tests of the journal on the real binary: state_dir on a small tmpfs filled while
// incidents open and resolve (nothing acted on while unrecorded, the degraded journal visible
// in /metrics, /healthz and /status, everything committed and reported once space returns, no
// incident lost, no id reused across a SIGKILL), and the engine state (cooldown, hourly cap)
// surviving restarts.
#include <sys/mount.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::count_events;
using acis::test::event_with;
using acis::test::find_events;
using acis::test::http_get;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

std::optional<double> metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

// The sum of every series whose line starts with `prefix`.
double metric_sum(const std::string& metrics, const std::string& prefix) {
  std::istringstream in(metrics);
  double sum = 0;
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) sum += std::stod(line.substr(line.rfind(' ') + 1));
  return sum;
}

// Writes zeros to `path` until the file system refuses; returns the bytes written.
std::size_t fill(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return 0;
  std::string block(4096, '\0');
  std::size_t total = 0;
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
  // Small writes too: leave not even a partial block free.
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), 64);
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return total;
}

class journal_e2e : public acis::test::daemon_fixture {
 protected:
  journal_e2e() : daemon_fixture(acis::test::build_paths(), "acis-journal") {}

  void TearDown() override {
    daemon_fixture::TearDown();  // stops the daemon first
    if (mounted_) ::umount2(state_.c_str(), MNT_DETACH);
  }

  // state_dir on its own tmpfs of `kib` KiB; false (and the test skips, saying why) when this
  // machine does not allow mounting.
  bool mount_small_state_dir(int kib) {
    state_ = dir_ + "/state";
    fs::create_directories(state_);
    const std::string opts = "size=" + std::to_string(kib) + "k,mode=0755";
    if (::mount("tmpfs", state_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      std::fprintf(stderr, "\n*** SKIPPED: cannot mount a tmpfs for the full-disk test (%s); run as root "
                   "with CAP_SYS_ADMIN to run it ***\n\n", std::strerror(errno));
      return false;
    }
    mounted_ = true;
    return true;
  }

  // `n` file_age checks f0..f(n-1) on files that exist now.
  void file_checks(int n) {
    fs::create_directories(dir_ + "/files");
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)}, {"state_dir", state_}}},
            {"checks", json::array()}};
    for (int k = 0; k < n; ++k) {
      const auto f = dir_ + "/files/f" + std::to_string(k);
      std::ofstream(f) << "x";
      cfg_["checks"].push_back({{"name", "f" + std::to_string(k)}, {"type", "file_age"}, {"path", f},
                                {"max_age", "1h"}, {"interval", "200ms"}, {"timeout", "100ms"},
                                {"fall", 1}, {"rise", 1}, {"severity", "low"}});
    }
  }

  std::string metrics() { return http_get(port_, "/metrics").body; }

  std::string state_;
  bool mounted_ = false;
};

// The issue's full-disk story, on a real tmpfs: nine incidents open while the journal cannot
// take them (none logged, alerted or acted on meanwhile; the degraded journal in /metrics,
// /healthz and /status; journal_write_failed once), all nine committed and delivered once
// space returns; their resolutions held the same way, then every report written whole (no
// .tmp); after a SIGKILL every incident is still there and a new incident gets a new id.
TEST_F(journal_e2e, full_disk_loses_nothing_and_reuses_no_id) {
  if (!mount_small_state_dir(256)) GTEST_SKIP() << "cannot mount a tmpfs here";
  file_checks(9);
  start_daemon("daemon.log");
  ASSERT_TRUE(wait_until([&] { return metric_value(metrics(), "acis_journal_commits_total").value_or(0) >= 1; }, 10s));
  std::this_thread::sleep_for(500ms);  // every check has passed once

  const std::string filler = state_ + "/filler";
  ASSERT_GT(fill(filler), 0u);
  for (int k = 0; k < 9; ++k) {
    fs::remove(dir_ + "/files/f" + std::to_string(k));
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_TRUE(wait_until([&] { return metric_value(metrics(), "acis_journal_healthy") == 0.0; }, 10s))
      << metrics() << daemon_output();
  // The journal's last page still had room for a few lines (a file system allocates whole
  // blocks): those incidents were committed and delivered; the others are held.
  ASSERT_TRUE(wait_until([&] { return get_json("/incidents?state=open").size() == 9; }, 10s));
  const auto m = metrics();
  EXPECT_GT(metric_value(m, "acis_journal_write_failures_total").value_or(0), 0.0);
  EXPECT_GE(metric_value(m, "acis_journal_pending_records").value_or(0), 1.0) << m;
  auto hz = http_get(port_, "/healthz");
  EXPECT_EQ(hz.status, 200);
  EXPECT_NE(hz.body.find("journal: degraded"), std::string::npos) << hz.body;
  auto st = get_json("/status");
  EXPECT_EQ(st["journal"]["healthy"], false) << st.dump();
  // Nothing acted on an unrecorded change: the held incidents are not in the log.
  std::this_thread::sleep_for(1s);  // several retries
  const int delivered = count_events(log_, event_with("incident_opened"));
  EXPECT_LT(delivered, 9) << daemon_output();
  EXPECT_EQ(delivered, metric_sum(metrics(), "acis_incidents_total{"));  // metrics follow the log
  EXPECT_EQ(count_events(log_, event_with("journal_write_failed")), 1);
  EXPECT_EQ(metric_value(metrics(), "acis_journal_healthy"), 0.0);

  fs::remove(filler);  // space returns
  ASSERT_TRUE(wait_for_event(log_, event_with("journal_write_recovered"), 15s)) << daemon_output();
  ASSERT_TRUE(wait_until([&] { return count_events(log_, event_with("incident_opened")) == 9; }, 10s))
      << daemon_output();
  EXPECT_EQ(metric_value(metrics(), "acis_journal_healthy"), 1.0);
  hz = http_get(port_, "/healthz");
  EXPECT_EQ(hz.body, "ok\n");

  // The resolutions while full again: held, then committed, and every report written.
  ASSERT_GT(fill(filler), 0u);
  for (int k = 0; k < 9; ++k) std::ofstream(dir_ + "/files/f" + std::to_string(k)) << "x";
  ASSERT_TRUE(wait_until([&] { return metric_value(metrics(), "acis_journal_healthy") == 0.0; }, 10s));
  std::this_thread::sleep_for(1s);
  EXPECT_LT(count_events(log_, event_with("incident_resolved")), 9);
  fs::remove(filler);
  ASSERT_TRUE(wait_until([&] { return count_events(log_, event_with("incident_resolved")) == 9; }, 15s))
      << daemon_output();
  ASSERT_TRUE(wait_until([&] { return count_events(log_, event_with("incident_report_written")) == 9; }, 15s))
      << daemon_output();
  std::set<std::string> ids;
  for (const auto& e : find_events(log_, event_with("incident_opened"))) ids.insert(e["incident"]);
  EXPECT_EQ(ids.size(), 9u);
  for (const auto& id : ids) EXPECT_TRUE(fs::exists(state_ + "/reports/" + id + ".md")) << id;
  for (const auto& e : fs::recursive_directory_iterator(state_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();

  // A crash: everything is still there, and the next incident gets an id nobody had.
  daemon_->signal(SIGKILL);
  ASSERT_TRUE(daemon_->wait_for(10s));
  start_daemon("daemon2.log");
  auto all = get_json("/incidents?state=all");
  std::set<std::string> listed;
  for (const auto& i : all) EXPECT_TRUE(listed.insert(i["id"]).second) << "duplicate " << i["id"];
  EXPECT_EQ(listed, ids);
  fs::remove(dir_ + "/files/f0");
  auto opened = wait_for_event(log_, event_with("incident_opened"), 10s);
  ASSERT_TRUE(opened) << daemon_output();
  EXPECT_FALSE(ids.count((*opened)["incident"])) << "id reused: " << (*opened)["incident"];
}

}  // namespace

namespace {

class burst_e2e : public acis::test::daemon_fixture {
 protected:
  burst_e2e() : daemon_fixture(acis::test::build_paths(), "acis-burst") {}
};

}  // namespace

// 20 000 model folders failing at once (their metadata goes stale at the same instant): every
// incident opens and is delivered, the journal commits them in a few groups (commits a small
// fraction of records), and /healthz keeps answering meanwhile (each probe timed; the bound is
// the issue's 100 ms with margin for a shared CI machine: 250 ms; under ASan 5 000 folders and
// 2 s; the worst is printed). Measured figures are in BENCHMARKS.md.
TEST_F(burst_e2e, twenty_thousand_folders_failing_at_once) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitized build is unoptimized and 5-10 times slower: a quarter of the folders, and
  // a bound that only catches a loop blocked for seconds.
  constexpr int n = 5000;
  constexpr double bound_ms = 2000;
#else
  constexpr int n = 20000;
  constexpr double bound_ms = 250;
#endif
  const std::string models = dir_ + "/models";
  const auto stale_at = std::chrono::system_clock::now() + 6s;
  for (int k = 0; k < n; ++k) {
    const auto d = models + "/m" + std::to_string(k);
    fs::create_directories(d);
    std::ofstream(d + "/metadata.json") << R"({"metrics": {"sharpe_ratio": 1}})";
  }
  // Every mtime at stale_at - max_age: all go stale at the same instant.
  const auto mtime = fs::file_time_type::clock::now() + (stale_at - std::chrono::system_clock::now()) - 1h;
  for (int k = 0; k < n; ++k) fs::last_write_time(models + "/m" + std::to_string(k) + "/metadata.json", mtime);
  cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)}, {"state_dir", dir_ + "/state"}}},
          {"checks", json::array({{{"name", "models"}, {"type", "model_metadata"}, {"models_dir", models},
                                   {"max_age", "1h"}, {"interval", "2s"}, {"timeout", "1900ms"},
                                   {"fall", 1}, {"severity", "low"}}})}};
  start_daemon("daemon.log");

  std::chrono::steady_clock::duration worst{};
  int probes = 0, unanswered = 0;
  const auto end = std::chrono::steady_clock::now() + 40s;
  bool all_open = false;
  while (std::chrono::steady_clock::now() < end) {
    const auto t = std::chrono::steady_clock::now();
    auto r = http_get(port_, "/healthz", 2s);
    const auto took = std::chrono::steady_clock::now() - t;
    ++probes;
    if (r.status != 200) ++unanswered;
    worst = std::max(worst, took);
    if (probes % 20 == 0 && !all_open)
      all_open = metric_value(http_get(port_, "/metrics").body, "acis_incidents_open{severity=\"low\"}") == n;
    if (all_open && std::chrono::system_clock::now() > stale_at + 4s) break;
    std::this_thread::sleep_for(10ms);
  }
  const double worst_ms = std::chrono::duration<double, std::milli>(worst).count();
  std::cout << "/healthz: " << probes << " probes, worst " << worst_ms << " ms, " << unanswered
            << " unanswered\n";
  EXPECT_TRUE(all_open);
  // The gauge counts what the tracker holds; the log what was committed and delivered.
  EXPECT_TRUE(wait_until([&] { return count_events(log_, event_with("incident_opened")) == n; }, 30s))
      << count_events(log_, event_with("incident_opened")) << " of " << n << " delivered";
  EXPECT_EQ(unanswered, 0);
  EXPECT_LT(worst_ms, bound_ms);
  const auto m = http_get(port_, "/metrics").body;
  const double records = metric_value(m, "acis_journal_records_total").value_or(0);
  const double commits = metric_value(m, "acis_journal_commits_total").value_or(0);
  EXPECT_GE(records, n);
  EXPECT_LT(commits * 100, records) << commits << " commits for " << records << " records";
  EXPECT_EQ(get_json("/incidents?state=open").size(), static_cast<std::size_t>(n));
}
