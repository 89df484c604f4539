// The secrets canary (issue 4, SPEC.md "Log"): a full end-to-end run of the real binary is given
// distinctive secrets in every place they belong and in the places an operator might
// mistakenly put them, and none of them may show up anywhere the daemon speaks: the log, stderr,
// /status, /incidents, /incidents/ID, reports (served and on disk), the journal, drill reports,
// /metrics, the status page, `acis-healthd status`, `once --json`, `drill` and `check-config`.
//
// The canaries:
//  - pw_canary: the postgres role's real password (ALTER ROLE on the toy platform), in the
//    password_file, in a password_env variable of the daemon's environment, in an http check's
//    X-Api-Key header and in the PGPASSWORD env of the runbooks' `run` steps;
//  - token_canary: the control token (control_token_file) and an http check's
//    `Authorization: Bearer` header;
//  - wrong_canary: a wrong password in a postgres check's password_file (a failing check whose
//    reason is about the very authentication that used it).
// A secret is searched case-insensitively, by its head and its tail (a bounded excerpt cuts one
// end off), and as base64 at each of the three byte alignments (Basic auth, a dumped buffer).
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/http_test_server.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::event_is;
using acis::test::event_with;
using acis::test::find_event;
using acis::test::http_get;
using acis::test::http_request;
using acis::test::read_file;
using acis::test::run_command;
using acis::test::wait_for_event;
using acis::test::wait_until;

namespace {

const std::string pw_canary = "CANARY-pw-7f3a9c";
const std::string token_canary = "CANARY-token-5be21d40";
const std::string wrong_canary = "CANARY-wrongpw-3d8e1b";
const std::string pw_env_name = "ACIS_E2E_CANARY_PW";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string base64(std::string_view in) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(alphabet[(v >> shift) & 63]);
  }
  return out;  // whole 3-byte groups only: the part that does not depend on what follows
}

struct needle {
  std::string text;
  bool case_sensitive;
  std::string what;
};

// Every form of `secret` the search looks for. base64 of the secret starting at offset k of a
// 3-byte group equals base64(secret.substr((3 - k) % 3)) in whole groups, whatever surrounds it.
std::vector<needle> needles_for(const std::string& secret) {
  const auto dash = secret.rfind('-');
  std::vector<needle> n{{lower(secret), false, "the secret"},
                        {lower(secret.substr(0, dash + 1)), false, "its head"},
                        {lower(secret.substr(dash)), false, "its tail"}};
  for (std::size_t k = 0; k < 3; ++k)
    n.push_back({base64(secret.substr(k)), true, "base64 at alignment " + std::to_string(k)});
  return n;
}

// "" when `text` holds no form of `secret`; otherwise the forms found and the first hit in
// context.
std::string find_leaks(const std::string& text, const std::string& secret) {
  const std::string low = lower(text);
  std::string forms, context;
  for (const auto& n : needles_for(secret)) {
    const auto at = (n.case_sensitive ? text : low).find(n.text);
    if (at == std::string::npos) continue;
    forms += (forms.empty() ? "" : ", ") + n.what;
    if (context.empty()) {
      const auto from = at > 100 ? at - 100 : 0;
      context = "offset " + std::to_string(at) + ": ..." + text.substr(from, 200 + n.text.size()) + "...";
    }
  }
  return forms.empty() ? forms : "  found " + forms + "\n  first at " + context + "\n";
}

void write_secret_file(const std::string& path, const std::string& content) {
  std::ofstream(path) << content << "\n";
  ::chmod(path.c_str(), 0600);
}

class canary_e2e : public acis::test::platform_fixture {
 protected:
  canary_e2e() : platform_fixture(acis::test::build_paths(), "acis-canary") {}

  void TearDown() override {
    if (daemon_) daemon_->stop();  // SIGTERM: a clean exit, so that LSan reports at exit
    daemon_.reset();
    // Under ACIS_SANITIZE the daemon's own reports (leaks at exit included) land in its stderr.
    if (!dir_.empty()) {
      const auto err = read_file(dir_ + "/daemon.stderr");
      EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
      EXPECT_EQ(err.find("runtime error:"), std::string::npos) << err;
    }
    platform_fixture::TearDown();
  }

