// The remediation policy state machine, driven through simulated time (no clock, no sleeping).
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "remediation/policy.hpp"

using namespace std::chrono_literals;
using acis::config::runbook_config;
using acis::remediation::decision;
using acis::remediation::incident_conditions;
using acis::remediation::incident_ref;
using acis::remediation::policy_limits;
using acis::remediation::policy_snapshot;
using acis::remediation::remediation_policy;
using acis::remediation::time_point;
using kind = decision::kind;

namespace {

const time_point t0 = time_point{} + 1000h;

runbook_config runbook(std::string name, int max_attempts = 3,
                       std::chrono::milliseconds backoff = 30s,
                       std::chrono::milliseconds backoff_max = 10min,
                       std::chrono::milliseconds cooldown = 10min) {
  runbook_config rb;
  rb.name = std::move(name);
  rb.max_attempts = max_attempts;
  rb.backoff = backoff;
  rb.backoff_max = backoff_max;
  rb.cooldown = cooldown;
  return rb;
}

std::map<std::string, runbook_config> runbooks(std::vector<runbook_config> list) {
  std::map<std::string, runbook_config> m;
  for (auto& rb : list) m[rb.name] = rb;
  return m;
}

incident_ref inc(std::string id, std::string runbook = "restart_api", std::string check = "api",
                 std::string target = "") {
  return {std::move(id), std::move(runbook), std::move(check), std::move(target)};
}

const incident_conditions normal{};

// Runs one attempt now (decide must say run), lasting `took`; returns the decision.
decision run_once(remediation_policy& p, const incident_ref& i, time_point& now, bool success,
                  std::chrono::milliseconds took = 5s) {
  auto d = p.decide(i, normal, now);
  EXPECT_EQ(d.what, kind::run) << i.id << ": " << d.reason;
  if (d.what != kind::run) return d;
  EXPECT_TRUE(p.started(i, now));
  now += took;
  EXPECT_TRUE(p.finished(i.id, success, now));
  return d;
}

// An engine loop for one incident that never resolves: run whenever allowed, sleep until
// not_before otherwise, until `end`. Counts starts and give-ups.
struct drive_result {
  int runs = 0;
  int give_ups = 0;
  std::vector<time_point> starts;
};
drive_result drive(remediation_policy& p, const incident_ref& i, time_point& now, time_point end,
                   bool success, bool escalate_on_give_up = true) {
  drive_result r;
  bool escalated = false;
  while (now < end) {
    auto d = p.decide(i, {std::nullopt, escalated, false}, now);
    if (d.what == kind::run) {
      EXPECT_TRUE(p.started(i, now));
      r.starts.push_back(now);
      ++r.runs;
      now += 5s;
      p.finished(i.id, success, now);
    } else if (d.what == kind::wait && d.not_before) {
      EXPECT_GT(*d.not_before, now);
      now = *d.not_before;
    } else {
      if (d.what == kind::give_up) {
        ++r.give_ups;
        escalated = escalate_on_give_up;
      }
      now += 1min;
    }
  }
  return r;
}

}  // namespace

// An incident gets exactly max_attempts runs over a whole day, then one give_up, then skips.
TEST(remediation_policy, attempts_are_capped_then_give_up_once) {
  remediation_policy p(runbooks({runbook("restart_api", 3)}));
  auto now = t0;
  auto r = drive(p, inc("INC-000001"), now, t0 + 24h, false);
  EXPECT_EQ(r.runs, 3);
  EXPECT_EQ(r.give_ups, 1);

  auto d = p.decide(inc("INC-000001"), {std::nullopt, true, false}, now);
  EXPECT_EQ(d.what, kind::skip);
  EXPECT_EQ(d.attempt, 3);
  // Even a caller that ignores decide() cannot start a fourth attempt.
  EXPECT_FALSE(p.started(inc("INC-000001"), now));
}

