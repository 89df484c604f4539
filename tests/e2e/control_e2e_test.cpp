// End-to-end tests of the daemon's control endpoints (POST/DELETE /maintenance, POST
// /incidents/ID/ack, POST /incidents/ID/retry) on the real binary: the bearer token guards
// them, the token stays secret, and each endpoint does what SPEC.md says to remediation.
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <filesystem>
#include <fstream>
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
using acis::test::event_is;
using acis::test::event_with;
using acis::test::find_event;
using acis::test::find_events;
using acis::test::http_request;
using acis::test::http_result;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

// 32 characters; distinctive so that a leak is found by a plain substring search.
const std::string token = "e2e-ctl-TOKEN-5f0c1d2e3a4b6789ab";

void write_token_file(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
  ::chmod(path.c_str(), 0600);
}

// The exit status of a daemon that is expected to refuse to start (nullopt: still running).
std::optional<int> exit_code_of(acis::test::child_process& p, std::chrono::milliseconds timeout) {
  auto st = p.wait_for(timeout);
  if (!st) return std::nullopt;
  return WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st);
}

// A daemon with one trivial check and no platform: enough for the token rules.
class control_auth_e2e : public acis::test::daemon_fixture {
 protected:
  control_auth_e2e() : daemon_fixture(acis::test::build_paths(), "acis-ctl") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    std::ofstream(dir_ + "/fresh.txt") << "x";
    write_token_file(dir_ + "/control.token", token + "\n");
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"control_token_file", dir_ + "/control.token"}}},
            {"checks", json::array({{{"name", "file"}, {"type", "file_age"},
                                     {"path", dir_ + "/fresh.txt"}, {"max_age", "1h"},
                                     {"interval", "500ms"}, {"timeout", "400ms"},
                                     {"severity", "low"}}})}};
  }

  http_result call(const std::string& method, const std::string& path,
                   const std::string& authorization, const std::string& body = {}) {
    return http_request(method, port_, path, body, authorization);
  }

  // Starts the daemon expecting it to refuse; returns its exit code (nullopt: it ran).
  std::optional<int> start_refused(const std::string& log_name) {
    std::ofstream(dir_ + "/healthd.json") << cfg_.dump(2);
    log_ = dir_ + "/" + log_name;
    auto p = acis::test::start_daemon(paths_.daemon_bin(), dir_ + "/healthd.json", log_,
                                      dir_ + "/daemon.stderr");
    auto rc = exit_code_of(*p, 15s);
    if (!rc) p->stop();
    return rc;
  }
};

// A daemon on the toy platform with the control token configured.
class control_e2e : public acis::test::platform_fixture {
 protected:
  control_e2e() : platform_fixture(acis::test::build_paths(), "acis-ctl") {}

  void SetUp() override {
    platform_fixture::SetUp();
    if (HasFatalFailure()) return;
    write_token_file(dir_ + "/control.token", token + "\n");
    cfg_["daemon"]["control_token_file"] = dir_ + "/control.token";
  }

  http_result control(const std::string& method, const std::string& path, const std::string& body = {}) {
    return http_request(method, port_, path, body, "Bearer " + token);
  }

  json incident(const std::string& id) {
    for (const auto& i : get_json("/incidents?state=all"))
      if (i.value("id", "") == id) return i;
    return json();
  }

  bool api_ok() { return target_state("api") == "ok"; }

  // remediation_started events of one incident.
  int runs_of(const std::string& id) {
    return count_events(log_, event_with("remediation_started", "incident", id));
  }
};

}  // namespace