  // Every place the daemon said something, by name. Empty texts are refused (a surface that
  // could not be read would pass the search trivially).
  void add_surface(const std::string& name, const std::string& text) {
    EXPECT_FALSE(text.empty()) << "surface " << name << " is empty";
    surfaces_[name] = text;
  }
  void add_http(const std::string& name, const std::string& target) {
    auto r = http_get(port_, target, 10s);
    EXPECT_EQ(r.status, 200) << target << ": " << r.error;
    add_surface(name + " GET " + target, r.body);
  }
  // `acis-healthd ARGS...` with the canary environment, output captured.
  acis::test::command_result cli(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), paths_.daemon_bin());
    std::string file = name;
    for (char& c : file)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    auto r = run_command(std::move(args), dir_ + "/cli-" + file + ".out",
                         {{pw_env_name, pw_canary}, {"ACIS_TOY_SERVICE", paths_.toy_bin()}}, 120s);
    add_surface("acis-healthd " + name, r.output);
    return r;
  }
  // What the running daemon serves now, under a label (the texts change as incidents come
  // and go, so the search runs on several moments of the run).
  void snapshot(const std::string& label) {
    add_http(label, "/status");
    add_http(label, "/incidents?state=all");
    add_http(label, "/metrics");
    add_http(label, "/");
    for (const auto& i : get_json("/incidents?state=all")) {
      const std::string id = i.value("id", "");
      add_http(label, "/incidents/" + id);
      add_http(label, "/incidents/" + id + "/report");
    }
    auto st = cli(label + " status", {"status", "--url", "http://127.0.0.1:" + std::to_string(port_)});
    EXPECT_TRUE(st.status == 0 || st.status == 1) << st.output;
  }

  std::string incident_of(const std::string& check, const std::string& target = {}) {
    auto e = find_event(log_, event_is("incident_opened", check, target));
    return e ? e->value("incident", "") : std::string();
  }
  bool resolved(const std::string& check, const std::string& target = {}) {
    return find_event(log_, event_is("incident_resolved", check, target)).has_value();
  }

  std::map<std::string, std::string> surfaces_;
};

}  // namespace

