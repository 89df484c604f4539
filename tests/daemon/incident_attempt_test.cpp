// The tracker fed whole attempts (attempt_result): targets gone, incomplete attempts, stale
// results after a root cause resolves, and one escalation per episode. Simulated time only.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/incident.hpp"
#include "tracker_sim.hpp"

using namespace tracker_sim;
using acis::daemon::incident_state;

namespace {

attempt_result complete(std::vector<check_result> targets) { return {std::move(targets), true}; }

bool knows(const incident_tracker& t, const std::string& check, const std::string& target) {
  for (const auto* s : t.targets())
    if (s->check == check && s->target == target) return true;
  return false;
}

}  // namespace

// A target a complete attempt no longer reports is gone: its incident resolves with reason
// "target gone" (no rise needed), the target is forgotten and listed for the metrics.
TEST(incident_attempt, target_gone_resolves_and_is_forgotten) {
  sim s({policy("models", 1, 3)});
  auto out = s.attempt("models", complete({result("a", health::failing, "stale"),
                                           result("b", health::ok)}));
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  const auto id = out.events[0].snapshot.id;
  ASSERT_EQ(out.changes.size(), 1u);
  EXPECT_EQ(out.changes[0].target, "a");
  EXPECT_EQ(out.changes[0].kind, acis::daemon::target_change_kind::check_failed);

  out = s.attempt("models", complete({result("b", health::ok)}));  // folder a deleted
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(out.events[0].snapshot.id, id);
  EXPECT_EQ(out.events[0].snapshot.state, incident_state::resolved);
  EXPECT_EQ(out.events[0].snapshot.timeline.back().reason, "target gone");
  EXPECT_EQ(out.gone_targets, std::vector<std::string>{"a"});
  EXPECT_FALSE(knows(s.tracker, "models", "a"));
  EXPECT_TRUE(knows(s.tracker, "models", "b"));
  EXPECT_TRUE(s.tracker.open_incidents().empty());
  // A folder that comes back is a new target: a new incident needs `fall` new failures.
  out = s.attempt("models", complete({result("a", health::failing), result("b", health::ok)}));
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_NE(out.events[0].snapshot.id, id);
}

// An incomplete attempt (the folder could not be listed) leaves every target it does not
// report as it was: not counted, not gone, its incident still open.
TEST(incident_attempt, incomplete_attempt_leaves_others_untouched) {
  sim s({policy("models", 2, 1)});
  s.attempt("models", complete({result("a", health::failing), result("b", health::ok)}));
  auto out = s.attempt("models", complete({result("a", health::failing), result("b", health::ok)}));
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  const auto id = out.events[0].snapshot.id;
  const auto before = s.tracker.targets();
  int a_bad = -1, b_good = -1;
  for (const auto* t : before) {
    if (t->target == "a") a_bad = t->consecutive_bad;
    if (t->target == "b") b_good = t->consecutive_good;
  }
  out = s.attempt("models", attempt_result::incomplete("models_dir /m: missing"));
  EXPECT_TRUE(out.events.empty());  // the "" failure counts 1 of fall 2
  EXPECT_TRUE(out.gone_targets.empty());
  ASSERT_NE(s.tracker.find(id), nullptr);
  for (const auto* t : s.tracker.targets()) {
    if (t->target == "a") {
      EXPECT_EQ(t->consecutive_bad, a_bad);
    }
    if (t->target == "b") {
      EXPECT_EQ(t->consecutive_good, b_good);
    }
  }
  EXPECT_TRUE(knows(s.tracker, "models", "a"));
  EXPECT_TRUE(knows(s.tracker, "models", "b"));
  EXPECT_TRUE(knows(s.tracker, "models", ""));
}

// A whole-check failure (target "") opens an incident that the next complete attempt, which
// does not report "", resolves as gone, even while the folders it reports are failing.
TEST(incident_attempt, folder_level_failure_resolves_on_next_complete_attempt) {
  sim s({policy("models", 2, 1)});
  s.attempt("models", attempt_result::incomplete("models_dir /m: missing"));
  auto out = s.attempt("models", attempt_result::incomplete("models_dir /m: timed out"));
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  EXPECT_EQ(out.events[0].snapshot.target, "");
  const auto id = out.events[0].snapshot.id;

  out = s.attempt("models", complete({result("a", health::failing), result("b", health::ok)}));
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(out.events[0].snapshot.id, id);
  EXPECT_EQ(out.events[0].snapshot.timeline.back().reason, "target gone");
  EXPECT_EQ(out.gone_targets, std::vector<std::string>{""});
  EXPECT_FALSE(knows(s.tracker, "models", ""));
  EXPECT_TRUE(s.tracker.open_incidents().empty());  // a: 1 failure of fall 2
}

