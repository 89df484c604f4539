// End-to-end tests of targets that come and go, on the real binary (issue 8, "How it is
// shown"): a failing model folder deleted, the models folder missing for a few seconds, a
// folder name with invalid UTF-8 across a SIGKILL restart, and the database stopped and started
// under the shipped dependency layout (api depends_on database). Every incident resolves, none
// is duplicated, /metrics passes `promtool check metrics`, the API's runbook does not run and
// nothing is escalated twice. In every test: no `internal_error` event, no sanitizer report.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "checks/text.hpp"
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
using acis::test::http_get;
using acis::test::log_events;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

// A label value as the text exposition writes it (backslash, quote and newline escaped).
std::string prom_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// The acis_check_up lines of a scrape for (check, target).
std::vector<std::string> check_up_lines(const std::string& metrics, const std::string& check,
                                        const std::string& target) {
  const std::string series = "acis_check_up{check=\"" + prom_label(check) + "\",target=\"" +
                             prom_label(target) + "\"} ";
  std::vector<std::string> out;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series, 0) == 0) out.push_back(line);
  return out;
}

// Whatever a sanitizer (ASan, UBSan, LSan, TSan) would have written to the daemon's stderr.
bool has_sanitizer_report(const std::string& stderr_text) {
  for (const char* s : {"AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                        "UndefinedBehaviorSanitizer", "runtime error:"})
    if (stderr_text.find(s) != std::string::npos) return true;
  return false;
}

// Every incident record of the journal (old and new line formats), in order.
std::vector<json> journal_incidents(const std::string& file) {
  std::vector<json> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    auto rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object() || !rec.contains("incident")) continue;
    out.push_back(rec);
  }
  return out;
}

// What the test folder's daemons have in common: a promtool lint of the scrape, and the checks
// every test ends with (no internal_error in any log, no sanitizer report).
struct common_checks {
  // `promtool check metrics` on one scrape of the daemon: "" when clean, else what it said.
  static std::string promtool_complaints(const std::string& dir, unsigned short port,
                                         const std::string& label) {
    auto r = http_get(port, "/metrics");
    if (r.status != 200) return "GET /metrics: " + std::to_string(r.status) + " " + r.error;
    const std::string scrape = dir + "/scrape-" + label + ".txt";
    std::ofstream(scrape) << r.body;
    auto [rc, out] = acis::test::run_command(
        {"/bin/sh", "-c", "command -v promtool >/dev/null || { echo 'promtool not found (Debian package prometheus)'; exit 127; }; "
                          "exec promtool check metrics < \"$1\"",
         "sh", scrape},
        dir + "/promtool-" + label + ".out", {}, 30s);
    if (rc == 0 && out.find_first_not_of(" \n") == std::string::npos) return {};
    return "promtool exit " + std::to_string(rc) + ": " + out;
  }

  static void expect_no_internal_error_or_sanitizer(const std::string& dir,
                                                    const std::vector<std::string>& logs) {
    for (const auto& log : logs)
      for (const auto& e : find_events(log, event_with("internal_error")))
        ADD_FAILURE() << log << ": " << e.dump();
    const std::string err = read_file(dir + "/daemon.stderr");
    EXPECT_FALSE(has_sanitizer_report(err)) << err;
  }
};