// A full run (rollback, API killed and restarted by its runbook, database stopped and started
// by its runbook, a partner API failing, a wrong password, maintenance on and off, an ack, a
// reload, a drill, `once`, `status`) leaks none of the three canaries anywhere the daemon
// speaks, while every canary demonstrably did its job.
TEST_F(canary_e2e, no_secret_reaches_any_surface) {
  // The role's password becomes the canary; the API (which reads DIR/pgpassword when it
  // starts) is restarted on it, and the daemon's password_file is that same file.
  const auto& e = env_;
  auto psql = run_command({e.at("PG_BIN") + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                           e.at("PG_SOCKET_DIR"), "-p", e.at("PGPORT"), "-U", "postgres", "-d",
                           "postgres", "-c", "ALTER ROLE postgres PASSWORD '" + pw_canary + "'"},
                          dir_ + "/psql.out");
  ASSERT_EQ(psql.status, 0) << psql.output;
  write_secret_file(dir_ + "/pgpassword", pw_canary);
  ASSERT_TRUE(platform("restart-api"));
  write_secret_file(dir_ + "/control.token", token_canary);
  write_secret_file(dir_ + "/wrongpw", wrong_canary);

  // A partner API that wants the credentials in headers; it can be switched to failing.
  std::atomic<bool> partner_down{false};
  acis::test::http_test_server partner([&](const acis::test::http_test_request&) {
    acis::test::http_test_reply r;
    if (partner_down) {
      r.status = 503;
      r.body = "upstream unavailable";
    }
    return r;
  });

  const json secret_headers = {{"Authorization", "Bearer " + token_canary}, {"X-Api-Key", pw_canary}};
  cfg_["daemon"]["control_token_file"] = dir_ + "/control.token";
  check("api")["headers"] = secret_headers;
  check("api")["runbook"] = "api-down";
  check("database")["runbook"] = "database-down";
  check("models")["runbook"] = "emergency-model-rollback";
  cfg_["checks"].push_back({{"name", "database_env"}, {"type", "postgres"},
                            {"conninfo", e.at("PG_CONNINFO")}, {"password_env", pw_env_name},
                            {"query", "SELECT 1"}, {"interval", "500ms"}, {"timeout", "400ms"},
                            {"fall", 1}, {"severity", "medium"}, {"depends_on", json::array({"database"})},
                            {"issue_type", "database"}});
  cfg_["checks"].push_back({{"name", "database_wrongpw"}, {"type", "postgres"},
                            {"conninfo", e.at("PG_CONNINFO")}, {"password_file", dir_ + "/wrongpw"},
                            {"query", "SELECT 1"}, {"interval", "1s"}, {"timeout", "800ms"},
                            {"fall", 1}, {"severity", "low"}, {"issue_type", "database"}});
  cfg_["checks"].push_back({{"name", "partner"}, {"type", "http"}, {"url", partner.url("/v1/ping")},
                            {"headers", secret_headers}, {"interval", "500ms"}, {"timeout", "400ms"},
                            {"fall", 1}, {"severity", "medium"}, {"issue_type", "backend"}});
  json api_down = restart_api_runbook();
  api_down["doc"] = "https://runbooks.example/api-down.md";
  api_down["steps"][0]["env"]["PGPASSWORD"] = pw_canary;
  cfg_["runbooks"] = {
      {"api-down", api_down},
      {"database-down",
       {{"doc", "https://runbooks.example/database.md"}, {"max_attempts", 3}, {"backoff", "1s"},
        {"cooldown", "1m"},
        // The pause keeps the outage long enough for the dependants to fail (suppressed).
        {"steps", json::array({{{"name", "let the dependants notice"}, {"wait", "3s"}},
                               {{"name", "start database"},
                                {"run", json::array({"/bin/bash", paths_.platform_sh(), "start-db", dir_})},
                                {"env", {{"ACIS_TOY_SERVICE", paths_.toy_bin()}, {"PGPASSWORD", pw_canary}}},
                                {"timeout", "30s"}},
                               {{"name", "verify database"}, {"verify", "database"}, {"within", "15s"}}})}}},
      {"emergency-model-rollback",
       {{"steps", json::array({{{"name", "stop trading"},
                                {"signal", {{"cmdline_contains", "run_daily_rebalance_canary"}, {"signal", "TERM"}}}},
                               {{"name", "roll back"}, {"rollback_model", json::object()}},
                               {{"name", "verify"}, {"verify", "models"}, {"within", "10s"}}})}}}};

  start_daemon("canary.log", {}, {{pw_env_name, pw_canary}});
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(wait_until([&] {
    return target_state("database") == "ok" && target_state("api") == "ok" &&
           target_state("database_env") == "ok" && target_state("partner") == "ok";
  }, 30s)) << daemon_output();

  // The bad model is rolled back; the wrong password opens its own incident.
  ASSERT_TRUE(wait_until([&] { return resolved("models", "value_small"); }, 60s)) << daemon_output();
  ASSERT_TRUE(wait_until([&] { return !incident_of("database_wrongpw").empty(); }, 30s)) << daemon_output();

  // The partner fails (its reason is about a request that carried both canaries).
  partner_down = true;
  ASSERT_TRUE(wait_until([&] { return !incident_of("partner").empty(); }, 30s)) << daemon_output();
  snapshot("partner failing:");

  // The API is killed; its runbook (PGPASSWORD in the step's env) brings it back.
  ASSERT_TRUE(platform("kill-api"));
  ASSERT_TRUE(wait_until([&] { return resolved("api"); }, 60s)) << daemon_output();
  partner_down = false;
  ASSERT_TRUE(wait_until([&] { return resolved("partner"); }, 30s)) << daemon_output();

  // The database stops; its runbook starts it again.
  ASSERT_TRUE(platform("stop-db"));
  ASSERT_TRUE(wait_until([&] { return !incident_of("database").empty(); }, 30s)) << daemon_output();
  EXPECT_TRUE(wait_until([&] {
    return find_event(log_, event_with("incident_suppressed", "check", "database_env")).has_value();
  }, 30s)) << daemon_output();
  snapshot("database down:");
  ASSERT_TRUE(wait_until([&] { return resolved("database"); }, 90s)) << daemon_output();
  ASSERT_TRUE(wait_until([&] { return target_state("database_env") == "ok" && target_state("api") == "ok"; }, 60s))
      << daemon_output();

  // Control: maintenance on and off, an ack, all with the token.
  auto on = http_request("POST", port_, "/maintenance", R"({"reason": "canary window"})", "Bearer " + token_canary);
  EXPECT_EQ(on.status, 200) << on.body;
  auto off = http_request("DELETE", port_, "/maintenance", {}, "Bearer " + token_canary);
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_TRUE(wait_for_event(log_, event_with("maintenance_ended"), 10s)) << daemon_output();
  const std::string wrong_id = incident_of("database_wrongpw");
  auto ack = http_request("POST", port_, "/incidents/" + wrong_id + "/ack",
                          R"({"comment": "checking the credentials"})", "Bearer " + token_canary);
  EXPECT_EQ(ack.status, 200) << ack.body;
  // A wrong token is refused (and is not the canary either).
  EXPECT_EQ(http_request("DELETE", port_, "/maintenance", {}, "Bearer not-the-token-0000000").status, 403);

  // A reload with the same config.
  daemon_->signal(SIGHUP);
  EXPECT_TRUE(wait_until([&] {
    for (const auto& ev : acis::test::log_events(log_))
      if (ev.value("event", "") == "config_loaded" && ev.value("reload", false)) return true;
    return false;
  }, 20s)) << daemon_output();

  // The command line, while the wrong password still fails.
  const std::string config_file = dir_ + "/healthd.json";
  auto once = cli("once", {"once", "--config", config_file, "--json"});
  EXPECT_EQ(once.status, 1) << once.output;  // database_wrongpw fails
  auto once_rows = json::parse(once.output, nullptr, false);
  ASSERT_TRUE(once_rows.is_array()) << once.output;
  std::map<std::string, std::string> once_result;
  for (const auto& r : once_rows) once_result[r.value("check", "")] = r.value("result", "");
  EXPECT_EQ(once_result["database"], "ok");
  EXPECT_EQ(once_result["database_env"], "ok");
  EXPECT_EQ(once_result["database_wrongpw"], "failing");
  auto drill = cli("drill", {"drill", "api-down", "--execute", "--config", config_file});
  EXPECT_EQ(drill.status, 0) << drill.output;
  auto dry_drill = cli("drill (dry)", {"drill", "database-down", "--config", config_file});
  EXPECT_EQ(dry_drill.status, 0) << dry_drill.output;
  auto check_config = cli("check-config", {"check-config", "--config", config_file});
  EXPECT_EQ(check_config.status, 0) << check_config.output;

  // The password is corrected: that incident resolves too (and gets its report).
  write_secret_file(dir_ + "/wrongpw", pw_canary);
  ASSERT_TRUE(wait_until([&] { return resolved("database_wrongpw"); }, 30s)) << daemon_output();

  // Every canary did its job: the database accepted the password from the file and from the
  // environment, the partner received both headers, the token opened the control endpoints.
  bool headers_sent = false;
  for (const auto& r : partner.requests())
    headers_sent = headers_sent || (r.header("Authorization") == "Bearer " + token_canary &&
                                    r.header("X-Api-Key") == pw_canary);
  EXPECT_TRUE(headers_sent);
  const auto wrongpw_open = find_event(log_, event_is("incident_opened", "database_wrongpw"));
  ASSERT_TRUE(wrongpw_open);
  EXPECT_NE(lower(wrongpw_open->dump()).find("password authentication failed"), std::string::npos)
      << wrongpw_open->dump();

  // The run really went through every path: each runbook succeeded, control actions were logged.
  for (const std::string rb : {"api-down", "database-down", "emergency-model-rollback"}) {
    bool ok = false;
    for (const auto& ev : acis::test::find_events(log_, event_with("remediation_finished", "runbook", rb)))
      ok = ok || ev.value("outcome", "") == "success";
    EXPECT_TRUE(ok) << rb << "\n" << daemon_output();
  }
  EXPECT_TRUE(find_event(log_, event_with("maintenance_started")));
  EXPECT_TRUE(find_event(log_, event_with("incident_acknowledged", "incident", wrong_id)));

  snapshot("final:");
  // Reports are written on resolution; wait for the last one.
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(dir_ + "/state/reports/" + wrong_id + ".md");
  }, 10s));
  daemon_->signal(SIGTERM);
  EXPECT_TRUE(daemon_->wait_for(20s));

  add_surface("daemon log (stdout)", read_file(log_));
  add_surface("daemon stderr", read_file(dir_ + "/daemon.stderr") + " ");  // usually empty
  int reports = 0, drills = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir_ + "/state")) {
    if (!f.is_regular_file()) continue;
    const auto rel = fs::relative(f.path(), dir_ + "/state").string();
    if (rel.rfind("reports/", 0) == 0) ++reports;
    if (rel.rfind("drills/", 0) == 0) ++drills;
    add_surface("state_dir/" + rel, read_file(f.path().string()));
  }
  EXPECT_GE(reports, 5);  // models, api, partner, database, database_wrongpw (at least)
  EXPECT_GE(drills, 1);
  EXPECT_TRUE(surfaces_.count("state_dir/incidents.jsonl"));

  // The search itself finds each canary where it does belong (it can fail).
  for (const auto& secret : {pw_canary, token_canary})
    EXPECT_FALSE(find_leaks(read_file(config_file), secret).empty()) << secret;
  EXPECT_FALSE(find_leaks("Authorization: Basic " + base64("u:" + pw_canary + "xyz"), pw_canary).empty());
  EXPECT_FALSE(find_leaks("x" + base64("ab" + token_canary + "!!!"), token_canary).empty());

  std::size_t bytes = 0;
  std::string names;
  for (const auto& [name, text] : surfaces_) {
    bytes += text.size();
    names += "  " + name + "\n";
    for (const auto& secret : {pw_canary, token_canary, wrong_canary}) {
      const auto leaks = find_leaks(text, secret);
      EXPECT_TRUE(leaks.empty()) << "LEAK of " << secret << " in " << name << ":\n" << leaks;
    }
  }
  std::printf("searched %zu surfaces, %zu bytes:\n%s", surfaces_.size(), bytes, names.c_str());
}

