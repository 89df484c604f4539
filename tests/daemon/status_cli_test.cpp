// `acis-healthd status`: the pure formatting of GET /status (columns, one bounded line per
// reason, SLA left or breached on the daemon's clock, remediation state, exit code, no crash on
// missing or mistyped fields), and the command against real loopback servers (an answer, a
// refused port, a wrong answer, a server that never answers).
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/status_cli.hpp"
#include "tests/support/http_test_server.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::daemon::format_status;
using acis::daemon::remediation_summary;
using acis::daemon::run_status_command;
using acis::daemon::status_exit_code;
using acis::daemon::sla_summary;
using acis::daemon::status_exit_code;
using acis::daemon::status_url_for_listen;

// A /status answer as daemon.cpp status_json() writes it.
json sample() {
  return json::parse(R"({
    "version": "0.1.0", "now": "2026-03-01T10:00:00.000Z", "dry_run": false, "maintenance": false,
    "remediation": [{"incident": "INC-000007", "runbook": "api-down"}],
    "checks": [
      {"name": "api", "type": "http", "severity": "high", "interval_ms": 500, "timeout_ms": 400,
       "runs": 12, "depends_on": [], "runbook": "api-down",
       "targets": [{"target": "", "state": "failing", "reason": "connection refused while connecting",
                    "latency_ms": 12.34, "last_at": "2026-03-01T09:59:58.000Z",
                    "incident": "INC-000007", "consecutive_failures": 3,
                    "consecutive_successes": 0, "ever_passed": true}]},
      {"name": "models", "type": "model_metadata", "severity": "critical",
       "targets": [{"target": "momentum_large", "state": "ok", "reason": "fresh", "latency_ms": 3,
                    "last_at": "2026-03-01T09:59:59.000Z", "incident": null},
                   {"target": "value_small", "state": "degraded", "reason": "slow", "latency_ms": 2100.5,
                    "last_at": "2026-03-01T09:59:00.000Z", "incident": null}]},
      {"name": "fresh-check", "type": "process", "targets": []}
    ],
    "incidents": [
      {"id": "INC-000007", "check": "api", "target": "", "severity": "high", "state": "open",
       "reason": "connection refused while connecting",
       "first_failure": "2026-03-01T09:55:48.000Z", "opened_at": "2026-03-01T09:56:00.000Z",
       "sla_deadline": "2026-03-01T10:04:12.000Z", "sla_breached": false, "suppressed_by": null,
       "acknowledged_at": null, "ack_comment": null, "resolved_at": null,
       "timeline": [{"at": "2026-03-01T09:56:00.000Z", "event": "incident_opened", "detail": "3 failures"}]}
    ]})");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The line that starts with `prefix` ("" when none).
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& l : lines_of(text))
    if (l.rfind(prefix, 0) == 0) return l;
  return {};
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

