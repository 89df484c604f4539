// The incident state machine, driven through simulated time (no clock, no sleeping).
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/incident.hpp"
#include "tracker_sim.hpp"

using namespace std::chrono_literals;
using acis::checks::check_result;
using acis::checks::health;
using acis::daemon::check_policy;
using acis::daemon::incident;
using acis::daemon::incident_event;
using acis::daemon::incident_state;
using acis::daemon::incident_tracker;
using acis::daemon::event_kind;
using acis::daemon::timeline_entry;
using acis::daemon::severity;
using acis::daemon::time_point;

using namespace tracker_sim;

// fall 3: two failures open nothing, the third opens a high incident INC-000001.
TEST(incident_tracker, fall_three_opens_on_third_failure) {
  sim s({policy("api", 3, 1)});
  EXPECT_TRUE(s.fail("api").events.empty());
  EXPECT_TRUE(s.fail("api").events.empty());
  EXPECT_TRUE(s.tracker.open_incidents().empty());
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.id, "INC-000001");
  EXPECT_EQ(inc.check, "api");
  EXPECT_EQ(inc.state, incident_state::open);
  EXPECT_EQ(inc.level, severity::high);
  EXPECT_EQ(inc.opened_at, s.now);
  ASSERT_EQ(inc.timeline.size(), 1u);
  EXPECT_EQ(inc.timeline[0].kind, event_kind::incident_opened);
  ASSERT_NE(s.tracker.find("INC-000001"), nullptr);
  // Further failures open nothing new.
  EXPECT_TRUE(s.fail("api").events.empty());
  EXPECT_EQ(s.tracker.open_incidents().size(), 1u);
}

// rise 2: one pass resolves nothing, a failure resets the count, two passes in a row resolve.
TEST(incident_tracker, rise_two_resolves_on_second_pass_in_a_row) {
  sim s({policy("api", 1, 2)});
  auto opened = s.fail("api");
  ASSERT_EQ(kinds(opened.events), std::vector<std::string>{"incident_opened"});
  const std::string id = opened.events[0].snapshot.id;
  EXPECT_TRUE(s.pass("api").events.empty());
  EXPECT_TRUE(s.fail("api").events.empty());
  EXPECT_TRUE(s.pass("api").events.empty());
  auto out = s.pass("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.id, id);
  EXPECT_EQ(inc.state, incident_state::resolved);
  EXPECT_FALSE(inc.is_open());
  ASSERT_TRUE(inc.resolved_at);
  EXPECT_EQ(*inc.resolved_at, s.now);
  EXPECT_EQ(inc.timeline.back().kind, event_kind::incident_resolved);
  EXPECT_EQ(s.tracker.find(id), nullptr);
  EXPECT_TRUE(s.tracker.open_incidents().empty());
}

// 1-0-1-0 flapping opens with fall 2 within a window of 4, never with a window of 2.
TEST(incident_tracker, flapping_caught_by_window_four_not_two) {
  sim wide({policy("api", 2, 1, 4)});
  EXPECT_TRUE(wide.fail("api").events.empty());
  EXPECT_TRUE(wide.pass("api").events.empty());
  auto out = wide.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  // The SLA clock starts at the first bad result of the window, not the opening one.
  EXPECT_EQ(out.events[0].snapshot.first_failure, wide.now - 20s);

  sim narrow({policy("api", 2, 1, 2)});
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(narrow.fail("api").events.empty());
    EXPECT_TRUE(narrow.pass("api").events.empty());
  }
  EXPECT_TRUE(narrow.tracker.open_incidents().empty());
}

// A resolved incident's window is used up: a new one needs `fall` new bad results.
TEST(incident_tracker, resolution_starts_a_fresh_window) {
  sim s({policy("api", 2, 1, 4)});
  s.fail("api");
  ASSERT_EQ(s.fail("api").events.size(), 1u);
  ASSERT_EQ(kinds(s.pass("api").events), std::vector<std::string>{"incident_resolved"});
  EXPECT_TRUE(s.fail("api").events.empty());
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(out.events[0].snapshot.id, "INC-000002");
}

