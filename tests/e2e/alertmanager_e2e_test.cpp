// End-to-end tests of the real acis-healthd binary with `notify.alertmanager_url` set, against a
// real Alertmanager (Debian's prometheus-alertmanager, started by the test on loopback): firing
// then resolved alerts with the documented labels and annotations (daemon/ALERTMANAGER.md),
// delivery after Alertmanager was down for a while, and checks that keep their schedule while
// Alertmanager is a black hole. Without the package the tests fail and name it
// (scripts/install-deps.sh installs it).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/black_hole.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/http_test_server.hpp"

using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::child_process;
using acis::test::event_is;
using acis::test::event_with;
using acis::test::find_event;
using acis::test::find_events;
using acis::test::http_get;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

const char* const alertmanager_bin = "/usr/bin/prometheus-alertmanager";

class alertmanager_e2e : public acis::test::daemon_fixture {
 protected:
  alertmanager_e2e() : daemon_fixture(acis::test::build_paths(), "acis-am-e2e") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    struct stat st{};
    ASSERT_EQ(::stat(alertmanager_bin, &st), 0)
        << alertmanager_bin << " is missing: install Debian's prometheus-alertmanager "
                               "(scripts/install-deps.sh does)";
    // The receiver's name is quoted: a bare `null` is YAML's null and fails to load.
    std::ofstream(dir_ + "/alertmanager.yml") << "route:\n  receiver: \"blackhole\"\n"
                                                 "receivers:\n  - name: \"blackhole\"\n";
    // A process nobody runs yet: `sleep` with a unique duration is what the check looks for.
    std::random_device rd;
    marker_ = "4242." + std::to_string(::getpid()) + std::to_string(rd() % 1000000);
    std::ofstream(dir_ + "/heartbeat") << "x";
  }

  void TearDown() override {
    worker_.reset();  // SIGKILL, reaped
    if (am_) am_->stop(2s);
    am_.reset();
    if (daemon_) daemon_->stop();  // SIGTERM: a clean exit, so that LSan reports at exit
    daemon_.reset();
    // Under ACIS_SANITIZE the daemon's own reports (leaks at exit included) land in its stderr.
    if (!dir_.empty()) {
      const auto err = read_file(dir_ + "/daemon.stderr");
      EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
      EXPECT_EQ(err.find("runtime error:"), std::string::npos) << err;
    }
    daemon_fixture::TearDown();
  }

  // A daemon whose `worker` check fails at once (fall 1, no start grace) until start_worker().
  void configure(const std::string& alertmanager_url) {
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"log_level", "debug"}}},
            {"checks",
             json::array({{{"name", "worker"}, {"type", "process"}, {"cmdline_contains", marker_},
                           {"interval", "500ms"}, {"timeout", "400ms"}, {"fall", 1}, {"rise", 1},
                           {"start_grace", "0s"}, {"severity", "high"}, {"issue_type", "backend"},
                           {"runbook", "worker-down"}},
                          {{"name", "heartbeat"}, {"type", "file_age"}, {"path", dir_ + "/heartbeat"},
                           {"max_age", "1h"}, {"interval", "500ms"}, {"timeout", "400ms"},
                           {"severity", "low"}}})},
            {"runbooks",
             {{"worker-down",
               {{"doc", "https://runbooks.example/worker-down.md"},
                {"max_attempts", 1}, {"cooldown", "1h"},
                {"steps", json::array({{{"name", "page"}, {"manual", "Start the worker by hand."}}})}}}}},
            {"escalation", {{"backend", {{"primary", "Backend Lead"}, {"backup", "DevOps"}}}}},
            {"notify", {{"alertmanager_url", alertmanager_url}}}};
  }

  // The process the worker check looks for.
  void start_worker() {
    worker_ = std::make_unique<child_process>(std::vector<std::string>{"/bin/sleep", marker_},
                                              std::string());
  }

  // Starts Alertmanager on 127.0.0.1:port and waits (fatally, 60 s) until it is ready.
  void start_alertmanager(unsigned short port) {
    am_port_ = port;
    am_ = std::make_unique<child_process>(
        std::vector<std::string>{alertmanager_bin, "--config.file=" + dir_ + "/alertmanager.yml",
                                 "--storage.path=" + dir_ + "/am-data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                 "--cluster.listen-address=", "--log.level=warn"},
        dir_ + "/alertmanager.log", dir_ + "/alertmanager.log");
    const bool ready = wait_until(
        [&] { return http_get(port, "/-/ready", 1s).status == 200 || !am_->running(); }, 60s);
    ASSERT_TRUE(ready && am_->running())
        << "Alertmanager did not become ready on port " << port << ":\n"
        << read_file(dir_ + "/alertmanager.log");
  }

  // GET /api/v2/alerts with a query ("" or "?active=true"); an empty array when unreachable.
  json am_alerts(const std::string& query = {}) {
    auto r = http_get(am_port_, "/api/v2/alerts" + query, 2s);
    if (r.status != 200) return json::array();
    auto j = json::parse(r.body, nullptr, false);
    return j.is_array() ? j : json::array();
  }
  std::optional<json> am_alert(const std::string& incident, const std::string& query = {}) {
    for (const auto& a : am_alerts(query))
      if (a.contains("labels") && a["labels"].value("incident", "") == incident) return a;
    return std::nullopt;
  }
  // alertmanager_alerts_received_total{status=...,version="v2"}; -1 when absent.
  double am_received(const std::string& status) {
    auto r = http_get(am_port_, "/metrics", 2s);
    const std::string key = "alertmanager_alerts_received_total{status=\"" + status + "\",version=\"v2\"} ";
    const auto at = r.body.find(key);
    return at == std::string::npos ? -1 : std::stod(r.body.substr(at + key.size()));
  }

  std::string open_incident_id(const std::string& check, std::chrono::milliseconds timeout) {
    auto e = wait_for_event(log_, event_is("incident_opened", check), timeout);
    return e ? e->value("incident", "") : std::string();
  }

  // Sum of acis_check_runs_total{check=...} over its results; -1 when /metrics is unreachable.
  double check_runs(const std::string& check) {
    auto r = http_get(port_, "/metrics", 2s);
    if (r.status != 200) return -1;
    double sum = 0;
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("acis_check_runs_total{", 0) != 0) continue;
      if (line.find("check=\"" + check + "\"") == std::string::npos) continue;
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
  }

  std::string expected_instance() const {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string(host) + " 127.0.0.1:" + std::to_string(port_);
  }
  std::string report_url(const std::string& id) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/incidents/" + id + "/report";
  }

  std::string everything() {
    return daemon_output() + "\n--- alertmanager:\n" + read_file(dir_ + "/alertmanager.log");
  }

  std::string marker_;
  unsigned short am_port_ = 0;
  std::unique_ptr<child_process> am_;
  std::unique_ptr<child_process> worker_;
};

}  // namespace

