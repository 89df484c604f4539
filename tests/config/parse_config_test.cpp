// parse_config(): schema, defaults, and one test per fault class with its exact JSON pointer.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/config.hpp"

namespace acis::config {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A small valid config; each fault test breaks exactly one thing in it.
json base() {
  return json::parse(R"({
    "checks": [
      {"name": "db", "type": "postgres", "conninfo": "host=127.0.0.1 dbname=acis-ai user=postgres",
       "password_env": "PGPASSWORD", "runbook": "fix-db", "issue_type": "database"},
      {"name": "api", "type": "http", "url": "http://127.0.0.1:8000/health", "depends_on": ["db"]}
    ],
    "runbooks": {
      "fix-db": {"steps": [
        {"name": "restart", "run": ["/usr/bin/systemctl", "restart", "postgresql"]},
        {"name": "verify", "verify": "db"}
      ]}
    },
    "escalation": {"database": {"primary": "DBA", "backup": "Infrastructure"}}
  })");
}

std::vector<config_fault> faults_of(const std::string& text) {
  try {
    parse_config(text);
  } catch (const config_error& e) {
    return e.faults();
  }
  return {};
}

std::string listing(const std::vector<config_fault>& faults) {
  std::string out;
  for (const auto& f : faults) out += "\n  " + f.to_string();
  return out.empty() ? " (none)" : out;
}

// Exactly one fault, at `pointer`, whose message contains `word`.
::testing::AssertionResult single_fault(const json& doc, const std::string& pointer,
                                        const std::string& word) {
  auto faults = faults_of(doc.dump());
  if (faults.size() != 1)
    return ::testing::AssertionFailure() << "expected one fault, got " << faults.size() << ":"
                                         << listing(faults);
  if (faults[0].pointer != pointer || faults[0].message.find(word) == std::string::npos)
    return ::testing::AssertionFailure() << "expected a fault at \"" << pointer
                                         << "\" mentioning \"" << word << "\", got:" << listing(faults);
  return ::testing::AssertionSuccess();
}

// The base document itself is valid (else every fault test below would prove nothing).
TEST(parse_config, base_document_is_valid) {
  auto faults = faults_of(base().dump());
  EXPECT_TRUE(faults.empty()) << listing(faults);
}

// Values left out take the documented defaults.
TEST(parse_config, applies_defaults) {
  auto cfg = parse_config(base().dump());
  EXPECT_EQ(cfg.daemon.listen, "127.0.0.1:9187");
  EXPECT_EQ(cfg.daemon.state_dir, "/var/lib/acis-healthd");
  EXPECT_EQ(cfg.daemon.log_level, "info");
  EXPECT_FALSE(cfg.daemon.dry_run);
  EXPECT_FALSE(cfg.daemon.control_token_file.has_value());
  EXPECT_EQ(cfg.daemon.blocking_threads, 4);
  ASSERT_EQ(cfg.response_times.size(), 4u);
  EXPECT_EQ(cfg.response_times.at(severity::critical), 5min);
  EXPECT_EQ(cfg.response_times.at(severity::high), 15min);
  EXPECT_EQ(cfg.response_times.at(severity::medium), 1h);
  EXPECT_EQ(cfg.response_times.at(severity::low), 4h);
  EXPECT_FALSE(cfg.notify.alertmanager_url.has_value());

  ASSERT_EQ(cfg.checks.size(), 2u);
  const auto& api = cfg.checks[1];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.interval, 10s);
  EXPECT_EQ(api.timeout, 3s);
  EXPECT_EQ(api.jitter, 0ms);
  EXPECT_EQ(api.fall, 2);
  EXPECT_EQ(api.rise, 1);
  EXPECT_FALSE(api.window.has_value());
  EXPECT_EQ(api.level, severity::high);
  EXPECT_FALSE(api.degraded_severity.has_value());
  EXPECT_EQ(api.effective_start_grace(), 20s);
  EXPECT_EQ(api.depends_on, std::vector<std::string>{"db"});
  const auto& h = std::get<http_check>(api.kind);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.expect.status, std::vector<int>{200});
  EXPECT_TRUE(h.headers.empty());

  const auto& pg = std::get<postgres_check>(cfg.checks[0].kind);
  EXPECT_EQ(pg.query, "SELECT 1");
  EXPECT_EQ(pg.password_env, "PGPASSWORD");
  EXPECT_FALSE(pg.expect.has_value());

  const auto& rb = cfg.runbooks.at("fix-db");
  EXPECT_EQ(rb.name, "fix-db");
  EXPECT_EQ(rb.max_attempts, 3);
  EXPECT_EQ(rb.backoff, 30s);
  EXPECT_EQ(rb.backoff_max, 10min);
  EXPECT_EQ(rb.cooldown, 10min);
  ASSERT_EQ(rb.steps.size(), 2u);
  const auto& run = std::get<run_step>(rb.steps[0].action);
  EXPECT_EQ(run.argv, (std::vector<std::string>{"/usr/bin/systemctl", "restart", "postgresql"}));
  EXPECT_EQ(run.timeout, 60s);
  EXPECT_EQ(run.grace, 5s);
  EXPECT_EQ(run.expect_exit, std::vector<int>{0});
  EXPECT_FALSE(run.search_path);
  EXPECT_EQ(std::get<verify_step>(rb.steps[1].action).within, 30s);
  EXPECT_EQ(cfg.escalation.at("database").backup, "Infrastructure");
}

