// End-to-end tests of the real binary's systemd lifecycle, on a NOTIFY_SOCKET the test binds:
// READY=1 after the config, journal and listener; WATCHDOG=1 only while the scheduler makes
// progress (a stalled scheduler or a stopped process stops the pings); SIGHUP reloads a good
// config keeping incidents and refuses a bad one keeping the old; SIGTERM during a running step
// gives it its grace, journals the cut-off attempt and exits 0. No platform: file_age checks on
// files in the temp dir and tests/helpers/step_helper as the runbook's program.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/http_test_server.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::count_events;
using acis::test::event_is;
using acis::test::event_with;
using acis::test::find_event;
using acis::test::find_events;
using acis::test::http_get;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;
using steady = std::chrono::steady_clock;

namespace {

const std::string helper = ACIS_BINARY_DIR "/tests/helpers/step_helper";

// The value of every sample of metric `name` whose labels contain each of `labels` (e.g.
// `check="steady"`), summed; nullopt when no sample matches.
std::optional<double> metric_sum(const std::string& exposition, const std::string& name,
                                 const std::vector<std::string>& labels = {}) {
  std::optional<double> sum;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    const auto close = line.find('}');
    const std::string label_text = close == std::string::npos ? "" : line.substr(0, close);
    bool all = true;
    for (const auto& l : labels) all = all && label_text.find(l) != std::string::npos;
    if (!all) continue;
    const auto space = line.rfind(' ');
    sum = sum.value_or(0) + std::stod(line.substr(space + 1));
  }
  return sum;
}

// A process exists and is not a zombie (a zombie has ended: it runs nothing, holds nothing).
bool alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno != ESRCH;
  const auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

pid_t parent_of(pid_t pid) {
  const auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  char state;
  pid_t ppid = -1;
  in >> state >> ppid;
  return ppid;
}

// Live processes whose command line contains `needle`.
std::vector<pid_t> processes_with(const std::string& needle) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_file(e.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (cmdline.find(needle) != std::string::npos && pid != ::getpid() && alive(pid)) out.push_back(pid);
  }
  return out;
}

