// The incident report: a pure function of an incident and its config, so plain value tests.
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/incident_report.hpp"

using namespace std::chrono_literals;
using acis::daemon::format_rfc3339;
using acis::daemon::incident;
using acis::daemon::incident_state;
using acis::daemon::parse_rfc3339;
using acis::daemon::render_incident_report;
using acis::daemon::report_context;
using acis::daemon::severity;
using acis::daemon::time_point;
using acis::daemon::timeline_entry;
namespace config = acis::config;

namespace {

time_point at(const char* rfc3339) { return parse_rfc3339(rfc3339).value(); }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& report, const std::string& line) {
  for (const auto& l : lines_of(report))
    if (l == line) return true;
  return false;
}

struct fixture {
  config::check_config check;
  config::runbook_config runbook;
  report_context ctx;

  fixture() {
    check.name = "api";
    check.kind = config::http_check{"http://127.0.0.1:8080/health", "GET", {}, {}, {}};
    check.level = severity::high;
    check.runbook = "api-down";
    check.issue_type = "platform";
    runbook.name = "api-down";
    runbook.doc = "https://wiki.example/runbooks/api-down";
    ctx.check = &check;
    ctx.runbook = &runbook;
    ctx.contacts = config::escalation_contacts{"alice@example.com", "bob@example.com"};
    ctx.response_time = 15min;
  }
};

using acis::daemon::event_kind;

// A timeline entry with a reason (the structured fields set by the caller).
timeline_entry ev(time_point t, event_kind k, std::string reason = {}) {
  timeline_entry e;
  e.at = t;
  e.kind = k;
  e.reason = std::move(reason);
  return e;
}

timeline_entry step(time_point t, std::string name, bool ok, double seconds, std::string detail) {
  auto e = ev(t, event_kind::step_finished, std::move(detail));
  e.step = std::move(name);
  e.ok = ok;
  e.duration_s = seconds;
  return e;
}

timeline_entry started(time_point t, int attempt) {
  auto e = ev(t, event_kind::remediation_started);
  e.attempt = attempt;
  e.max_attempts = 3;
  e.runbook = "api-down";
  return e;
}

timeline_entry finished(time_point t, std::string outcome, std::string reason = {}) {
  auto e = ev(t, event_kind::remediation_finished, std::move(reason));
  e.outcome = std::move(outcome);
  return e;
}

// An incident opened at 07:55:10 (first failure 07:55:00, high: 15 min response time).
incident opened_api() {
  incident i;
  i.id = "INC-000002";
  i.check = "api";
  i.level = severity::high;
  i.reason = "connection refused";
  i.first_failure = at("2026-11-30T07:55:00Z");
  i.opened_at = at("2026-11-30T07:55:10Z");
  i.sla_deadline = i.first_failure + 15min;
  auto opened = ev(i.opened_at, event_kind::incident_opened, "connection refused");
  opened.health = acis::checks::health::failing;
  opened.level = severity::high;
  i.timeline.push_back(opened);
  return i;
}

// Resolved after two remediation attempts, the second of which asked for a manual action.
incident resolved_after_two_attempts() {
  incident i = opened_api();
  auto& t = i.timeline;
  t.push_back(started(at("2026-11-30T07:55:11Z"), 1));
  t.push_back(step(at("2026-11-30T07:55:12Z"), "try", false, 0.0, "exit 1 (expected [0])"));
  t.push_back(finished(at("2026-11-30T07:55:12Z"), "failure", "try: exit 1 (expected [0])"));
  t.push_back(started(at("2026-11-30T07:55:42Z"), 2));
  t.push_back(step(at("2026-11-30T07:55:43Z"), "restart API", true, 1.25, "exit 0"));
  t.push_back(ev(at("2026-11-30T07:55:43Z"), event_kind::manual_action, "Check the API's disk quota"));
  t.push_back(step(at("2026-11-30T07:55:43Z"), "tell ops", true, 0.0, "manual"));
  t.push_back(finished(at("2026-11-30T07:55:44Z"), "success"));
  i.state = incident_state::resolved;
  i.resolved_at = at("2026-11-30T07:56:20Z");
  t.push_back(ev(*i.resolved_at, event_kind::incident_resolved, "1 ok result"));
  return i;
}

}  // namespace