// Every key of every check kind and step kind lands in its struct field.
TEST(parse_config, reads_every_field) {
  auto doc = base();
  doc["daemon"] = json::parse(R"({"listen": "[::1]:0", "state_dir": "/tmp/s", "log_level": "debug",
      "dry_run": true, "control_token_file": "/etc/t", "blocking_threads": 2})");
  doc["severities"] = json::parse(R"({"high": {"response_time": "10m"}})");
  doc["notify"] = json::parse(R"({"alertmanager_url": "http://127.0.0.1:9093"})");
  doc["escalation"]["model"] = json::parse(R"({"primary": "ML", "backup": "Owner"})");
  doc["checks"][1] = json::parse(R"({"name": "api", "type": "http", "url": "http://localhost:8000/x",
      "method": "POST", "headers": {"X-Probe": "1"}, "body": "{}",
      "expect": {"status": 204, "body_contains": "ok", "max_latency": "2s",
                 "json": {"pointer": "/status", "equals": "up"}},
      "interval": "1m", "timeout": "10s", "jitter": "5s", "pending_interval": "15s",
      "start_grace": "2m", "fall": 3, "rise": 2, "window": 5, "severity": "critical",
      "degraded_severity": "low", "depends_on": ["db"]})");
  doc["checks"].push_back(json::parse(R"({"name": "models", "type": "model_metadata",
      "models_dir": "/opt/acis/models", "metadata_file": "meta.json", "max_age": "36h",
      "timestamp_pointer": "/trained_at", "issue_type": "model", "rules": [
        {"path": "/metrics/sharpe_ratio", "min": 0.5}, {"path": "/metrics/max_drawdown", "max": 0.25},
        {"path": "/name", "equals": "growth"}, {"path": "/n", "min": 1, "max": 2}]})"));
  doc["checks"].push_back(json::parse(
      R"({"name": "trader", "type": "process", "cmdline_contains": "run_daily_rebalance",
          "cmdline_not_contains": "grep", "running": false})"));
  doc["checks"].push_back(json::parse(
      R"({"name": "log", "type": "file_age", "path": "/var/log/x.log", "max_age": "26h"})"));
  doc["checks"].push_back(json::parse(
      R"({"name": "errors", "type": "log_pattern", "path": "/var/log/acis/trading.log",
          "pattern": "ORDER (REJECTED|FAILED)|ExecutionError", "within": "15m", "max_matches": 2})"));
  doc["checks"][0]["password_env"] = nullptr;
  doc["checks"][0].erase("password_env");
  doc["checks"][0]["password_file"] = "/etc/pgpass";
  doc["checks"][0]["query"] = "SELECT 2";
  doc["checks"][0]["expect"] = "2";
  doc["runbooks"]["all"] = json::parse(R"({"doc": "https://runbooks.example/all.md", "max_attempts": 1,
      "backoff": "1s", "backoff_max": "2s", "cooldown": "0s", "steps": [
        {"name": "run", "run": ["sh", "-c", "echo {check} {target}"], "search_path": true, "cwd": "/tmp",
         "env": {"A": "1"}, "timeout": "5s", "grace": "1s", "expect_exit": [0, 3]},
        {"name": "sig", "signal": {"pidfile": "/run/x.pid", "signal": "SIGHUP"}},
        {"name": "http", "http": {"url": "http://127.0.0.1:1/x", "method": "PUT", "expect_status": [200, 202],
                                  "timeout": "2s"}},
        {"name": "verify", "verify": "models", "within": "1m"},
        {"name": "wait", "wait": "500ms"},
        {"name": "rollback", "rollback_model": {}},
        {"name": "manual", "manual": "Look at it."},
        {"name": "notify", "notify": "Rolled back {model}."}]})");

  config cfg;
  ASSERT_NO_THROW(cfg = parse_config(doc.dump())) << listing(faults_of(doc.dump()));
  EXPECT_EQ(cfg.daemon.listen, "[::1]:0");
  EXPECT_EQ(cfg.daemon.log_level, "debug");
  EXPECT_TRUE(cfg.daemon.dry_run);
  EXPECT_EQ(cfg.daemon.control_token_file, "/etc/t");
  EXPECT_EQ(cfg.daemon.blocking_threads, 2);
  EXPECT_EQ(cfg.response_times.at(severity::high), 10min);
  EXPECT_EQ(cfg.response_times.at(severity::critical), 5min);  // not overridden: default kept
  EXPECT_EQ(cfg.notify.alertmanager_url, "http://127.0.0.1:9093");

  const auto& api = cfg.checks[1];
  EXPECT_EQ(api.interval, 1min);
  EXPECT_EQ(api.timeout, 10s);
  EXPECT_EQ(api.jitter, 5s);
  EXPECT_EQ(api.effective_pending_interval(), 15s);
  EXPECT_EQ(api.effective_start_grace(), 2min);
  EXPECT_EQ(api.fall, 3);
  EXPECT_EQ(api.rise, 2);
  EXPECT_EQ(api.effective_window(), 5);
  EXPECT_EQ(api.level, severity::critical);
  EXPECT_EQ(api.degraded_severity, severity::low);
  const auto& h = std::get<http_check>(api.kind);
  EXPECT_EQ(h.method, "POST");
  ASSERT_EQ(h.headers.size(), 1u);
  EXPECT_EQ(h.headers[0], (std::pair<std::string, std::string>{"X-Probe", "1"}));
  EXPECT_EQ(h.body, "{}");
  EXPECT_EQ(h.expect.status, std::vector<int>{204});
  EXPECT_EQ(h.expect.body_contains, "ok");
  EXPECT_EQ(h.expect.max_latency, 2s);
  ASSERT_TRUE(h.expect.json.has_value());
  EXPECT_EQ(h.expect.json->pointer, "/status");
  EXPECT_EQ(h.expect.json->equals, json("up"));

  const auto& pg = std::get<postgres_check>(cfg.checks[0].kind);
  EXPECT_EQ(pg.password_file, "/etc/pgpass");
  EXPECT_FALSE(pg.password_env.has_value());
  EXPECT_EQ(pg.query, "SELECT 2");
  EXPECT_EQ(pg.expect, "2");

  const auto& m = std::get<model_metadata_check>(cfg.checks[2].kind);
  EXPECT_EQ(m.models_dir, "/opt/acis/models");
  EXPECT_EQ(m.metadata_file, "meta.json");
  EXPECT_EQ(m.max_age, 36h);
  EXPECT_EQ(m.timestamp_pointer, "/trained_at");
  ASSERT_EQ(m.rules.size(), 4u);
  EXPECT_EQ(m.rules[0].path, "/metrics/sharpe_ratio");
  EXPECT_EQ(m.rules[0].min, 0.5);
  EXPECT_EQ(m.rules[1].max, 0.25);
  EXPECT_EQ(m.rules[2].equals, json("growth"));
  EXPECT_EQ(m.rules[3].min, 1.0);
  EXPECT_EQ(m.rules[3].max, 2.0);

  const auto& p = std::get<process_check>(cfg.checks[3].kind);
  EXPECT_EQ(p.cmdline_contains, "run_daily_rebalance");
  EXPECT_EQ(p.cmdline_not_contains, "grep");
  EXPECT_FALSE(p.running);
  const auto& f = std::get<file_age_check>(cfg.checks[4].kind);
  EXPECT_EQ(f.path, "/var/log/x.log");
  EXPECT_EQ(f.max_age, 26h);
  EXPECT_EQ(kind_name(cfg.checks[5].kind), "log_pattern");
  const auto& l = std::get<log_pattern_check>(cfg.checks[5].kind);
  EXPECT_EQ(l.path, "/var/log/acis/trading.log");
  EXPECT_EQ(l.pattern, "ORDER (REJECTED|FAILED)|ExecutionError");
  EXPECT_EQ(l.window, 15min);
  EXPECT_EQ(l.max_matches, 2);

  const auto& rb = cfg.runbooks.at("all");
  EXPECT_EQ(rb.doc, "https://runbooks.example/all.md");
  EXPECT_EQ(rb.max_attempts, 1);
  EXPECT_EQ(rb.backoff, 1s);
  EXPECT_EQ(rb.backoff_max, 2s);
  EXPECT_EQ(rb.cooldown, 0s);
  ASSERT_EQ(rb.steps.size(), 8u);
  const auto& run = std::get<run_step>(rb.steps[0].action);
  EXPECT_EQ(run.argv, (std::vector<std::string>{"sh", "-c", "echo {check} {target}"}));
  EXPECT_TRUE(run.search_path);
  EXPECT_EQ(run.cwd, "/tmp");
  EXPECT_EQ(run.env, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(run.timeout, 5s);
  EXPECT_EQ(run.grace, 1s);
  EXPECT_EQ(run.expect_exit, (std::vector<int>{0, 3}));
  const auto& sig = std::get<signal_step>(rb.steps[1].action);
  EXPECT_EQ(sig.pidfile, "/run/x.pid");
  EXPECT_FALSE(sig.cmdline_contains.has_value());
  EXPECT_EQ(sig.signal, "HUP");  // "SIG" prefix dropped
  const auto& hs = std::get<http_step>(rb.steps[2].action);
  EXPECT_EQ(hs.url, "http://127.0.0.1:1/x");
  EXPECT_EQ(hs.method, "PUT");
  EXPECT_EQ(hs.expect_status, (std::vector<int>{200, 202}));
  EXPECT_EQ(hs.timeout, 2s);
  EXPECT_EQ(std::get<verify_step>(rb.steps[3].action).check, "models");
  EXPECT_EQ(std::get<verify_step>(rb.steps[3].action).within, 1min);
  EXPECT_EQ(std::get<wait_step>(rb.steps[4].action).wait, 500ms);
  EXPECT_TRUE(std::holds_alternative<rollback_model_step>(rb.steps[5].action));
  EXPECT_EQ(std::get<manual_step>(rb.steps[6].action).instruction, "Look at it.");
  EXPECT_EQ(std::get<notify_step>(rb.steps[7].action).message, "Rolled back {model}.");
  EXPECT_EQ(rb.steps[7].name, "notify");
}