class lifecycle_e2e : public acis::test::daemon_fixture {
 protected:
  lifecycle_e2e() : daemon_fixture(acis::test::build_paths(), "acis-life") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    std::ofstream(dir_ + "/fresh.txt") << "x";
    notify_ = std::make_unique<acis::test::notify_socket>(dir_ + "/notify.sock");
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"log_level", "debug"}}},
            {"checks", json::array()}};
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->signal(SIGCONT);  // a test that failed while the daemon was stopped
      daemon_->stop();
    }
    daemon_.reset();
    // Under ACIS_SANITIZE the daemon's own reports (leaks at exit included) land in its stderr.
    const auto err = read_file(dir_ + "/daemon.stderr");
    EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
    EXPECT_EQ(err.find("runtime error:"), std::string::npos) << err;
    // Whatever a runbook step left behind (the daemon should have killed it: asserted where
    // it matters), so that no helper outlives the test.
    for (pid_t pid : processes_with(dir_ + "/")) ::kill(pid, SIGKILL);
    notify_.reset();
    daemon_fixture::TearDown();
  }

  // A file_age check, healthy while `file` exists (the files are fresh for an hour).
  static json file_check(const std::string& name, const std::string& file, const std::string& interval,
                         const std::string& timeout) {
    return {{"name", name}, {"type", "file_age"}, {"path", file}, {"max_age", "1h"},
            {"interval", interval}, {"timeout", timeout}, {"severity", "low"}};
  }

  std::string config_file() const { return dir_ + "/healthd.json"; }
  void write_config(const json& cfg) { std::ofstream(config_file()) << cfg.dump(2); }

  // Starts the daemon from cfg_ with NOTIFY_SOCKET and WATCHDOG_USEC=1 s (pings every 0.5 s),
  // logging to dir_/LOG_NAME, and returns the index of its READY=1 message (nullopt, with a
  // failure, after 20 s without one). Does not wait for /healthz: the tests check that READY
  // alone means the listener answers.
  std::optional<std::size_t> launch(const std::string& log_name, std::map<std::string, std::string> env = {}) {
    write_config(cfg_);
    log_ = dir_ + "/" + log_name;
    env["NOTIFY_SOCKET"] = notify_->path();
    env["WATCHDOG_USEC"] = "1000000";
    const auto from = notify_->size();
    daemon_ = acis::test::start_daemon(paths_.daemon_bin(), config_file(), log_, dir_ + "/daemon.stderr",
                                       {}, env);
    auto ready = notify_->wait_for("READY=1", from, 20s);
    EXPECT_TRUE(ready) << "no READY=1\n" << daemon_output();
    return ready;
  }

  // Sends SIGHUP for the config now in the file and waits for the daemon's answer: the
  // n-th `config_loaded` (reload) or `config_reload_failed` event.
  std::optional<json> reload_and_wait(const std::string& event, int nth) {
    daemon_->signal(SIGHUP);
    std::optional<json> found;
    wait_until([&] {
      auto all = find_events(log_, [&](const json& e) {
        return e.value("event", "") == event && (event != "config_loaded" || e.value("reload", false));
      });
      if (static_cast<int>(all.size()) < nth) return false;
      found = all[static_cast<std::size_t>(nth - 1)];
      return true;
    }, 15s);
    return found;
  }

  std::string metrics_text() { return http_get(port_, "/metrics").body; }

  // acis_check_runs_total of one check, over every result.
  double check_runs(const std::string& check) {
    return metric_sum(metrics_text(), "acis_check_runs_total", {"check=\"" + check + "\""}).value_or(0);
  }

  // The check's entry in /status; an empty object when it is not listed.
  json status_of(const std::string& check) {
    const json status = get_json("/status");
    if (status.is_object() && status.contains("checks"))
      for (const auto& c : status["checks"])
        if (c.value("name", "") == check) return c;
    return json::object();
  }

  // How many runs of `check` acis_check_runs_total counts over `window`.
  double runs_during(const std::string& check, std::chrono::milliseconds window) {
    const double before = check_runs(check);
    std::this_thread::sleep_for(window);
    return check_runs(check) - before;
  }

  std::unique_ptr<acis::test::notify_socket> notify_;
};

}  // namespace

// READY=1 arrives once the config is loaded (config_loaded is already in the log) and the
// listener answers, before any WATCHDOG=1; then WATCHDOG=1 comes about every half of
// WATCHDOG_USEC (1 s -> 0.5 s).
TEST_F(lifecycle_e2e, ready_after_config_and_listener_then_watchdog_pings) {
  cfg_["checks"].push_back(file_check("steady", dir_ + "/fresh.txt", "1s", "500ms"));
  const auto ready = launch("ready.log");
  ASSERT_TRUE(ready);
  // Both are looked at only now that READY=1 has arrived: they were in place before it.
  auto loaded = find_event(log_, event_with("config_loaded"));
  ASSERT_TRUE(loaded) << daemon_output();
  EXPECT_EQ((*loaded)["port"], port_);
  EXPECT_EQ(http_get(port_, "/healthz", 2s).status, 200);
  EXPECT_EQ(notify_->count("READY=1"), 1);

  auto first_ping = notify_->wait_for("WATCHDOG=1", 0, 10s);
  ASSERT_TRUE(first_ping) << daemon_output();
  EXPECT_GT(*first_ping, *ready) << "WATCHDOG=1 before READY=1";
  auto enabled = find_event(log_, event_with("watchdog_enabled"));
  ASSERT_TRUE(enabled) << daemon_output();
  EXPECT_DOUBLE_EQ((*enabled)["period_ms"].get<double>(), 500.0);

  const auto from = notify_->size();
  std::this_thread::sleep_for(4s);
  // 4 s / 0.5 s = 8; loosely, for a loaded machine: neither missing nor free-running.
  const int pings = notify_->count("WATCHDOG=1", from);
  EXPECT_GE(pings, 4);
  EXPECT_LE(pings, 12);
  std::vector<steady::duration> gaps;
  std::optional<steady::time_point> last;
  for (const auto& m : notify_->messages()) {
    if (!m.has("WATCHDOG=1")) continue;
    if (last) gaps.push_back(m.at - *last);
    last = m.at;
  }
  ASSERT_GE(gaps.size(), 4u);
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
  const auto median = gaps[gaps.size() / 2];
  EXPECT_GE(median, 300ms);
  EXPECT_LE(median, 900ms);
  EXPECT_EQ(count_events(log_, event_with("watchdog_withheld")), 0) << daemon_output();
}