// Without a degraded_level, degraded results are passes: nothing opens, no check_failed.
TEST(incident_tracker, degraded_ignored_without_degraded_level) {
  sim s({policy("api", 2, 1)});
  for (int i = 0; i < 10; ++i) {
    auto out = s.degrade("api");
    EXPECT_TRUE(out.events.empty());
    EXPECT_EQ(check_event(out), "");
  }
  EXPECT_TRUE(s.tracker.open_incidents().empty());
  ASSERT_EQ(s.tracker.targets().size(), 1u);
  EXPECT_TRUE(s.tracker.targets()[0]->ever_passed);
}

// Degraded opens at degraded_level with that level's response time; a failing result then
// raises it to the check's level in place, with a shorter deadline from the same clock start.
TEST(incident_tracker, degraded_opens_low_then_failing_raises_level) {
  auto p = policy("api", 2, 1);
  p.level = severity::critical;
  p.degraded_level = severity::low;
  sim s({p});
  auto first = s.degrade("api");
  EXPECT_EQ(check_event(first), "check_failed");
  const time_point first_bad = s.now;
  auto out = s.degrade("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(out.events[0].snapshot.level, severity::low);
  EXPECT_EQ(out.events[0].snapshot.sla_deadline, first_bad + 4h);

  out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_severity_changed"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.id, "INC-000001");
  EXPECT_EQ(inc.level, severity::critical);
  EXPECT_EQ(inc.first_failure, first_bad);
  EXPECT_EQ(inc.sla_deadline, first_bad + 5min);
  EXPECT_EQ(inc.timeline.back().kind, event_kind::incident_severity_changed);
  EXPECT_EQ(s.tracker.next_deadline(), first_bad + 5min);
  // Already at the check's level: no further change events.
  EXPECT_TRUE(s.fail("api").events.empty());
  EXPECT_TRUE(s.degrade("api").events.empty());
}

// A window mixing degraded and failing results opens at the check's level at once.
TEST(incident_tracker, degraded_then_failing_opens_at_check_level) {
  auto p = policy("api", 2, 1);
  p.degraded_level = severity::low;
  sim s({p});
  s.degrade("api");
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(out.events[0].snapshot.level, severity::high);
}

// Failures within start_grace of the start are not counted; after it they are.
TEST(incident_tracker, start_grace_ignores_early_failures_of_a_never_passed_target) {
  auto p = policy("api", 2, 1);
  p.start_grace = 60s;
  sim s({p});
  for (int i = 0; i < 5; ++i) {  // t0+10s .. t0+50s
    auto out = s.fail("api");
    EXPECT_TRUE(out.events.empty());
    EXPECT_FALSE(s.tracker.transition_pending("api"));
  }
  EXPECT_TRUE(s.fail("api").events.empty());  // t0+60s: the first counted failure
  EXPECT_TRUE(s.tracker.transition_pending("api"));
  auto out = s.fail("api");  // t0+70s
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(out.events[0].snapshot.first_failure, t0 + 60s);
}

// A target that passed once has no grace left, even well inside start_grace.
TEST(incident_tracker, start_grace_ends_with_the_first_pass) {
  auto p = policy("api", 2, 1);
  p.start_grace = 10min;
  sim s({p});
  s.pass("api");
  EXPECT_TRUE(s.fail("api").events.empty());
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_LT(s.now, t0 + 1min);
}

// sla_breached fires exactly at first_failure + response time, not a millisecond before,
// once only; next_deadline points at it and is empty afterwards.
TEST(incident_tracker, sla_breach_exactly_at_deadline_once) {
  sim s({policy("api", 2, 1)});
  s.fail("api");
  const time_point first_bad = s.now;
  auto out = s.fail("api");
  ASSERT_EQ(out.events.size(), 1u);
  const time_point deadline = first_bad + 15min;
  EXPECT_EQ(out.events[0].snapshot.sla_deadline, deadline);
  EXPECT_EQ(s.tracker.next_deadline(), deadline);
  EXPECT_TRUE(s.tracker.tick(deadline - 1ms).empty());
  auto breached = s.tracker.tick(deadline);
  ASSERT_EQ(kinds(breached), std::vector<std::string>{"sla_breached"});
  EXPECT_TRUE(breached[0].snapshot.sla_breached);
  EXPECT_EQ(breached[0].snapshot.timeline.back().kind, event_kind::sla_breached);
  EXPECT_TRUE(s.tracker.find(breached[0].snapshot.id)->sla_breached);
  EXPECT_TRUE(s.tracker.tick(deadline).empty());
  EXPECT_TRUE(s.tracker.tick(deadline + 10h).empty());
  EXPECT_EQ(s.tracker.next_deadline(), std::nullopt);
}

// The SLA clock starts at the first failure of the streak that opened the incident: not the
// opening result, not an earlier failure that a pass interrupted.
TEST(incident_tracker, sla_clock_starts_at_first_failure_of_streak) {
  auto p = policy("db", 3, 1);
  p.level = severity::critical;
  sim s({p});
  s.fail("db");
  s.pass("db");
  s.fail("db");
  const time_point streak_start = s.now;
  s.fail("db");
  auto out = s.fail("db");
  ASSERT_EQ(out.events.size(), 1u);
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.first_failure, streak_start);
  EXPECT_EQ(inc.opened_at, streak_start + 20s);
  EXPECT_EQ(inc.sla_deadline, streak_start + 5min);
}