// After a failed last attempt the give-up is immediate, with the attempt count.
TEST(remediation_policy, failed_last_attempt_gives_up_at_once) {
  remediation_policy p(runbooks({runbook("restart_api", 1)}));
  auto now = t0;
  auto d = run_once(p, inc("INC-000001"), now, false);
  EXPECT_EQ(d.attempt, 1);
  d = p.decide(inc("INC-000001"), normal, now);
  EXPECT_EQ(d.what, kind::give_up);
  EXPECT_EQ(d.attempt, 1);
  EXPECT_NE(d.reason.find("1 attempt(s)"), std::string::npos) << d.reason;
  // Once: the next decision is a skip, not another give_up.
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, now + 1h).what, kind::skip);
}

// The pause after attempt k is backoff * 2^(k-1), capped at backoff_max, counted from its end.
TEST(remediation_policy, backoff_doubles_and_caps) {
  remediation_policy p(runbooks({runbook("restart_api", 6, 30s, 2min)}));
  auto now = t0;
  auto r = drive(p, inc("INC-000001"), now, t0 + 1h, false);
  ASSERT_EQ(r.runs, 6);
  // Each run lasts 5 s; the gaps between starts are 5 s + the backoff.
  std::vector<std::chrono::seconds> gaps;
  for (std::size_t k = 1; k < r.starts.size(); ++k)
    gaps.push_back(std::chrono::duration_cast<std::chrono::seconds>(r.starts[k] - r.starts[k - 1]));
  EXPECT_EQ(gaps, (std::vector<std::chrono::seconds>{35s, 65s, 125s, 125s, 125s}));

  auto rb = runbook("x", 3, 30s, 10min);
  EXPECT_EQ(remediation_policy::backoff_after(rb, 1), 30s);
  EXPECT_EQ(remediation_policy::backoff_after(rb, 2), 60s);
  EXPECT_EQ(remediation_policy::backoff_after(rb, 5), 8min);
  EXPECT_EQ(remediation_policy::backoff_after(rb, 6), 10min);
  EXPECT_EQ(remediation_policy::backoff_after(rb, 1000), 10min);  // no overflow
}

// Waits report the exact moment: backoff is measured from the end of the attempt.
TEST(remediation_policy, backoff_wait_has_exact_not_before) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min)}));
  auto now = t0;
  run_once(p, inc("INC-000001"), now, false, 20s);
  auto d = p.decide(inc("INC-000001"), normal, now + 10s);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, t0 + 20s + 30s);
  EXPECT_EQ(d.attempt, 2);
  EXPECT_NE(d.reason.find("backoff"), std::string::npos);
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, t0 + 50s - 1ms).what, kind::wait);
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, t0 + 50s).what, kind::run);
}

// A passing attempt that does not resolve the incident is retried on the same backoff, and
// (dry-run cadence) after the last one the give-up waits that backoff for a resolution.
TEST(remediation_policy, passing_attempt_without_resolution_follows_backoff) {
  remediation_policy p(runbooks({runbook("restart_api", 2, 30s, 10min)}));
  auto now = t0;
  run_once(p, inc("INC-000001"), now, true);
  auto d = p.decide(inc("INC-000001"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, now + 30s);
  now += 30s;
  run_once(p, inc("INC-000001"), now, true);
  // The last attempt passed: no give-up before its end + backoff(2) = 60 s.
  d = p.decide(inc("INC-000001"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, now + 60s);
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, now + 60s).what, kind::give_up);

  // The same, but the incident resolves during that wait: never given up, nothing left.
  now += 1h;
  run_once(p, inc("INC-000002"), now, true);
  now += 30s;
  run_once(p, inc("INC-000002"), now, true);
  EXPECT_EQ(p.decide(inc("INC-000002"), normal, now + 10s).what, kind::wait);
  p.incident_closed("INC-000002", now + 20s);
  EXPECT_TRUE(p.snapshot(now + 20s).incidents.size() == 1);  // only INC-000001 remains
  EXPECT_EQ(p.snapshot(now + 20s).incidents[0].id, "INC-000001");
}