// A scheduler stuck on purpose (the test hook stops the check runners after 1.5 s): once a
// check is overdue by more than 5 s the daemon logs watchdog_withheld and sends no WATCHDOG=1
// any more, while /healthz still answers (the loop turns; only the scheduler is stuck).
TEST_F(lifecycle_e2e, stalled_scheduler_withholds_the_watchdog) {
  cfg_["checks"].push_back(file_check("steady", dir_ + "/fresh.txt", "200ms", "150ms"));
  ASSERT_TRUE(launch("stall.log", {{"ACIS_HEALTHD_TEST_STALL_SCHEDULER_AFTER_MS", "1500"}}));
  EXPECT_TRUE(find_event(log_, event_with("test_hook_enabled")));
  ASSERT_TRUE(notify_->wait_for("WATCHDOG=1", 0, 10s)) << "no ping before the stall\n" << daemon_output();

  auto withheld = wait_for_event(log_, event_with("watchdog_withheld"), 30s);
  ASSERT_TRUE(withheld) << daemon_output();
  EXPECT_NE((*withheld).value("reason", "").find("check steady: overdue by"), std::string::npos)
      << withheld->dump();
  // Let pings sent before the event drain from the socket, then watch for more.
  std::this_thread::sleep_for(500ms);
  const auto from = notify_->size();
  const auto runs_before = status_of("steady").value("runs", -1);
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(notify_->count("WATCHDOG=1", from), 0) << "pings while the scheduler is stuck";
  EXPECT_EQ(http_get(port_, "/healthz", 2s).status, 200);
  EXPECT_EQ(status_of("steady").value("runs", -2), runs_before) << "the scheduler was not stuck";
  EXPECT_EQ(count_events(log_, event_with("watchdog_resumed")), 0) << daemon_output();
}

// A wedged process (SIGSTOP) sends no WATCHDOG=1 and does not answer /healthz; after SIGCONT
// the pings resume (the scheduler was held up by less than its 5 s slack).
TEST_F(lifecycle_e2e, stopped_process_sends_no_pings_until_continued) {
  cfg_["checks"].push_back(file_check("steady", dir_ + "/fresh.txt", "200ms", "150ms"));
  ASSERT_TRUE(launch("sigstop.log"));
  ASSERT_TRUE(wait_until([&] { return notify_->count("WATCHDOG=1") >= 2; }, 10s)) << daemon_output();

  daemon_->signal(SIGSTOP);
  std::this_thread::sleep_for(300ms);  // a ping sent just before the stop drains
  const auto from = notify_->size();
  EXPECT_EQ(http_get(port_, "/healthz", 1s).status, 0) << "a stopped process answered";
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(notify_->count("WATCHDOG=1", from), 0) << "pings from a stopped process";

  daemon_->signal(SIGCONT);
  EXPECT_TRUE(notify_->wait_for("WATCHDOG=1", from, 5s)) << "no ping after SIGCONT\n" << daemon_output();
  EXPECT_TRUE(wait_until([&] { return notify_->count("WATCHDOG=1", from) >= 3; }, 10s));
  EXPECT_EQ(http_get(port_, "/healthz", 2s).status, 200);
  EXPECT_EQ(count_events(log_, event_with("watchdog_withheld")), 0) << daemon_output();
}