// Every control endpoint answers 401 without a bearer token (none, or another scheme) and 403
// with a wrong one (same length, longer, shorter, a leading space), changes nothing then, and works with
// the right one; the token never shows in the log, /status, /metrics, /incidents or the journal.
TEST_F(control_auth_e2e, every_control_endpoint_needs_the_bearer_token) {
  start_daemon("auth.log");
  std::string same_length = token;
  same_length.back() = same_length.back() == 'b' ? 'c' : 'b';
  ASSERT_EQ(same_length.size(), token.size());
  const std::vector<std::pair<std::string, int>> denied = {
      {"", 401},
      {"Basic ZTJlOnNlY3JldA==", 401},
      {"Basic " + token, 401},
      {"Bearer" + token, 401},  // no space: not the Bearer scheme
      {"Bearer " + same_length, 403},
      {"Bearer " + token + "x", 403},
      {"Bearer " + token.substr(0, token.size() - 1), 403},
      {"Bearer " + token.substr(0, 4), 403},
      {"Bearer  " + token, 403},  // the token with a leading space is another token
  };
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"POST", "/maintenance"},
      {"DELETE", "/maintenance"},
      {"POST", "/incidents/INC-000001/ack"},
      {"POST", "/incidents/INC-000001/retry"},
  };
  int expected_denials = 0;
  for (const auto& [method, path] : endpoints) {
    for (const auto& [authorization, status] : denied) {
      auto r = call(method, path, authorization, R"({"reason": "should not happen"})");
      EXPECT_EQ(r.status, status) << method << " " << path << " with \"" << authorization << "\": " << r.body;
      ++expected_denials;
    }
  }
  // Nothing changed, and each refusal was logged (without the header).
  EXPECT_EQ(get_json("/status")["maintenance"], false);
  ASSERT_TRUE(wait_until([&] { return count_events(log_, "control_denied") == expected_denials; }, 5s))
      << count_events(log_, "control_denied") << " of " << expected_denials << "\n" << daemon_output();
  EXPECT_EQ(count_events(log_, "maintenance_started"), 0);
  EXPECT_EQ(count_events(log_, "maintenance_ended"), 0);
  EXPECT_EQ(count_events(log_, "remediation_reset"), 0);
  for (const auto& e : find_events(log_, event_with("control_denied"))) {
    EXPECT_TRUE(e["status"] == 401 || e["status"] == 403) << e.dump();
    EXPECT_FALSE(e.contains("authorization")) << e.dump();
  }

  // The right token.
  auto on = call("POST", "/maintenance", "Bearer " + token, R"({"reason": "e2e window"})");
  EXPECT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(json::parse(on.body, nullptr, false).value("maintenance", false), true) << on.body;
  EXPECT_EQ(get_json("/status")["maintenance"], true);
  auto started = wait_for_event(log_, event_with("maintenance_started"), 5s);
  ASSERT_TRUE(started) << daemon_output();
  EXPECT_EQ((*started)["reason"], "e2e window");
  auto off = call("DELETE", "/maintenance", "Bearer " + token);
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(json::parse(off.body, nullptr, false).value("changed", false), true) << off.body;
  EXPECT_EQ(get_json("/status")["maintenance"], false);
  EXPECT_TRUE(wait_for_event(log_, event_with("maintenance_ended"), 5s)) << daemon_output();
  // Authorized, but there is no such incident.
  EXPECT_EQ(call("POST", "/incidents/INC-000001/ack", "Bearer " + token).status, 404);
  EXPECT_EQ(call("POST", "/incidents/INC-000001/retry", "Bearer " + token).status, 404);
  // A body that is not a JSON object is refused once authorized.
  EXPECT_EQ(call("POST", "/maintenance", "Bearer " + token, "[1, 2]").status, 400);

  // The token is nowhere the daemon speaks.
  for (const std::string target : {"/status", "/metrics", "/incidents?state=all"}) {
    auto r = acis::test::http_get(port_, target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.body.find(token), std::string::npos) << target;
  }
  EXPECT_EQ(daemon_output().find(token), std::string::npos) << daemon_output();
  EXPECT_EQ(daemon_output().find(token.substr(0, 16)), std::string::npos);
  EXPECT_EQ(read_file(dir_ + "/state/incidents.jsonl").find(token), std::string::npos);
}

