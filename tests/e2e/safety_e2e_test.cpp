// End-to-end tests of remediation safety on the real binary: dry run executes nothing, and a
// hostile value reaching a runbook step through a placeholder ({model}, {target}) refuses the
// step instead of running it, whatever the folder name tries.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
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
#include "tests/support/http_test_server.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::count_events;
using acis::test::event_is;
using acis::test::event_with;
using acis::test::find_event;
using acis::test::find_events;
using acis::test::read_file;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

class dry_run_e2e : public acis::test::platform_fixture {
 protected:
  dry_run_e2e() : platform_fixture(acis::test::build_paths(), "acis-dry") {}
};

// Folder names that try to get a command, an option or a path through a placeholder.
struct attack {
  std::string label;  // for messages
  std::string name;   // the model folder's name
};

std::vector<attack> hostile_names() {
  return {{"shell separator", "a;touch X"},
          {"command substitution", "$(touch X)"},
          {"backticks", "`touch X`"},
          {"option", "-rf"},
          {"space", "with space"},
          {"newline", "new\nline"},
          {"terminal escape", "esc\x1b[31mred"},
          {"dots only (hidden)", "..."}};
}

// The value of one series ("name{labels}") in a Prometheus text exposition; nullopt if absent.
std::optional<double> metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

bool printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// Model folders in a temp dir, no platform. One model_metadata check per models folder, each
// with its own runbook: the per-runbook rate limit (6 runs an hour) and the one-at-a-time rule
// then hold no case back behind another.
class runbook_safety_e2e : public acis::test::daemon_fixture {
 protected:
  runbook_safety_e2e() : daemon_fixture(acis::test::build_paths(), "acis-safety") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    fs::create_directories(dir_ + "/markers");
    fs::create_directories(dir_ + "/work");
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"log_level", "debug"}}},
            {"checks", json::array()},
            {"runbooks", json::object()},
            {"escalation", {{"model", {{"primary", "ML Team Lead"}, {"backup", "Platform Owner"}}}}}};
  }

  // A models folder holding one failing model named `name`, its check "mI" and runbook "rbI".
  // Returns the check name; empty when the filesystem refuses the name.
  std::string add_case(const std::string& name, const json& steps, int max_attempts) {
    const auto i = cfg_["checks"].size();
    const std::string models = dir_ + "/models_" + std::to_string(i);
    std::error_code ec;
    fs::create_directories(fs::path(models) / name, ec);
    if (ec) return {};
    std::ofstream(fs::path(models) / name / "metadata.json")
        << R"({"model": "attack", "metrics": {"sharpe_ratio": 0.1}})";
    const std::string check = "m" + std::to_string(i), runbook = "rb" + std::to_string(i);
    cfg_["checks"].push_back({{"name", check}, {"type", "model_metadata"}, {"models_dir", models},
                              {"rules", json::array({{{"path", "/metrics/sharpe_ratio"}, {"min", 0.5}}})},
                              {"interval", "500ms"}, {"timeout", "400ms"}, {"fall", 1},
                              {"severity", "low"}, {"issue_type", "model"}, {"runbook", runbook}});
    cfg_["runbooks"][runbook] = {{"max_attempts", max_attempts}, {"backoff", "200ms"},
                                 {"cooldown", "0s"}, {"steps", steps}};
    return check;
  }

  // For a check whose one target is refused: escalated after max_attempts runs, each of which
  // refused its step before running it.
  void expect_refused_and_escalated(const std::string& label, const std::string& check,
                                    const std::string& target, int max_attempts) {
    SCOPED_TRACE(label + " (check " + check + ")");
    auto esc = wait_for_event(log_, event_is("incident_escalated", check, target), 30s);
    ASSERT_TRUE(esc) << daemon_output();
    EXPECT_EQ((*esc)["contact"], "ML Team Lead");
    const std::string id = (*esc)["incident"];
    EXPECT_EQ(count_events(log_, event_with("remediation_started", "incident", id)), max_attempts);
    EXPECT_EQ(count_events(log_, event_with("remediation_gave_up", "incident", id)), 1);
    auto started = find_events(log_, event_with("step_started", "incident", id));
    auto finished = find_events(log_, event_with("step_finished", "incident", id));
    EXPECT_EQ(started.size(), static_cast<std::size_t>(max_attempts));
    ASSERT_EQ(finished.size(), static_cast<std::size_t>(max_attempts));
    for (const auto& s : started)
      EXPECT_EQ(s.value("resolved", "").rfind("refused:", 0), 0u) << s.dump();
    for (const auto& f : finished) {
      EXPECT_EQ(f["ok"], false) << f.dump();
      const std::string reason = f.value("reason", "");
      EXPECT_EQ(reason.rfind("refused", 0), 0u) << f.dump();
      EXPECT_TRUE(printable(reason)) << f.dump();  // the value is shown escaped
      EXPECT_FALSE(f.contains("output")) << f.dump();  // nothing ran, nothing was captured
    }
    auto fin = find_event(log_, event_with("remediation_finished", "incident", id));
    ASSERT_TRUE(fin);
    EXPECT_EQ((*fin)["outcome"], "failure");
    EXPECT_EQ(acis::test::http_get(port_, "/incidents/" + id).status, 200);
  }

  // Every entry under dir_ (models folders excluded: their names carry the payloads).
  std::set<std::string> entries_outside_models() {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      const auto rel = fs::relative(it->path(), dir_).string();
      if (rel.rfind("models_", 0) == 0) {
        it.disable_recursion_pending();
        continue;
      }
      out.insert(rel);
    }
    return out;
  }

  static std::set<std::string> names_in(const std::string& folder) {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) out.insert(e.path().filename().string());
    return out;
  }
};

}  // namespace