// A runbook never runs twice at once: another incident waits (no time) until it finishes;
// a different runbook is not blocked.
TEST(remediation_policy, busy_runbook_makes_others_wait) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 0s), runbook("rollback")}));
  auto a = inc("INC-000001", "restart_api", "api", "eu");
  auto b = inc("INC-000002", "restart_api", "api", "us");
  auto c = inc("INC-000003", "rollback", "model", "resnet");
  auto now = t0;
  ASSERT_EQ(p.decide(a, normal, now).what, kind::run);
  ASSERT_TRUE(p.started(a, now));

  auto d = p.decide(b, normal, now + 1s);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_FALSE(d.not_before);
  EXPECT_NE(d.reason.find("INC-000001"), std::string::npos) << d.reason;
  EXPECT_FALSE(p.started(b, now + 1s));  // refused, nothing recorded
  // The same incident deciding again while its attempt runs also waits.
  EXPECT_EQ(p.decide(a, normal, now + 1s).what, kind::wait);
  EXPECT_EQ(p.decide(c, normal, now + 1s).what, kind::run);

  EXPECT_TRUE(p.finished("INC-000001", false, now + 10s));
  EXPECT_EQ(p.decide(b, normal, now + 10s).what, kind::run);
}

// An incident that resolves mid-run still holds the runbook until its run finishes.
TEST(remediation_policy, closed_incident_holds_runbook_until_finished) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 0s)}));
  auto now = t0;
  ASSERT_TRUE(p.started(inc("INC-000001"), now));
  p.incident_closed("INC-000001", now + 1s);
  EXPECT_EQ(p.decide(inc("INC-000002"), normal, now + 2s).what, kind::wait);
  EXPECT_TRUE(p.finished("INC-000001", true, now + 3s));
  EXPECT_FALSE(p.finished("INC-000001", true, now + 3s));  // once
  EXPECT_EQ(p.decide(inc("INC-000002"), normal, now + 3s).what, kind::run);
}

// A service flapping every minute for 10 minutes is restarted once, not 10 times: each new
// incident waits out the cooldown after the previous run (and resolves on its own meanwhile).
TEST(remediation_policy, cooldown_stops_a_restart_storm) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 10min)}));
  int runs = 0;
  time_point first_end{};
  for (int k = 0; k < 10; ++k) {
    auto opened = t0 + k * 1min;
    auto i = inc("INC-" + std::to_string(k));
    auto now = opened;
    // The engine decides at the opening and at every wake-up while the incident is open.
    while (now < opened + 30s) {
      auto d = p.decide(i, normal, now);
      if (d.what == kind::run) {
        ASSERT_TRUE(p.started(i, now));
        ++runs;
        now += 5s;
        p.finished(i.id, true, now);
        first_end = now;
      } else if (d.what == kind::wait && d.not_before) {
        if (k > 0) {
          EXPECT_EQ(*d.not_before, first_end + 10min) << d.reason;
          EXPECT_NE(d.reason.find("cooldown"), std::string::npos) << d.reason;
        }
        now = std::min(*d.not_before, opened + 30s);
      } else {
        break;
      }
    }
    p.incident_closed(i.id, opened + 30s);  // the flap recovers
  }
  EXPECT_EQ(runs, 1);
  // Once the cooldown has passed, the next incident is remediated again.
  EXPECT_EQ(p.decide(inc("INC-10"), normal, first_end + 10min).what, kind::run);
}

// Per-runbook rate limit: the run that would exceed N per rolling hour waits until the oldest
// start is an hour old, exactly.
TEST(remediation_policy, runbook_rate_limit_exact_not_before) {
  policy_limits limits;
  limits.runbook_runs_per_hour = 3;
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 0s)}), limits);
  for (int k = 0; k < 3; ++k) {
    auto now = t0 + k * 1min;
    run_once(p, inc("INC-" + std::to_string(k)), now, true);
    p.incident_closed("INC-" + std::to_string(k), now);
  }
  auto d = p.decide(inc("INC-3"), normal, t0 + 3min);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, t0 + 1h);
  EXPECT_NE(d.reason.find("rate limit"), std::string::npos) << d.reason;
  EXPECT_EQ(p.decide(inc("INC-3"), normal, t0 + 1h - 1ms).what, kind::wait);
  auto now = t0 + 1h;
  run_once(p, inc("INC-3"), now, true);
  p.incident_closed("INC-3", now);
  // Now starts at +1m, +2m, +60m are in the window: the next fits at +1m + 1h.
  d = p.decide(inc("INC-4"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, t0 + 1min + 1h);
  EXPECT_EQ(p.snapshot(now).runbooks.at(0).runs_last_hour, 3);
}