// A password given where an environment variable's name belongs (password_env) is refused by
// check-config, by `run` and by a SIGHUP reload without being echoed back: the conninfo rule
// ("contains a password") already works that way, and the reload error lands in the log.
TEST_F(canary_e2e, password_put_in_password_env_is_not_echoed) {
  const std::string config_file = dir_ + "/healthd.json";
  start_daemon("misplaced.log");
  ASSERT_FALSE(HasFatalFailure());

  json bad = cfg_;
  check("database").erase("password_file");
  check("database")["password_env"] = pw_canary;  // the password itself, not a variable name
  std::swap(bad, cfg_);
  std::ofstream(config_file) << bad.dump(2);

  auto cc = run_command({paths_.daemon_bin(), "check-config", "--config", config_file}, dir_ + "/cc.out");
  EXPECT_EQ(cc.status, 2) << cc.output;
  EXPECT_NE(cc.output.find("/checks/0/password_env"), std::string::npos) << cc.output;
  EXPECT_EQ(find_leaks(cc.output, pw_canary), "") << "check-config output:\n" << cc.output;

  daemon_->signal(SIGHUP);
  auto failed = wait_for_event(log_, event_with("config_reload_failed"), 20s);
  ASSERT_TRUE(failed) << daemon_output();
  EXPECT_NE(failed->dump().find("/checks/0/password_env"), std::string::npos) << failed->dump();
  EXPECT_EQ(find_leaks(read_file(log_), pw_canary), "") << "daemon log after the reload";
  EXPECT_EQ(find_leaks(http_get(port_, "/status").body, pw_canary), "");

  auto run = run_command({paths_.daemon_bin(), "run", "--config", config_file}, dir_ + "/run.out", {}, 30s);
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_EQ(find_leaks(run.output, pw_canary), "") << "`run` output:\n" << run.output;
}