// SIGHUP with a good config: a changed interval (1 s -> 200 ms) takes effect, an added check
// runs, a removed one leaves /status and its acis_check_up series leaves /metrics; the open
// incident stays open with the same id (no second incident_opened); RELOADING=1 then READY=1;
// the success counter goes to 1.
TEST_F(lifecycle_e2e, sighup_applies_a_good_config_keeping_incidents) {
  std::ofstream(dir_ + "/fresh2.txt") << "x";
  cfg_["checks"] = json::array(
      {file_check("steady", dir_ + "/fresh.txt", "1s", "500ms"),
       file_check("gone", dir_ + "/fresh.txt", "500ms", "300ms"),
       file_check("broken", dir_ + "/missing.txt", "200ms", "150ms")});
  cfg_["checks"][2]["fall"] = 1;
  ASSERT_TRUE(launch("reload.log"));
  auto opened = wait_for_event(log_, event_is("incident_opened", "broken"), 20s);
  ASSERT_TRUE(opened) << daemon_output();
  const std::string id = (*opened)["incident"];
  ASSERT_TRUE(wait_until([&] { return check_runs("gone") > 0 && check_runs("steady") > 0; }, 10s));
  EXPECT_TRUE(metric_sum(metrics_text(), "acis_check_up", {"check=\"gone\""}));

  // About 3 runs in 3 s at the old interval.
  const double old_rate = runs_during("steady", 3s);
  EXPECT_LE(old_rate, 5) << "steady runs faster than once a second before the reload";

  json next = cfg_;
  next["checks"] = json::array({file_check("steady", dir_ + "/fresh.txt", "200ms", "150ms"),
                                cfg_["checks"][2],
                                file_check("added", dir_ + "/fresh2.txt", "500ms", "300ms")});
  write_config(next);
  const auto from = notify_->size();
  auto loaded = reload_and_wait("config_loaded", 1);
  ASSERT_TRUE(loaded) << daemon_output();
  EXPECT_EQ((*loaded)["added"], json::array({"added"})) << loaded->dump();
  EXPECT_EQ((*loaded)["removed"], json::array({"gone"})) << loaded->dump();
  EXPECT_EQ((*loaded)["changed"], json::array({"steady"})) << loaded->dump();
  EXPECT_EQ((*loaded)["open_incidents"], 1) << loaded->dump();

  auto reloading = notify_->wait_for("RELOADING=1", from, 10s);
  ASSERT_TRUE(reloading);
  EXPECT_NE(notify_->messages()[*reloading].text.find("MONOTONIC_USEC="), std::string::npos)
      << notify_->messages()[*reloading].text;
  EXPECT_TRUE(notify_->wait_for("READY=1", *reloading + 1, 10s)) << "no READY=1 after RELOADING=1";

  // The new interval: about 15 runs in 3 s (a loaded machine may lose some).
  std::this_thread::sleep_for(500ms);
  const double new_rate = runs_during("steady", 3s);
  EXPECT_GE(new_rate, 8) << "steady still runs at the old interval (" << old_rate << " before)";
  EXPECT_EQ(status_of("steady").value("interval_ms", 0), 200);

  // Added runs, removed is gone from /status and its target from acis_check_up.
  EXPECT_TRUE(wait_until([&] { return check_runs("added") > 0; }, 10s)) << daemon_output();
  EXPECT_FALSE(status_of("added").empty());
  EXPECT_TRUE(status_of("gone").empty());
  const auto metrics = metrics_text();
  EXPECT_FALSE(metric_sum(metrics, "acis_check_up", {"check=\"gone\""})) << metrics;
  EXPECT_TRUE(metric_sum(metrics, "acis_check_up", {"check=\"added\""})) << metrics;
  EXPECT_EQ(metric_sum(metrics, "acis_healthd_config_reloads_total", {"result=\"success\""}), 1.0) << metrics;
  EXPECT_FALSE(metric_sum(metrics, "acis_healthd_config_reloads_total", {"result=\"failure\""}).value_or(0))
      << metrics;

  // The incident survived: the same id still open, never reopened or resolved.
  const json open = get_json("/incidents");
  ASSERT_TRUE(open.is_array()) << open.dump();
  ASSERT_EQ(open.size(), 1u) << open.dump();
  EXPECT_EQ(open[0]["id"], id) << open.dump();
  EXPECT_EQ(status_of("broken").value("/targets/0/incident"_json_pointer, json()), id);
  EXPECT_EQ(count_events(log_, event_is("incident_opened", "broken")), 1) << daemon_output();
  EXPECT_EQ(count_events(log_, event_is("incident_resolved", "broken")), 0) << daemon_output();
}