// Global rate limit across runbooks, with its own reason; the latest constraint wins.
TEST(remediation_policy, global_rate_limit_exact_not_before) {
  policy_limits limits;
  limits.runbook_runs_per_hour = 10;
  limits.global_runs_per_hour = 4;
  remediation_policy p(
      runbooks({runbook("a", 3, 30s, 10min, 0s), runbook("b", 3, 30s, 10min, 0s)}), limits);
  for (int k = 0; k < 4; ++k) {
    auto now = t0 + k * 1min;
    auto i = inc("INC-" + std::to_string(k), k % 2 ? "a" : "b", "c" + std::to_string(k));
    run_once(p, i, now, true);
    p.incident_closed(i.id, now);
  }
  auto d = p.decide(inc("INC-4", "a", "c4"), normal, t0 + 5min);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, t0 + 1h);
  EXPECT_NE(d.reason.find("global rate limit"), std::string::npos) << d.reason;
  EXPECT_EQ(p.snapshot(t0 + 5min).global_runs_last_hour, 4);

  // With a cooldown that ends later than the rate window, the cooldown is reported.
  remediation_policy q(runbooks({runbook("a", 3, 30s, 10min, 2h)}), limits);
  auto now = t0;
  run_once(q, inc("INC-1", "a"), now, true);
  q.incident_closed("INC-1", now);
  d = q.decide(inc("INC-2", "a"), normal, now);
  EXPECT_EQ(d.not_before, now + 2h);
  EXPECT_NE(d.reason.find("cooldown"), std::string::npos) << d.reason;
}

// A suppressed incident runs nothing and uses no attempt; once unsuppressed it runs.
TEST(remediation_policy, suppressed_incident_is_skipped) {
  remediation_policy p(runbooks({runbook("restart_api")}));
  auto d = p.decide(inc("INC-000001"), {std::string("postgres"), false, false}, t0);
  EXPECT_EQ(d.what, kind::skip);
  EXPECT_EQ(d.reason, "suppressed by postgres");
  EXPECT_FALSE(p.next_wakeup());
  EXPECT_EQ(p.snapshot(t0).incidents.at(0).attempts, 0);
  d = p.decide(inc("INC-000001"), normal, t0 + 1min);
  EXPECT_EQ(d.what, kind::run);
  EXPECT_EQ(d.attempt, 1);
}

// An escalated incident is skipped until an operator acts; then it gets fresh attempts with
// no backoff. An incident restored already escalated is skipped the same way.
TEST(remediation_policy, escalated_skips_until_operator_reset) {
  remediation_policy p(runbooks({runbook("restart_api", 2, 30s, 10min, 0s)}));
  auto now = t0;
  auto r = drive(p, inc("INC-000001"), now, t0 + 1h, false);
  ASSERT_EQ(r.runs, 2);
  const incident_conditions escalated{std::nullopt, true, false};
  EXPECT_EQ(p.decide(inc("INC-000001"), escalated, now).what, kind::skip);
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, now).what, kind::skip);  // gave up: still skip

  p.operator_reset("INC-000001");
  auto d = p.decide(inc("INC-000001"), escalated, now);  // the tracker may still say escalated
  EXPECT_EQ(d.what, kind::run);
  EXPECT_EQ(d.attempt, 1);
  now += 1min;
  r = drive(p, inc("INC-000001"), now, now + 1h, false);
  EXPECT_EQ(r.runs, 2);
  EXPECT_EQ(r.give_ups, 1);

  // Restored from the journal as escalated: the policy never saw it, and still skips it.
  d = p.decide(inc("INC-000007", "restart_api", "api", "eu"), escalated, now);
  EXPECT_EQ(d.what, kind::skip);
  EXPECT_NE(d.reason.find("escalated"), std::string::npos);
  p.operator_reset("INC-000007");
  EXPECT_EQ(p.decide(inc("INC-000007", "restart_api", "api", "eu"), escalated, now).what,
            kind::run);
}