// Dry run: the API dies, the api-down runbook is "run" in dry-run mode: remediation_started
// and every step_started say dry_run with the argv fully resolved, the run ends "dry_run",
// and nothing was executed: the marker a `run` step would touch does not exist and the API,
// which the restart step would have brought back, stays down.
TEST_F(dry_run_e2e, dry_run_logs_resolved_steps_and_executes_nothing) {
  cfg_["daemon"]["dry_run"] = true;
  check("api")["runbook"] = "api-down";
  const std::string marker_prefix = dir_ + "/dry-marker-";
  const json mark_argv = json::array({"/usr/bin/touch", marker_prefix + "{check}-{incident}"});
  const json restart_argv = json::array({"/bin/bash", paths_.platform_sh(), "start-api", dir_});
  cfg_["runbooks"] = {
      {"api-down",
       {{"max_attempts", 1}, {"backoff", "1s"}, {"cooldown", "1m"},
        {"steps", json::array({{{"name", "mark"}, {"run", mark_argv}, {"timeout", "5s"}},
                               {{"name", "restart API"}, {"run", restart_argv},
                                {"env", {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}}, {"timeout", "30s"}},
                               {{"name", "verify health"}, {"verify", "api"}, {"within", "5s"}},
                               {{"name", "clients endpoint"},
                                {"http", {{"url", env_["API_URL"] + "/api/clients/"},
                                          {"expect_status", json::array({200})}}}}})}}}};
  start_daemon("dry.log", dir_);
  ASSERT_TRUE(wait_until([&] { return target_state("api") == "ok"; }, 20s)) << daemon_output();
  EXPECT_EQ(get_json("/status")["dry_run"], true);
  const auto port = api_port();
  ASSERT_TRUE(platform("kill-api"));

  auto started = wait_for_event(log_, event_with("remediation_started", "check", "api"), 30s);
  ASSERT_TRUE(started) << daemon_output();
  EXPECT_EQ((*started)["dry_run"], true);
  const std::string id = (*started)["incident"];
  auto finished = wait_for_event(log_, event_with("remediation_finished", "incident", id), 30s);
  ASSERT_TRUE(finished) << daemon_output();
  EXPECT_EQ((*finished)["outcome"], "dry_run");

  auto steps = find_events(log_, event_with("step_started", "incident", id));
  ASSERT_EQ(steps.size(), 4u) << daemon_output();
  for (const auto& s : steps) EXPECT_EQ(s["dry_run"], true) << s.dump();
  // The argv with every placeholder resolved, exactly as it would have been executed.
  const json mark_resolved = json::array({"/usr/bin/touch", marker_prefix + "api-" + id});
  EXPECT_EQ(steps[0]["step"], "mark");
  EXPECT_EQ(steps[0]["resolved"].get<std::string>().rfind(mark_resolved.dump(), 0), 0u) << steps[0].dump();
  EXPECT_EQ(steps[1]["step"], "restart API");
  EXPECT_EQ(steps[1]["resolved"].get<std::string>().rfind(restart_argv.dump(), 0), 0u) << steps[1].dump();
  EXPECT_EQ(steps[3]["resolved"], "GET " + env_["API_URL"] + "/api/clients/") << steps[3].dump();
  for (const auto& f : find_events(log_, event_with("step_finished", "incident", id))) {
    EXPECT_EQ(f["ok"], true) << f.dump();
    EXPECT_EQ(f.value("reason", "").rfind("dry run", 0), 0u) << f.dump();
  }

  // Nothing happened: give a restart that did run time to show, then look.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(acis::test::http_get(port, "/health", 1s).status, 0) << "the API came back";
  EXPECT_FALSE(fs::exists(dir_ + "/api.pid"));
  EXPECT_FALSE(fs::exists(marker_prefix + "api-" + id));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().rfind("dry-marker-", 0), std::string::npos) << e.path();
  EXPECT_FALSE(find_event(log_, event_is("incident_resolved", "api"))) << daemon_output();
  const auto metrics = acis::test::http_get(port_, "/metrics").body;
  EXPECT_EQ(metric_value(metrics, "acis_remediation_runs_total{outcome=\"dry_run\",runbook=\"api-down\"}"), 1.0)
      << metrics;
  // No real run: the success and failure series are absent or 0.
  EXPECT_EQ(metric_value(metrics, "acis_remediation_runs_total{outcome=\"success\",runbook=\"api-down\"}").value_or(0), 0.0);
  EXPECT_EQ(metric_value(metrics, "acis_remediation_runs_total{outcome=\"failure\",runbook=\"api-down\"}").value_or(0), 0.0);
}

