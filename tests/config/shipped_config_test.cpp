// The production config shipped in config/acis-healthd.json passes the validator and says
// what the ACIS platform layout needs.
#include <gtest/gtest.h>

#include <string>

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
  ASSERT_EQ(rollback.size(), 4u);
  EXPECT_TRUE(std::holds_alternative<signal_step>(rollback[0].action));
  EXPECT_TRUE(std::holds_alternative<rollback_model_step>(rollback[1].action));
  EXPECT_TRUE(std::holds_alternative<manual_step>(rollback[3].action));
}

}  // namespace
}  // namespace acis::config
