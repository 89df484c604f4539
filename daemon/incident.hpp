// Incidents and the pure state machine that turns check results into them.
//
// Pure: no Asio, no clock reads, no I/O. Every entry point takes `now` (wall clock, because
// SLA clocks and timelines must survive a restart). Tests drive hours of simulated time.
//
// Semantics (SPEC.md "Incident lifecycle"), per (check, target):
//  - Results are kept in a window of the last `window` (default `fall`) counted results. An
//    incident opens when the window holds >= `fall` bad results (consecutive when window ==
//    fall), so 1-0-1-0 flapping with fall 2, window 4 opens.
//  - Bad = failing, or degraded when the check has a degraded_severity. The incident's level is
//    the check's severity if any counted bad result was failing, else degraded_severity; a
//    degraded incident that then sees failing results is raised to the check's severity
//    (event `incident_severity_changed`).
//  - `rise` consecutive ok results resolve it (degraded counts as ok when the check has no
//    degraded_severity, as bad otherwise).
//  - Start grace: until a (check, target) has passed once, its bad results within
//    `start_grace` of the tracker's start (or of the check being added) are not counted.
//  - The SLA clock starts at the first bad result of the counted ones that opened it; the
//    deadline is that + the level's response time. tick(now) emits `sla_breached` exactly once
//    when now >= deadline and the incident is still open/escalated (not acknowledged,
//    suppressed or resolved). An acknowledged incident met its SLA if acked before deadline.
//  - depends_on: when an incident opens while one of its check's dependencies (transitively)
//    has an open incident or a failing latest result, it opens `suppressed` naming the root
//    cause (the deepest failing dependency). When a dependency opens an incident later, open
//    dependents become suppressed too. Suppression never blocks resolution. When the root
//    cause resolves, a suppressed incident is judged again only on a result taken after that:
//    bad -> `open` again (`incident_unsuppressed`, or `escalated` if it was escalated in this
//    episode) with its SLA clock restarting then; good -> counts toward `rise`. Its last
//    result from before the resolution is stale and unsuppresses nothing. A suppressed
//    incident does not breach its SLA.
//  - Targets: a complete attempt that no longer reports a target makes it gone (its incident
//    resolves, reason "target gone"); an incomplete attempt leaves unreported targets alone.
//  - An incident is escalated at most once per episode (escalated_at).
//  - Incident ids are "INC-" + a 6-digit sequence, never reused: the journal restores the
//    sequence after a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace acis::daemon {

using wall_clock = std::chrono::system_clock;
using time_point = wall_clock::time_point;
using config::severity;

enum class incident_state { open, suppressed, acknowledged, escalated, resolved };
std::string_view to_string(incident_state s);
std::optional<incident_state> parse_incident_state(std::string_view s);

// What happened to an incident: the transitions of the tracker, then what the daemon adds
// (remediation). to_string() gives the log event name of each, exactly.
enum class event_kind {
  incident_opened,
  incident_suppressed,
  incident_unsuppressed,
  incident_severity_changed,
  sla_breached,
  incident_acknowledged,
  incident_escalated,
  incident_resolved,
  remediation_started,
  step_started,
  step_finished,
  manual_action,
  remediation_finished,
  remediation_skipped,
};
std::string_view to_string(event_kind k);
std::optional<event_kind> parse_event_kind(std::string_view s);

// One entry of an incident's timeline: structured fields, set as the event needs them (text is
// rendered only for display, by describe()). Fields by event:
//  - incident_opened: level, health, reason (the opening result's), root_cause when it opened
//    suppressed.
//  - incident_suppressed: root_cause.
//  - incident_unsuppressed: root_cause (the one that went away), reason (the fresh bad result).
//  - incident_severity_changed: from_level, level, reason.
//  - sla_breached: level, reason.
//  - incident_acknowledged: reason (the operator's comment), within_sla.
//  - incident_escalated: reason.
//  - incident_resolved: reason ("N passing result(s) in a row: ...", "check removed",
//    "target gone").
//  - remediation_started: attempt, max_attempts, runbook, dry_run.
//  - step_started: step, attempt.
//  - step_finished: step, ok, duration_s, reason (the step's one-line result), attempt.
//  - manual_action: reason (the instruction), step.
//  - remediation_finished: attempt, outcome ("success", "failure", "dry_run"), reason (why it
//    failed).
//  - remediation_skipped: reason, not_before (when a run would next be allowed).
// Declaration order matters to designated initializers: `{.kind = ..., .reason = ...}`.
struct timeline_entry {
  time_point at{};
  event_kind kind = event_kind::incident_opened;
  std::optional<checks::health> health{};
  std::string reason{};
  std::optional<std::string> root_cause{};
  std::optional<severity> from_level{};
  std::optional<severity> level{};
  std::optional<int> attempt{};
  std::optional<int> max_attempts{};
  std::optional<std::string> runbook{};
  std::optional<std::string> outcome{};
  std::optional<std::string> step{};
  std::optional<bool> ok{};
  std::optional<double> duration_s{};
  std::optional<bool> within_sla{};
  std::optional<time_point> not_before{};
  bool dry_run = false;
};