// Model folders named to attack a `run` step through {model} and {target} (shell separators,
// command substitution, backticks, a leading '-', a space, a newline, a terminal escape, a
// hidden "..." that yields no model at all): each step is refused before anything runs, the
// incident is escalated after max_attempts, and no file is created anywhere in the test's
// folder. A harmless failing model through the same runbook does run it (the control).
TEST_F(runbook_safety_e2e, hostile_model_names_never_reach_a_run_step) {
  auto steps = [&] {
    return json::array({{{"name", "mark"},
                         {"run", json::array({"/usr/bin/touch", dir_ + "/markers/m-{model}", "{target}"})},
                         {"cwd", dir_ + "/work"},
                         {"timeout", "5s"}}});
  };
  const std::string control_check = add_case("plain_bad", steps(), 1);
  struct added {
    attack a;
    std::string check;
  };
  std::vector<added> cases;
  for (const auto& a : hostile_names()) {
    auto check = add_case(a.name, steps(), 2);
    if (check.empty()) {
      std::fprintf(stderr, "skipped %s: the filesystem refuses the name\n", a.label.c_str());
      continue;
    }
    cases.push_back({a, check});
  }
  ASSERT_GE(cases.size(), 6u);
  start_daemon("attack.log", dir_);

  // The control ran its step and created what the step creates.
  auto ok = wait_for_event(log_, [&](const json& e) {
    return e.value("event", "") == "step_finished" && e.value("ok", false) &&
           e.value("reason", "") == "exit 0";
  }, 30s);
  ASSERT_TRUE(ok) << daemon_output();
  EXPECT_TRUE(fs::exists(dir_ + "/markers/m-plain_bad"));
  EXPECT_TRUE(fs::exists(dir_ + "/work/plain_bad"));
  auto control_open = find_event(log_, event_is("incident_opened", control_check, "plain_bad"));
  ASSERT_TRUE(control_open);

  for (const auto& c : cases) {
    // "..." is hidden: the check sees no model folder and reports the folder itself, so the
    // incident has no target and {model} has no value. Control characters in a folder name
    // are escaped at the source (checks::target_name_for): the target is the escaped name.
    const std::string target = c.a.name == "..." ? "" : acis::checks::target_name_for(c.a.name);
    expect_refused_and_escalated(c.a.label, c.check, target, 2);
  }
  // Give anything that did run (a shell in the background, a late step) time to show.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(names_in(dir_ + "/markers"), std::set<std::string>{"m-plain_bad"});
  EXPECT_EQ(names_in(dir_ + "/work"), std::set<std::string>{"plain_bad"});
  for (const auto& rel : entries_outside_models()) {
    const auto name = fs::path(rel).filename().string();
    EXPECT_NE(name, "X") << rel;
    EXPECT_EQ(name.find("touch"), std::string::npos) << rel;
  }
  // The log stays one JSON object per line: the hostile names did not break it.
  std::istringstream lines(read_file(log_));
  int bad_lines = 0;
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && json::parse(line, nullptr, false).is_discarded()) ++bad_lines;
  EXPECT_EQ(bad_lines, 0);
}