// A models folder in a temp dir, no platform: one model_metadata check "models" (fall 1, rise 1,
// interval 300 ms) with the rule sharpe_ratio >= 0.5, no runbook.
class targets_e2e : public acis::test::daemon_fixture {
 protected:
  targets_e2e() : daemon_fixture(acis::test::build_paths(), "acis-targets") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    models_ = dir_ + "/models";
    fs::create_directories(models_);
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"log_level", "debug"}}},
            {"checks", json::array({{{"name", "models"}, {"type", "model_metadata"},
                                     {"models_dir", models_},
                                     {"rules", json::array({{{"path", "/metrics/sharpe_ratio"}, {"min", 0.5}}})},
                                     {"interval", "300ms"}, {"timeout", "250ms"}, {"fall", 1},
                                     {"rise", 1}, {"severity", "critical"}, {"issue_type", "model"}}})},
            {"escalation", {{"model", {{"primary", "ML Team Lead"}, {"backup", "Platform Owner"}}}}}};
  }

  // A model folder (raw bytes as the name) whose metadata has that sharpe ratio.
  void write_model(const std::string& raw_name, double sharpe) {
    const fs::path p = fs::path(models_) / raw_name;
    fs::create_directories(p);
    const fs::path tmp = p / "metadata.json.tmp";
    std::ofstream(tmp) << json{{"model", "toy"}, {"metrics", {{"sharpe_ratio", sharpe}}}}.dump();
    fs::rename(tmp, p / "metadata.json");  // atomic: no attempt sees half a file
  }

  // The incidents of /incidents?state=STATE for (check, target).
  std::vector<json> incidents_for(const std::string& state, const std::string& check,
                                  const std::string& target) {
    std::vector<json> out;
    const json all = get_json("/incidents?state=" + state);
    if (!all.is_array()) return out;
    for (const auto& i : all)
      if (i.value("check", "") == check && i.value("target", "") == target) out.push_back(i);
    return out;
  }

  // Every target /status lists for `check`.
  std::set<std::string> status_targets(const std::string& check) {
    std::set<std::string> out;
    const json s = get_json("/status");
    if (!s.is_object() || !s.contains("checks")) return out;
    for (const auto& c : s["checks"])
      if (c.value("name", "") == check)
        for (const auto& t : c["targets"]) out.insert(t.value("target", ""));
    return out;
  }

  std::string metrics() { return http_get(port_, "/metrics").body; }

  std::string models_;
};

}  // namespace

// A failing model folder deleted while its incident is open: the incident resolves with the
// reason "target gone", /status no longer lists the target, /metrics drops its acis_check_up
// series (and still lints clean), the healthy model is untouched and nothing else opens.
TEST_F(targets_e2e, deleted_failing_model_folder_resolves_as_target_gone) {
  write_model("momentum_large", 1.2);
  write_model("value_small", 0.1);
  start_daemon("deleted.log");

  auto opened = wait_for_event(log_, event_is("incident_opened", "models", "value_small"), 10s);
  ASSERT_TRUE(opened) << daemon_output();
  const std::string id = (*opened)["incident"];
  ASSERT_TRUE(wait_until([&] { return target_state("models", "momentum_large") == "ok"; }, 5s));
  {
    const auto m = metrics();
    EXPECT_EQ(check_up_lines(m, "models", "value_small"),
              std::vector<std::string>{"acis_check_up{check=\"models\",target=\"value_small\"} 0"}) << m;
  }
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "before"), "");

  fs::remove_all(models_ + "/value_small");
  auto resolved = wait_for_event(log_, event_is("incident_resolved", "models", "value_small"), 10s);
  ASSERT_TRUE(resolved) << daemon_output();
  EXPECT_EQ((*resolved)["incident"], id);

  // The resolution says why: "target gone" is the last timeline entry of the incident.
  const json inc = get_json("/incidents/" + id);
  ASSERT_TRUE(inc.is_object()) << inc.dump();
  EXPECT_EQ(inc["state"], "resolved") << inc.dump();
  ASSERT_FALSE(inc["timeline"].empty()) << inc.dump();
  const json last = inc["timeline"].back();
  EXPECT_EQ(last["event"], "incident_resolved") << inc.dump();
  EXPECT_EQ(last.value("reason", ""), "target gone") << inc.dump();
  const auto report = http_get(port_, "/incidents/" + id + "/report");
  EXPECT_EQ(report.status, 200);
  EXPECT_NE(report.body.find("target gone"), std::string::npos) << report.body;

  // Gone from /status and from /metrics; the healthy model stays.
  EXPECT_TRUE(wait_until([&] { return status_targets("models") == std::set<std::string>{"momentum_large"}; }, 3s))
      << get_json("/status").dump();
  {
    const auto m = metrics();
    EXPECT_TRUE(check_up_lines(m, "models", "value_small").empty()) << m;
    EXPECT_EQ(check_up_lines(m, "models", "momentum_large").size(), 1u) << m;
    EXPECT_EQ(m.find("target=\"value_small\""), std::string::npos) << m;
  }
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "after"), "");

  // A few more attempts: nothing reopens, nothing else opened, nothing left open.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(count_events(log_, event_with("incident_opened")), 1) << daemon_output();
  EXPECT_EQ(count_events(log_, event_with("incident_resolved")), 1) << daemon_output();
  EXPECT_TRUE(get_json("/incidents?state=open").empty());
  common_checks::expect_no_internal_error_or_sanitizer(dir_, {log_});
}