// Both tables have their headers, one row per check target (a check without targets yet shows
// as unknown), the columns line up under the headers, and times are taken on the daemon clock.
TEST(status_cli, prints_checks_and_incidents_in_columns) {
  const auto out = format_status(sample());
  EXPECT_TRUE(has(out, "acis-healthd 0.1.0, daemon clock 2026-03-01T10:00:00.000Z")) << out;
  EXPECT_FALSE(has(out, "DRY RUN"));
  EXPECT_FALSE(has(out, "MAINTENANCE"));
  const auto header = line_starting(out, "CHECK");
  ASSERT_FALSE(header.empty()) << out;
  const auto api = line_starting(out, "api ");
  ASSERT_FALSE(api.empty()) << out;
  EXPECT_TRUE(has(api, "failing")) << api;
  EXPECT_TRUE(has(api, "12.3ms")) << api;
  EXPECT_TRUE(has(api, "2s ago")) << api;
  EXPECT_TRUE(has(api, "INC-000007")) << api;
  EXPECT_EQ(api.find("failing"), header.find("STATE")) << header << "\n" << api;
  EXPECT_EQ(api.find("connection refused"), header.find("REASON")) << header << "\n" << api;
  // LATENCY is right-aligned: the values end where the header ends.
  EXPECT_EQ(api.find("12.3ms") + 6, header.find("LATENCY") + 7) << header << "\n" << api;
  const auto slow = line_starting(out, "models       value_small");
  EXPECT_TRUE(has(slow, "degraded") && has(slow, "2100.5ms") && has(slow, "1m 0s ago")) << out;
  EXPECT_TRUE(has(line_starting(out, "fresh-check"), "unknown")) << out;
  EXPECT_TRUE(has(line_starting(out, "fresh-check"), "never")) << out;
  EXPECT_TRUE(has(out, "4 check targets: 1 ok, 1 degraded, 1 failing, 1 unknown; 1 open incident\n")) << out;

  const auto inc_header = line_starting(out, "INCIDENT");
  const auto inc = line_starting(out, "INC-000007");
  ASSERT_FALSE(inc.empty()) << out;
  EXPECT_TRUE(has(out, "OPEN INCIDENTS: 1\n"));
  for (const auto* col : {"SEVERITY", "STATE", "CHECK/TARGET", "SLA", "AGE", "REMEDIATION"})
    EXPECT_TRUE(has(inc_header, col)) << col;
  EXPECT_EQ(inc.find("high"), inc_header.find("SEVERITY")) << inc_header << "\n" << inc;
  EXPECT_EQ(inc.find("4m 12s left"), inc_header.find("SLA")) << inc_header << "\n" << inc;
  EXPECT_TRUE(has(inc, "4m 0s")) << "age since opened_at: " << inc;
  EXPECT_TRUE(has(inc, "waiting to run runbook api-down")) << inc;
  EXPECT_TRUE(has(out, "  INC-000007: connection refused while connecting\n")) << out;
}

// Dry run and maintenance are stated in words at the top; no incidents prints "none".
TEST(status_cli, states_modes_and_no_incidents) {
  auto s = sample();
  s["dry_run"] = true;
  s["maintenance"] = true;
  s["incidents"] = json::array();
  const auto out = format_status(s);
  EXPECT_TRUE(has(out, "\nDRY RUN: remediation is logged, nothing is executed\n")) << out;
  EXPECT_TRUE(has(out, "\nMAINTENANCE: remediation is paused\n")) << out;
  EXPECT_TRUE(has(out, "OPEN INCIDENTS: none\n")) << out;
  EXPECT_TRUE(line_starting(out, "INCIDENT").empty()) << "no incident table: " << out;
}

// A long reason is cut to one line of 80 characters ending in "..."; newlines become spaces;
// terminal control characters (ESC, C1 CSI) and invalid UTF-8 become '?'; UTF-8 text is kept
// and counted in characters, not bytes.
TEST(status_cli, keeps_reasons_to_one_bounded_line) {
  auto s = sample();
  std::string long_reason(300, 'x');
  long_reason.replace(10, 1, "\n");
  s["checks"][0]["targets"][0]["reason"] = long_reason;
  s["checks"][1]["targets"][0]["reason"] = "red \x1b[31malert\x1b[0m \xc2\x9b" "2J bad \xff byte";
  s["checks"][1]["targets"][1]["reason"] = std::string("caf\xc3\xa9 ") + std::string(100, 'y');
  const auto out = format_status(s);
  const auto api = line_starting(out, "api ");
  const auto header = line_starting(out, "CHECK");
  const auto reason = api.substr(header.find("REASON"));
  EXPECT_EQ(reason, std::string(10, 'x') + " " + std::string(66, 'x') + "...") << reason;
  EXPECT_FALSE(has(out, "\x1b")) << "ESC reached the terminal";
  EXPECT_FALSE(has(out, "\xc2\x9b")) << "C1 CSI reached the terminal";
  EXPECT_FALSE(has(out, "\xff"));
  EXPECT_TRUE(has(out, "red ?[31malert?[0m ?2J bad ? byte")) << out;
  const auto cafe = line_starting(out, "models       value_small");
  EXPECT_TRUE(has(cafe, "caf\xc3\xa9 " + std::string(72, 'y') + "...")) << cafe;
  for (const auto& l : lines_of(out)) EXPECT_LT(l.size(), 260u) << l;
}