// SIGHUP with a bad config is refused and the old one keeps running: invalid JSON, a bad
// duration (named by its JSON pointer /checks/1/interval) and a changed daemon.listen (named
// /daemon/listen); each answers RELOADING=1 then READY=1 and counts a failure; the old check
// keeps its 500 ms interval and the old port keeps answering.
TEST_F(lifecycle_e2e, sighup_refuses_a_bad_config_and_keeps_the_old_one) {
  cfg_["checks"].push_back(file_check("steady", dir_ + "/fresh.txt", "500ms", "300ms"));
  ASSERT_TRUE(launch("refuse.log"));
  ASSERT_TRUE(wait_until([&] { return check_runs("steady") > 0; }, 10s)) << daemon_output();

  auto expect_reloading_then_ready = [&](std::size_t from) {
    auto reloading = notify_->wait_for("RELOADING=1", from, 10s);
    ASSERT_TRUE(reloading) << "no RELOADING=1";
    EXPECT_TRUE(notify_->wait_for("READY=1", *reloading + 1, 10s)) << "no READY=1 after RELOADING=1";
  };

  // 1. Not JSON at all.
  {
    std::ofstream(config_file()) << "{\"daemon\": {\"listen\": ";
    const auto from = notify_->size();
    auto failed = reload_and_wait("config_reload_failed", 1);
    ASSERT_TRUE(failed) << daemon_output();
    EXPECT_EQ((*failed)["path"], config_file());
    EXPECT_NE(failed->value("reason", "").find("the old one stays"), std::string::npos) << failed->dump();
    expect_reloading_then_ready(from);
  }
  // 2. A bad duration in the second check.
  {
    json bad = cfg_;
    bad["checks"].push_back(file_check("extra", dir_ + "/fresh.txt", "10 seconds", "300ms"));
    bad["checks"][0]["interval"] = "100ms";  // valid, but the whole file must be refused
    bad["checks"][0]["timeout"] = "50ms";
    write_config(bad);
    const auto from = notify_->size();
    auto failed = reload_and_wait("config_reload_failed", 2);
    ASSERT_TRUE(failed) << daemon_output();
    EXPECT_NE(failed->value("reason", "").find("/checks/1/interval"), std::string::npos) << failed->dump();
    ASSERT_TRUE(failed->contains("errors")) << failed->dump();
    bool named = false;
    for (const auto& e : (*failed)["errors"])
      named = named || (e.is_string() && e.get<std::string>().find("/checks/1/interval") != std::string::npos);
    EXPECT_TRUE(named) << failed->dump();
    expect_reloading_then_ready(from);
  }
  // 3. A valid config that changes what is bound at start.
  const auto other_port = acis::test::unused_loopback_port();
  {
    json moved = cfg_;
    moved["daemon"]["listen"] = "127.0.0.1:" + std::to_string(other_port);
    moved["checks"][0]["interval"] = "100ms";
    moved["checks"][0]["timeout"] = "50ms";
    write_config(moved);
    const auto from = notify_->size();
    auto failed = reload_and_wait("config_reload_failed", 3);
    ASSERT_TRUE(failed) << daemon_output();
    EXPECT_NE(failed->value("reason", "").find("/daemon/listen"), std::string::npos) << failed->dump();
    expect_reloading_then_ready(from);
  }

  // The old config runs on: its interval (about 6 runs in 3 s; 100 ms would give about 30),
  // its listener, no check "extra", one config_loaded (the start).
  const double rate = runs_during("steady", 3s);
  EXPECT_GE(rate, 3) << "the old check stopped running";
  EXPECT_LE(rate, 10) << "the refused 100 ms interval took effect";
  EXPECT_EQ(status_of("steady").value("interval_ms", 0), 500);
  EXPECT_TRUE(status_of("extra").empty());
  EXPECT_EQ(http_get(port_, "/healthz", 2s).status, 200);
  EXPECT_EQ(http_get(other_port, "/healthz", 1s).status, 0);
  EXPECT_EQ(count_events(log_, event_with("config_loaded")), 1) << daemon_output();
  const auto metrics = metrics_text();
  EXPECT_EQ(metric_sum(metrics, "acis_healthd_config_reloads_total", {"result=\"failure\""}), 3.0) << metrics;
  EXPECT_FALSE(metric_sum(metrics, "acis_healthd_config_reloads_total", {"result=\"success\""}).value_or(0))
      << metrics;
  // Refusals keep the daemon's watchdog fed: nothing was stalled by them.
  EXPECT_EQ(count_events(log_, event_with("watchdog_withheld")), 0) << daemon_output();
}