// With control_token_file null the control endpoints are disabled: 403 saying so, whatever
// the Authorization header, and nothing changes.
TEST_F(control_auth_e2e, null_token_file_disables_control_endpoints) {
  cfg_["daemon"]["control_token_file"] = nullptr;
  start_daemon("disabled.log");
  for (const std::string& authorization : {std::string(), "Bearer " + token, std::string("Basic eDp5")}) {
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/maintenance"}, {"DELETE", "/maintenance"}, {"POST", "/incidents/INC-000001/ack"},
             {"POST", "/incidents/INC-000001/retry"}}) {
      auto r = call(method, path, authorization);
      EXPECT_EQ(r.status, 403) << method << " " << path << " \"" << authorization << "\"";
      EXPECT_NE(r.body.find("disabled"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(get_json("/status")["maintenance"], false);
  EXPECT_EQ(count_events(log_, "maintenance_started"), 0);
}

// A control token shorter than 16 characters (after trailing whitespace is trimmed) or an
// unreadable token file makes the daemon refuse to start with exit 3 and a daemon_failed event
// naming the reason, without printing the token; exactly 16 characters is accepted.
TEST_F(control_auth_e2e, short_or_missing_token_refuses_to_start) {
  const std::string short_token = "short-tok-15chr";  // 15 characters
  ASSERT_EQ(short_token.size(), 15u);
  write_token_file(dir_ + "/control.token", short_token + "   \n");
  auto rc = start_refused("short.log");
  ASSERT_TRUE(rc) << "the daemon started with a 15-character token\n" << daemon_output();
  EXPECT_EQ(*rc, 3) << daemon_output();
  auto failed = find_event(log_, event_with("daemon_failed"));
  ASSERT_TRUE(failed) << daemon_output();
  EXPECT_NE((*failed).value("reason", "").find("16 characters"), std::string::npos) << failed->dump();
  EXPECT_EQ(daemon_output().find(short_token), std::string::npos) << daemon_output();
  EXPECT_FALSE(acis::test::http_get(port_, "/healthz", 500ms).status == 200);

  cfg_["daemon"]["control_token_file"] = dir_ + "/no-such.token";
  rc = start_refused("missing.log");
  ASSERT_TRUE(rc) << "the daemon started without its token file\n" << daemon_output();
  EXPECT_EQ(*rc, 3) << daemon_output();
  failed = find_event(log_, event_with("daemon_failed"));
  ASSERT_TRUE(failed) << daemon_output();
  EXPECT_NE((*failed).value("reason", "").find("control_token_file"), std::string::npos) << failed->dump();

  // The boundary: 16 characters (and a trailing newline) start the daemon, and that token works.
  const std::string sixteen = "sixteen-chars-ok";
  ASSERT_EQ(sixteen.size(), 16u);
  write_token_file(dir_ + "/control.token", sixteen + "\n");
  cfg_["daemon"]["control_token_file"] = dir_ + "/control.token";
  start_daemon("sixteen.log");
  EXPECT_EQ(call("POST", "/maintenance", "Bearer " + sixteen).status, 200);
  EXPECT_EQ(call("DELETE", "/maintenance", "Bearer " + sixteen.substr(0, 15)).status, 403);
}

// Maintenance pauses remediation: the API dies, its incident opens and no runbook runs while
// maintenance lasts; DELETE /maintenance lets the api-down runbook run and the incident resolve.
TEST_F(control_e2e, maintenance_pauses_remediation_until_it_ends) {
  check("api")["runbook"] = "api-down";
  cfg_["runbooks"] = {{"api-down", restart_api_runbook()}};
  start_daemon("maintenance.log");
  ASSERT_TRUE(wait_until([&] { return api_ok(); }, 20s)) << daemon_output();

  auto on = control("POST", "/maintenance", R"({"reason": "planned API upgrade"})");
  ASSERT_EQ(on.status, 200) << on.body;
  ASSERT_TRUE(wait_for_event(log_, event_with("maintenance_started"), 5s)) << daemon_output();
  EXPECT_EQ(get_json("/status")["maintenance"], true);

  ASSERT_TRUE(platform("kill-api"));
  auto opened = wait_for_event(log_, event_is("incident_opened", "api"), 20s);
  ASSERT_TRUE(opened) << daemon_output();
  const std::string id = (*opened)["incident"];
  // Several remediation decisions happen meanwhile (the incident opening pokes the loop);
  // none may start the runbook.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(count_events(log_, "remediation_started"), 0) << daemon_output();
  EXPECT_EQ(acis::test::http_get(api_port(), "/health", 1s).status, 0);  // still down
  EXPECT_EQ(incident(id)["state"], "open");

  auto off = control("DELETE", "/maintenance");
  ASSERT_EQ(off.status, 200) << off.body;
  ASSERT_TRUE(wait_for_event(log_, event_with("maintenance_ended"), 5s)) << daemon_output();
  ASSERT_TRUE(wait_for_event(log_, event_is("incident_resolved", "api"), 40s)) << daemon_output();
  EXPECT_EQ(runs_of(id), 1) << daemon_output();
  // The run came after the maintenance ended, in log order.
  const auto events = acis::test::log_events(log_);
  std::ptrdiff_t ended_at = -1, run_at = -1;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i]["event"] == "maintenance_ended" && ended_at < 0) ended_at = static_cast<std::ptrdiff_t>(i);
    if (events[i]["event"] == "remediation_started" && run_at < 0) run_at = static_cast<std::ptrdiff_t>(i);
  }
  EXPECT_GT(run_at, ended_at);
  EXPECT_EQ(acis::test::http_get(api_port(), "/health").status, 200);
  EXPECT_EQ(get_json("/status")["maintenance"], false);
}