// The database/api scenario: when the database resolves, the suppressed api incident
// is not unsuppressed on its failing result taken before that (no runbook 1 ms later); the
// database runbook's `verify api` 30 ms later passes and resolves it normally.
TEST(incident_attempt, stale_result_after_root_resolves_does_not_unsuppress) {
  auto db = policy("database", 1, 1);
  db.level = severity::critical;
  auto api = policy("api", 2, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  s.fail("api");
  auto out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_opened"});
  const auto api_id = out.events[0].snapshot.id;
  EXPECT_EQ(out.events[0].snapshot.state, incident_state::suppressed);

  out = s.pass("database");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  const auto resolved_at = s.now;
  EXPECT_EQ(s.tracker.find(api_id)->state, incident_state::suppressed);

  // An api attempt in flight since before the resolution ends 1 ms after it, failing.
  auto stale = result("", health::failing, "connection refused (database down)");
  stale.latency = 3s;
  out = s.attempt("api", attempt_result::single(stale), 1ms);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(s.tracker.find(api_id)->state, incident_state::suppressed);

  // The database runbook's verify api step, 30 ms later: passing, rise 1 resolves.
  out = s.attempt("api", attempt_result::single(result("", health::ok)), 30ms);
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_resolved"});
  EXPECT_EQ(out.events[0].snapshot.id, api_id);
  EXPECT_LT(s.now - resolved_at, 100ms);
}

// After the root resolves, a fresh failing result (taken after the resolution) unsuppresses
// the dependent with its SLA clock restarting then.
TEST(incident_attempt, fresh_bad_result_after_root_resolves_unsuppresses) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  const auto api_id = s.fail("api").events.at(0).snapshot.id;
  s.pass("database");
  auto fresh = result("", health::failing, "500 Internal Server Error");
  fresh.latency = 20ms;
  auto out = s.attempt("api", attempt_result::single(fresh), 5s);
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_unsuppressed"});
  const auto& inc = out.events[0].snapshot;
  EXPECT_EQ(inc.id, api_id);
  EXPECT_EQ(inc.state, incident_state::open);
  EXPECT_EQ(inc.first_failure, s.now);
  EXPECT_EQ(inc.sla_deadline, s.now + 15min);
  EXPECT_EQ(inc.timeline.back().root_cause, "database");
  EXPECT_EQ(inc.timeline.back().reason, "500 Internal Server Error");
}

// An incident is escalated at most once per episode, also across a suppress/unsuppress cycle
// (it comes back escalated, not open); the flag is on the incident.
TEST(incident_attempt, escalated_at_most_once_per_episode) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  const auto id = s.fail("api").events.at(0).snapshot.id;
  auto esc = s.tracker.escalate(id, "gave up after 3 attempts", s.now);
  ASSERT_TRUE(esc);
  EXPECT_EQ(esc->kind, event_kind::incident_escalated);
  EXPECT_EQ(esc->snapshot.escalated_at, s.now);
  EXPECT_FALSE(s.tracker.escalate(id, "again", s.now));

  auto out = s.fail("database");  // the api incident becomes suppressed under it
  ASSERT_NE(find_event(out.events, "incident_suppressed", "api"), nullptr);
  s.pass("database");
  out = s.fail("api");
  ASSERT_EQ(kinds(out.events), std::vector<std::string>{"incident_unsuppressed"});
  EXPECT_EQ(out.events[0].snapshot.state, incident_state::escalated);
  EXPECT_FALSE(s.tracker.escalate(id, "gave up again", s.now));
  int escalations = 0;
  for (const auto& e : s.tracker.find(id)->timeline)
    escalations += e.kind == event_kind::incident_escalated;
  EXPECT_EQ(escalations, 1);
  // A new episode (resolved, then opened again) may be escalated again.
  s.pass("api");
  const auto next = s.fail("api").events.at(0).snapshot.id;
  EXPECT_NE(next, id);
  EXPECT_TRUE(s.tracker.escalate(next, "gave up", s.now));
}
