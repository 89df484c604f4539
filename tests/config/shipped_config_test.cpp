// The production config shipped in config/acis-healthd.json passes the validator and says
// what the ACIS platform layout needs.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace acis::config {
namespace {

using namespace std::chrono_literals;

config load_shipped() { return load_config_file(std::string(ACIS_SOURCE_DIR) + "/config/acis-healthd.json"); }

// The shipped file loads without a single fault.
TEST(shipped_config, loads_without_faults) {
  try {
    load_shipped();
  } catch (const config_error& e) {
    FAIL() << e.what();
  }
}

// The shipped file watches the platform's parts with the severities of the runbooks.
TEST(shipped_config, covers_the_platform) {
  auto cfg = load_shipped();
  EXPECT_EQ(cfg.daemon.listen, "127.0.0.1:9187");
  EXPECT_EQ(cfg.daemon.state_dir, "/var/lib/acis-healthd");
  EXPECT_EQ(cfg.daemon.control_token_file, "/etc/acis-healthd/control-token");
  EXPECT_FALSE(cfg.notify.alertmanager_url.has_value());
  EXPECT_EQ(cfg.response_times.at(severity::critical), 5min);
  EXPECT_EQ(cfg.response_times.at(severity::low), 4h);

  const auto* db = cfg.find_check("database");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->level, severity::critical);
  EXPECT_EQ(db->runbook, "database-connection-failure");
  const auto& pg = std::get<postgres_check>(db->kind);
  EXPECT_NE(pg.conninfo.find("dbname=acis-ai"), std::string::npos);
  EXPECT_EQ(pg.password_env, "PGPASSWORD");

  const auto* api = cfg.find_check("api-health");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(std::get<http_check>(api->kind).url, "http://127.0.0.1:8000/health");
  EXPECT_EQ(std::get<http_check>(api->kind).expect.max_latency, 2s);
  EXPECT_EQ(api->degraded_severity, severity::low);
  EXPECT_EQ(api->depends_on, std::vector<std::string>{"database"});

  const auto* models = cfg.find_check("models");
  ASSERT_NE(models, nullptr);
  EXPECT_EQ(models->level, severity::critical);
  const auto& m = std::get<model_metadata_check>(models->kind);
  EXPECT_EQ(m.models_dir, "/opt/acis/models");
  EXPECT_EQ(m.max_age, 36h);
  EXPECT_EQ(m.rules.size(), 2u);

  for (const char* name : {"api-clients", "frontend", "daily-rebalance", "eod-prices-fresh"})
    EXPECT_NE(cfg.find_check(name), nullptr) << name;
  for (const char* name : {"database-connection-failure", "api-down", "frontend-down",
                           "emergency-model-rollback"})
    EXPECT_TRUE(cfg.runbooks.contains(name)) << name;
  for (const char* type : {"model", "database", "backend", "data", "trading"})
    EXPECT_TRUE(cfg.escalation.contains(type)) << type;

  const auto& rollback = cfg.runbooks.at("emergency-model-rollback").steps;
  ASSERT_EQ(rollback.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<signal_step>(rollback[0].action));
  EXPECT_TRUE(std::holds_alternative<rollback_model_step>(rollback[1].action));
  ASSERT_TRUE(std::holds_alternative<notify_step>(rollback[2].action));
  const auto& told = std::get<notify_step>(rollback[2].action).message;
  EXPECT_NE(told.find("{model}"), std::string::npos) << told;
  EXPECT_NE(told.find("{backup}"), std::string::npos) << told;  // the backup swapped in
  EXPECT_TRUE(std::holds_alternative<verify_step>(rollback[3].action));
  EXPECT_TRUE(std::holds_alternative<manual_step>(rollback[4].action));
}

// The step kinds of a runbook, in order, e.g. {"signal", "notify", "manual"}.
std::vector<std::string> step_kinds(const runbook_config& rb) {
  static constexpr const char* names[] = {"run",  "signal",         "http",   "verify",
                                          "wait", "rollback_model", "manual", "notify"};
  std::vector<std::string> out;
  for (const auto& s : rb.steps) out.push_back(names[s.action.index()]);
  return out;
}