// The log line of a deleted failing folder's resolution says why it resolved: "target gone".
TEST_F(targets_e2e, deleted_folder_resolution_is_named_in_the_log) {
  write_model("momentum_large", 1.2);
  write_model("value_small", 0.1);
  start_daemon("deleted-log.log");
  ASSERT_TRUE(wait_for_event(log_, event_is("incident_opened", "models", "value_small"), 10s)) << daemon_output();
  fs::remove_all(models_ + "/value_small");
  auto resolved = wait_for_event(log_, event_is("incident_resolved", "models", "value_small"), 10s);
  ASSERT_TRUE(resolved) << daemon_output();
  EXPECT_EQ(resolved->value("resolution", ""), "target gone") << resolved->dump();
  common_checks::expect_no_internal_error_or_sanitizer(dir_, {log_});
}

// The models folder renamed away for 3 s, then back: the whole-check failure (target "") opens
// one incident and it resolves once the folder is back (none stuck open); meanwhile the model
// folders are not declared gone (an incomplete attempt leaves them alone: the failing model's
// incident stays open, the same one throughout, and /status and /metrics keep both models); no
// incident is duplicated and the "" series leaves /metrics.
TEST_F(targets_e2e, models_folder_missing_for_a_while_opens_and_resolves_the_whole_check) {
  write_model("momentum_large", 1.2);
  write_model("value_small", 0.1);
  start_daemon("missing.log");
  auto model_open = wait_for_event(log_, event_is("incident_opened", "models", "value_small"), 10s);
  ASSERT_TRUE(model_open) << daemon_output();
  const std::string model_id = (*model_open)["incident"];
  ASSERT_TRUE(wait_until([&] { return target_state("models", "momentum_large") == "ok"; }, 5s));

  const auto away_at = std::chrono::steady_clock::now();
  fs::rename(models_, dir_ + "/models.away");
  auto whole_open = wait_for_event(log_, event_is("incident_opened", "models", ""), 5s);
  ASSERT_TRUE(whole_open) << daemon_output();
  const std::string whole_id = (*whole_open)["incident"];
  EXPECT_NE(whole_id, model_id);
  EXPECT_NE(whole_open->value("reason", "").find("missing"), std::string::npos) << whole_open->dump();
  // While it is away: the folders keep their state, nothing about them resolves.
  EXPECT_EQ(status_targets("models"), (std::set<std::string>{"", "momentum_large", "value_small"}))
      << get_json("/status").dump();
  EXPECT_EQ(target_state("models", "value_small"), "failing");
  EXPECT_EQ(target_state("models", "momentum_large"), "ok");
  std::this_thread::sleep_until(away_at + 3s);
  EXPECT_FALSE(find_event(log_, event_with("incident_resolved"))) << daemon_output();
  {
    const auto m = metrics();
    EXPECT_EQ(check_up_lines(m, "models", "value_small").size(), 1u) << m;
    EXPECT_EQ(check_up_lines(m, "models", "momentum_large").size(), 1u) << m;
    EXPECT_EQ(check_up_lines(m, "models", ""),
              std::vector<std::string>{"acis_check_up{check=\"models\",target=\"\"} 0"}) << m;
  }
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "away"), "");

  fs::rename(dir_ + "/models.away", models_);
  auto whole_resolved = wait_for_event(log_, event_is("incident_resolved", "models", ""), 5s);
  ASSERT_TRUE(whole_resolved) << daemon_output();
  EXPECT_EQ((*whole_resolved)["incident"], whole_id);

  // A few attempts later: the "" target is gone everywhere, the model folders are as before.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(status_targets("models"), (std::set<std::string>{"momentum_large", "value_small"}))
      << get_json("/status").dump();
  {
    const auto m = metrics();
    EXPECT_TRUE(check_up_lines(m, "models", "").empty()) << m;
    EXPECT_EQ(check_up_lines(m, "models", "value_small").size(), 1u) << m;
  }
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "back"), "");
  const auto open = get_json("/incidents?state=open");
  ASSERT_EQ(open.size(), 1u) << open.dump();
  EXPECT_EQ(open[0]["id"], model_id) << open.dump();
  EXPECT_EQ(open[0]["target"], "value_small");
  // One incident per (check, target), ever; no per-folder one resolved or reopened.
  EXPECT_EQ(count_events(log_, event_is("incident_opened", "models", "value_small")), 1);
  EXPECT_EQ(count_events(log_, event_is("incident_opened", "models", "")), 1);
  EXPECT_EQ(count_events(log_, event_is("incident_opened", "models", "momentum_large")), 0);
  EXPECT_EQ(count_events(log_, event_is("incident_resolved", "models", "value_small")), 0);
  EXPECT_EQ(count_events(log_, event_with("incident_resolved")), 1) << daemon_output();
  EXPECT_EQ(incidents_for("all", "models", "").size(), 1u);
  EXPECT_EQ(incidents_for("all", "models", "value_small").size(), 1u);
  common_checks::expect_no_internal_error_or_sanitizer(dir_, {log_});
}