// {target} in an http step's URL: names that would change the request (a query, a fragment,
// an escaped "..", a space) refuse the step and no request leaves the daemon; the harmless
// control name reaches the server.
TEST_F(runbook_safety_e2e, hostile_target_in_an_http_step_url_is_refused) {
  acis::test::http_test_server server([](const acis::test::http_test_request&) {
    return acis::test::http_test_reply{};
  });
  auto steps = [&] {
    return json::array({{{"name", "reload model"},
                         {"http", {{"url", server.url("/models/{target}/reload")},
                                   {"method", "POST"},
                                   {"expect_status", json::array({200})}}}}});
  };
  const std::string control_check = add_case("plain_bad", steps(), 1);
  const std::vector<attack> url_attacks = {{"query", "a?admin=1"},
                                           {"fragment", "b#frag"},
                                           {"escaped dots", "%2e%2e"},
                                           {"space", "with space"},
                                           {"newline", "new\nline"},
                                           {"dots only (hidden)", "..."}};
  struct added {
    attack a;
    std::string check;
  };
  std::vector<added> cases;
  for (const auto& a : url_attacks) {
    auto check = add_case(a.name, steps(), 2);
    if (!check.empty()) cases.push_back({a, check});
  }
  ASSERT_GE(cases.size(), 5u);
  start_daemon("url.log", dir_);

  ASSERT_TRUE(wait_until([&] { return !server.requests().empty(); }, 30s)) << daemon_output();
  for (const auto& c : cases)
    expect_refused_and_escalated(c.a.label, c.check,
                                 c.a.name == "..." ? "" : acis::checks::target_name_for(c.a.name),
                                 2);
  std::this_thread::sleep_for(1s);
  const auto requests = server.requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/models/plain_bad/reload");
  }
  auto control_ok = find_event(log_, [&](const json& e) {
    return e.value("event", "") == "step_finished" && e.value("ok", false) &&
           e.value("reason", "") == "HTTP 200";
  });
  EXPECT_TRUE(control_ok) << daemon_output();
}

// One incident alone whose step is refused still gets its second attempt after the backoff and
// is then escalated: a run that never waits on I/O must not leave the incident undecided.
TEST_F(runbook_safety_e2e, lone_refused_step_still_escalates) {
  const auto check = add_case("a;touch X",
                              json::array({{{"name", "mark"},
                                            {"run", json::array({"/usr/bin/touch", dir_ + "/markers/m-{model}"})},
                                            {"cwd", dir_ + "/work"},
                                            {"timeout", "5s"}}}),
                              2);
  ASSERT_FALSE(check.empty());
  start_daemon("lone.log", dir_);
  expect_refused_and_escalated("lone", check, "a;touch X", 2);
  EXPECT_TRUE(names_in(dir_ + "/markers").empty());
  EXPECT_TRUE(names_in(dir_ + "/work").empty());
}

// Dry run with no platform: a harmless failing model's runbook is "run" max_attempts times on
// the backoff cadence production would have (SPEC.md: dry-run runs count for attempts), each
// outcome dry_run with the argv resolved, then the incident is escalated; nothing is created.
TEST_F(runbook_safety_e2e, dry_run_keeps_the_attempt_cadence_and_executes_nothing) {
  cfg_["daemon"]["dry_run"] = true;
  const auto check = add_case("plain_bad",
                              json::array({{{"name", "mark"},
                                            {"run", json::array({"/usr/bin/touch", dir_ + "/markers/m-{model}"})},
                                            {"cwd", dir_ + "/work"},
                                            {"timeout", "5s"}}}),
                              2);
  ASSERT_FALSE(check.empty());
  start_daemon("dry-cadence.log", dir_);
  auto esc = wait_for_event(log_, event_is("incident_escalated", check, "plain_bad"), 30s);
  ASSERT_TRUE(esc) << daemon_output();
  const std::string id = (*esc)["incident"];
  auto runs = find_events(log_, event_with("remediation_finished", "incident", id));
  ASSERT_EQ(runs.size(), 2u) << daemon_output();
  for (const auto& r : runs) EXPECT_EQ(r["outcome"], "dry_run") << r.dump();
  const std::string resolved = json::array({"/usr/bin/touch", dir_ + "/markers/m-plain_bad"}).dump();
  for (const auto& s : find_events(log_, event_with("step_started", "incident", id))) {
    EXPECT_EQ(s["dry_run"], true);
    EXPECT_EQ(s.value("resolved", "").rfind(resolved, 0), 0u) << s.dump();
  }
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(names_in(dir_ + "/markers").empty());
  EXPECT_TRUE(names_in(dir_ + "/work").empty());
}