// The SLA cell on the daemon's clock: time left, breached (flagged by the daemon, or past the
// deadline before the daemon's tick), met or late when acknowledged, paused while suppressed,
// "?" without times.
TEST(status_cli, shows_sla_left_or_breached) {
  const auto s = sample();
  json i = s["incidents"][0];
  EXPECT_EQ(sla_summary(i, s), "4m 12s left");
  i["sla_deadline"] = "2026-03-01T12:30:00.000Z";
  EXPECT_EQ(sla_summary(i, s), "2h 30m left");
  i["sla_deadline"] = "2026-03-01T09:57:00.000Z";
  EXPECT_EQ(sla_summary(i, s), "breached 3m 0s ago");
  i["sla_breached"] = true;
  EXPECT_EQ(sla_summary(i, s), "breached 3m 0s ago");
  i["state"] = "suppressed";
  EXPECT_EQ(sla_summary(i, s), "breached 3m 0s ago") << "breached before it was suppressed";
  i["sla_breached"] = false;
  EXPECT_EQ(sla_summary(i, s), "paused while suppressed");
  i["state"] = "acknowledged";
  i["acknowledged_at"] = "2026-03-01T09:56:30.000Z";
  EXPECT_EQ(sla_summary(i, s), "met (acknowledged)");
  i["acknowledged_at"] = "2026-03-01T09:58:00.000Z";
  EXPECT_EQ(sla_summary(i, s), "breached (acknowledged late)");
  i = {{"state", "open"}};
  EXPECT_EQ(sla_summary(i, s), "?");

  auto late = sample();
  late["incidents"][0]["sla_breached"] = true;
  late["incidents"][0]["sla_deadline"] = "2026-03-01T08:00:00.000Z";
  EXPECT_TRUE(has(line_starting(format_status(late), "INC-000007"), "breached 2h 0m ago"))
      << format_status(late);
}

// What remediation is doing, from the daemon's remediation list and the incident's last
// remediation entry on its timeline.
TEST(status_cli, derives_the_remediation_state) {
  auto s = sample();
  json i = s["incidents"][0];
  EXPECT_EQ(remediation_summary(i, s), "waiting to run runbook api-down");
  i["timeline"].push_back({{"at", "x"}, {"event", "remediation_started"},
                           {"detail", "attempt 1 of 3 of runbook api-down"}});
  EXPECT_EQ(remediation_summary(i, s), "running: attempt 1 of 3 of runbook api-down");
  i["timeline"].push_back({{"at", "x"}, {"event", "step_finished"}, {"detail", "restart: ok in 0.1s"}});
  EXPECT_EQ(remediation_summary(i, s), "running: restart: ok in 0.1s");
  i["timeline"].push_back({{"at", "x"}, {"event", "remediation_finished"}, {"detail", "failure: verify failed"}});
  EXPECT_EQ(remediation_summary(i, s), "waiting to retry runbook api-down (last attempt: failure: verify failed)");
  s["maintenance"] = true;
  EXPECT_EQ(remediation_summary(i, s),
            "waiting to retry runbook api-down (last attempt: failure: verify failed) (paused: maintenance)");
  s["maintenance"] = false;
  i["timeline"].push_back({{"at", "x"}, {"event", "remediation_finished"}, {"detail", "success"}});
  EXPECT_EQ(remediation_summary(i, s), "attempt succeeded, waiting for the check to recover");
  i["timeline"].push_back({{"at", "x"}, {"event", "sla_breached"}, {"detail", "late"}});
  EXPECT_EQ(remediation_summary(i, s), "attempt succeeded, waiting for the check to recover")
      << "other events do not hide the last remediation entry";
  i["state"] = "escalated";
  EXPECT_EQ(remediation_summary(i, s), "gave up: escalated to a person");
  i["state"] = "suppressed";
  i["timeline"] = json::array();
  EXPECT_EQ(remediation_summary(i, s), "waiting to run runbook api-down (held: suppressed)");
  s["remediation"] = json::array();
  EXPECT_EQ(remediation_summary(i, s), "none");
}