// Two incidents: next_deadline is the earlier one, then the other once it fired.
TEST(incident_tracker, next_deadline_is_the_earliest_pending) {
  auto db = policy("db", 1, 1);
  db.level = severity::critical;
  sim s({policy("api", 1, 1), db});
  s.fail("api");
  const time_point api_deadline = s.now + 15min;
  s.fail("db");
  const time_point db_deadline = s.now + 5min;
  EXPECT_EQ(s.tracker.next_deadline(), db_deadline);
  ASSERT_EQ(s.tracker.tick(db_deadline).size(), 1u);
  EXPECT_EQ(s.tracker.next_deadline(), api_deadline);
}

// An acknowledgement before the deadline meets the SLA: no breach later; a second ack and an
// unknown id are refused.
TEST(incident_tracker, ack_before_deadline_prevents_breach) {
  sim s({policy("api", 1, 1)});
  auto opened = s.fail("api");
  const auto id = opened.events[0].snapshot.id;
  const time_point deadline = opened.events[0].snapshot.sla_deadline;
  auto ack = s.tracker.acknowledge(id, "looking into it", deadline - 1s);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->kind, event_kind::incident_acknowledged);
  EXPECT_EQ(ack->snapshot.state, incident_state::acknowledged);
  EXPECT_EQ(ack->snapshot.acknowledged_at, deadline - 1s);
  EXPECT_EQ(ack->snapshot.ack_comment, "looking into it");
  EXPECT_FALSE(ack->snapshot.sla_breached);
  EXPECT_EQ(s.tracker.next_deadline(), std::nullopt);
  EXPECT_TRUE(s.tracker.tick(deadline + 1h).empty());
  EXPECT_FALSE(s.tracker.acknowledge(id, "again", deadline + 1h));
  EXPECT_FALSE(s.tracker.acknowledge("INC-999999", "", deadline));
  // Acknowledged incidents still resolve on their rise.
  EXPECT_EQ(kinds(s.pass("api").events), std::vector<std::string>{"incident_resolved"});
}

// Escalation keeps the SLA clock running; only an open incident can be escalated.
TEST(incident_tracker, escalated_incident_still_breaches) {
  sim s({policy("api", 1, 1)});
  auto opened = s.fail("api");
  const auto& inc = opened.events[0].snapshot;
  auto esc = s.tracker.escalate(inc.id, "runbook failed 3 times", s.now);
  ASSERT_TRUE(esc);
  EXPECT_EQ(esc->kind, event_kind::incident_escalated);
  EXPECT_EQ(esc->snapshot.state, incident_state::escalated);
  EXPECT_FALSE(s.tracker.escalate(inc.id, "again", s.now));
  EXPECT_EQ(s.tracker.next_deadline(), inc.sla_deadline);
  EXPECT_EQ(kinds(s.tracker.tick(inc.sla_deadline)), std::vector<std::string>{"sla_breached"});
  auto note = s.tracker.annotate(
      inc.id, {.kind = event_kind::step_finished, .reason = "restart api: exit 0"}, s.now);
  ASSERT_TRUE(note);
  EXPECT_EQ(note->kind, event_kind::step_finished);
  EXPECT_EQ(note->snapshot.timeline.back().reason, "restart api: exit 0");
  EXPECT_EQ(note->snapshot.timeline.back().at, s.now);
  EXPECT_FALSE(s.tracker.annotate("INC-000042", {.kind = event_kind::step_finished}, s.now));
}

