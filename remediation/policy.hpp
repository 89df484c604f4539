// When may a runbook run for an incident? The remediation policy, as a pure state machine.
//
// Pure: no Asio, no clock reads, no I/O; every entry point takes `now` (wall clock, like the
// incident tracker, so the journal can replay it after a restart). Single-threaded: the
// engine calls it from the event loop. Nothing here throws on expected input.
//
// Protocol: for an open incident with a runbook the engine calls decide(); on `run` it calls
// started() at once (before deciding for anything else), executes (or, in dry-run, logs the
// fully resolved argv) and calls finished(). It re-decides an incident at its `not_before`
// (next_wakeup() is the earliest), after any finished() (a busy runbook may now be free), and
// when the incident changes (unsuppressed, operator reset, maintenance over). On `give_up` it
// escalates the incident. It reports every result of a check target through target_healthy()
// / target_unhealthy(), and incident_closed() when the tracker resolves an incident.
//
// Semantics (SPEC.md "Incident lifecycle", issue 3):
//  - Attempts: an attempt is one run of the runbook for one incident. An incident gets at
//    most the runbook's `max_attempts` runs, never more. Attempt k+1 may start no earlier
//    than end_of_attempt_k + min(backoff * 2^(k-1), backoff_max). A "successful" attempt
//    (all steps passed, verify included) that does not resolve the incident is followed by
//    the next attempt on the same backoff as a failed one.
//  - Give up: after max_attempts attempts the decision is `give_up` (once; afterwards `skip`):
//    at once when the last attempt failed; when it succeeded, only at its end + the backoff
//    that would have preceded the next attempt, so an incident that is about to resolve
//    (`rise` passes still to come) is not escalated. An incident that gave up runs nothing
//    more until it closes or operator_reset() (e.g. an operator acked and asked for a retry).
//    An incident that arrives already escalated (restored from the journal) is skipped the
//    same way until operator_reset().
//  - One at a time: a runbook never runs twice at once (`wait` without not_before while it
//    is busy). Different runbooks may run at the same time.
//  - Cooldown: a run of a runbook for incident I may not start within `cooldown` of the end
//    of that runbook's last run for another incident. Attempts of one incident are spaced
//    by backoff only. So after an episode (an incident's attempts) ends, a new incident of a
//    flapping service waits out the cooldown: a flap every minute does not restart it every
//    minute.
//  - Rate limits: at most limits.runbook_runs_per_hour starts of one runbook and
//    limits.global_runs_per_hour starts over all runbooks within any rolling hour; a run
//    that would exceed one waits until the oldest start in the window is an hour old
//    (a start at s counts while now < s + 1h). A limit <= 0 means no limit.
//  - A wait reports the latest of all the time constraints (backoff, cooldown, both rate
//    limits) as not_before, with the binding one as reason.
//  - Skips (nothing changes): runbook not configured, suppressed (reason "suppressed by X":
//    the root cause is remediated first), gave up / escalated, maintenance (remediation
//    paused; checks and incidents go on, decisions are still reported).
//  - Dry-run is not a skip: the decision is `run`, the engine logs instead of executing and
//    still calls started()/finished(success=true). Dry-run runs count for attempts, backoff,
//    cooldown and rate limits, so a dry run shows exactly the cadence production would have.
//  - Hold (the breaker across episodes): per (runbook, check, target) the policy counts
//    consecutive episodes that gave up. When that reaches limits.give_ups_before_hold, a new
//    incident of that target is given up at once, before any run ("held"), and the engine
//    escalates it. The count goes back to 0 when an episode ends by resolution after at least
//    one run, on operator_reset() of an incident of that key, or when the target has been
//    healthy without interruption for reset_after (limits.reset_after, default
//    max(cooldown, 1h)) -- by time alone, without waiting for the next failure.
//  - The attempt counter of an incident disappears with the incident (incident_closed()).
//  - reconfigure() swaps the runbooks and keeps every counter and clock; an incident whose
//    attempts reach a lowered max_attempts gives up at its next decision.
//  - Restart: the engine replays the journal's runs through started()/finished() with their
//    recorded times (a run without an end is finished(success=false) at restart time).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/config.hpp"

