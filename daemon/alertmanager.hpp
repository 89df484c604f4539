// Incidents as Prometheus Alertmanager alerts (SPEC.md "Beyond one machine"): with
// `notify.alertmanager_url` set, every open incident is an alert posted to `/api/v2/alerts`,
// re-sent while open, and ended with `endsAt` when the incident resolves.
//
// Two layers:
//  - alert_queue: pure (no Asio, no clock read, no I/O). It keeps the current alert of every
//    incident (the latest update wins, so a flapping incident never floods anything), decides
//    what is due (changes, resolutions, periodic re-sends), and enforces the capacity with the
//    drop policy below. Tests drive it in simulated time.
//  - alertmanager_notifier: one sender coroutine on the daemon's event loop that takes batches
//    from the queue and POSTs them with checks::http_request (one deadline per request),
//    retrying with exponential backoff and jitter. update() only records and pokes the sender:
//    it never waits, never does I/O, so the check path never blocks on Alertmanager.
//
// Alert shape (identity labels are stable for the life of an incident, so Alertmanager sees one
// alert per incident; what changes goes into annotations):
//   labels       alertname="AcisIncident", severity, check, target (omitted when empty),
//                runbook (omitted when the check has none), instance, incident
//   annotations  summary ("critical: models/value_small failing: <reason>", bounded),
//                description, state, sla_deadline, sla_breached, escalated, report_url,
//                runbook_url (the runbook's doc), contact, backup_contact (once the SLA is
//                breached), suppressed_by, acknowledged
//   startsAt     the incident's opened_at
//   endsAt       firing: send time + 4 x resend_interval (as Prometheus does: Alertmanager keeps
//                the alert active while we keep re-sending, and ends it by itself if we stop,
//                whatever its resolve_timeout); resolved: the resolution time
//   generatorURL the report URL
// `severity` is a label because routing trees match on it; when an incident's severity (or
// runbook) changes, the alert under the old labels is ended in the same batch as the new one.
//
// States: open, escalated and acknowledged incidents fire (an acknowledged one keeps firing:
// acknowledging is not fixing; silence it in Alertmanager). A suppressed incident does not fire:
// its root cause's alert covers the page; if it had already been sent, it is ended (endsAt = the
// suppression time) and fires again if it becomes unsuppressed. A resolved incident is sent
// once with endsAt, then forgotten.
//
// Thread: every member function of both classes runs on the daemon's event loop (the
// notifier's executor); nothing here is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "daemon/event_log.hpp"
#include "daemon/incident.hpp"

namespace acis::daemon {

// What the config knows about an incident's check, resolved by the caller.
struct alert_context {
  std::optional<std::string> runbook;                    // the check's runbook name (label)
  std::optional<std::string> runbook_doc;                // its doc URL (annotation runbook_url)
  std::optional<config::escalation_contacts> contacts;  // by the check's issue_type
};

struct alertmanager_options {
  std::string url;           // notify.alertmanager_url, e.g. "http://127.0.0.1:9093" (a path
                             // prefix is kept: "http://h/am" posts to /am/api/v2/alerts)
  std::string instance;      // the `instance` label, e.g. "host1 127.0.0.1:9187"
  std::string external_url;  // this daemon's base URL for links, e.g. "http://127.0.0.1:9187"
  std::size_t queue_capacity = 1000;  // alerts held at once (firing ones and pending ends)
  std::size_t batch_max = 64;         // alerts per POST
  std::chrono::milliseconds resend_interval = std::chrono::minutes(1);
  std::chrono::milliseconds request_timeout = std::chrono::seconds(5);  // one POST, all phases
  std::chrono::milliseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::milliseconds backoff_max = std::chrono::seconds(60);
};

// Counters, monotonic except `held` and `pending`.
struct alertmanager_stats {
  std::uint64_t delivered = 0;  // alerts in batches Alertmanager accepted (2xx)
  std::uint64_t failed = 0;     // POST attempts that failed (no answer, 5xx, 404, 429, ...)
  std::uint64_t rejected = 0;   // alerts in batches answered 400/422 (not retried)
  std::uint64_t dropped = 0;    // alerts dropped because the queue was full
  std::size_t held = 0;         // alerts held now
  std::size_t pending = 0;      // alerts held now that are due or waiting for a retry
};

// ---- the pure queue ----------------------------------------------------------------------------

class alert_queue {
 public:
  using mono_time = std::chrono::steady_clock::time_point;