// `//` and `/* */` comments are accepted anywhere whitespace is.
TEST(parse_config, accepts_comments) {
  auto cfg = parse_config(R"(// leading comment
    {
      /* block comment */ "daemon": {"log_level": "warn"}, // trailing comment
      "checks": [ // inside an array
        {"name": "t", "type": "process", "cmdline_contains": "x" /* inline */}
      ]
    }
    // final comment
  )");
  EXPECT_EQ(cfg.daemon.log_level, "warn");
  ASSERT_EQ(cfg.checks.size(), 1u);
  EXPECT_EQ(kind_name(cfg.checks[0].kind), "process");
}

// A JSON syntax error is one fault at "" naming its line and column.
TEST(parse_config, syntax_error_names_line_and_column) {
  auto faults = faults_of("{\n  \"checks\": [\n    {\"name\": \"a\",}\n  ]\n}");
  ASSERT_EQ(faults.size(), 1u) << listing(faults);
  EXPECT_EQ(faults[0].pointer, "");
  EXPECT_NE(faults[0].message.find("line 3"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].message.find("column"), std::string::npos) << faults[0].message;
  EXPECT_EQ(faults_of("").size(), 1u);
  EXPECT_EQ(faults_of("{} trailing").size(), 1u);
}

// The document must be an object.
TEST(parse_config, document_must_be_an_object) {
  EXPECT_TRUE(single_fault(json::array(), "", "expected an object"));
}