// A resolved incident with two attempts and a manual action: every section, in its format.
TEST(incident_report, resolved_incident_has_every_section) {
  fixture f;
  const auto r = render_incident_report(resolved_after_two_attempts(), f.ctx);

  EXPECT_EQ(lines_of(r).at(0), "# Incident report: INC-000002 — api (high)");
  for (const char* section : {"## Summary", "## Impact", "## Timeline (UTC)", "## Root cause",
                              "## Actions taken", "## SLA", "## Contacts escalated to",
                              "## Manual action items", "## Post-mortem"})
    EXPECT_TRUE(has_line(r, section)) << section << "\n" << r;
  EXPECT_NE(r.find("**Date:** 2026-11-30T07:55:10.000Z"), std::string::npos) << r;
  EXPECT_NE(r.find("**Duration:** 1m10s"), std::string::npos) << r;
  EXPECT_NE(r.find("**Severity:** high"), std::string::npos);
  EXPECT_NE(r.find("**State:** resolved"), std::string::npos);
  EXPECT_NE(r.find("**Check/target:** api (http check)"), std::string::npos);
  EXPECT_NE(r.find("**Runbook used:** api-down — doc: <https://wiki.example/runbooks/api-down>"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("http check GET http://127.0.0.1:8080/health failing: connection refused"),
            std::string::npos)
      << r;

  // Timeline: one "HH:MM:SS — event: detail" line per entry, in order.
  EXPECT_TRUE(has_line(r, "07:55:10 — incident_opened: high, failing: connection refused"));
  EXPECT_TRUE(has_line(r, "07:56:20 — incident_resolved: 1 ok result"));
  const std::regex timeline_line(R"(^\d\d:\d\d:\d\d — [a-z_]+(: .*)?$)");
  int timeline_lines = 0;
  for (const auto& l : lines_of(r))
    if (std::regex_match(l, timeline_line)) ++timeline_lines;
  EXPECT_EQ(timeline_lines, 10);

  // Actions: grouped per attempt, each step with its result and duration.
  EXPECT_TRUE(has_line(r, "- attempt 1 of 3 of runbook api-down, started 07:55:11: failure: try: "
                          "exit 1 (expected [0])"))
      << r;
  EXPECT_TRUE(has_line(r, "  - **try** — failed in 0ms — exit 1 (expected [0])")) << r;
  EXPECT_TRUE(has_line(r, "- attempt 2 of 3 of runbook api-down, started 07:55:42: success"));
  EXPECT_TRUE(has_line(r, "  - **restart API** — ok in 1.25s — exit 0")) << r;
  const auto actions = r.find("## Actions taken");
  EXPECT_LT(r.find("**try**"), r.find("- attempt 2 of 3", actions));
  EXPECT_GT(r.find("**restart API**"), r.find("- attempt 2 of 3", actions));

  // Resolved 1m20s after the first failure, within 15 min.
  EXPECT_NE(r.find("**SLA met** — response time 15m; resolved after 1m20s"), std::string::npos)
      << r;
  EXPECT_EQ(r.find("breached"), std::string::npos);
  EXPECT_TRUE(has_line(r, "None (not escalated).")) << r;
  EXPECT_EQ(r.find("alice@example.com"), std::string::npos);
  EXPECT_TRUE(has_line(r, "- [ ] Check the API's disk quota"));
  EXPECT_TRUE(has_line(r, "Due 2026-12-02T07:56:20.000Z (48 h after resolution)."));
}

// An incident that breached its SLA and was escalated says "breached" and names the backup.
TEST(incident_report, breached_sla_names_primary_and_backup) {
  fixture f;
  incident i = opened_api();
  i.timeline.push_back(ev(at("2026-11-30T07:58:00Z"), event_kind::incident_escalated, "runbook api-down failed 3 attempts"));
  i.sla_breached = true;
  i.timeline.push_back(ev(at("2026-11-30T08:10:00Z"), event_kind::sla_breached, "high response time"));
  i.state = incident_state::resolved;
  i.resolved_at = at("2026-11-30T08:30:00Z");
  i.timeline.push_back(ev(*i.resolved_at, event_kind::incident_resolved, "1 ok result"));
  const auto r = render_incident_report(i, f.ctx);

  EXPECT_NE(r.find("**SLA breached** — response time 15m"), std::string::npos) << r;
  EXPECT_NE(r.find("resolved after 35m"), std::string::npos) << r;
  EXPECT_TRUE(has_line(r, "- escalated at 07:58:00: runbook api-down failed 3 attempts")) << r;
  EXPECT_TRUE(has_line(r, "- **Primary:** alice@example.com")) << r;
  EXPECT_TRUE(has_line(r, "- **Backup:** bob@example.com (SLA breached)")) << r;
  EXPECT_TRUE(has_line(r, "No remediation ran."));
  EXPECT_TRUE(has_line(r, "None."));  // no manual action items
}

// Escalated within the response time: the primary only, SLA met by the acknowledgement.
TEST(incident_report, escalated_before_deadline_names_primary_only) {
  fixture f;
  incident i = opened_api();
  i.timeline.push_back(ev(at("2026-11-30T07:58:00Z"), event_kind::incident_escalated, "gave up"));
  i.state = incident_state::acknowledged;
  i.acknowledged_at = at("2026-11-30T08:00:00Z");
  i.ack_comment = "looking";
  i.timeline.push_back(ev(*i.acknowledged_at, event_kind::incident_acknowledged, "looking"));
  const auto r = render_incident_report(i, f.ctx);

  EXPECT_TRUE(has_line(r, "- **Primary:** alice@example.com")) << r;
  EXPECT_EQ(r.find("bob@example.com"), std::string::npos) << r;
  EXPECT_NE(r.find("**SLA met** — response time 15m; acknowledged after 5m"), std::string::npos)
      << r;
}

// A suppressed-then-resolved incident names its root cause as impact and root cause.
TEST(incident_report, suppressed_incident_names_root_cause) {
  fixture f;
  incident i = opened_api();
  i.state = incident_state::resolved;
  i.suppressed_by = "db";
  i.timeline[0].root_cause = "db";
  i.resolved_at = at("2026-11-30T09:00:00Z");  // past the deadline, but suppressed throughout
  i.timeline.push_back(ev(*i.resolved_at, event_kind::incident_resolved, "1 ok result"));
  const auto r = render_incident_report(i, f.ctx);

  EXPECT_TRUE(has_line(r, "- **Suppressing dependency (root cause):** db")) << r;
  EXPECT_NE(r.find("This was a consequence of the root cause db"), std::string::npos) << r;
  // The first reason is read without the suppression suffix.
  EXPECT_TRUE(has_line(r, "- **Failing check:** api — failing: connection refused")) << r;
  EXPECT_NE(r.find("**SLA met**"), std::string::npos) << r;
  EXPECT_TRUE(has_line(r, "None (not escalated)."));
}

// Suppressed later (incident_suppressed) and then unsuppressed: the root cause is still named.
TEST(incident_report, root_cause_from_suppression_events) {
  fixture f;
  incident i = opened_api();
  auto sup = ev(at("2026-11-30T07:56:00Z"), event_kind::incident_suppressed);
  sup.root_cause = "db/main";
  i.timeline.push_back(sup);
  auto unsup = ev(at("2026-11-30T07:57:00Z"), event_kind::incident_unsuppressed, "refused");
  unsup.root_cause = "db/main";
  i.timeline.push_back(unsup);
  const auto r = render_incident_report(i, f.ctx);
  EXPECT_TRUE(has_line(r, "- **Suppressing dependency (root cause):** db/main")) << r;
}

// A still-open incident says so in duration, SLA and post-mortem.
TEST(incident_report, still_open_incident_says_so) {
  fixture f;
  const auto r = render_incident_report(opened_api(), f.ctx);
  EXPECT_NE(r.find("**Duration:** still open"), std::string::npos) << r;
  EXPECT_NE(r.find("**State:** open"), std::string::npos);
  EXPECT_NE(r.find("**SLA pending** — response time 15m; respond by 2026-11-30T08:10:00.000Z"),
            std::string::npos)
      << r;
  EXPECT_TRUE(has_line(r, "Due 48 h after resolution (the incident is still open)."));
  EXPECT_NE(r.find("still open."), std::string::npos);  // the summary
}

// A reason with newlines and control bytes stays on its line: it cannot forge a heading.
TEST(incident_report, control_characters_stay_on_one_line) {
  fixture f;
  incident i = opened_api();
  const std::string evil = "boom\n# fake heading\r\n\x1b[31mred\x07 \xc2\x85next\xe2\x80\xa8sep";
  i.reason = evil;
  i.timeline[0].reason = evil;
  i.timeline.push_back(ev(at("2026-11-30T07:56:00Z"), event_kind::manual_action, "do this\n- [x] forged"));
  const auto r = render_incident_report(i, f.ctx);

  for (const auto& l : lines_of(r)) {
    EXPECT_NE(l.rfind("# fake", 0), 0u) << l;
    EXPECT_NE(l.rfind("- [x]", 0), 0u) << l;
  }
  for (char c : r) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(c == '\n' || (u >= 0x20 && u != 0x7f)) << int(u);
  }
  EXPECT_EQ(r.find("\xc2\x85"), std::string::npos);
  EXPECT_EQ(r.find("\xe2\x80\xa8"), std::string::npos);
  EXPECT_TRUE(has_line(r, "- [ ] do this - [x] forged")) << r;
  // The whole reason is on the failing-check line.
  bool found = false;
  for (const auto& l : lines_of(r))
    if (l.rfind("- **Failing check:**", 0) == 0)
      found = l.find("boom") != std::string::npos && l.find("# fake heading") != std::string::npos &&
              l.find("sep") != std::string::npos;
  EXPECT_TRUE(found) << r;
}