// A failing check's incident reaches Alertmanager as one active AcisIncident alert with the
// documented labels and annotations (the report link works); when the check passes again the
// alert is resolved: Alertmanager counts a resolved alert and no longer lists it.
TEST_F(alertmanager_e2e, firing_then_resolved) {
  start_alertmanager(acis::test::unused_loopback_port());
  ASSERT_FALSE(HasFatalFailure());
  configure("http://127.0.0.1:" + std::to_string(am_port_));
  start_daemon("am.log");
  ASSERT_FALSE(HasFatalFailure());

  const std::string id = open_incident_id("worker", 20s);
  ASSERT_FALSE(id.empty()) << everything();
  ASSERT_TRUE(wait_until([&] { return am_alert(id).has_value(); }, 30s)) << everything();
  const json a = *am_alert(id);
  EXPECT_EQ(a["labels"], (json{{"alertname", "AcisIncident"},
                               {"severity", "high"},
                               {"check", "worker"},
                               {"runbook", "worker-down"},
                               {"instance", expected_instance()},
                               {"incident", id}}))
      << a.dump(2);
  EXPECT_EQ(a["status"]["state"], "active") << a.dump(2);
  const json& ann = a["annotations"];
  const std::string summary = ann.value("summary", "");
  EXPECT_EQ(summary.rfind("high: worker failing", 0), 0u) << summary;
  EXPECT_NE(summary.find(marker_), std::string::npos) << summary;  // the check's reason
  EXPECT_EQ(ann.value("report_url", ""), report_url(id)) << a.dump(2);
  EXPECT_EQ(a.value("generatorURL", ""), report_url(id));
  EXPECT_EQ(ann.value("runbook_url", ""), "https://runbooks.example/worker-down.md");
  EXPECT_EQ(ann.value("contact", ""), "Backend Lead");
  EXPECT_FALSE(ann.contains("backup_contact"));  // only once the SLA is breached
  // The link in the alert is the daemon's report of that incident.
  auto report = http_get(port_, "/incidents/" + id + "/report");
  EXPECT_EQ(report.status, 200);
  EXPECT_NE(report.body.find(id), std::string::npos);
  // One incident is one alert (re-sends and annotation changes update it in place).
  std::this_thread::sleep_for(2s);
  int worker_alerts = 0;
  for (const auto& x : am_alerts())
    if (x["labels"].value("check", "") == "worker") ++worker_alerts;
  EXPECT_EQ(worker_alerts, 1) << am_alerts().dump(2);
  EXPECT_TRUE(find_event(log_, event_with("notify_delivered")));
  EXPECT_FALSE(find_event(log_, event_with("notify_failed"))) << everything();

  const double resolved_before = am_received("resolved");
  start_worker();
  ASSERT_TRUE(wait_for_event(log_, event_is("incident_resolved", "worker"), 20s)) << everything();
  ASSERT_TRUE(wait_until([&] { return am_received("resolved") > std::max(0.0, resolved_before); }, 30s))
      << everything();
  // Alertmanager keeps a resolved alert internally but lists only unresolved ones.
  EXPECT_TRUE(wait_until([&] { return !am_alert(id, "?active=true") && !am_alert(id); }, 30s))
      << am_alerts().dump(2);
}