// The entry as one line for people (the report's timeline, the "detail" of /incidents), e.g.
// "high, failing: connection refused (suppressed, root cause: database)". Pure; the text is
// not made one-line here (callers that embed it do that).
std::string describe(const timeline_entry& e);

struct incident {
  std::string id;
  std::string check;
  std::string target;
  severity level = severity::high;
  incident_state state = incident_state::open;
  std::string reason;           // the latest bad result's reason
  time_point first_failure{};   // SLA clock start
  time_point opened_at{};
  time_point sla_deadline{};
  bool sla_breached = false;
  std::optional<std::string> suppressed_by;  // root cause: "check" or "check/target"
  std::optional<time_point> acknowledged_at;
  std::optional<std::string> ack_comment;
  std::optional<time_point> resolved_at;
  // Set by the one escalation of this episode: escalate() refuses a second one, also after a
  // suppress/unsuppress cycle (an unsuppressed incident that was escalated is escalated again).
  std::optional<time_point> escalated_at;
  std::vector<timeline_entry> timeline;

  bool is_open() const { return state != incident_state::resolved; }
};

// JSON form (the journal, /incidents; incident_json.cpp): time points as RFC 3339 strings,
// `level` under the key "severity" and `state` by their names, absent optionals as null.
// Timeline entries: {"at", "event" (its name), the structured fields that are set, "detail"
// (describe(), for operators; never read back)}. from_json also reads the form written before
// the entries were structured ({"at", "event", "detail"}, the detail parsed back as far as it
// goes), so that a journal from an older version replays; an entry with an event name this
// version does not know is skipped.
void to_json(nlohmann::json& j, const incident& i);
void from_json(const nlohmann::json& j, incident& i);  // throws nlohmann::json::exception

