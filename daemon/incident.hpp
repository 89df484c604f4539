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
//    cause resolves, a suppressed incident whose check is still bad becomes `open` again
//    (`incident_unsuppressed`) with its SLA clock restarting at that moment; a suppressed
//    incident does not breach its SLA.
//  - Incident ids are "INC-" + a 6-digit sequence, never reused: the journal restores the
//    sequence after a restart.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
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

struct timeline_entry {
  time_point at;
  std::string event;   // the log event name, e.g. "incident_opened"
  std::string detail;  // human readable
};

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
  std::vector<timeline_entry> timeline;

  bool is_open() const { return state != incident_state::resolved; }
};

// JSON form (the journal, /incidents): time points as RFC 3339 strings, `level` under the key
// "severity" and `state` by their names, absent optionals as null.
void to_json(nlohmann::json& j, const incident& i);
void from_json(const nlohmann::json& j, incident& i);  // throws nlohmann::json::exception

// RFC 3339, UTC, milliseconds: "2026-11-30T07:55:11.123Z" (sub-millisecond parts truncated).
std::string format_rfc3339(time_point t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' as separator
// too); nullopt for anything else, including out-of-range fields.
std::optional<time_point> parse_rfc3339(std::string_view s);

struct incident_event {
  std::string kind;  // incident_opened, incident_suppressed, incident_unsuppressed,
                     // incident_severity_changed, sla_breached, incident_acknowledged,
                     // incident_escalated, incident_resolved, or an annotate() event name.
                     // incident_opened may carry state `suppressed`: such an incident runs
                     // no runbook (a later incident_unsuppressed makes it `open`).
  incident snapshot;  // the incident after the change; its timeline ends with this event
};

// What a single result did to its (check, target).
struct result_outcome {
  // "check_failed" on the first bad result after good (or unknown), "check_recovered" on the
  // first good result after bad; empty otherwise.
  std::string check_event;
  std::vector<incident_event> events;
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

  // A result of a check that is not in the policies (a reload raced it) is ignored.
  result_outcome on_result(std::string_view check, const checks::check_result& r,
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

  // open -> escalated (remediation gave up), event incident_escalated with `detail` on the
  // timeline. nullopt when the incident is not in state open.
  std::optional<incident_event> escalate(std::string_view id, std::string detail,
                                         time_point now);
  // Appends a timeline entry (e.g. remediation_started, step_finished) to an open incident
  // and returns it as an event to journal; nullopt when the id is not an open incident.
  std::optional<incident_event> annotate(std::string_view id, std::string event,
                                         std::string detail, time_point now);

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
  };
  struct check_entry {
    check_policy policy;
    time_point grace_from;
    std::map<std::string, target_entry, std::less<>> targets;
  };
  // Private members and helpers are the implementation's to shape.
  target_entry& target_of(check_entry& c, const std::string& target);
  void open_incident(check_entry& c, target_entry& t, const checks::check_result& r,
                     time_point now, std::vector<incident_event>& events);
  void resolve(incident& inc, std::string detail, time_point now,
               std::vector<incident_event>& events);
  void suppress_dependents(std::string_view check, time_point now,
                           std::vector<incident_event>& events);
  void reevaluate_suppressed(time_point now, std::vector<incident_event>& events);
  std::optional<std::string> root_cause(std::string_view check) const;
  std::optional<std::string> failing_target(std::string_view check) const;
  bool depends_on(std::string_view check, std::string_view dependency) const;
  std::chrono::milliseconds response_time(severity s) const;
  incident_event record(incident& inc, std::string kind, std::string detail, time_point now);

  std::map<std::string, check_entry, std::less<>> checks_;
  std::map<std::string, incident, std::less<>> incidents_;  // open ones (resolved are dropped)
  std::map<severity, std::chrono::milliseconds> response_times_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace acis::daemon
