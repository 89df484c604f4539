// The incident's JSON form (journal, /incidents), its times, and how timeline entries read.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/incident.hpp"
#include "tracker_sim.hpp"

using namespace tracker_sim;
using acis::daemon::describe;
using acis::daemon::timeline_entry;

// RFC 3339 with milliseconds in UTC, both ways; malformed text is refused.
TEST(incident_json, rfc3339_format_and_parse) {
  using acis::daemon::format_rfc3339;
  using acis::daemon::parse_rfc3339;
  EXPECT_EQ(format_rfc3339(t0 + 123ms), "1970-02-11T16:00:00.123Z");
  EXPECT_EQ(format_rfc3339(time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
  auto t = parse_rfc3339("2026-11-30T07:55:11.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-30T07:55:11.123Z");
  EXPECT_EQ(parse_rfc3339("2026-11-30T09:55:11.123+02:00"), t);
  EXPECT_EQ(parse_rfc3339("2026-11-30t07:55:11.123456z"), *t + 456us);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"),
            time_point{std::chrono::sys_days{std::chrono::year{2024} / 2 / 29}});
  for (const char* bad : {"", "2026-11-30", "2026-11-30T07:55:11", "2026-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T07:55:11.Z",
                          "2026-11-30T07:55:11Zjunk", "2026-11-30T07:55:11+0200"})
    EXPECT_EQ(parse_rfc3339(bad), std::nullopt) << bad;
}

// An incident survives to_json/from_json with every field, including optionals and timeline.
TEST(incident_json, round_trip) {
  auto db = policy("database", 1, 1);
  auto api = policy("api", 1, 1);
  api.depends_on = {"database"};
  sim s({db, api});
  s.fail("database");
  const auto id = s.fail("api").events.at(0).snapshot.id;
  auto ack = s.tracker.acknowledge(id, "on it \"quoted\"", s.now + 1234ms);
  ASSERT_TRUE(ack);
  const incident& in = ack->snapshot;
  nlohmann::json j = in;
  EXPECT_EQ(j["severity"], "high");
  EXPECT_EQ(j["state"], "acknowledged");
  EXPECT_EQ(j["suppressed_by"], "database");
  EXPECT_TRUE(j["resolved_at"].is_null());
  const incident out = nlohmann::json::parse(j.dump()).get<incident>();
  EXPECT_EQ(nlohmann::json(out), j);
  EXPECT_EQ(out.acknowledged_at, in.acknowledged_at);
  EXPECT_EQ(out.first_failure, in.first_failure);
  ASSERT_EQ(out.timeline.size(), 2u);
  EXPECT_EQ(out.timeline[1].kind, event_kind::incident_acknowledged);

  j["state"] = "melted";
  EXPECT_THROW(j.get<incident>(), nlohmann::json::exception);
  j["state"] = "open";
  j["opened_at"] = "yesterday";
  EXPECT_THROW(j.get<incident>(), nlohmann::json::exception);
}

// Structured timeline fields are written, read back, and a rendered "detail" rides along for
// operators; escalated_at survives the round trip.
TEST(incident_json, structured_timeline_round_trip) {
  sim s({policy("api", 1, 1)});
  const auto id = s.fail("api").events.at(0).snapshot.id;
  ASSERT_TRUE(s.tracker.escalate(id, "gave up after 3 attempts", s.now));
  ASSERT_TRUE(s.tracker.annotate(id,
                                 {.kind = event_kind::step_finished,
                                  .reason = "exit 0",
                                  .attempt = 2,
                                  .step = "restart api",
                                  .ok = true,
                                  .duration_s = 0.25},
                                 s.now));
  auto fin = s.tracker.annotate(
      id, {.kind = event_kind::remediation_finished, .reason = "verify failed", .attempt = 2,
           .outcome = "failure"},
      s.now);
  ASSERT_TRUE(fin);
  nlohmann::json j = fin->snapshot;
  EXPECT_EQ(j["escalated_at"], acis::daemon::format_rfc3339(s.now));
  const auto& tl = j["timeline"];
  ASSERT_EQ(tl.size(), 4u);
  EXPECT_EQ(tl[0]["event"], "incident_opened");
  EXPECT_EQ(tl[0]["health"], "failing");
  EXPECT_EQ(tl[0]["severity"], "high");
  EXPECT_EQ(tl[2]["step"], "restart api");
  EXPECT_EQ(tl[2]["ok"], true);
  EXPECT_EQ(tl[2]["detail"], "restart api: ok in 250ms — exit 0");
  EXPECT_EQ(tl[3]["outcome"], "failure");
  EXPECT_EQ(tl[3]["detail"], "failure: verify failed");
  const incident back = nlohmann::json::parse(j.dump()).get<incident>();
  EXPECT_EQ(nlohmann::json(back), j);
  EXPECT_EQ(back.escalated_at, fin->snapshot.escalated_at);
  EXPECT_EQ(back.timeline[2].duration_s, 0.25);
  EXPECT_EQ(back.timeline[3].attempt, 2);
}

// A journal line written before the timeline was structured ({"at","event","detail"}, event
// names as strings, no escalated_at) still replays: the fields are parsed back from the prose.
TEST(incident_json, old_format_line_replays) {
  const char* line = R"json({"ts":"2026-03-01T10:00:00.000Z","event":"remediation_finished","incident":{
    "id":"INC-000007","check":"api","target":"","severity":"high","state":"escalated",
    "reason":"connection refused","first_failure":"2026-03-01T09:55:00.000Z",
    "opened_at":"2026-03-01T09:55:20.000Z","sla_deadline":"2026-03-01T10:10:00.000Z",
    "sla_breached":false,"suppressed_by":null,"acknowledged_at":null,"ack_comment":null,
    "resolved_at":null,"timeline":[
      {"at":"2026-03-01T09:55:20.000Z","event":"incident_opened","detail":"high: api failing: connection refused (suppressed, root cause: database)"},
      {"at":"2026-03-01T09:56:00.000Z","event":"incident_suppressed","detail":"root cause: database/main"},
      {"at":"2026-03-01T09:57:00.000Z","event":"incident_unsuppressed","detail":"root cause database recovered; still failing"},
      {"at":"2026-03-01T09:57:01.000Z","event":"remediation_started","detail":"attempt 1 of 3 of runbook api-down (dry run)"},
      {"at":"2026-03-01T09:57:02.000Z","event":"step_finished","detail":"restart: failed in 1.5s — exit 1"},
      {"at":"2026-03-01T09:57:03.000Z","event":"remediation_finished","detail":"failure: restart: exit 1"},
      {"at":"2026-03-01T09:57:04.000Z","event":"remediation_finished","detail":"success"},
      {"at":"2026-03-01T09:58:00.000Z","event":"incident_severity_changed","detail":"raised from low to high: refused"},
      {"at":"2026-03-01T09:59:00.000Z","event":"incident_escalated","detail":"gave up"},
      {"at":"2026-03-01T09:59:30.000Z","event":"incident_acknowledged","detail":"acknowledged: on it (within SLA)"},
      {"at":"2026-03-01T09:59:40.000Z","event":"remediation_reset","detail":"an event this version does not know"}
    ]}})json";
  const auto rec = nlohmann::json::parse(line);
  const incident i = rec.at("incident").get<incident>();
  EXPECT_EQ(i.id, "INC-000007");
  EXPECT_EQ(i.state, acis::daemon::incident_state::escalated);
  ASSERT_EQ(i.timeline.size(), 10u);  // the unknown event is skipped, the incident kept
  const auto& opened = i.timeline[0];
  EXPECT_EQ(opened.kind, event_kind::incident_opened);
  EXPECT_EQ(opened.level, severity::high);
  EXPECT_EQ(opened.health, health::failing);
  EXPECT_EQ(opened.reason, "connection refused");
  EXPECT_EQ(opened.root_cause, "database");
  EXPECT_EQ(i.timeline[1].root_cause, "database/main");
  EXPECT_EQ(i.timeline[2].root_cause, "database");
  const auto& started = i.timeline[3];
  EXPECT_EQ(started.attempt, 1);
  EXPECT_EQ(started.max_attempts, 3);
  EXPECT_EQ(started.runbook, "api-down");
  EXPECT_TRUE(started.dry_run);
  EXPECT_EQ(describe(started), "attempt 1 of 3 of runbook api-down (dry run)");
  const auto& step = i.timeline[4];
  EXPECT_EQ(step.step, "restart");
  EXPECT_EQ(step.ok, false);
  EXPECT_EQ(step.duration_s, 1.5);
  EXPECT_EQ(step.reason, "exit 1");
  EXPECT_EQ(i.timeline[5].outcome, "failure");
  EXPECT_EQ(i.timeline[5].reason, "restart: exit 1");
  EXPECT_EQ(i.timeline[6].outcome, "success");
  EXPECT_EQ(i.timeline[7].from_level, severity::low);
  EXPECT_EQ(i.timeline[7].level, severity::high);
  EXPECT_EQ(i.timeline[7].reason, "refused");
  EXPECT_EQ(i.timeline[8].reason, "gave up");
  EXPECT_EQ(i.timeline[9].reason, "on it");
  EXPECT_EQ(i.timeline[9].within_sla, true);
  // Escalated before escalated_at existed: the timeline's escalation counts, no second one.
  EXPECT_EQ(i.escalated_at, i.timeline[8].at);
  // Written again in the new form, it reads back the same.
  nlohmann::json j = i;
  EXPECT_EQ(nlohmann::json(nlohmann::json::parse(j.dump()).get<incident>()), j);
}

// Every event kind has its exact log name and parses back; unknown names do not parse.
TEST(incident_json, event_kind_names) {
  const std::vector<std::string> names{
      "incident_opened",       "incident_suppressed",  "incident_unsuppressed",
      "incident_severity_changed", "sla_breached",     "incident_acknowledged",
      "incident_escalated",    "incident_resolved",    "remediation_started",
      "step_started",          "step_finished",        "manual_action",
      "remediation_finished",  "remediation_skipped"};
  for (const auto& n : names) {
    auto k = acis::daemon::parse_event_kind(n);
    ASSERT_TRUE(k) << n;
    EXPECT_EQ(to_string(*k), n);
  }
  EXPECT_FALSE(acis::daemon::parse_event_kind("incident_melted"));
  EXPECT_EQ(describe({.kind = event_kind::incident_opened, .health = health::degraded,
                      .reason = "slow", .root_cause = "db", .level = severity::low}),
            "low, degraded: slow (suppressed, root cause: db)");
  EXPECT_EQ(describe({.kind = event_kind::incident_resolved, .reason = "target gone"}),
            "target gone");
}