// POST /incidents/ID/ack acknowledges an open incident: incident_acknowledged is logged, and
// /incidents shows it acknowledged with the comment; a second ack is 409, an unknown id 404.
TEST_F(control_e2e, ack_acknowledges_an_open_incident) {
  start_daemon("ack.log");
  ASSERT_TRUE(wait_until([&] { return api_ok(); }, 20s)) << daemon_output();
  ASSERT_TRUE(platform("kill-api"));
  auto opened = wait_for_event(log_, event_is("incident_opened", "api"), 20s);
  ASSERT_TRUE(opened) << daemon_output();
  const std::string id = (*opened)["incident"];

  auto r = control("POST", "/incidents/" + id + "/ack", R"({"comment": "looking at it"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body, nullptr, false);
  EXPECT_EQ(body.value("state", ""), "acknowledged") << r.body;
  auto acked = wait_for_event(log_, event_with("incident_acknowledged", "incident", id), 5s);
  ASSERT_TRUE(acked) << daemon_output();
  EXPECT_EQ((*acked)["check"], "api");
  auto listed = incident(id);
  ASSERT_TRUE(listed.is_object()) << id;
  EXPECT_EQ(listed["state"], "acknowledged");
  EXPECT_EQ(listed["ack_comment"], "looking at it");
  EXPECT_TRUE(listed["acknowledged_at"].is_string()) << listed.dump();
  // Still acknowledged after more failing results.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(incident(id)["state"], "acknowledged");

  EXPECT_EQ(control("POST", "/incidents/" + id + "/ack").status, 409);
  EXPECT_EQ(count_events(log_, event_with("incident_acknowledged", "incident", id)), 1);
  EXPECT_EQ(control("POST", "/incidents/INC-999999/ack").status, 404);
  EXPECT_EQ(control("POST", "/incidents/nonsense/ack").status, 404);
  EXPECT_EQ(control("POST", "/incidents/" + id + "/bogus").status, 404);
}

// POST /incidents/ID/retry on an incident escalated after max_attempts failed runs gives it a
// fresh set of attempts: the runbook really runs again (counted in the log and by the step
// itself), up to max_attempts more, then it gives up again and runs no more.
TEST_F(control_e2e, retry_runs_an_escalated_incident_again) {
  const std::string runs_file = dir_ + "/runs.txt";
  check("api")["runbook"] = "api-down";
  cfg_["runbooks"] = {{"api-down",
                       {{"max_attempts", 2}, {"backoff", "500ms"}, {"cooldown", "1m"},
                        {"steps", json::array({{{"name", "try"},
                                                {"run", json::array({"/bin/bash", "-c",
                                                                     "echo run >> \"$1\"; exit 1",
                                                                     "try", runs_file})},
                                                {"timeout", "5s"}}})}}}};
  start_daemon("retry.log");
  auto step_runs = [&] {
    const auto text = read_file(runs_file);
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  };
  ASSERT_TRUE(wait_until([&] { return api_ok(); }, 20s)) << daemon_output();
  ASSERT_TRUE(platform("kill-api"));
  auto escalated = wait_for_event(log_, event_is("incident_escalated", "api"), 30s);
  ASSERT_TRUE(escalated) << daemon_output();
  const std::string id = (*escalated)["incident"];
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(runs_of(id), 2) << daemon_output();
  EXPECT_EQ(step_runs(), 2);
  EXPECT_EQ(incident(id)["state"], "escalated");

  auto r = control("POST", "/incidents/" + id + "/retry");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("retry", false), true) << r.body;
  EXPECT_TRUE(wait_for_event(log_, event_with("remediation_reset", "incident", id), 5s)) << daemon_output();
  ASSERT_TRUE(wait_until([&] { return runs_of(id) >= 4 && step_runs() >= 4; }, 30s))
      << runs_of(id) << " runs\n" << daemon_output();
  ASSERT_TRUE(wait_until([&] {
    return count_events(log_, event_with("remediation_gave_up", "incident", id)) == 2;
  }, 20s)) << daemon_output();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(runs_of(id), 4) << daemon_output();
  EXPECT_EQ(step_runs(), 4);
  auto after = incident(id);
  EXPECT_EQ(after["state"], "escalated") << after.dump();
  EXPECT_TRUE(after["resolved_at"].is_null());
}

// A maintenance window with an end time ends by itself: maintenance_ended with the window's
// reason arrives at `until` (not before), and /status says maintenance is off again; a lowercase
// "bearer" scheme is accepted (the scheme is case-insensitive, the token is not).
TEST_F(control_auth_e2e, maintenance_window_ends_by_itself_at_until) {
  start_daemon("window.log");
  const auto until = std::chrono::system_clock::now() + std::chrono::seconds(3);
  const std::time_t t = std::chrono::system_clock::to_time_t(until);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  auto on = call("POST", "/maintenance", "bearer " + token,
                 json{{"reason", "short window"}, {"until", stamp}}.dump());
  ASSERT_EQ(on.status, 200) << on.body;
  ASSERT_TRUE(wait_for_event(log_, event_with("maintenance_started"), 5s)) << daemon_output();
  EXPECT_EQ(get_json("/status")["maintenance"], true);
  auto ended = wait_for_event(log_, event_with("maintenance_ended"), 20s);
  ASSERT_TRUE(ended) << daemon_output();
  EXPECT_NE(ended->value("reason", "").find("window ended"), std::string::npos) << ended->dump();
  // Not before the window's end (the stamp has whole seconds, so allow its truncation).
  const auto at = std::chrono::system_clock::now();
  EXPECT_GE(at, until - std::chrono::seconds(1));
  EXPECT_EQ(get_json("/status")["maintenance"], false);
}