// Maintenance pauses remediation: skip with reason, nothing counted; afterwards it runs.
TEST(remediation_policy, maintenance_skips_without_counting) {
  remediation_policy p(runbooks({runbook("restart_api")}));
  const incident_conditions maintenance{std::nullopt, false, true};
  for (int k = 0; k < 10; ++k) {
    auto d = p.decide(inc("INC-000001"), maintenance, t0 + k * 1min);
    EXPECT_EQ(d.what, kind::skip);
    EXPECT_EQ(d.reason, "maintenance: remediation paused");
    EXPECT_EQ(d.attempt, 0);
  }
  EXPECT_FALSE(p.next_wakeup());
  auto d = p.decide(inc("INC-000001"), normal, t0 + 10min);
  EXPECT_EQ(d.what, kind::run);
  EXPECT_EQ(d.attempt, 1);
}

// Two episodes in a row that gave up hold the target's next incident (give_up before any
// run); the hold lifts by healthy time alone, not on the next failure.
TEST(remediation_policy, give_up_hold_resets_after_healthy_time_alone) {
  remediation_policy p(runbooks({runbook("restart_api", 2, 30s, 10min, 10min)}));
  auto now = t0;
  for (int episode = 1; episode <= 2; ++episode) {
    auto id = "INC-" + std::to_string(episode);
    p.target_unhealthy("api", "", now);
    auto r = drive(p, inc(id), now, now + 1h, false);
    ASSERT_EQ(r.runs, 2);
    ASSERT_EQ(r.give_ups, 1);
    p.incident_closed(id, now);  // resolved on its own (or by hand) after giving up
    p.target_healthy("api", "", now);
    now += 20min;
    p.target_unhealthy("api", "", now);
  }
  auto d = p.decide(inc("INC-3"), normal, now);
  EXPECT_EQ(d.what, kind::give_up);
  EXPECT_EQ(d.attempt, 0);
  EXPECT_NE(d.reason.find("held"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("1h"), std::string::npos) << d.reason;  // max(cooldown 10m, 1h)
  p.incident_closed("INC-3", now);

  // Healthy for 59 minutes is not enough; reported once, the clock alone does the rest.
  auto healthy_from = now + 1min;
  p.target_healthy("api", "", healthy_from);
  auto view = [&](time_point at) { return p.snapshot(at).targets.at(0); };
  EXPECT_EQ(view(healthy_from + 59min).consecutive_give_ups, 2);
  EXPECT_TRUE(view(healthy_from + 59min).held);
  EXPECT_EQ(view(healthy_from + 1h).consecutive_give_ups, 0);
  EXPECT_FALSE(view(healthy_from + 1h).held);

  // The next failure, hours later, finds the hold gone and runs.
  p.target_unhealthy("api", "", healthy_from + 3h);
  d = p.decide(inc("INC-4"), normal, healthy_from + 3h);
  EXPECT_EQ(d.what, kind::run) << d.reason;
}

// A healthy stretch shorter than reset_after does not lift the hold; one that resolves by a
// run does; so does an operator.
TEST(remediation_policy, hold_survives_short_health_and_clears_on_success_or_operator) {
  remediation_policy p(runbooks({runbook("restart_api", 1, 30s, 10min, 0s)}));
  auto now = t0;
  for (int episode = 1; episode <= 2; ++episode) {
    auto id = "INC-" + std::to_string(episode);
    run_once(p, inc(id), now, false);
    ASSERT_EQ(p.decide(inc(id), normal, now).what, kind::give_up);
    p.incident_closed(id, now);
    p.target_healthy("api", "", now);
    now += 30min;  // healthy, but not for an hour
    p.target_unhealthy("api", "", now);
  }
  EXPECT_EQ(p.decide(inc("INC-3"), normal, now).what, kind::give_up);  // held
  p.operator_reset("INC-3");
  EXPECT_EQ(p.decide(inc("INC-3"), normal, now).what, kind::run);
  run_once(p, inc("INC-3"), now, true);
  p.incident_closed("INC-3", now);  // resolved after a run: the streak of give-ups is broken
  EXPECT_TRUE(p.snapshot(now).targets.empty());

  // Other targets of the same runbook were never held.
  EXPECT_EQ(p.decide(inc("INC-9", "restart_api", "api", "other"), normal, now + 1s).what,
            kind::run);
}

// A reload keeps attempts, clocks and windows; the new limits apply to what comes next.
TEST(remediation_policy, reconfigure_keeps_counters) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 10min)}));
  auto now = t0;
  run_once(p, inc("INC-1"), now, false);
  run_once(p, inc("INC-2", "restart_api", "api", "eu"), now += 1h, false);

  p.reconfigure(runbooks({runbook("restart_api", 3, 2min, 10min, 10min)}));
  auto d = p.decide(inc("INC-2", "restart_api", "api", "eu"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.attempt, 2);  // the attempt count survived
  EXPECT_EQ(d.not_before, now + 2min);  // the new backoff from the kept end time

  // A lowered max_attempts: INC-1 already used its single attempt and (failed) gives up.
  p.reconfigure(runbooks({runbook("restart_api", 1, 30s, 10min, 10min)}));
  EXPECT_EQ(p.decide(inc("INC-1"), normal, now).what, kind::give_up);
  // The cooldown clock survived too: a new incident waits for INC-2's run end + 10 min.
  d = p.decide(inc("INC-3", "restart_api", "api", "us"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, now + 10min);

  // A removed runbook: skip, and nothing breaks.
  p.reconfigure({});
  d = p.decide(inc("INC-2", "restart_api", "api", "eu"), normal, now + 1h);
  EXPECT_EQ(d.what, kind::skip);
  EXPECT_NE(d.reason.find("not configured"), std::string::npos);
}

// next_wakeup is the earliest timed wait; busy waits, runs and closed incidents are not in it.
TEST(remediation_policy, next_wakeup_is_earliest_timed_wait) {
  remediation_policy p(
      runbooks({runbook("a", 3, 30s, 10min, 0s), runbook("b", 3, 5min, 10min, 0s)}));
  EXPECT_FALSE(p.next_wakeup());
  auto now = t0;
  run_once(p, inc("INC-1", "a"), now, false);  // ends at t0 + 5 s, backoff 30 s
  auto now_b = t0;
  run_once(p, inc("INC-2", "b", "other"), now_b, false);  // ends at t0 + 5 s, backoff 5 min
  p.decide(inc("INC-1", "a"), normal, now);
  p.decide(inc("INC-2", "b", "other"), normal, now);
  EXPECT_EQ(p.next_wakeup(), t0 + 35s);

  // INC-1 runs at its time: its wait is gone; INC-2's remains.
  ASSERT_EQ(p.decide(inc("INC-1", "a"), normal, t0 + 35s).what, kind::run);
  ASSERT_TRUE(p.started(inc("INC-1", "a"), t0 + 35s));
  EXPECT_EQ(p.next_wakeup(), t0 + 5s + 5min);
  // A third incident waiting on the busy runbook adds no timed wake-up.
  EXPECT_FALSE(p.decide(inc("INC-3", "a", "x"), normal, t0 + 36s).not_before);
  EXPECT_EQ(p.next_wakeup(), t0 + 5s + 5min);
  p.incident_closed("INC-2", t0 + 40s);
  EXPECT_FALSE(p.next_wakeup());
}

// The snapshot shows attempts per incident and the last run per runbook.
TEST(remediation_policy, snapshot_reports_state) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 10min)}));
  auto now = t0;
  run_once(p, inc("INC-1"), now, false);
  ASSERT_TRUE(p.started(inc("INC-1"), now + 1min));
  auto s = p.snapshot(now + 1min);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].attempts, 2);
  EXPECT_TRUE(s.incidents[0].running);
  EXPECT_EQ(s.incidents[0].last_attempt_succeeded, false);
  ASSERT_EQ(s.runbooks.size(), 1u);
  EXPECT_EQ(s.runbooks[0].running_incident, "INC-1");
  EXPECT_EQ(s.runbooks[0].last_run_end, t0 + 5s);
  EXPECT_EQ(s.runbooks[0].cooldown_until, t0 + 5s + 10min);
  EXPECT_EQ(s.runbooks[0].runs_last_hour, 2);
  EXPECT_EQ(s.global_runs_last_hour, 2);
  // Starts at t0 and t0 + 1 min 5 s: each counts for exactly one hour.
  EXPECT_EQ(p.snapshot(t0 + 1h).global_runs_last_hour, 1);
  EXPECT_EQ(p.snapshot(t0 + 1h + 1min + 5s - 1ms).global_runs_last_hour, 1);
  EXPECT_EQ(p.snapshot(t0 + 1h + 1min + 5s).global_runs_last_hour, 0);
}