namespace acis::remediation {

using wall_clock = std::chrono::system_clock;
using time_point = wall_clock::time_point;

struct policy_limits {
  int runbook_runs_per_hour = 6;
  int global_runs_per_hour = 20;
  int give_ups_before_hold = 2;  // consecutive episodes that gave up; <= 0: never hold
  std::optional<config::duration> reset_after;  // default per runbook: max(cooldown, 1h)
};

// The limits the config sets (its "remediation" section: the hourly caps); the others keep
// their defaults.
inline policy_limits limits_from(const config::remediation_config& r) {
  policy_limits limits;
  limits.runbook_runs_per_hour = r.max_runs_per_hour;
  limits.global_runs_per_hour = r.max_runs_per_hour_total;
  return limits;
}

// Which incident, and the names the policy keys its counters by.
struct incident_ref {
  std::string id;
  std::string runbook;
  std::string check;
  std::string target;
};

// What the engine knows about the incident and the daemon at the moment of deciding.
struct incident_conditions {
  std::optional<std::string> suppressed_by;  // set: suppressed, naming the root cause
  bool escalated = false;                    // the tracker has it escalated
  bool maintenance = false;                  // remediation paused
};

struct decision {
  enum class kind { run, wait, give_up, skip };
  kind what = kind::skip;
  // wait: run no earlier than this; nullopt = until an event (the busy runbook finishes).
  std::optional<time_point> not_before;
  std::string reason;
  // run: the number of the attempt about to start (1-based); wait: the next attempt's number;
  // give_up / skip: the attempts made so far.
  int attempt = 0;
};
std::string_view to_string(decision::kind k);

// For /status and the journal.
struct policy_snapshot {
  struct incident_view {
    std::string id, runbook, check, target;
    int attempts = 0;
    bool running = false;
    bool gave_up = false;
    std::optional<time_point> last_attempt_end;
    std::optional<bool> last_attempt_succeeded;
    std::optional<time_point> waiting_until;
  };
  struct runbook_view {
    std::string name;
    std::optional<std::string> running_incident;
    std::optional<time_point> last_run_start;
    std::optional<time_point> last_run_end;
    std::optional<std::string> last_run_incident;
    std::optional<time_point> cooldown_until;  // for incidents other than last_run_incident
    int runs_last_hour = 0;
  };
  struct target_view {
    std::string runbook, check, target;
    int consecutive_give_ups = 0;
    bool held = false;
    std::optional<time_point> healthy_since;
  };
  std::vector<incident_view> incidents;
  std::vector<runbook_view> runbooks;
  std::vector<target_view> targets;  // only keys with a give-up count
  int global_runs_last_hour = 0;
};

class remediation_policy {
 public:
  remediation_policy(std::map<std::string, config::runbook_config> runbooks,
                     policy_limits limits = {});

  // Everything but give_up leaves the counters as they were: a decision that is not acted on
  // changes nothing (it only remembers a wait's not_before for next_wakeup()).
  decision decide(const incident_ref& incident, const incident_conditions& conditions,
                  time_point now);
  // An attempt starts. False (and nothing recorded) when the runbook is already running or
  // the incident has used all its attempts: the caller did not follow decide().
  bool started(const incident_ref& incident, time_point now);
  // The attempt ends (success: every step passed). Also for an incident closed meanwhile: it
  // frees the runbook. False when no run of that incident is in progress.
  bool finished(std::string_view incident_id, bool success, time_point now);
  // The incident resolved: its attempt counter goes; a run in progress still holds the
  // runbook until finished().
  void incident_closed(std::string_view incident_id, time_point now);
  // An operator acted: the incident gets a fresh set of attempts with no backoff, even if it
  // gave up or arrived escalated, and its target's hold count is cleared.
  void operator_reset(std::string_view incident_id);

  // Health of a check target, from every result. The healthy clock starts at the first
  // healthy report after an unhealthy one (or ever) and stops at the next unhealthy one.
  void target_healthy(std::string_view check, std::string_view target, time_point now);
  void target_unhealthy(std::string_view check, std::string_view target, time_point now);

  // The earliest not_before among incidents whose last decision was a timed wait.
  std::optional<time_point> next_wakeup() const;

  // Reload: new runbook definitions, every counter and clock kept.
  void reconfigure(std::map<std::string, config::runbook_config> runbooks);
  // Reload with new caps (remediation.max_runs_per_hour*): the windows of starts are kept.
  void reconfigure(std::map<std::string, config::runbook_config> runbooks, policy_limits limits);

  policy_snapshot snapshot(time_point now) const;

  // The durable state (journaled by the engine, restored after a restart): per runbook the
  // run in progress, the last run and the starts of the rolling hour; the global starts; the
  // hold counts; and every incident that has used attempts or gave up. Time points as
  // milliseconds since the epoch. Restoring keeps a run that was in progress as running: the
  // engine ends what is left of it and calls finished(success=false).
  nlohmann::json save() const;
  // False (and nothing changed) when `state` is not a saved state.
  bool restore(const nlohmann::json& state);
  // Incidents whose run is in progress.
  std::vector<incident_ref> running() const;

  // min(backoff * 2^(attempts-1), backoff_max): the pause after attempt number `attempts`.
  static config::duration backoff_after(const config::runbook_config& rb, int attempts);

 private:
  struct incident_entry {
    incident_ref ref;
    int attempts = 0;  // started attempts in this episode
    bool running = false;
    bool gave_up = false;
    bool operator_cleared = false;  // operator_reset() since the last give-up
    std::optional<time_point> last_end;
    std::optional<bool> last_success;
    std::optional<time_point> waiting_until;
  };
  struct runbook_entry {
    std::optional<std::string> running_incident;
    std::optional<time_point> last_run_start;
    std::optional<time_point> last_run_end;
    std::optional<std::string> last_run_incident;
    std::deque<time_point> starts;  // within the last hour (pruned lazily), oldest first
  };
  using target_key = std::tuple<std::string, std::string, std::string>;  // runbook, check, target
  using health_key = std::pair<std::string, std::string>;                // check, target

  config::duration reset_after(const std::string& runbook) const;
  int effective_give_ups(const target_key& key, time_point now) const;
  void apply_due_resets(std::string_view check, std::string_view target, time_point now);
  void clear_hold(const incident_ref& ref);
  decision wait_or_run(incident_entry& inc, const config::runbook_config& rb, time_point now);

  std::map<std::string, config::runbook_config> runbooks_;
  policy_limits limits_;
  std::map<std::string, incident_entry, std::less<>> incidents_;
  std::map<std::string, runbook_entry, std::less<>> runbook_state_;
  std::deque<time_point> global_starts_;
  std::map<target_key, int> give_ups_;
  std::map<health_key, time_point> healthy_since_;
};

}  // namespace acis::remediation