// SIGTERM while a runbook's `run` step ignores SIGTERM (and has a grandchild in its group):
// the daemon gives the step its 1 s grace, kills the group, logs daemon_stopping (1 running
// runbook), the step "cancelled" and the attempt as a failure cut off by the stop, journals
// it, sends STOPPING=1 and exits 0 in time; no helper process is left. Restarted on the same
// state dir it restores the incident, and the cut-off attempt counts: the next one is 2.
TEST_F(lifecycle_e2e, sigterm_during_a_running_step_gives_grace_journals_and_exits_zero) {
  const std::string pid_file = dir_ + "/grandchild.pid";
  json failing = file_check("broken", dir_ + "/missing.txt", "200ms", "150ms");
  failing["fall"] = 1;
  failing["runbook"] = "hang";
  cfg_["checks"].push_back(failing);
  cfg_["runbooks"] = {
      {"hang",
       {{"max_attempts", 3}, {"backoff", "1s"}, {"cooldown", "0s"},
        {"steps", json::array({{{"name", "hang"},
                                {"run", json::array({helper, "--ignore-term", "--grandchild", "--pid-file",
                                                     pid_file, "--sleep-ms", "60000"})},
                                {"timeout", "2m"},
                                {"grace", "1s"}}})}}}};
  ASSERT_TRUE(launch("first.log"));

  auto step = wait_for_event(log_, event_with("step_started", "step", "hang"), 30s);
  ASSERT_TRUE(step) << daemon_output();
  const std::string id = (*step)["incident"];
  EXPECT_EQ((*step)["attempt"], 1);
  ASSERT_TRUE(wait_until([&] { return fs::exists(pid_file); }, 10s)) << daemon_output();
  const pid_t grandchild = static_cast<pid_t>(std::stol(read_file(pid_file)));
  pid_t step_pid = -1;
  for (pid_t p : processes_with(pid_file))
    if (p != grandchild && parent_of(p) == daemon_->pid()) step_pid = p;
  ASSERT_GT(step_pid, 0) << "the step's process is not a child of the daemon";
  ASSERT_TRUE(alive(grandchild));

  const auto from = notify_->size();
  const auto t0 = steady::now();
  daemon_->signal(SIGTERM);
  const auto status = daemon_->wait_for(20s);
  const auto took = steady::now() - t0;
  ASSERT_TRUE(status) << "the daemon did not exit within 20 s\n" << daemon_output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status << "\n" << daemon_output();
  EXPECT_GE(took, 900ms) << "the step was not given its 1 s grace";
  EXPECT_LE(took, 7s) << "grace 1 s + a few seconds";
  EXPECT_TRUE(wait_until([&] { return !alive(step_pid) && !alive(grandchild); }, 5s))
      << "left behind: step " << step_pid << (alive(step_pid) ? " alive" : " gone") << ", grandchild "
      << grandchild << (alive(grandchild) ? " alive" : " gone");
  EXPECT_TRUE(notify_->wait_for("STOPPING=1", from, 2s)) << "no STOPPING=1";

  auto stopping = find_event(log_, event_with("daemon_stopping"));
  ASSERT_TRUE(stopping) << daemon_output();
  EXPECT_EQ((*stopping)["signal"], "SIGTERM");
  EXPECT_EQ((*stopping)["running_runbooks"], 1) << stopping->dump();
  auto finished_step = find_event(log_, event_with("step_finished", "incident", id));
  ASSERT_TRUE(finished_step) << daemon_output();
  EXPECT_EQ((*finished_step)["ok"], false);
  EXPECT_NE(finished_step->value("reason", "").find("cancelled"), std::string::npos) << finished_step->dump();
  auto finished = find_event(log_, event_with("remediation_finished", "incident", id));
  ASSERT_TRUE(finished) << daemon_output();
  EXPECT_EQ((*finished)["outcome"], "failure") << finished->dump();
  EXPECT_EQ((*finished)["attempt"], 1) << finished->dump();
  EXPECT_NE(finished->value("reason", "").find("cut off by the daemon stopping"), std::string::npos)
      << finished->dump();
  EXPECT_EQ(count_events(log_, event_with("daemon_stop_forced")), 0) << daemon_output();

  // The journal has the attempt's end, flushed before the exit.
  bool journaled = false;
  for (const auto& line : acis::test::log_events(dir_ + "/state/incidents.jsonl"))
    journaled = journaled || (line.value("event", "") == "remediation_finished" &&
                              line["incident"].value("id", "") == id);
  EXPECT_TRUE(journaled) << read_file(dir_ + "/state/incidents.jsonl");

  // Restarted on the same state dir: the incident is restored, not reopened, and the attempt
  // cut off by the stop counts.
  ASSERT_TRUE(launch("second.log"));
  auto restored = wait_for_event(log_, event_with("incident_restored", "incident", id), 10s);
  EXPECT_TRUE(restored) << daemon_output();
  auto next = wait_for_event(log_, event_with("remediation_started", "incident", id), 30s);
  ASSERT_TRUE(next) << daemon_output();
  EXPECT_EQ((*next)["attempt"], 2) << next->dump();
  EXPECT_EQ(count_events(log_, event_is("incident_opened", "broken")), 0) << daemon_output();

  // And it stops cleanly again, with a step running.
  ASSERT_TRUE(wait_for_event(log_, event_with("step_started", "incident", id), 10s)) << daemon_output();
  daemon_->signal(SIGTERM);
  const auto again = daemon_->wait_for(20s);
  ASSERT_TRUE(again) << daemon_output();
  EXPECT_TRUE(WIFEXITED(*again) && WEXITSTATUS(*again) == 0) << "status " << *again;
  EXPECT_TRUE(wait_until([&] { return processes_with(pid_file).empty(); }, 5s));
}