// A postgres conninfo is described by host, port and database; its password never appears.
TEST(incident_report, postgres_conninfo_never_shows_password) {
  for (const std::string conninfo :
       {"host=db.internal port=5433 dbname=orders user=app password=secret",
        "host = 'db.internal' port=5433 password = 'sec ret\\'secret' dbname=orders",
        "postgresql://app:secret@db.internal:5433/orders?password=secret"}) {
    config::check_config pg;
    pg.name = "db";
    config::postgres_check k;
    k.conninfo = conninfo;  // config validation forbids this; the report must not rely on it
    pg.kind = k;
    report_context ctx;
    ctx.check = &pg;
    ctx.response_time = 5min;
    incident i = opened_api();
    i.check = "db";
    i.level = severity::critical;
    i.timeline[0].reason = "timeout";
    i.timeline[0].level = severity::critical;
    const auto r = render_incident_report(i, ctx);
    EXPECT_EQ(r.find("secret"), std::string::npos) << r;
    EXPECT_NE(r.find("postgres check host db.internal port 5433 database orders failing: timeout"),
              std::string::npos)
        << r;
    EXPECT_TRUE(has_line(r, "- **Runbook used:** none")) << r;
  }
}

// An HTTP URL loses its user info and query (they can carry credentials).
TEST(incident_report, http_url_loses_credentials) {
  fixture f;
  f.check.kind =
      config::http_check{"http://ops:hunter2@127.0.0.1:8080/health?token=hunter2", "GET", {}, {}, {}};
  const auto r = render_incident_report(opened_api(), f.ctx);
  EXPECT_EQ(r.find("hunter2"), std::string::npos) << r;
  EXPECT_NE(r.find("GET http://127.0.0.1:8080/health failing"), std::string::npos) << r;
}

// A removed check and runbook still give a complete report.
TEST(incident_report, removed_check_still_reports) {
  incident i = opened_api();
  i.state = incident_state::resolved;
  i.resolved_at = at("2026-11-30T08:00:00Z");
  i.timeline.push_back(ev(*i.resolved_at, event_kind::incident_resolved, "check removed"));
  const auto r = render_incident_report(i, report_context{});
  EXPECT_NE(r.find("check api (no longer configured) failing: connection refused"),
            std::string::npos)
      << r;
  // Response time from the incident's own deadline when the context has none.
  EXPECT_NE(r.find("**SLA met** — response time 15m; resolved after 5m"), std::string::npos) << r;
}