// Credentials written into a check's URL (user info: `https://user:password@host/`) are refused
// without being echoed back, whichever rule refuses the URL first (https, a space, user info):
// by check-config and by a SIGHUP reload, whose config_reload_failed lands in the log.
TEST_F(canary_e2e, credentials_in_a_refused_url_are_not_echoed) {
  const std::string config_file = dir_ + "/healthd.json";
  start_daemon("url.log");
  ASSERT_FALSE(HasFatalFailure());

  json bad = cfg_;
  bad["checks"].push_back({{"name", "https_creds"}, {"type", "http"},
                           {"url", "https://ops:" + pw_canary + "@127.0.0.1:8443/health"}});
  bad["checks"].push_back({{"name", "spaced_creds"}, {"type", "http"},
                           {"url", "http://ops:" + pw_canary + "@127.0.0.1:8000/health check"}});
  bad["checks"].push_back({{"name", "plain_creds"}, {"type", "http"},
                           {"url", "http://ops:" + pw_canary + "@127.0.0.1:8000/health"}});
  std::ofstream(config_file) << bad.dump(2);

  auto cc = run_command({paths_.daemon_bin(), "check-config", "--config", config_file}, dir_ + "/cc.out");
  EXPECT_EQ(cc.status, 2) << cc.output;
  for (const std::string p : {"/checks/4/url", "/checks/5/url", "/checks/6/url"})
    EXPECT_NE(cc.output.find(p), std::string::npos) << p << "\n" << cc.output;
  EXPECT_EQ(find_leaks(cc.output, pw_canary), "") << "check-config output:\n" << cc.output;

  daemon_->signal(SIGHUP);
  auto failed = wait_for_event(log_, event_with("config_reload_failed"), 20s);
  ASSERT_TRUE(failed) << daemon_output();
  EXPECT_EQ(find_leaks(read_file(log_), pw_canary), "") << "daemon log after the reload";
}