// SIGTERM while a runbook is in a `wait` step: the attempt ends as cut off by the stop (no
// exception out of the runbook, no internal_error), remediation_finished is logged and
// journaled, and the daemon exits 0 at once (a wait has nothing to give a grace to).
TEST_F(lifecycle_e2e, sigterm_during_a_wait_step_ends_the_attempt_cleanly) {
  json failing = file_check("broken", dir_ + "/missing.txt", "200ms", "150ms");
  failing["fall"] = 1;
  failing["runbook"] = "patient";
  cfg_["checks"].push_back(failing);
  cfg_["runbooks"] = {{"patient", {{"max_attempts", 3}, {"backoff", "1s"}, {"cooldown", "0s"},
                                   {"steps", json::array({{{"name", "let it settle"}, {"wait", "1m"}}})}}}};
  ASSERT_TRUE(launch("first.log"));
  auto step = wait_for_event(log_, event_with("step_started", "step", "let it settle"), 30s);
  ASSERT_TRUE(step) << daemon_output();
  const std::string id = (*step)["incident"];
  const auto t0 = steady::now();
  daemon_->signal(SIGTERM);
  const auto status = daemon_->wait_for(20s);
  ASSERT_TRUE(status) << daemon_output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  EXPECT_LT(steady::now() - t0, 5s);
  EXPECT_EQ(count_events(log_, event_with("internal_error")), 0) << daemon_output();
  auto finished = find_event(log_, event_with("remediation_finished", "incident", id));
  ASSERT_TRUE(finished) << daemon_output();
  EXPECT_EQ((*finished)["outcome"], "failure");
  EXPECT_NE(finished->value("reason", "").find("cut off by the daemon stopping"), std::string::npos)
      << finished->dump();
  bool journaled = false;
  for (const auto& line : acis::test::log_events(dir_ + "/state/incidents.jsonl"))
    journaled = journaled || (line.value("event", "") == "remediation_finished" &&
                              line["incident"].value("id", "") == id);
  EXPECT_TRUE(journaled);
}