// The three runbooks the ACIS docs listed as "coming soon" exist, with checks of the right
// kinds, severities, issue types and runbooks driving them.
TEST(shipped_config, covers_the_coming_soon_runbooks) {
  auto cfg = load_shipped();
  struct expected_check {
    const char* name;
    const char* kind;
    severity level;
    const char* issue_type;
    std::optional<std::string> runbook;
  };
  const expected_check expected[] = {
      {"training-fresh", "file_age", severity::medium, "model", "training-job-failed"},
      {"training-log-errors", "log_pattern", severity::medium, "model", std::nullopt},
      {"eod-prices-fresh", "postgres", severity::high, "data", "data-pipeline-failure"},
      {"order-failures", "postgres", severity::critical, "trading", "trade-execution-errors"},
      {"trading-log-errors", "log_pattern", severity::critical, "trading", "trade-execution-errors"},
  };
  for (const auto& e : expected) {
    const auto* c = cfg.find_check(e.name);
    ASSERT_NE(c, nullptr) << e.name;
    EXPECT_EQ(kind_name(c->kind), e.kind) << e.name;
    EXPECT_EQ(c->level, e.level) << e.name;
    EXPECT_EQ(c->issue_type, e.issue_type) << e.name;
    EXPECT_EQ(c->runbook, e.runbook) << e.name;
    if (kind_name(c->kind) == "postgres") {  // suppressed, not paged, while the database is down
      EXPECT_EQ(c->depends_on, std::vector<std::string>{"database"}) << e.name;
    }
  }

  const auto& fresh = std::get<file_age_check>(cfg.find_check("training-fresh")->kind);
  EXPECT_EQ(fresh.max_age, 26h);
  const auto& training_log = std::get<log_pattern_check>(cfg.find_check("training-log-errors")->kind);
  EXPECT_EQ(training_log.pattern, "Traceback|ERROR|Training failed");
  const auto& trading_log = std::get<log_pattern_check>(cfg.find_check("trading-log-errors")->kind);
  EXPECT_EQ(trading_log.window, 15min);
  EXPECT_EQ(trading_log.max_matches, 0);
  EXPECT_EQ(std::get<postgres_check>(cfg.find_check("order-failures")->kind).expect, "t");
  EXPECT_EQ(std::get<postgres_check>(cfg.find_check("eod-prices-fresh")->kind).expect, "t");

  const auto& training = cfg.runbooks.at("training-job-failed");
  EXPECT_EQ(step_kinds(training), (std::vector<std::string>{"notify", "run", "verify", "manual"}));
  const auto& rerun = std::get<run_step>(training.steps[1].action);
  EXPECT_EQ(rerun.argv, (std::vector<std::string>{"/bin/bash", "scripts/run-training.sh"}));
  EXPECT_EQ(rerun.cwd, "/opt/acis");
  EXPECT_GE(rerun.timeout, 1h);
  EXPECT_EQ(std::get<verify_step>(training.steps[2].action).check, "training-fresh");

  const auto& data = cfg.runbooks.at("data-pipeline-failure");
  EXPECT_EQ(step_kinds(data), (std::vector<std::string>{"run", "verify", "manual"}));
  EXPECT_EQ(std::get<verify_step>(data.steps[1].action).check, "eod-prices-fresh");

  const auto& trading = cfg.runbooks.at("trade-execution-errors");
  EXPECT_EQ(trading.max_attempts, 1);  // a loop on trading is worse than the stop
  EXPECT_EQ(step_kinds(trading),
            (std::vector<std::string>{"signal", "notify", "manual", "manual", "manual"}));
  const auto& stop = std::get<signal_step>(trading.steps[0].action);
  EXPECT_EQ(stop.cmdline_contains, "run_daily_rebalance");
  EXPECT_EQ(stop.signal, "TERM");
}

}  // namespace
}  // namespace acis::config