// A dependent check's incident opens suppressed, naming the failing dependency; it does not
// breach its SLA while suppressed and is not in next_deadline.
TEST(incident_tracker, dependent_opens_suppressed_naming_root) {
  auto db = policy("database", 1, 1);
  db.level = severity::critical;
  auto api = policy("api", 2, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  auto db_open = s.fail("database");
  ASSERT_EQ(db_open.events.size(), 1u);
  s.fail("api");
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.state, incident_state::suppressed);
  EXPECT_EQ(inc.suppressed_by, "database");
  EXPECT_EQ(inc.timeline[0].root_cause, "database");
  EXPECT_NE(acis::daemon::describe(inc.timeline[0]).find("database"), std::string::npos);
  EXPECT_EQ(s.tracker.next_deadline(), db_open.events[0].snapshot.sla_deadline);
  auto breaches = s.tracker.tick(inc.sla_deadline + 1h);
  ASSERT_EQ(breaches.size(), 1u);  // the database's, not the suppressed api's
  EXPECT_EQ(breaches[0].snapshot.check, "database");
  EXPECT_FALSE(s.tracker.find(inc.id)->sla_breached);
}

// A dependency whose latest result fails suppresses before it has an incident of its own.
TEST(incident_tracker, failing_dependency_without_incident_suppresses) {
  auto db = policy("database", 3, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  auto out = s.fail("api");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].snapshot.state, incident_state::suppressed);
  EXPECT_EQ(out.events[0].snapshot.suppressed_by, "database");
}

// The root cause is the deepest failing dependency, also through a dependency that passes.
TEST(incident_tracker, transitive_root_cause) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  auto fe = policy("frontend", 1, 1);
  fe.depends_on = {"api"};
  {
    sim s({db, api, fe});
    s.fail("database");
    EXPECT_EQ(s.fail("api").events.at(0).snapshot.suppressed_by, "database");
    EXPECT_EQ(s.fail("frontend").events.at(0).snapshot.suppressed_by, "database");
  }
  {
    sim s({db, api, fe});
    s.pass("api");
    s.fail("database");
    auto out = s.fail("frontend");
    EXPECT_EQ(out.events.at(0).snapshot.state, incident_state::suppressed);
    EXPECT_EQ(out.events.at(0).snapshot.suppressed_by, "database");
  }
}

// A dependency that opens later suppresses an already open dependent, with an event.
TEST(incident_tracker, late_suppression_of_open_dependent) {
  auto db = policy("database", 2, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  auto api_open = s.fail("api");
  ASSERT_EQ(api_open.events.at(0).snapshot.state, incident_state::open);
  const auto api_id = api_open.events[0].snapshot.id;
  // The database's first failure names it as a root for new incidents only.
  EXPECT_TRUE(s.fail("database").events.empty());
  EXPECT_EQ(s.tracker.find(api_id)->state, incident_state::open);
  auto out = s.fail("database");
  ASSERT_EQ(kinds(out.events),
            (std::vector<std::string>{"incident_opened", "incident_suppressed"}));
  EXPECT_EQ(out.events[0].snapshot.check, "database");
  const auto& sup = out.events[1].snapshot;
  EXPECT_EQ(sup.id, api_id);
  EXPECT_EQ(sup.state, incident_state::suppressed);
  EXPECT_EQ(sup.suppressed_by, "database");
  EXPECT_EQ(sup.timeline.back().kind, event_kind::incident_suppressed);
  EXPECT_EQ(s.tracker.next_deadline(), out.events[0].snapshot.sla_deadline);
}

// Suppression never blocks resolution: the dependent resolves on its own rise while the
// root is still down.
TEST(incident_tracker, suppressed_dependent_resolves_on_own_rise) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 2);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  auto opened = s.fail("api");
  ASSERT_EQ(opened.events.at(0).snapshot.state, incident_state::suppressed);
  EXPECT_TRUE(s.pass("api").events.empty());
  EXPECT_TRUE(s.tracker.transition_pending("api"));
  auto out = s.pass("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(out.events[0].snapshot.check, "api");
  EXPECT_EQ(s.tracker.open_incidents().size(), 1u);
  EXPECT_EQ(s.tracker.open_incidents()[0]->check, "database");
}