// One bad value does not hide the others: every fault is reported in one throw.
TEST(parse_config, reports_every_fault_at_once) {
  auto doc = base();
  doc["daemon"]["log_level"] = "verbose";
  doc["checks"][0]["intervall"] = "10s";
  doc["checks"][1]["interval"] = "10 seconds";
  doc["checks"][1]["depends_on"] = {"nothing"};
  doc["runbooks"]["fix-db"]["max_attempts"] = 0;
  try {
    parse_config(doc.dump());
    FAIL() << "no config_error";
  } catch (const config_error& e) {
    std::vector<std::string> pointers;
    for (const auto& f : e.faults()) pointers.push_back(f.pointer);
    std::sort(pointers.begin(), pointers.end());
    EXPECT_EQ(pointers, (std::vector<std::string>{"/checks/0/intervall", "/checks/1/depends_on/0",
                                                  "/checks/1/interval", "/daemon/log_level",
                                                  "/runbooks/fix-db/max_attempts"}))
        << e.what();
    std::string what = e.what();
    EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 4) << what;
    EXPECT_NE(what.find("/checks/1/interval: expected a duration like \"10s\", got \"10 seconds\""),
              std::string::npos)
        << what;
  }
}

// ---- one test per fault class --------------------------------------------------------------

// A misspelt key is refused, with the closest known key suggested.
TEST(parse_config_fault, unknown_key_with_suggestion) {
  auto doc = base();
  doc["checks"][0]["intervall"] = "10s";
  EXPECT_TRUE(single_fault(doc, "/checks/0/intervall", "did you mean \"interval\""));
}

// Unknown keys are refused at every level, not only in checks.
TEST(parse_config_fault, unknown_key_at_every_level) {
  auto doc = base();
  doc["checkz"] = json::array();
  EXPECT_TRUE(single_fault(doc, "/checkz", "did you mean \"checks\""));
  doc = base();
  doc["daemon"] = {{"listen_address", "127.0.0.1:1"}};
  EXPECT_TRUE(single_fault(doc, "/daemon/listen_address", "unknown key"));
  doc = base();
  doc["runbooks"]["fix-db"]["retries"] = 3;
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/retries", "unknown key"));
  doc = base();
  doc["escalation"]["database"]["tertiary"] = "x";
  EXPECT_TRUE(single_fault(doc, "/escalation/database/tertiary", "unknown key"));
  doc = base();
  doc["checks"][1]["expect"] = {{"statuss", 200}};
  EXPECT_TRUE(single_fault(doc, "/checks/1/expect/statuss", "did you mean \"status\""));
  doc = base();
  doc["notify"] = {{"webhook", "http://x"}};
  EXPECT_TRUE(single_fault(doc, "/notify/webhook", "unknown key"));
}

// A key of another check type is an unknown key that says where it belongs.
TEST(parse_config_fault, key_of_another_check_type) {
  auto doc = base();
  doc["checks"][0]["url"] = "http://127.0.0.1/";
  EXPECT_TRUE(single_fault(doc, "/checks/0/url", "http checks"));
}

// A step key that belongs to another step kind is refused.
TEST(parse_config_fault, key_of_another_step_kind) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0]["within"] = "10s";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/within", "\"verify\" steps"));
}

// Keys with '/' and '~' are escaped in the pointer as RFC 6901 says.
TEST(parse_config_fault, pointer_escapes_slash_and_tilde) {
  auto doc = base();
  doc["escalation"]["team/a~b"] = {{"primary", 1}, {"backup", "x"}};
  EXPECT_TRUE(single_fault(doc, "/escalation/team~1a~0b/primary", "expected a string"));
}

// A wrong JSON type names what was expected and what was found.
TEST(parse_config_fault, wrong_type) {
  auto doc = base();
  doc["checks"][1]["fall"] = "2";
  EXPECT_TRUE(single_fault(doc, "/checks/1/fall", "expected an integer, got \"2\""));
  doc = base();
  doc["checks"] = json::object();
  EXPECT_TRUE(single_fault(doc, "/checks", "expected an array, got an object"));
  doc = base();
  doc["daemon"] = {{"dry_run", "yes"}};
  EXPECT_TRUE(single_fault(doc, "/daemon/dry_run", "expected true or false"));
  doc = base();
  doc["checks"][1]["fall"] = 2.5;
  EXPECT_TRUE(single_fault(doc, "/checks/1/fall", "expected an integer"));
}