// Replaying a journal through started()/finished() with recorded times restores the cadence:
// a run cut off by a crash counts as a failed attempt.
TEST(remediation_policy, journal_replay_restores_attempts_and_backoff) {
  remediation_policy p(runbooks({runbook("restart_api", 3, 30s, 10min, 10min)}));
  ASSERT_TRUE(p.started(inc("INC-1"), t0));
  ASSERT_TRUE(p.finished("INC-1", false, t0 + 5s));
  ASSERT_TRUE(p.started(inc("INC-1"), t0 + 35s));
  // The daemon died here; at restart (t0 + 50s) the cut-off attempt is finished as failed.
  ASSERT_TRUE(p.finished("INC-1", false, t0 + 50s));
  auto d = p.decide(inc("INC-1"), normal, t0 + 50s);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.attempt, 3);
  EXPECT_EQ(d.not_before, t0 + 50s + 60s);
}

// Durations large enough to overflow a time_point saturate instead of wrapping.
TEST(remediation_policy, huge_durations_saturate) {
  auto huge = std::chrono::milliseconds::max();
  remediation_policy p(runbooks({runbook("restart_api", 3, huge, huge, huge)}));
  auto now = t0;
  run_once(p, inc("INC-1"), now, false);
  auto d = p.decide(inc("INC-1"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_EQ(d.not_before, time_point::max());
  d = p.decide(inc("INC-2", "restart_api", "api", "eu"), normal, now);
  EXPECT_EQ(d.not_before, time_point::max());
}

// ---- durable state (journaled by the engine, restored after a restart) --------------------

// A policy restored from save() keeps the cooldown, the rolling-hour caps and the attempt
// count of an open incident: a flapping target under daemon restarts is not run more often
// than without them.
TEST(policy_state, cooldown_caps_and_attempts_survive_restore) {
  policy_limits limits;
  limits.runbook_runs_per_hour = 3;
  limits.global_runs_per_hour = 20;
  const auto rbs = runbooks({runbook("restart_api", 2, 30s, 10min, 10min)});
  remediation_policy before(rbs, limits);
  auto now = t0;
  run_once(before, inc("INC-000001"), now, true);
  before.incident_closed("INC-000001", now);  // the episode ended
  now += 1min;
  auto state = before.save();

  remediation_policy after(rbs, limits);
  ASSERT_TRUE(after.restore(state));
  // A new incident of the same runbook waits out the cooldown of the last run, as before.
  auto d1 = before.decide(inc("INC-000003"), normal, now);
  auto d2 = after.decide(inc("INC-000003"), normal, now);
  EXPECT_EQ(d1.what, kind::wait);
  EXPECT_EQ(d2.what, d1.what);
  EXPECT_EQ(d2.not_before, d1.not_before);
  EXPECT_EQ(d2.reason, d1.reason);
  EXPECT_EQ(after.snapshot(now).runbooks.at(0).runs_last_hour, before.snapshot(now).runbooks.at(0).runs_last_hour);
  EXPECT_EQ(after.save()["runbooks"], state["runbooks"]);
}

// The hourly cap is counted across a restart: 3 starts before, none more within the hour.
TEST(policy_state, hourly_cap_survives_restore) {
  policy_limits limits;
  limits.runbook_runs_per_hour = 3;
  const auto rbs = runbooks({runbook("restart_api", 1, 1s, 1s, 0s)});
  remediation_policy p(rbs, limits);
  auto now = t0;
  for (int k = 1; k <= 3; ++k) {
    auto id = "INC-00000" + std::to_string(k);
    run_once(p, inc(id), now, true);
    p.incident_closed(id, now);
    now += 1min;
  }
  remediation_policy q(rbs, limits);
  ASSERT_TRUE(q.restore(p.save()));
  auto d = q.decide(inc("INC-000009"), normal, now);
  EXPECT_EQ(d.what, kind::wait);
  EXPECT_NE(d.reason.find("rate limit"), std::string::npos) << d.reason;
  ASSERT_TRUE(d.not_before.has_value());
  EXPECT_EQ(*d.not_before, t0 + 1h);
}

// The hold (give-ups in a row) survives a restore: the next incident of that target is held.
TEST(policy_state, hold_survives_restore) {
  policy_limits limits;
  limits.give_ups_before_hold = 1;
  const auto rbs = runbooks({runbook("restart_api", 1, 1s, 1s, 0s)});
  remediation_policy p(rbs, limits);
  auto now = t0;
  run_once(p, inc("INC-000001"), now, false);
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, now).what, kind::give_up);
  p.incident_closed("INC-000001", now);
  remediation_policy q(rbs, limits);
  ASSERT_TRUE(q.restore(p.save()));
  auto d = q.decide(inc("INC-000002"), normal, now + 1min);
  EXPECT_EQ(d.what, kind::give_up);
  EXPECT_NE(d.reason.find("held"), std::string::npos) << d.reason;
}