// 1 while any target is failing or any incident is open; 0 when all is well (degraded and
// unknown are not failing).
TEST(status_cli, exit_code_says_whether_anything_is_wrong) {
  auto s = sample();
  EXPECT_EQ(status_exit_code(s), 1);
  s["incidents"] = json::array();
  EXPECT_EQ(status_exit_code(s), 1) << "the api target is still failing";
  s["checks"][0]["targets"][0]["state"] = "ok";
  EXPECT_EQ(status_exit_code(s), 0);
  s["incidents"] = sample()["incidents"];
  s["incidents"][0]["state"] = "acknowledged";
  EXPECT_EQ(status_exit_code(s), 1) << "an acknowledged incident is still open";
  EXPECT_EQ(status_exit_code(json()), 0);
}

// Missing, null and mistyped fields anywhere print as "-" or "?" and never throw.
TEST(status_cli, survives_missing_and_mistyped_fields) {
  const std::vector<json> odd = {
      json(),
      json::array(),
      json("text"),
      json::object(),
      {{"checks", 5}, {"incidents", "no"}, {"remediation", {{"a", 1}}}},
      {{"version", 3}, {"now", 12}, {"dry_run", "yes"},
       {"checks", {1, "x", nullptr, {{"name", nullptr}, {"targets", {nullptr, 7, {{"latency_ms", "fast"}}}}}}},
       {"incidents", {nullptr, 3, {{"id", 5}, {"timeline", "x"}, {"sla_deadline", "soon"}}}},
       {"remediation", {nullptr, {{"incident", 5}}}}},
      {{"now", "2026-03-01T10:00:00Z"},
       {"incidents", {{{"state", "acknowledged"}, {"timeline", {nullptr, {{"event", 1}}}}}}}},
  };
  for (const auto& s : odd) {
    std::string out;
    EXPECT_NO_THROW(out = format_status(s)) << s.dump();
    EXPECT_TRUE(has(out, "acis-healthd ")) << s.dump();
    EXPECT_NO_THROW(status_exit_code(s)) << s.dump();
  }
  const auto out = format_status(odd[5]);
  EXPECT_TRUE(has(out, "acis-healthd 3, daemon clock 12")) << out;
  EXPECT_TRUE(has(out, "OPEN INCIDENTS: 3")) << out;
  EXPECT_TRUE(has(format_status(json::object()), "no checks configured")) << format_status(json::object());
}

// The daemon's listen address turned into a URL to reach it.
TEST(status_cli, url_for_listen_address) {
  EXPECT_EQ(status_url_for_listen("127.0.0.1:9187"), "http://127.0.0.1:9187");
  EXPECT_EQ(status_url_for_listen("0.0.0.0:9000"), "http://127.0.0.1:9000");
  EXPECT_EQ(status_url_for_listen("[::]:9187"), "http://[::1]:9187");
  EXPECT_EQ(status_url_for_listen("[::1]:80"), "http://[::1]:80");
  EXPECT_EQ(status_url_for_listen("localhost:9187"), "http://localhost:9187");
  EXPECT_EQ(status_url_for_listen(":9187"), "http://127.0.0.1:9187");
}