// A missing required key is reported at its parent's pointer.
TEST(parse_config_fault, missing_required_key) {
  auto doc = base();
  doc["checks"][1].erase("name");
  EXPECT_TRUE(single_fault(doc, "/checks/1", "missing required key \"name\""));
  doc = base();
  doc["checks"][1].erase("url");
  EXPECT_TRUE(single_fault(doc, "/checks/1", "missing required key \"url\""));
  doc = base();
  doc["escalation"]["database"].erase("backup");
  EXPECT_TRUE(single_fault(doc, "/escalation/database", "missing required key \"backup\""));
}

// An unknown check type is refused with the closest known type suggested.
TEST(parse_config_fault, unknown_check_type) {
  auto doc = base();
  doc["checks"][1]["type"] = "htp";
  EXPECT_TRUE(single_fault(doc, "/checks/1/type", "did you mean \"http\""));
  doc = base();
  doc["checks"][1] = {{"name", "errors"}, {"type", "log_patern"}, {"path", "/l"}, {"pattern", "x"}};
  EXPECT_TRUE(single_fault(doc, "/checks/1/type", "did you mean \"log_pattern\""));
}

// ---- log_pattern ---------------------------------------------------------------------------

json log_pattern_doc() {
  auto doc = base();
  doc["checks"].push_back(json::parse(
      R"({"name": "errors", "type": "log_pattern", "path": "/var/log/acis/training.log",
          "pattern": "Traceback|ERROR|Training failed"})"));
  return doc;
}

// A log_pattern check with only path and pattern takes the documented defaults.
TEST(parse_config, log_pattern_defaults) {
  auto cfg = parse_config(log_pattern_doc().dump());
  ASSERT_EQ(cfg.checks.size(), 3u);
  EXPECT_EQ(kind_name(cfg.checks[2].kind), "log_pattern");
  const auto& l = std::get<log_pattern_check>(cfg.checks[2].kind);
  EXPECT_EQ(l.path, "/var/log/acis/training.log");
  EXPECT_EQ(l.pattern, "Traceback|ERROR|Training failed");
  EXPECT_EQ(l.window, 5min);
  EXPECT_EQ(l.max_matches, 0);
  EXPECT_FALSE(cfg.checks[2].window.has_value());  // the result-count window is another thing
}

// A log_pattern check written back as JSON from the parsed values parses to the same values,
// and it can use the result-count "window" next to its time window "within".
TEST(parse_config, log_pattern_round_trip) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["within"] = "1h30m";
  doc["checks"][2]["max_matches"] = 3;
  doc["checks"][2]["fall"] = 2;
  doc["checks"][2]["window"] = 4;
  auto first = parse_config(doc.dump());
  const auto& a = std::get<log_pattern_check>(first.checks[2].kind);
  EXPECT_EQ(a.window, 90min);
  EXPECT_EQ(first.checks[2].effective_window(), 4);
  doc["checks"][2] = {{"name", first.checks[2].name}, {"type", kind_name(first.checks[2].kind)},
                      {"path", a.path}, {"pattern", a.pattern},
                      {"within", format_duration(a.window)}, {"max_matches", a.max_matches},
                      {"fall", first.checks[2].fall}, {"window", *first.checks[2].window}};
  auto second = parse_config(doc.dump());
  const auto& b = std::get<log_pattern_check>(second.checks[2].kind);
  EXPECT_EQ(b.path, a.path);
  EXPECT_EQ(b.pattern, a.pattern);
  EXPECT_EQ(b.window, a.window);
  EXPECT_EQ(b.max_matches, a.max_matches);
  EXPECT_EQ(second.checks[2].window, first.checks[2].window);
}

// path and pattern are required, at the check's pointer.
TEST(parse_config_fault, log_pattern_required_keys) {
  auto doc = log_pattern_doc();
  doc["checks"][2].erase("path");
  EXPECT_TRUE(single_fault(doc, "/checks/2", "missing required key \"path\""));
  doc = log_pattern_doc();
  doc["checks"][2].erase("pattern");
  EXPECT_TRUE(single_fault(doc, "/checks/2", "missing required key \"pattern\""));
}

// A relative log path is refused: relative to the daemon's working directory is not meant.
TEST(parse_config_fault, log_pattern_path_not_absolute) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["path"] = "logs/training.log";
  EXPECT_TRUE(single_fault(doc, "/checks/2/path", "absolute path"));
  doc["checks"][2]["path"] = "";
  EXPECT_TRUE(single_fault(doc, "/checks/2/path", "absolute path"));
}

// An empty pattern is refused.
TEST(parse_config_fault, log_pattern_empty_pattern) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["pattern"] = "";
  EXPECT_TRUE(single_fault(doc, "/checks/2/pattern", "must not be empty"));
}

// A pattern that does not compile as a POSIX extended regex is refused with regcomp's message.
TEST(parse_config_fault, log_pattern_does_not_compile) {
  for (const char* pattern : {"ORDER (REJECTED", "[A-", "a{2,1}", "*x"}) {
    auto doc = log_pattern_doc();
    doc["checks"][2]["pattern"] = pattern;
    EXPECT_TRUE(single_fault(doc, "/checks/2/pattern", "not a POSIX extended regular expression ("))
        << pattern;
  }
  auto doc = log_pattern_doc();
  doc["checks"][2]["pattern"] = "ORDER (REJECTED";
  auto faults = faults_of(doc.dump());
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_NE(faults[0].message.find("(Unmatched ( or \\(): \"ORDER (REJECTED\""), std::string::npos)
      << faults[0].message;
}