// A run in progress when the state was saved is restored as running: the runbook stays busy
// (no second run at once) until the engine finishes it as failed; the attempt counts.
TEST(policy_state, run_in_progress_restored_as_running) {
  const auto rbs = runbooks({runbook("restart_api", 3, 30s, 10min, 0s)});
  remediation_policy p(rbs);
  auto now = t0;
  ASSERT_EQ(p.decide(inc("INC-000001"), normal, now).what, kind::run);
  ASSERT_TRUE(p.started(inc("INC-000001"), now));
  remediation_policy q(rbs);
  ASSERT_TRUE(q.restore(p.save()));
  ASSERT_EQ(q.running().size(), 1u);
  EXPECT_EQ(q.running()[0].id, "INC-000001");
  EXPECT_EQ(q.decide(inc("INC-000002", "restart_api", "api2"), normal, now).what, kind::wait);
  EXPECT_EQ(q.decide(inc("INC-000001"), normal, now).what, kind::wait);
  EXPECT_TRUE(q.finished("INC-000001", false, now + 1s));
  auto d = q.decide(inc("INC-000001"), normal, now + 1s);
  EXPECT_EQ(d.what, kind::wait);  // backoff after attempt 1
  EXPECT_EQ(d.attempt, 2);
}

// Something that is not a saved state changes nothing.
TEST(policy_state, garbage_is_refused) {
  remediation_policy p(runbooks({runbook("restart_api")}));
  EXPECT_FALSE(p.restore(nlohmann::json::array()));
  EXPECT_FALSE(p.restore({{"runbooks", 3}}));
  EXPECT_TRUE(p.restore({{"runbooks", nlohmann::json::object()}, {"global_starts", "x"}, {"holds", 5}}));
  EXPECT_EQ(p.decide(inc("INC-000001"), normal, t0).what, kind::run);
}