// When the root resolves, a dependent that still fails becomes open on its next (fresh) bad
// result, with its SLA clock restarted then; the new deadline is honoured exactly.
TEST(incident_tracker, unsuppressed_when_root_resolves_with_sla_restart) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  auto opened = s.fail("api");
  const auto api_id = opened.events.at(0).snapshot.id;
  for (int i = 0; i < 100; ++i) s.fail("api");  // 1000 s: past the original 15 min
  auto breaches = s.tracker.tick(s.now);
  ASSERT_EQ(breaches.size(), 1u);  // the database's only
  EXPECT_EQ(breaches[0].snapshot.check, "database");
  auto out = s.pass("database");
  EXPECT_EQ(check_event(out), "check_recovered");
  // The api's latest result was taken while the database failed: stale, it decides nothing.
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(s.tracker.find(api_id)->state, incident_state::suppressed);
  out = s.fail("api");  // a fresh bad result: its own problem now
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_unsuppressed"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.id, api_id);
  EXPECT_EQ(inc.state, incident_state::open);
  EXPECT_EQ(inc.suppressed_by, std::nullopt);
  EXPECT_EQ(inc.first_failure, s.now);
  EXPECT_EQ(inc.sla_deadline, s.now + 15min);
  EXPECT_EQ(s.tracker.next_deadline(), s.now + 15min);
  EXPECT_TRUE(s.tracker.tick(s.now + 15min - 1ms).empty());
  auto breach = s.tracker.tick(s.now + 15min);
  ASSERT_EQ(breach.size(), 1u);
  EXPECT_EQ(breach[0].snapshot.id, api_id);
}

// A dependent that was recovering when its root resolved stays suppressed until its own
// results decide: a pass resolves it, a failure unsuppresses it.
TEST(incident_tracker, recovering_dependent_decided_by_its_own_results) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 3);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  const auto api_id = s.fail("api").events.at(0).snapshot.id;
  s.pass("api");
  auto out = s.pass("database");
  EXPECT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(s.tracker.find(api_id)->state, incident_state::suppressed);
  out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_unsuppressed"});
  EXPECT_EQ(out.events[0].snapshot.first_failure, s.now);
}

// Ids are sequential across checks; restore() brings back open incidents and the sequence,
// and a restored incident still resolves on its rise.
TEST(incident_tracker, ids_sequential_and_restored) {
  std::vector<check_policy> policies{policy("api", 1, 1), policy("db", 1, 1)};
  sim s(policies);
  EXPECT_EQ(s.fail("api").events.at(0).snapshot.id, "INC-000001");
  EXPECT_EQ(s.fail("db").events.at(0).snapshot.id, "INC-000002");
  EXPECT_EQ(s.pass("api").events.at(0).snapshot.id, "INC-000001");  // resolved
  EXPECT_EQ(s.fail("api").events.at(0).snapshot.id, "INC-000003");
  EXPECT_EQ(s.tracker.next_seq(), 4u);

  std::vector<incident> open;
  for (const auto* i : s.tracker.open_incidents()) open.push_back(*i);
  ASSERT_EQ(open.size(), 2u);
  sim r(policies, s.now);
  r.tracker.restore(open, 4);
  EXPECT_EQ(r.tracker.next_seq(), 4u);
  ASSERT_NE(r.tracker.find("INC-000002"), nullptr);
  EXPECT_EQ(r.tracker.find("INC-000002")->check, "db");
  EXPECT_EQ(r.tracker.find("INC-000003")->opened_at, s.now);
  auto out = r.pass("db");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(out.events[0].snapshot.id, "INC-000002");
  EXPECT_EQ(r.fail("db").events.at(0).snapshot.id, "INC-000004");
  // A stale next_seq is raised past the restored ids.
  sim q(policies, s.now);
  q.tracker.restore(open, 1);
  EXPECT_EQ(q.tracker.next_seq(), 4u);
}