// A model folder whose name is invalid UTF-8 ("bad\xff\xfename") fails its rule; the daemon is
// SIGKILLed and restarted: the restored incident is the only one for that folder (same id, no
// second one opened), it resolves when the metadata is fixed, /metrics lints clean before and
// after, and the log, /status and the journal all name the target with the same escaped,
// valid-UTF-8 string.
TEST_F(targets_e2e, invalid_utf8_folder_name_is_one_incident_across_a_sigkill_restart) {
  const std::string raw = "bad\xff\xfename";
  const std::string target = acis::checks::target_name_for(raw);
  ASSERT_EQ(target, "bad\\xff\\xfename");
  ASSERT_TRUE(acis::checks::valid_utf8(target));
  write_model("momentum_large", 1.2);
  write_model(raw, 0.1);
  start_daemon("utf8-1.log");
  const std::string log1 = log_;

  auto opened = wait_for_event(log_, event_is("incident_opened", "models", target), 10s);
  ASSERT_TRUE(opened) << daemon_output();
  const std::string id = (*opened)["incident"];
  EXPECT_TRUE(acis::checks::valid_utf8(opened->value("reason", ""))) << opened->dump();
  ASSERT_TRUE(wait_until([&] { return target_state("models", target) == "failing"; }, 5s))
      << get_json("/status").dump();
  EXPECT_EQ(status_targets("models"), (std::set<std::string>{"momentum_large", target}));
  {
    const auto m = metrics();
    EXPECT_EQ(check_up_lines(m, "models", target).size(), 1u) << m;
  }
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "first"), "");

  // Let the opening reach the journal, then crash.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& r : journal_incidents(dir_ + "/state/incidents.jsonl"))
      if (r["incident"].value("id", "") == id) return true;
    return false;
  }, 5s));
  daemon_->signal(SIGKILL);
  ASSERT_TRUE(daemon_->wait_for(10s));
  start_daemon("utf8-2.log");

  auto restored = wait_for_event(log_, event_is("incident_restored", "models", target), 5s);
  ASSERT_TRUE(restored) << daemon_output();
  EXPECT_EQ((*restored)["incident"], id);
  // Several attempts with the folder still failing: still that one incident.
  ASSERT_TRUE(wait_until([&] { return target_state("models", target) == "failing"; }, 5s))
      << get_json("/status").dump();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(count_events(log_, event_with("incident_opened")), 0) << daemon_output();
  {
    const auto open = incidents_for("open", "models", target);
    ASSERT_EQ(open.size(), 1u) << get_json("/incidents?state=open").dump();
    EXPECT_EQ(open[0]["id"], id);
  }
  EXPECT_EQ(get_json("/incidents?state=open").size(), 1u);
  EXPECT_EQ(status_targets("models"), (std::set<std::string>{"momentum_large", target}));
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "restarted"), "");

  // Fixed: the restored incident resolves, and no other one is ever opened.
  write_model(raw, 1.0);
  auto resolved = wait_for_event(log_, event_is("incident_resolved", "models", target), 10s);
  ASSERT_TRUE(resolved) << daemon_output();
  EXPECT_EQ((*resolved)["incident"], id);
  ASSERT_TRUE(wait_until([&] { return target_state("models", target) == "ok"; }, 5s));
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(get_json("/incidents?state=open").empty()) << get_json("/incidents?state=open").dump();
  EXPECT_EQ(incidents_for("all", "models", target).size(), 1u) << get_json("/incidents?state=all").dump();
  EXPECT_EQ(count_events(log_, event_with("incident_opened")), 0) << daemon_output();
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "fixed"), "");

  // One spelling everywhere: every models target in both logs, /status and the journal is
  // either the healthy model or the escaped name; the files are valid UTF-8.
  const std::set<std::string> allowed{"momentum_large", target};
  for (const auto& log : {log1, log_}) {
    EXPECT_TRUE(acis::checks::valid_utf8(read_file(log))) << log;
    for (const auto& e : log_events(log)) {
      if (e.value("check", "") == "models" && e.contains("target")) {
        EXPECT_TRUE(allowed.count(e.value("target", ""))) << log << ": " << e.dump();
      }
    }
  }
  EXPECT_EQ(status_targets("models"), allowed);
  const std::string journal = dir_ + "/state/incidents.jsonl";
  EXPECT_TRUE(acis::checks::valid_utf8(read_file(journal)));
  int journaled = 0;
  for (const auto& r : journal_incidents(journal)) {
    const auto& i = r["incident"];
    if (i.value("check", "") != "models") continue;
    EXPECT_EQ(i.value("target", ""), target) << r.dump();
    EXPECT_EQ(i.value("id", ""), id) << r.dump();
    ++journaled;
  }
  EXPECT_GE(journaled, 2);  // opened, resolved (at least)
  common_checks::expect_no_internal_error_or_sanitizer(dir_, {log1, log_});
}