  // One alert of a batch, ready to serialise. `id` is the incident; `version` says which update
  // of it the batch carried (for delivered()).
  struct item {
    std::string id;
    std::uint64_t version = 0;
    bool firing = true;
    bool resend = false;  // nothing changed since the last delivery: a periodic re-send
  };
  struct batch {
    std::vector<item> items;
    nlohmann::json alerts = nlohmann::json::array();  // the POST body (stale alerts included)
    bool empty() const { return items.empty(); }
  };
  // What update() did, for the caller's log.
  struct update_result {
    bool changed = false;                  // something will be sent
    std::vector<std::string> dropped;      // incidents whose alert was dropped (queue full)
  };

  explicit alert_queue(alertmanager_options opts);

  // Records the incident's latest state. Never blocks, never throws for any incident content.
  update_result update(const incident& i, const alert_context& ctx);

  // Up to batch_max due alerts: ends (resolved, suppressed) first, then changed firing alerts,
  // then firing alerts whose last delivery is resend_interval old. Firing alerts get
  // endsAt = wall_now + 4 x resend_interval. Empty when nothing is due.
  batch take(mono_time now, time_point wall_now);
  // The batch reached Alertmanager (or was rejected for good): ends are forgotten, firing
  // alerts are due again resend_interval after `now` (sooner if updated meanwhile).
  void delivered(const batch& b, mono_time now);
  // When take() will next return something; nullopt when nothing is held.
  std::optional<mono_time> next_due(mono_time now) const;

  std::size_t size() const { return entries_.size(); }
  std::size_t pending(mono_time now) const;
  std::uint64_t dropped() const { return dropped_; }
  const alertmanager_options& options() const { return opts_; }

  // The labels and annotations update() would give the incident (exposed for tests).
  std::map<std::string, std::string> labels_for(const incident& i, const alert_context& ctx) const;
  std::map<std::string, std::string> annotations_for(const incident& i,
                                                     const alert_context& ctx) const;

 private:
  struct stale_alert {  // an alert under labels the incident no longer has: sent ended
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    time_point starts_at{};
    time_point ends_at{};
    std::uint64_t added_in = 0;  // the entry's version when it became stale
  };
  struct entry {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    time_point starts_at{};
    std::optional<time_point> ends_at;  // set: an end to deliver once, then forget
    severity level = severity::high;
    std::uint64_t version = 1;
    std::uint64_t delivered_version = 0;
    bool attempted = false;  // some version was put in a batch: Alertmanager may know it
    std::optional<mono_time> last_delivered;
    std::uint64_t seq = 0;  // admission order (oldest first when dropping)
    std::vector<stale_alert> stale;
    bool firing() const { return !ends_at; }
    bool changed() const { return version != delivered_version; }
  };

  bool due(const entry& e, mono_time now) const;
  bool admit(const std::string& id, const entry& incoming, update_result& r);
  static nlohmann::json to_alert(const std::map<std::string, std::string>& labels,
                                 const std::map<std::string, std::string>& annotations,
                                 time_point starts_at, time_point ends_at);

  alertmanager_options opts_;
  std::map<std::string, entry, std::less<>> entries_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_ = 0;
};

// Backoff before retry number `failures` (1 = after the first failure): initial x 2^(n-1),
// capped at max, then scaled into [half, full] by `unit` in [0, 1] (the jitter: many daemons
// that lost the same Alertmanager do not come back in step).
std::chrono::milliseconds notify_backoff(int failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double unit);

// ---- the notifier ------------------------------------------------------------------------------

class alertmanager_notifier {
 public:
  // The daemon's event_log::write, typically. Events: notify_delivered (info; debug for pure
  // re-sends), notify_failed (warn on the first failure of a streak, debug after),
  // notify_rejected (error: Alertmanager answered 400/422), notify_dropped (error: queue full).
  // Never called after stop().
  using logger = std::function<void(log_level, std::string_view event, nlohmann::json fields)>;

  // Starts the sender on `ex` (single-threaded: the daemon's loop). Throws
  // std::invalid_argument when opts.url is not an http:// URL (config validation should have
  // refused it already).
  alertmanager_notifier(boost::asio::any_io_executor ex, alertmanager_options opts, logger log);
  // stop(). Destroy it before the io_context behind `ex` (declare it after that member).
  ~alertmanager_notifier();
  alertmanager_notifier(const alertmanager_notifier&) = delete;
  alertmanager_notifier& operator=(const alertmanager_notifier&) = delete;

  // Call on every incident event with the snapshot after the change. Returns at once: records
  // the state and wakes the sender. Ignored after stop().
  void update(const incident& i, const alert_context& ctx);

  // Cancels the sender (an in-flight POST included) promptly; alerts still held are lost
  // (firing ones end by themselves in Alertmanager at their endsAt). Idempotent.
  void stop();

  alertmanager_stats stats() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with the sender coroutine, which may outlive us
};

}  // namespace acis::daemon