// A back-reference is refused (exponential matching on a long line); a backslash-digit inside
// a bracket expression is no back-reference.
TEST(parse_config_fault, log_pattern_back_reference) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["pattern"] = "(ERROR)+ \\1";
  EXPECT_TRUE(single_fault(doc, "/checks/2/pattern", "back-references"));
  for (const char* fine : {"[\\1]x", "\\\\1", "[]\\1]", "[[:digit:]\\1]", "ERROR [0-9]+"}) {
    doc["checks"][2]["pattern"] = fine;
    EXPECT_TRUE(faults_of(doc.dump()).empty()) << fine << listing(faults_of(doc.dump()));
  }
}

// The time window must be a positive duration.
TEST(parse_config_fault, log_pattern_within) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["within"] = "0s";
  EXPECT_TRUE(single_fault(doc, "/checks/2/within", "longer than 0s"));
  doc["checks"][2]["within"] = 300;
  EXPECT_TRUE(single_fault(doc, "/checks/2/within", "expected a duration"));
}

// A duration under "window" (the result-count key) is refused with a pointer to "within".
TEST(parse_config_fault, log_pattern_window_is_not_the_time_window) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["window"] = "5m";
  EXPECT_TRUE(single_fault(doc, "/checks/2/window", "\"within\": \"5m\""));
}

// max_matches is an integer of at least 0.
TEST(parse_config_fault, log_pattern_max_matches) {
  auto doc = log_pattern_doc();
  doc["checks"][2]["max_matches"] = -1;
  EXPECT_TRUE(single_fault(doc, "/checks/2/max_matches", "at least 0"));
  doc["checks"][2]["max_matches"] = "2";
  EXPECT_TRUE(single_fault(doc, "/checks/2/max_matches", "expected an integer"));
}

// A verify step cannot name a log_pattern check: a fresh follower would pass at once.
TEST(parse_config_fault, log_pattern_cannot_be_verified) {
  auto doc = log_pattern_doc();
  doc["runbooks"]["fix-db"]["steps"][1]["verify"] = "errors";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1/verify", "cannot confirm a fix"));
}

// log_pattern keys on another check type say where they belong.
TEST(parse_config_fault, log_pattern_key_on_another_type) {
  auto doc = base();
  doc["checks"][1]["pattern"] = "ERROR";
  EXPECT_TRUE(single_fault(doc, "/checks/1/pattern", "log_pattern checks"));
}

// A duration that is not one is refused with the SPEC's exact message.
TEST(parse_config_fault, bad_duration) {
  auto doc = base();
  doc["checks"][1]["interval"] = "10 seconds";
  auto faults = faults_of(doc.dump());
  ASSERT_EQ(faults.size(), 1u) << listing(faults);
  EXPECT_EQ(faults[0].to_string(), "/checks/1/interval: expected a duration like \"10s\", got \"10 seconds\"");
  doc = base();
  doc["checks"][1]["timeout"] = 3;
  EXPECT_TRUE(single_fault(doc, "/checks/1/timeout", "got the number 3"));
  doc = base();
  doc["checks"][1]["interval"] = "0s";
  EXPECT_TRUE(single_fault(doc, "/checks/1/interval", "longer than 0s"));
}

// The second check with a name already used is the fault.
TEST(parse_config_fault, duplicate_check_name) {
  auto doc = base();
  doc["checks"][1]["name"] = "db";
  doc["checks"][1].erase("depends_on");
  EXPECT_TRUE(single_fault(doc, "/checks/1/name", "duplicate check name"));
}

// A duplicate key in one JSON object is refused (nlohmann would keep the last one silently).
TEST(parse_config_fault, duplicate_json_key) {
  auto text = base().dump();
  auto at = text.find("\"name\":\"api\"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "\"fall\":3,\"fall\":4,");
  auto faults = faults_of(text);
  ASSERT_EQ(faults.size(), 1u) << listing(faults);
  EXPECT_EQ(faults[0].pointer, "/checks/1/fall");
  EXPECT_NE(faults[0].message.find("duplicate key"), std::string::npos);
}

// depends_on must name a check.
TEST(parse_config_fault, unknown_dependency) {
  auto doc = base();
  doc["checks"][1]["depends_on"] = {"db", "dbx"};
  EXPECT_TRUE(single_fault(doc, "/checks/1/depends_on/1", "\"dbx\""));
}

// A check cannot depend on itself.
TEST(parse_config_fault, self_dependency) {
  auto doc = base();
  doc["checks"][1]["depends_on"] = {"api"};
  EXPECT_TRUE(single_fault(doc, "/checks/1/depends_on/0", "itself"));
}

// A dependency cycle is named, at the entry that closes it.
TEST(parse_config_fault, dependency_cycle) {
  auto doc = base();
  doc["checks"][0]["depends_on"] = {"api"};
  EXPECT_TRUE(single_fault(doc, "/checks/1/depends_on/0", "db -> api -> db"));
  doc = base();
  doc["checks"].push_back({{"name", "c"}, {"type", "process"}, {"cmdline_contains", "x"},
                           {"depends_on", {"api"}}});
  doc["checks"][0]["depends_on"] = {"c"};
  EXPECT_TRUE(single_fault(doc, "/checks/1/depends_on/0", "db -> c -> api -> db"));
}