namespace {

class targets_e2e_platform : public acis::test::platform_fixture {
 protected:
  targets_e2e_platform() : platform_fixture(acis::test::build_paths(), "acis-deps") {}
};

}  // namespace

// The database stopped under the shipped layout (api depends_on database): both incidents open,
// the api one suppressed under the database. The database's runbook starts PostgreSQL again and
// verifies the database and the api; the api's own runbook (api-down, which would leave a
// marker) never runs, the api incident resolves, and no incident is escalated more than once.
TEST_F(targets_e2e_platform, database_restart_does_not_run_the_api_runbook) {
  // The shipped config's layout, on the toy platform: api-down on the api, a runbook for the
  // database that ends with verifying the api; the models check is not part of this story.
  auto& checks = cfg_["checks"];
  for (auto it = checks.begin(); it != checks.end();)
    it = (*it)["name"] == "models" ? checks.erase(it) : it + 1;
  check("database")["window"] = 5;
  check("database")["runbook"] = "database-connection-failure";
  check("api")["runbook"] = "api-down";
  const std::string marker = dir_ + "/api-down-ran";
  cfg_["runbooks"] = {
      {"database-connection-failure",
       {{"max_attempts", 2}, {"backoff", "1s"}, {"cooldown", "1m"},
        {"steps", json::array({// Long enough for the api's incident to open under the database.
                               {{"name", "let the dependents fail"}, {"wait", "2s"}},
                               {{"name", "restart postgresql"},
                                {"run", json::array({"/bin/bash", paths_.platform_sh(), "start-db", dir_})},
                                {"env", {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}},
                                {"timeout", "30s"}},
                               {{"name", "verify database"}, {"verify", "database"}, {"within", "15s"}},
                               {{"name", "verify api"}, {"verify", "api"}, {"within", "15s"}}})}}},
      {"api-down",
       {{"max_attempts", 1}, {"backoff", "1s"}, {"cooldown", "1m"},
        {"steps", json::array({{{"name", "mark"},
                                {"run", json::array({"/usr/bin/touch", marker})},
                                {"timeout", "5s"}}})}}}};
  // database and api share their interval and start together (no jitter), so each api result
  // follows the database's of the same round: when the api opens, its root cause is known.
  start_daemon("deps.log");
  ASSERT_TRUE(wait_until([&] { return target_state("database") == "ok" && target_state("api") == "ok"; }, 20s))
      << daemon_output();

  ASSERT_TRUE(platform("stop-db"));
  auto db_open = wait_for_event(log_, event_is("incident_opened", "database"), 15s);
  ASSERT_TRUE(db_open) << daemon_output();
  const std::string db_id = (*db_open)["incident"];
  auto api_open = wait_for_event(log_, event_is("incident_opened", "api"), 15s);
  ASSERT_TRUE(api_open) << daemon_output();
  const std::string api_id = (*api_open)["incident"];
  auto sup = wait_for_event(log_, event_with("incident_suppressed", "incident", api_id), 15s);
  ASSERT_TRUE(sup) << daemon_output();
  EXPECT_NE(sup->value("suppressed_by", "").find("database"), std::string::npos) << sup->dump();

  // The database's runbook brings it back; both incidents resolve.
  auto db_run = wait_for_event(log_, event_with("remediation_finished", "incident", db_id), 40s);
  ASSERT_TRUE(db_run) << daemon_output();
  EXPECT_EQ((*db_run)["outcome"], "success") << db_run->dump();
  auto db_resolved = wait_for_event(log_, event_is("incident_resolved", "database"), 10s);
  ASSERT_TRUE(db_resolved) << daemon_output();
  EXPECT_EQ((*db_resolved)["incident"], db_id);
  auto api_resolved = wait_for_event(log_, event_is("incident_resolved", "api"), 10s);
  ASSERT_TRUE(api_resolved) << daemon_output();
  EXPECT_EQ((*api_resolved)["incident"], api_id);

  // A few more api results: the api's runbook has not run, then or since.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(count_events(log_, event_with("remediation_started", "incident", api_id)), 0) << daemon_output();
  EXPECT_EQ(count_events(log_, event_with("remediation_started", "runbook", "api-down")), 0) << daemon_output();
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(count_events(log_, event_with("remediation_started", "incident", db_id)), 1) << daemon_output();
  std::map<std::string, int> escalated;
  for (const auto& e : find_events(log_, event_with("incident_escalated")))
    ++escalated[e.value("incident", "")];
  for (const auto& [id, n] : escalated) EXPECT_LE(n, 1) << id << " escalated " << n << " times";
  EXPECT_EQ(count_events(log_, event_with("incident_opened")), 2) << daemon_output();
  EXPECT_TRUE(get_json("/incidents?state=open").empty()) << get_json("/incidents?state=open").dump();
  EXPECT_EQ(target_state("api"), "ok");
  EXPECT_EQ(target_state("database"), "ok");
  EXPECT_EQ(common_checks::promtool_complaints(dir_, port_, "deps"), "");
  common_checks::expect_no_internal_error_or_sanitizer(dir_, {log_});
}
