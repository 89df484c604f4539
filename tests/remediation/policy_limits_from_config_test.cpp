// remediation::limits_from(): the config's "remediation" caps become the policy's hourly
// limits, and a policy built with them enforces them.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config/config.hpp"
#include "remediation/policy.hpp"

using namespace std::chrono_literals;
using acis::remediation::decision;
using acis::remediation::limits_from;
using acis::remediation::policy_limits;
using acis::remediation::remediation_policy;
using acis::remediation::time_point;

namespace {

// The two caps map onto runbook_runs_per_hour and global_runs_per_hour; the rest keep defaults.
TEST(policy_limits_from_config, maps_the_two_caps_and_keeps_the_rest) {
  acis::config::remediation_config caps;
  caps.max_runs_per_hour = 2;
  caps.max_runs_per_hour_total = 7;
  const policy_limits limits = limits_from(caps);
  EXPECT_EQ(limits.runbook_runs_per_hour, 2);
  EXPECT_EQ(limits.global_runs_per_hour, 7);
  EXPECT_EQ(limits.give_ups_before_hold, policy_limits{}.give_ups_before_hold);
  EXPECT_EQ(limits.reset_after, policy_limits{}.reset_after);

  // The config's defaults are the policy's former hidden limits.
  const policy_limits defaults = limits_from(acis::config::remediation_config{});
  EXPECT_EQ(defaults.runbook_runs_per_hour, policy_limits{}.runbook_runs_per_hour);
  EXPECT_EQ(defaults.global_runs_per_hour, policy_limits{}.global_runs_per_hour);
}

// A parsed "max_runs_per_hour": 2 makes the third start within the hour wait for the first
// start to be an hour old.
TEST(policy_limits_from_config, parsed_cap_is_enforced) {
  auto cfg = acis::config::parse_config(R"({
    "checks": [{"name": "api", "type": "http", "url": "http://127.0.0.1:8000/", "runbook": "r"}],
    "runbooks": {"r": {"cooldown": "0s", "steps": [{"name": "n", "notify": "x"}]}},
    "remediation": {"max_runs_per_hour": 2}
  })");
  remediation_policy p(cfg.runbooks, limits_from(cfg.remediation));
  const time_point t0 = time_point{} + 1000h;
  for (int k = 0; k < 2; ++k) {
    const std::string id = "INC-" + std::to_string(k);
    const acis::remediation::incident_ref ref{id, "r", "api", ""};
    const auto now = t0 + k * 1min;
    ASSERT_EQ(p.decide(ref, {}, now).what, decision::kind::run);
    ASSERT_TRUE(p.started(ref, now));
    ASSERT_TRUE(p.finished(id, true, now + 1s));
    p.incident_closed(id, now + 1s);
  }
  const acis::remediation::incident_ref third{"INC-2", "r", "api", ""};
  const auto d = p.decide(third, {}, t0 + 5min);
  EXPECT_EQ(d.what, decision::kind::wait);
  EXPECT_EQ(d.not_before, t0 + 1h);
}

}  // namespace