// reconfigure keeps incidents and streaks of kept checks, resolves the removed check's
// incidents ("check removed"), and gives a new check a fresh start grace.
TEST(incident_tracker, reconfigure_keeps_state_and_removes_removed_checks) {
  auto cache = policy("cache", 1, 1);
  cache.start_grace = 60s;
  sim s({policy("api", 1, 1), policy("db", 2, 1), policy("worker", 1, 1)});
  const auto api_id = s.fail("api").events.at(0).snapshot.id;
  const auto worker_id = s.fail("worker").events.at(0).snapshot.id;
  EXPECT_TRUE(s.fail("db").events.empty());  // 1 of 2
  s.now += 1h;
  auto events =
      s.tracker.reconfigure({policy("api", 1, 1), policy("db", 2, 1), cache}, s.now);
  ASSERT_EQ(kinds(events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(events[0].snapshot.id, worker_id);
  EXPECT_EQ(events[0].snapshot.timeline.back().reason, "check removed");
  EXPECT_EQ(s.tracker.find(worker_id), nullptr);
  ASSERT_NE(s.tracker.find(api_id), nullptr);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(s.fail("cache").events.empty());  // in grace
  EXPECT_EQ(kinds(s.fail("cache").events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(kinds(s.fail("db").events), std::vector<std::string>{"incident_opened"});
  EXPECT_TRUE(s.fail("worker").events.empty());  // a late result of a removed check
  for (const auto* t : s.tracker.targets()) EXPECT_NE(t->check, "worker");
}

// Restored incidents of checks no longer configured are resolved by the next reconfigure.
TEST(incident_tracker, restored_orphans_resolved_by_reconfigure) {
  sim s({policy("gone", 1, 1)});
  incident orphan = s.fail("gone").events.at(0).snapshot;
  sim r({policy("api", 1, 1)}, s.now);
  r.tracker.restore({orphan}, 2);
  auto events = r.tracker.reconfigure({policy("api", 1, 1)}, r.now);
  ASSERT_EQ(kinds(events), std::vector<std::string>{"incident_resolved"});
  EXPECT_TRUE(r.tracker.open_incidents().empty());
}

// check_failed on the first bad result after good or unknown, check_recovered on the first
// good after bad, nothing otherwise.
TEST(incident_tracker, check_failed_and_recovered_events) {
  sim s({policy("api", 5, 1), policy("web", 5, 1)});
  EXPECT_EQ(check_event(s.fail("api")), "check_failed");  // after unknown
  EXPECT_EQ(check_event(s.fail("api")), "");
  EXPECT_EQ(check_event(s.pass("api")), "check_recovered");
  EXPECT_EQ(check_event(s.pass("api")), "");
  EXPECT_EQ(check_event(s.degrade("api")), "");  // no degraded_level: a pass
  EXPECT_EQ(check_event(s.fail("api")), "check_failed");
  EXPECT_EQ(check_event(s.degrade("api")), "check_recovered");
  EXPECT_EQ(check_event(s.pass("web")), "");  // good after unknown
}

// Two targets of one check (model_metadata) count, open and resolve independently; a
// dependent names the failing target.
TEST(incident_tracker, multi_target_independent) {
  auto deps = policy("trading", 1, 1);
  deps.depends_on = {"models"};
  sim s({policy("models", 2, 1), deps});
  s.fail("models", "growth_small");
  EXPECT_TRUE(s.fail("models", "value_large").events.empty());
  auto out = s.fail("models", "growth_small");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].snapshot.target, "growth_small");
  EXPECT_TRUE(s.pass("models", "value_large").events.empty());  // its streak broken
  EXPECT_TRUE(s.fail("models", "value_large").events.empty());
  EXPECT_EQ(s.tracker.open_incidents().size(), 1u);
  EXPECT_EQ(s.fail("trading").events.at(0).snapshot.suppressed_by, "models/growth_small");
  out = s.fail("models", "value_large");
  const auto* opened = find_event(out.events, "incident_opened", "models");
  ASSERT_NE(opened, nullptr);
  EXPECT_EQ(opened->snapshot.target, "value_large");
  out = s.pass("models", "growth_small");
  ASSERT_EQ(kinds(out.events),
            (std::vector<std::string>{"incident_resolved", "incident_suppressed"}));
  EXPECT_EQ(out.events[0].snapshot.target, "growth_small");
  EXPECT_EQ(out.events[1].snapshot.check, "trading");  // its root moved to the other target
  EXPECT_EQ(out.events[1].snapshot.suppressed_by, "models/value_large");
  ASSERT_EQ(s.tracker.targets().size(), 3u);
}

// transition_pending: counted failures below fall, or passes below rise; not otherwise.
TEST(incident_tracker, transition_pending) {
  sim s({policy("api", 3, 2)});
  EXPECT_FALSE(s.tracker.transition_pending("api"));
  s.fail("api");
  EXPECT_TRUE(s.tracker.transition_pending("api"));
  s.pass("api");  // the streak is broken: no incident can follow from it
  EXPECT_FALSE(s.tracker.transition_pending("api"));
  s.fail("api");
  s.fail("api");
  s.pass("api");
  EXPECT_FALSE(s.tracker.transition_pending("api"));
  s.fail("api");
  s.fail("api");
  s.fail("api");  // opened
  EXPECT_FALSE(s.tracker.transition_pending("api"));
  s.pass("api");
  EXPECT_TRUE(s.tracker.transition_pending("api"));
  s.pass("api");  // resolved
  EXPECT_FALSE(s.tracker.transition_pending("api"));
  EXPECT_FALSE(s.tracker.transition_pending("unknown"));
}

// from_config takes the config's effective window and start grace (interval * fall).
TEST(incident_tracker, policy_from_config) {
  acis::config::check_config c;
  c.name = "api";
  c.interval = 10s;
  c.fall = 3;
  c.rise = 2;
  c.level = severity::critical;
  c.degraded_severity = severity::low;
  c.depends_on = {"database"};
  auto p = check_policy::from_config(c);
  EXPECT_EQ(p.name, "api");
  EXPECT_EQ(p.fall, 3);
  EXPECT_EQ(p.rise, 2);
  EXPECT_EQ(p.window, 3);
  EXPECT_EQ(p.start_grace, 30s);
  EXPECT_EQ(p.level, severity::critical);
  EXPECT_EQ(p.degraded_level, severity::low);
  EXPECT_EQ(p.depends_on, std::vector<std::string>{"database"});
  c.window = 5;
  c.start_grace = 0s;
  p = check_policy::from_config(c);
  EXPECT_EQ(p.window, 5);
  EXPECT_EQ(p.start_grace, 0s);
}

// Absurd durations (a policy built in code) are bounded instead of overflowing time points.
TEST(incident_tracker, huge_durations_do_not_overflow) {
  auto p = policy("api", 1, 1);
  p.start_grace = std::chrono::milliseconds::max();
  incident_tracker t({p}, {{severity::high, std::chrono::milliseconds::max()}}, t0);
  EXPECT_TRUE(t.on_attempt("api", attempt_result::single(check_result::failing("down")), t0 + 1h).events.empty());
  EXPECT_TRUE(t.on_attempt("api", attempt_result::single(check_result::ok()), t0 + 2h).events.empty());
  auto out = t.on_attempt("api", attempt_result::single(check_result::failing("down")), t0 + 3h);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_GT(out.events[0].snapshot.sla_deadline, t0 + 3h);
  EXPECT_TRUE(t.tick(t0 + 24h * 365).empty());
}