// RFC 3339, UTC, milliseconds: "2026-11-30T07:55:11.123Z" (sub-millisecond parts truncated).
std::string format_rfc3339(time_point t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' as separator
// too); nullopt for anything else, including out-of-range fields.
std::optional<time_point> parse_rfc3339(std::string_view s);

struct incident_event {
  event_kind kind = event_kind::incident_opened;  // incident_opened may carry state
                     // `suppressed`: such an incident runs no runbook (a later
                     // incident_unsuppressed makes it `open`).
  incident snapshot;  // the incident after the change; its timeline ends with this event
};

// What a result did to its target's health, as seen by the tracker.
enum class target_change_kind {
  check_failed,    // the first bad result after good (or unknown)
  check_recovered, // the first good result after bad
};
std::string_view to_string(target_change_kind k);

struct target_change {
  std::string target;
  target_change_kind kind = target_change_kind::check_failed;
  checks::check_result result;  // the result that changed it
};

// What one attempt of a check did, in order: per-target changes, incident events (journal
// them, then act), and the targets that are gone (a complete attempt no longer reports them:
// their incidents resolved in `events` with reason "target gone", the tracker forgot them; the
// caller removes their metric series).
struct attempt_outcome {
  std::vector<target_change> changes;
  std::vector<incident_event> events;
  std::vector<std::string> gone_targets;
};

struct check_policy {
  std::string name;
  int fall = 2;
  int rise = 1;
  int window = 2;
  std::chrono::milliseconds start_grace{0};
  severity level = severity::high;
  std::optional<severity> degraded_level;
  std::vector<std::string> depends_on;

  static check_policy from_config(const config::check_config& c);
};

// What /status shows per (check, target).
struct target_state {
  std::string check;
  std::string target;
  std::optional<checks::check_result> last;
  std::optional<time_point> last_at;
  int consecutive_bad = 0;
  int consecutive_good = 0;
  bool ever_passed = false;
  std::deque<bool> window;  // true = bad; newest at the back
  std::optional<std::string> incident_id;  // the open incident, if any
};

class incident_tracker {
 public:
  incident_tracker(std::vector<check_policy> policies,
                   std::map<severity, std::chrono::milliseconds> response_times,
                   time_point start);

  // One attempt of `check`: every result it reports, in order, then (complete attempts only)
  // every known target of the check it does not report is gone: its open incident resolves
  // with reason "target gone" (no `rise` needed), the target is forgotten and listed in
  // gone_targets. The "" target of an earlier whole-check failure is gone as soon as a
  // complete attempt does not report it. After an incomplete attempt the targets it does not
  // report keep their state (not counted, not gone). A result is taken at now - its latency:
  // a suppressed incident whose root cause went away at T is unsuppressed only by a bad
  // result taken at or after T (one taken before T is stale). An attempt of a check that is
  // not in the policies (a reload raced it) is ignored.
  attempt_outcome on_attempt(std::string_view check, const checks::attempt_result& a,
                             time_point now);

  // SLA breaches due at or before `now`.
  std::vector<incident_event> tick(time_point now);
  // The earliest SLA deadline still to fire, for the caller's timer.
  std::optional<time_point> next_deadline() const;

  // True while a transition of any target of `check` is pending (bad results counted but no
  // incident yet, or an open incident with good results but fewer than `rise`).
  bool transition_pending(std::string_view check) const;

  // open, suppressed or escalated -> acknowledged (no SLA breach after this). nullopt when the
  // id is not an open incident or is already acknowledged.
  std::optional<incident_event> acknowledge(std::string_view id, std::string comment,
                                            time_point now);

  // open -> escalated (remediation gave up), event incident_escalated with `reason` on the
  // timeline; sets escalated_at. nullopt when the incident is not in state open or was already
  // escalated in this episode (at most once, also across suppress/unsuppress).
  std::optional<incident_event> escalate(std::string_view id, std::string reason,
                                         time_point now);
  // Appends `entry` (its kind says what: remediation_started, step_finished, ...; `at` is set
  // to now) to an open incident and returns it as an event to journal; nullopt when the id is
  // not an open incident.
  std::optional<incident_event> annotate(std::string_view id, timeline_entry entry,
                                         time_point now);

  // Rebuild from the journal: the open incidents and the next sequence number (raised past the
  // restored ids if needed). Incidents of checks that are not configured are kept until the
  // next reconfigure() resolves them ("check removed"): call reconfigure(policies, now) right
  // after restore() to journal that. Streaks are not restored: targets start unknown, with
  // the tracker's start grace.
  void restore(std::vector<incident> open_incidents, std::uint64_t next_seq);

  // Replace the policies (reload). Targets of removed checks are forgotten and their open
  // incidents resolved with reason "check removed"; new checks get a fresh start grace; kept
  // checks keep their targets, streaks and incidents under the new policy.
  std::vector<incident_event> reconfigure(std::vector<check_policy> policies, time_point now);

  const incident* find(std::string_view id) const;
  std::vector<const incident*> open_incidents() const;
  std::vector<const target_state*> targets() const;
  std::uint64_t next_seq() const { return next_seq_; }

 private:
  // One counted result in the window (target_state::window mirrors `bad`).
  struct counted_result {
    bool bad = false;
    bool failing = false;
    time_point at;
  };
  struct target_entry {
    target_state state;
    std::deque<counted_result> window;
    // When its suppressed incident lost its root cause: bad results taken before this are
    // stale and do not unsuppress it.
    std::optional<time_point> released_at;
  };
  struct check_entry {
    check_policy policy;
    time_point grace_from;
    std::map<std::string, target_entry, std::less<>> targets;
  };
  // Private members and helpers are the implementation's to shape.
  target_entry& target_of(check_entry& c, const std::string& target);
  std::optional<target_change_kind> on_result(check_entry& c, const checks::check_result& r,
                                              time_point now, std::vector<incident_event>& events);
  void open_incident(check_entry& c, target_entry& t, const checks::check_result& r,
                     time_point now, std::vector<incident_event>& events);
  void resolve(incident& inc, std::string reason, time_point now,
               std::vector<incident_event>& events);
  void suppress_dependents(std::string_view check, time_point now,
                           std::vector<incident_event>& events);
  void reevaluate_suppressed(time_point now, std::vector<incident_event>& events);
  void unsuppress(incident& inc, target_entry& t, const std::string& reason, time_point now,
                  std::vector<incident_event>& events);
  std::optional<std::string> root_cause(std::string_view check) const;
  std::optional<std::string> failing_target(std::string_view check) const;
  bool depends_on(std::string_view check, std::string_view dependency) const;
  std::chrono::milliseconds response_time(severity s) const;
  incident_event record(incident& inc, timeline_entry entry, time_point now);

  std::map<std::string, check_entry, std::less<>> checks_;
  void index_dependencies();
  std::set<std::string, std::less<>> depended_on_;  // names some check depends_on
  std::map<std::string, incident, std::less<>> incidents_;  // open ones (resolved are dropped)
  std::map<severity, std::chrono::milliseconds> response_times_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace acis::daemon