// Alertmanager is not running when the incident opens: the daemon logs notify_failed and
// retries with backoff; once Alertmanager starts on that port the alert arrives (within the
// notifier's 60 s backoff cap plus slack: 90 s), the delivery says it came after failures, and
// the resolution follows.
TEST_F(alertmanager_e2e, alert_arrives_after_alertmanager_was_down) {
  const auto am_port = acis::test::unused_loopback_port();
  configure("http://127.0.0.1:" + std::to_string(am_port));
  start_daemon("am-down.log");
  ASSERT_FALSE(HasFatalFailure());

  const std::string id = open_incident_id("worker", 20s);
  ASSERT_FALSE(id.empty()) << everything();
  // Four failed attempts: about 7 s of backoff (1 + 2 + 4 s, each with jitter) behind it.
  ASSERT_TRUE(wait_until([&] { return find_events(log_, event_with("notify_failed")).size() >= 4; }, 40s))
      << everything();
  auto failures = find_events(log_, event_with("notify_failed"));
  EXPECT_EQ(failures[0].value("level", ""), "warn") << failures[0].dump();
  EXPECT_EQ(failures[1].value("level", ""), "debug") << failures[1].dump();  // one warning a streak
  EXPECT_FALSE(find_event(log_, event_with("notify_delivered")));
  EXPECT_EQ(target_state("heartbeat"), "ok");  // the checks went on meanwhile

  const auto am_started = std::chrono::steady_clock::now();
  start_alertmanager(am_port);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(wait_until([&] { return am_alert(id).has_value(); }, 90s)) << everything();
  const auto took = std::chrono::steady_clock::now() - am_started;
  std::printf("alert arrived %.1f s after Alertmanager started\n",
              std::chrono::duration<double>(took).count());
  const json a = *am_alert(id);
  EXPECT_EQ(a["labels"].value("check", ""), "worker");
  EXPECT_EQ(a["status"]["state"], "active");
  auto delivered = wait_for_event(log_, event_with("notify_delivered"), 10s);
  ASSERT_TRUE(delivered) << everything();
  EXPECT_TRUE(delivered->contains("after_failures")) << delivered->dump();

  start_worker();
  ASSERT_TRUE(wait_for_event(log_, event_is("incident_resolved", "worker"), 20s)) << everything();
  EXPECT_TRUE(wait_until([&] { return am_received("resolved") >= 1 && !am_alert(id); }, 30s))
      << everything();
}

// An Alertmanager that accepts connections and never answers does not hold the checks up:
// both checks keep running at their configured rate (500 ms) while the notifier's POSTs hang
// until their deadline, and /healthz answers throughout.
TEST_F(alertmanager_e2e, checks_keep_their_schedule_while_alertmanager_is_a_black_hole) {
  acis::test::black_hole_listener hole;
  configure("http://127.0.0.1:" + std::to_string(hole.port()));
  start_daemon("am-hole.log");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_FALSE(open_incident_id("worker", 20s).empty()) << everything();

  const auto t0 = std::chrono::steady_clock::now();
  const double heartbeat0 = check_runs("heartbeat"), worker0 = check_runs("worker");
  ASSERT_GE(heartbeat0, 0);
  bool healthz_ok = true;
  while (std::chrono::steady_clock::now() - t0 < 10s) {
    healthz_ok = healthz_ok && http_get(port_, "/healthz", 2s).status == 200;
    std::this_thread::sleep_for(250ms);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double heartbeat = check_runs("heartbeat") - heartbeat0, worker = check_runs("worker") - worker0;
  std::printf("in %.1f s: heartbeat %g runs, worker %g runs (nominal %.0f each)\n", seconds,
              heartbeat, worker, seconds / 0.5);
  // Nominally 2 runs a second each; at least half of that on a loaded machine.
  EXPECT_GE(heartbeat, seconds / 0.5 / 2) << everything();
  EXPECT_GE(worker, seconds / 0.5 / 2) << everything();
  EXPECT_TRUE(healthz_ok);
  // The black hole was really in the way: a POST ran into its 5 s deadline.
  auto failed = wait_for_event(log_, event_with("notify_failed"), 15s);
  ASSERT_TRUE(failed) << everything();
  EXPECT_FALSE(find_event(log_, event_with("notify_delivered")));
  std::printf("notify_failed: %s\n", failed->dump().c_str());
}