// A check's runbook must be defined.
TEST(parse_config_fault, unknown_runbook) {
  auto doc = base();
  doc["checks"][0]["runbook"] = "fix-dbb";
  EXPECT_TRUE(single_fault(doc, "/checks/0/runbook", "\"fix-dbb\""));
}

// A verify step must name a check.
TEST(parse_config_fault, verify_names_no_check) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][1]["verify"] = "database";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1/verify", "\"database\""));
}

// fall, rise and window are counts of at least 1; window cannot be shorter than fall.
TEST(parse_config_fault, thresholds) {
  for (const char* key : {"fall", "rise", "window"}) {
    auto doc = base();
    doc["checks"][1][key] = 0;
    EXPECT_TRUE(single_fault(doc, std::string("/checks/1/") + key, "at least 1")) << key;
  }
  auto doc = base();
  doc["checks"][1]["fall"] = 5;
  doc["checks"][1]["window"] = 3;
  EXPECT_TRUE(single_fault(doc, "/checks/1/window", "at least fall"));
}

// A timeout or jitter as long as the interval is refused.
TEST(parse_config_fault, timeout_and_jitter_below_interval) {
  auto doc = base();
  doc["checks"][1]["interval"] = "5s";
  doc["checks"][1]["timeout"] = "5s";
  EXPECT_TRUE(single_fault(doc, "/checks/1/timeout", "shorter than interval"));
  doc = base();
  doc["checks"][1]["jitter"] = "10s";
  EXPECT_TRUE(single_fault(doc, "/checks/1/jitter", "shorter than interval"));
  doc = base();
  doc["checks"][1]["interval"] = "2s";  // below the default timeout of 3s
  EXPECT_TRUE(single_fault(doc, "/checks/1/interval", "timeout"));
}

// A runbook is attempted at least once.
TEST(parse_config_fault, max_attempts) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["max_attempts"] = 0;
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/max_attempts", "at least 1"));
}

// A password in the conninfo is refused, and the message does not repeat the secret.
TEST(parse_config_fault, password_in_conninfo) {
  for (const char* conninfo : {"host=127.0.0.1 user=postgres password=hunter2",
                               "host=127.0.0.1 PASSWORD = hunter2",
                               "postgresql://postgres:hunter2@127.0.0.1/acis-ai",
                               "postgresql://127.0.0.1/acis-ai?password=hunter2"}) {
    auto doc = base();
    doc["checks"][0]["conninfo"] = conninfo;
    auto faults = faults_of(doc.dump());
    EXPECT_TRUE(single_fault(doc, "/checks/0/conninfo", "password_env or password_file")) << conninfo;
    for (const auto& f : faults) EXPECT_EQ(f.message.find("hunter2"), std::string::npos);
  }
  auto doc = base();
  doc["checks"][0]["conninfo"] = "host=127.0.0.1 passfile=/etc/pgpass";
  EXPECT_TRUE(faults_of(doc.dump()).empty());
}

// password_env and password_file exclude each other.
TEST(parse_config_fault, both_password_sources) {
  auto doc = base();
  doc["checks"][0]["password_file"] = "/etc/acis/pgpass";
  EXPECT_TRUE(single_fault(doc, "/checks/0/password_file", "not both"));
}

// Every issue_type needs someone to call.
TEST(parse_config_fault, issue_type_without_escalation) {
  auto doc = base();
  doc["checks"][1]["issue_type"] = "backend";
  EXPECT_TRUE(single_fault(doc, "/checks/1/issue_type", "\"backend\""));
}

// Only http:// urls; https is refused with the reason.
TEST(parse_config_fault, url_scheme) {
  auto doc = base();
  doc["checks"][1]["url"] = "https://127.0.0.1:8000/health";
  EXPECT_TRUE(single_fault(doc, "/checks/1/url", "https is not supported"));
  doc = base();
  doc["checks"][1]["url"] = "127.0.0.1:8000/health";
  EXPECT_TRUE(single_fault(doc, "/checks/1/url", "http://"));
  doc = base();
  doc["checks"][1]["url"] = "http://127.0.0.1:99999/";
  EXPECT_TRUE(single_fault(doc, "/checks/1/url", "expected a URL"));
  doc = base();
  doc["notify"] = {{"alertmanager_url", "https://am:9093"}};
  EXPECT_TRUE(single_fault(doc, "/notify/alertmanager_url", "https"));
  doc = base();
  doc["runbooks"]["fix-db"]["steps"][0] = {{"name", "h"}, {"http", {{"url", "ftp://x/"}}}};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/http/url", "http://"));
}

// listen must be host:port.
TEST(parse_config_fault, listen_address) {
  for (const char* listen : {"9187", "127.0.0.1", "127.0.0.1:", ":9187", "127.0.0.1:65536",
                             "256.0.0.1:9187", "::1:9187", "127.0.0.1:91a"}) {
    auto doc = base();
    doc["daemon"] = {{"listen", listen}};
    EXPECT_TRUE(single_fault(doc, "/daemon/listen", "host:port")) << listen;
  }
  for (const char* listen : {"127.0.0.1:9187", "0.0.0.0:0", "localhost:9187", "[::1]:9187"}) {
    auto doc = base();
    doc["daemon"] = {{"listen", listen}};
    EXPECT_TRUE(faults_of(doc.dump()).empty()) << listen;
  }
}