// The command against a real loopback server: GET /status (appended to a base URL, kept when
// given), the tables on `out`, exit 1 for an open incident and 0 when all is well.
TEST(status_cli, command_prints_what_the_daemon_answers) {
  json answer = sample();
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    acis::test::http_test_reply reply;
    if (r.target != "/status") {
      reply.status = 404;
      reply.body = "not found\n";
      return reply;
    }
    reply.body = answer.dump();
    reply.headers = {{"Content-Type", "application/json"}};
    return reply;
  });
  std::ostringstream out, err;
  EXPECT_EQ(run_status_command(server.url("/"), out, err, 10s), 1) << err.str();
  EXPECT_TRUE(has(out.str(), "INC-000007")) << out.str();
  EXPECT_EQ(err.str(), "");
  answer["incidents"] = json::array();
  answer["checks"][0]["targets"][0]["state"] = "ok";
  for (const auto& url : {server.url("/status"), "http://127.0.0.1:" + std::to_string(server.port()),
                          server.url("/status?x=1")}) {
    std::ostringstream o, e;
    EXPECT_EQ(run_status_command(url, o, e, 10s), 0) << url << " " << e.str();
    EXPECT_TRUE(has(o.str(), "OPEN INCIDENTS: none")) << o.str();
  }
  ASSERT_FALSE(server.requests().empty());
  for (const auto& r : server.requests()) EXPECT_EQ(r.target, "/status");
}

// Exit 3 with a clear message when nothing listens, when the server answers something other
// than 200 with a JSON object, or never answers (bounded by the deadline); 2 for a bad URL.
TEST(status_cli, command_fails_clearly_without_a_daemon) {
  {
    std::ostringstream out, err;
    const auto port = acis::test::unused_loopback_port();
    EXPECT_EQ(run_status_command("http://127.0.0.1:" + std::to_string(port), out, err, 10s), 3);
    EXPECT_TRUE(has(err.str(), "cannot reach the daemon at http://127.0.0.1:" + std::to_string(port) + "/status"))
        << err.str();
    EXPECT_EQ(out.str(), "");
  }
  acis::test::http_test_server wrong([](const acis::test::http_test_request& r) {
    acis::test::http_test_reply reply;
    if (r.target == "/other/status") reply.body = "<html>not json</html>";
    else reply.status = 503;
    return reply;
  });
  {
    std::ostringstream out, err;
    EXPECT_EQ(run_status_command(wrong.url("/"), out, err, 10s), 3);
    EXPECT_TRUE(has(err.str(), "answered HTTP 503")) << err.str();
  }
  {
    std::ostringstream out, err;
    EXPECT_EQ(run_status_command(wrong.url("/other/"), out, err, 10s), 3);
    EXPECT_TRUE(has(err.str(), "not a JSON object")) << err.str();
  }
  acis::test::http_test_server silent([](const acis::test::http_test_request&) {
    acis::test::http_test_reply reply;
    reply.act = acis::test::http_test_reply::action::never_answer;
    return reply;
  });
  {
    std::ostringstream out, err;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(run_status_command(silent.url("/"), out, err, 300ms), 3);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the deadline bounds the wait";
    EXPECT_TRUE(has(err.str(), "timeout")) << err.str();
  }
  {
    std::ostringstream out, err;
    EXPECT_EQ(run_status_command("https://127.0.0.1:1/", out, err, 1s), 2);
    EXPECT_TRUE(has(err.str(), "--url")) << err.str();
  }
}

// A degraded journal is said at the top (bounded, one line) and makes the exit status 1.
TEST(status_cli, states_a_degraded_journal) {
  auto s = sample();
  s["incidents"] = json::array();
  for (auto& c : s["checks"])
    for (auto& t : c["targets"]) t["state"] = "ok";
  EXPECT_FALSE(has(format_status(s), "JOURNAL"));
  EXPECT_EQ(status_exit_code(s), 0);
  s["journal"] = {{"healthy", false}, {"problem", "journal: write incidents.jsonl: No space left on device\nx"}};
  const auto out = format_status(s);
  EXPECT_TRUE(has(out, "\nJOURNAL DEGRADED: changes are held, not acted on: journal: write incidents.jsonl: No space left on device")) << out;
  EXPECT_EQ(status_exit_code(s), 1);
}