// log_level is one of debug, info, warn, error.
TEST(parse_config_fault, log_level) {
  auto doc = base();
  doc["daemon"] = {{"log_level", "warning"}};
  EXPECT_TRUE(single_fault(doc, "/daemon/log_level", "\"warning\""));
}

// Severity names are checked in checks and in the severities table.
TEST(parse_config_fault, severity_name) {
  auto doc = base();
  doc["checks"][1]["severity"] = "urgent";
  EXPECT_TRUE(single_fault(doc, "/checks/1/severity", "unknown severity"));
  doc = base();
  doc["checks"][1]["degraded_severity"] = "Low";
  EXPECT_TRUE(single_fault(doc, "/checks/1/degraded_severity", "unknown severity"));
  doc = base();
  doc["severities"] = {{"hihg", {{"response_time", "15m"}}}};
  EXPECT_TRUE(single_fault(doc, "/severities/hihg", "did you mean \"high\""));
  doc = base();
  doc["severities"] = {{"low", {{"response_time", "soon"}}}};
  EXPECT_TRUE(single_fault(doc, "/severities/low/response_time", "duration"));
}

// A JSON pointer in a rule or an http json condition starts with "/" (or is "").
TEST(parse_config_fault, json_pointer_in_conditions) {
  auto doc = base();
  doc["checks"].push_back({{"name", "m"}, {"type", "model_metadata"}, {"models_dir", "/m"},
                           {"rules", {{{"path", "metrics/sharpe_ratio"}, {"min", 0.5}}}}});
  EXPECT_TRUE(single_fault(doc, "/checks/2/rules/0/path", "JSON pointer"));
  doc = base();
  doc["checks"][1]["expect"] = {{"json", {{"pointer", "status"}, {"equals", "up"}}}};
  EXPECT_TRUE(single_fault(doc, "/checks/1/expect/json/pointer", "JSON pointer"));
  doc = base();
  doc["checks"][1]["expect"] = {{"json", {{"pointer", ""}, {"equals", true}}}};
  EXPECT_TRUE(faults_of(doc.dump()).empty());
  doc = base();
  doc["checks"][1]["expect"] = {{"json", {{"pointer", "/a"}}}};
  EXPECT_TRUE(single_fault(doc, "/checks/1/expect/json", "\"min\", \"max\" or \"equals\""));
}

// A step has exactly one action key.
TEST(parse_config_fault, step_action_count) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0] = {{"name", "nothing"}};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0", "needs one action"));
  doc = base();
  doc["runbooks"]["fix-db"]["steps"][1]["wait"] = "5s";
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/1", "\"verify\" and \"wait\""));
}

// A run step's program is a path unless PATH search is asked for.
TEST(parse_config_fault, run_program_not_a_path) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0]["run"] = {"systemctl", "restart", "postgresql"};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/run/0", "search_path"));
  doc["runbooks"]["fix-db"]["steps"][0]["search_path"] = true;
  EXPECT_TRUE(faults_of(doc.dump()).empty());
}

// A misspelt placeholder in a step argument is refused before it can reach a command line.
TEST(parse_config_fault, unknown_placeholder) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0]["run"] = {"/bin/echo", "{chek}"};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/run/1", "{chek}"));
}

// A signal step finds processes one way, with a known signal.
TEST(parse_config_fault, signal_step) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"][0] = {{"name", "s"}, {"signal", {{"signal", "TERM"}}}};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/signal", "cmdline_contains"));
  doc["runbooks"]["fix-db"]["steps"][0]["signal"] = {{"cmdline_contains", "x"}, {"signal", "TERMINATE"}};
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps/0/signal/signal", "unknown signal"));
}

// A runbook without steps does nothing and is refused.
TEST(parse_config_fault, runbook_without_steps) {
  auto doc = base();
  doc["runbooks"]["fix-db"]["steps"] = json::array();
  EXPECT_TRUE(single_fault(doc, "/runbooks/fix-db/steps", "at least one step"));
}

// ---- load_config_file ------------------------------------------------------------------------

// An unreadable file is a fault at "" carrying the OS error.
TEST(load_config_file, missing_file) {
  try {
    load_config_file("/nonexistent/acis-healthd.json");
    FAIL() << "no config_error";
  } catch (const config_error& e) {
    ASSERT_EQ(e.faults().size(), 1u);
    EXPECT_EQ(e.faults()[0].pointer, "");
    EXPECT_NE(e.faults()[0].message.find("No such file or directory"), std::string::npos) << e.what();
    EXPECT_NE(e.faults()[0].message.find("/nonexistent/acis-healthd.json"), std::string::npos);
  }
  try {
    load_config_file("/");
    FAIL() << "no config_error";
  } catch (const config_error& e) {
    EXPECT_NE(e.faults()[0].message.find("Is a directory"), std::string::npos) << e.what();
  }
}

// A file on disk is read whole and parsed.
TEST(load_config_file, reads_file) {
  auto path = std::filesystem::temp_directory_path() /
              ("acis-config-test-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(path);
    out << "// test\n" << base().dump(2);
  }
  config cfg;
  EXPECT_NO_THROW(cfg = load_config_file(path.string()));
  EXPECT_EQ(cfg.checks.size(), 2u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace acis::config
