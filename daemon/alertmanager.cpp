#include "daemon/alertmanager.hpp"

// g++ 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (their class-level
// operator new/delete recycle memory), once inlined at -O2 (GCC PR 109224, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "checks/http_client.hpp"

namespace acis::daemon {

namespace asio = boost::asio;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t summary_max = 200;
constexpr std::size_t description_reason_max = 1000;
constexpr std::size_t value_max = 256;  // labels and short annotations

// One line of at most `max` bytes: control characters become spaces, a cut never splits a UTF-8
// sequence and is marked with "...". Invalid UTF-8 is left for the JSON dump to replace.
std::string one_line(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 3);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (out.size() > max) {
    std::size_t cut = max;
    // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

bool fires(incident_state s) {
  return s == incident_state::open || s == incident_state::escalated ||
         s == incident_state::acknowledged;
}

// When the event that produced this snapshot happened (its timeline ends with it).
time_point event_time(const incident& i) {
  if (i.state == incident_state::resolved && i.resolved_at) return *i.resolved_at;
  if (!i.timeline.empty()) return i.timeline.back().at;
  return i.opened_at;
}

std::string strip_trailing_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::chrono::milliseconds notify_backoff(int failures, std::chrono::milliseconds initial,
                                         std::chrono::milliseconds max, double unit) {
  double d = static_cast<double>(std::max<std::int64_t>(initial.count(), 1));
  const double cap = static_cast<double>(std::max(max, initial).count());
  for (int k = 1; k < failures && d < cap; ++k) d *= 2;
  d = std::min(d, cap);
  unit = std::clamp(unit, 0.0, 1.0);
  const auto ms = std::llround(d * (0.5 + 0.5 * unit));
  return std::chrono::milliseconds(std::max<long long>(ms, 1));
}

// ---- alert_queue ----------------------------------------------------------------------------

alert_queue::alert_queue(alertmanager_options opts) : opts_(std::move(opts)) {
  opts_.queue_capacity = std::max<std::size_t>(opts_.queue_capacity, 1);
  opts_.batch_max = std::max<std::size_t>(opts_.batch_max, 1);
  opts_.resend_interval = std::max(opts_.resend_interval, std::chrono::milliseconds(1));
  opts_.external_url = strip_trailing_slashes(opts_.external_url);
}

std::map<std::string, std::string> alert_queue::labels_for(const incident& i,
                                                           const alert_context& ctx) const {
  // Identity: Alertmanager fingerprints the label set, so only what stays fixed for the life of
  // an incident (plus severity, which routing needs) is a label. Empty values are omitted, as
  // Alertmanager treats an empty label as an absent one.
  std::map<std::string, std::string> l;
  l["alertname"] = "AcisIncident";
  l["severity"] = std::string(config::to_string(i.level));
  l["check"] = one_line(i.check, value_max);
  if (!i.target.empty()) l["target"] = one_line(i.target, value_max);
  if (ctx.runbook && !ctx.runbook->empty()) l["runbook"] = one_line(*ctx.runbook, value_max);
  if (!opts_.instance.empty()) l["instance"] = one_line(opts_.instance, value_max);
  l["incident"] = one_line(i.id, value_max);
  return l;
}

std::map<std::string, std::string> alert_queue::annotations_for(const incident& i,
                                                                const alert_context& ctx) const {
  std::map<std::string, std::string> a;
  const std::string where = i.target.empty() ? i.check : i.check + "/" + i.target;
  const std::string state(to_string(i.state));

  std::string head = std::string(config::to_string(i.level)) + ": " + where + " failing";
  if (i.state != incident_state::open) head += " (" + state + ")";
  head += ": ";
  a["summary"] = one_line(head + i.reason, summary_max);

  std::string d = "Incident " + i.id + " (" + state + "), severity " +
                  std::string(config::to_string(i.level)) + ", check " + i.check;
  if (!i.target.empty()) d += ", target " + i.target;
  d += ", opened " + format_rfc3339(i.opened_at);
  if (i.sla_deadline != time_point{})
    d += i.sla_breached ? ", SLA breached (deadline " + format_rfc3339(i.sla_deadline) + ")"
                        : ", SLA deadline " + format_rfc3339(i.sla_deadline);
  if (i.suppressed_by) d += ", suppressed by " + *i.suppressed_by;
  if (i.acknowledged_at) {
    d += ", acknowledged " + format_rfc3339(*i.acknowledged_at);
    if (i.ack_comment && !i.ack_comment->empty()) d += " (" + *i.ack_comment + ")";
  }
  if (i.resolved_at) d += ", resolved " + format_rfc3339(*i.resolved_at);
  d += ". Reason: " + i.reason;
  a["description"] = one_line(d, description_reason_max + 600);

  a["state"] = state;
  a["escalated"] = i.state == incident_state::escalated ? "true" : "false";
  a["sla_breached"] = i.sla_breached ? "true" : "false";
  if (i.sla_deadline != time_point{}) a["sla_deadline"] = format_rfc3339(i.sla_deadline);
  if (!opts_.external_url.empty())
    a["report_url"] = opts_.external_url + "/incidents/" + one_line(i.id, value_max) + "/report";
  if (ctx.runbook_doc && !ctx.runbook_doc->empty())
    a["runbook_url"] = one_line(*ctx.runbook_doc, value_max);
  if (ctx.contacts) {
    a["contact"] = one_line(ctx.contacts->primary, value_max);
    // The backup contact once the response time has passed (SPEC.md escalation).
    if (i.sla_breached) a["backup_contact"] = one_line(ctx.contacts->backup, value_max);
  }
  if (i.suppressed_by) a["suppressed_by"] = one_line(*i.suppressed_by, value_max);
  if (i.acknowledged_at) {
    std::string ack = format_rfc3339(*i.acknowledged_at);
    if (i.ack_comment && !i.ack_comment->empty()) ack += " " + *i.ack_comment;
    a["acknowledged"] = one_line(ack, value_max);
  }
  return a;
}

alert_queue::update_result alert_queue::update(const incident& i, const alert_context& ctx) {
  update_result r;
  const bool firing = fires(i.state);
  auto labels = labels_for(i, ctx);
  auto annotations = annotations_for(i, ctx);
  std::optional<time_point> ends;
  if (!firing) ends = std::max(event_time(i), i.opened_at);  // Alertmanager: start <= end

  auto it = entries_.find(i.id);
  if (it == entries_.end()) {
    // Suppressed and never sent: Alertmanager does not know it, there is nothing to end.
    if (i.state == incident_state::suppressed) return r;
    // A resolution we hold no alert for is still sent (it may have fired before a restart,
    // or been dropped; ending an alert Alertmanager never saw is harmless).
    entry e;
    e.labels = std::move(labels);
    e.annotations = std::move(annotations);
    e.starts_at = i.opened_at;
    e.ends_at = ends;
    e.level = i.level;
    r.changed = admit(i.id, e, r);
    return r;
  }

  entry& e = it->second;
  if (i.state == incident_state::suppressed && !e.attempted && e.stale.empty()) {
    entries_.erase(it);  // it never left the queue: Alertmanager has nothing to end
    return r;
  }
  if (e.labels == labels && e.annotations == annotations && e.starts_at == i.opened_at &&
      e.ends_at.has_value() == ends.has_value()) {
    return r;  // nothing Alertmanager would see changed (e.g. a step_started annotation)
  }
  if (e.labels != labels && e.attempted) {
    // A new label set is a new alert to Alertmanager: end the old one, or it lingers until
    // its endsAt.
    stale_alert s{e.labels, e.annotations, e.starts_at,
                  std::max(event_time(i), e.starts_at), e.version + 1};
    e.stale.push_back(std::move(s));
  }
  e.labels = std::move(labels);
  e.annotations = std::move(annotations);
  e.starts_at = i.opened_at;
  e.ends_at = ends;
  e.level = i.level;
  ++e.version;
  r.changed = true;
  return r;
}

bool alert_queue::admit(const std::string& id, const entry& incoming, update_result& r) {
  if (entries_.size() < opts_.queue_capacity) {
    auto& e = entries_[id] = incoming;
    e.seq = next_seq_++;
    return true;
  }
  // Full. Never drop a pending end. Among firing alerts, drop first those whose only pending
  // work is a re-send (Alertmanager has the current version), then the lowest severity, then
  // the oldest. The incoming alert competes as the newest, not yet delivered one.
  using key = std::tuple<int, int, std::uint64_t>;
  auto key_of = [](const entry& e, std::uint64_t seq) {
    const bool resend_only = e.delivered_version > 0 && !e.changed() && e.stale.empty();
    return key{resend_only ? 0 : 1, -static_cast<int>(e.level), seq};
  };
  std::optional<key> best;
  std::string victim;
  for (const auto& [vid, e] : entries_) {
    if (!e.firing()) continue;
    auto k = key_of(e, e.seq);
    if (!best || k < *best) {
      best = k;
      victim = vid;
    }
  }
  if (incoming.firing()) {
    auto k = key_of(incoming, next_seq_);
    if (!best || k < *best) {
      best = k;
      victim = id;
    }
  }
  ++dropped_;
  if (!best || victim == id) {
    r.dropped.push_back(id);
    return false;
  }
  entries_.erase(victim);
  r.dropped.push_back(victim);
  auto& e = entries_[id] = incoming;
  e.seq = next_seq_++;
  return true;
}

bool alert_queue::due(const entry& e, mono_time now) const {
  if (e.changed() || !e.stale.empty()) return true;
  return e.firing() && (!e.last_delivered || now >= *e.last_delivered + opts_.resend_interval);
}

json alert_queue::to_alert(const std::map<std::string, std::string>& labels,
                           const std::map<std::string, std::string>& annotations,
                           time_point starts_at, time_point ends_at) {
  return json{{"labels", labels},
              {"annotations", annotations},
              {"startsAt", format_rfc3339(starts_at)},
              {"endsAt", format_rfc3339(ends_at)},
              {"generatorURL", annotations.count("report_url") ? annotations.at("report_url")
                                                               : std::string()}};
}

alert_queue::batch alert_queue::take(mono_time now, time_point wall_now) {
  // Ends first (never lost behind a crowd of re-sends), then changes, then re-sends; oldest
  // first within each.
  std::vector<std::tuple<int, std::uint64_t, const std::string*>> due_now;
  for (const auto& [id, e] : entries_) {
    if (!due(e, now)) continue;
    const int rank = !e.firing() ? 0 : (e.changed() || !e.stale.empty()) ? 1 : 2;
    due_now.emplace_back(rank, e.seq, &id);
  }
  std::sort(due_now.begin(), due_now.end());
  if (due_now.size() > opts_.batch_max) due_now.resize(opts_.batch_max);

  batch b;
  const auto firing_end = wall_now + 4 * opts_.resend_interval;
  for (const auto& [rank, seq, id] : due_now) {
    entry& e = entries_.find(*id)->second;
    for (const auto& s : e.stale)
      b.alerts.push_back(to_alert(s.labels, s.annotations, s.starts_at, s.ends_at));
    const auto ends = e.ends_at ? *e.ends_at : std::max(firing_end, e.starts_at);
    b.alerts.push_back(to_alert(e.labels, e.annotations, e.starts_at, ends));
    b.items.push_back(item{*id, e.version, e.firing(), rank == 2});
    e.attempted = true;
  }
  return b;
}

void alert_queue::delivered(const batch& b, mono_time now) {
  for (const auto& it : b.items) {
    auto found = entries_.find(it.id);
    if (found == entries_.end()) continue;  // dropped meanwhile
    entry& e = found->second;
    e.delivered_version = std::max(e.delivered_version, it.version);
    e.last_delivered = now;
    std::erase_if(e.stale, [&](const stale_alert& s) { return s.added_in <= it.version; });
    if (!e.firing() && !e.changed() && e.stale.empty()) entries_.erase(found);
  }
}

std::optional<alert_queue::mono_time> alert_queue::next_due(mono_time now) const {
  std::optional<mono_time> next;
  for (const auto& [id, e] : entries_) {
    if (due(e, now)) return now;
    if (e.firing() && e.last_delivered) {
      const auto t = *e.last_delivered + opts_.resend_interval;
      if (!next || t < *next) next = t;
    }
  }
  return next;
}

std::size_t alert_queue::pending(mono_time now) const {
  return static_cast<std::size_t>(std::count_if(
      entries_.begin(), entries_.end(), [&](const auto& kv) { return due(kv.second, now); }));
}

// ---- alertmanager_notifier ------------------------------------------------------------------

struct alertmanager_notifier::impl {
  impl(asio::any_io_executor e, alertmanager_options opts, logger l)
      : ex(std::move(e)), queue(std::move(opts)), log(std::move(l)), wake(ex), backoff(ex),
        rng(std::random_device{}()) {}

  asio::any_io_executor ex;
  alert_queue queue;
  checks::url_parts url;  // target: the prefix + /api/v2/alerts
  std::string display;    // for the log
  logger log;
  asio::steady_timer wake;     // the idle sender waits on it; update() cancels it
  asio::steady_timer backoff;  // a retry delay; only stop() cuts it short
  asio::cancellation_signal cancel;
  bool stopped = false;
  bool idle = false;
  int failures = 0;  // in a row
  steady::time_point failing_since{};
  std::minstd_rand rng;
  alertmanager_stats counters;

  void emit(log_level level, std::string_view event, json fields) {
    if (stopped || !log) return;
    fields["alertmanager"] = display;
    log(level, event, std::move(fields));
  }

  static asio::awaitable<void> run(std::shared_ptr<impl> self) { co_await self->loop(); }

  asio::awaitable<void> loop() {
    const auto& o = queue.options();
    while (!stopped) {
      const auto now = steady::now();
      auto b = queue.take(now, wall_clock::now());
      if (b.empty()) {
        const auto due = queue.next_due(now);
        wake.expires_at(due ? *due : steady::time_point::max());
        idle = true;
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        idle = false;
        continue;
      }

      checks::http_request_spec spec;
      spec.method = "POST";
      spec.headers = {{"Content-Type", "application/json"}};
      // Invalid UTF-8 (a log line in a reason) is replaced, not thrown: Alertmanager would
      // refuse the whole batch otherwise.
      spec.body = b.alerts.dump(-1, ' ', false, json::error_handler_t::replace);
      spec.max_body_bytes = 64 * 1024;
      auto r = co_await checks::http_request(ex, url, std::move(spec),
                                             steady::now() + o.request_timeout);
      if (stopped) co_return;  // cancelled: no further co_await, no callback

      const int status = r ? r.response->status : 0;
      if (status >= 200 && status < 300) {
        on_delivered(b);
      } else if (status == 400 || status == 422) {
        // The content was refused; the same bytes would be refused again. Alertmanager (0.25)
        // still stores the valid alerts of a batch it answers 400, so nothing valid is lost.
        queue.delivered(b, steady::now());
        counters.rejected += b.alerts.size();
        emit(log_level::error, "notify_rejected",
             {{"status", status},
              {"reason", checks::printable_excerpt(r.response->body, 300)},
              {"incidents", ids(b, false)}});
        reset_failures();
      } else {
        ++failures;
        ++counters.failed;
        if (failures == 1) failing_since = steady::now();
        const auto delay = notify_backoff(failures, o.backoff_initial, o.backoff_max,
                                          std::uniform_real_distribution<double>(0, 1)(rng));
        const std::string reason =
            r ? "HTTP " + std::to_string(status) + ": " +
                    checks::printable_excerpt(r.response->body, 200)
              : r.error.message;
        // The first failure of a streak is the transition operators need; the rest is debug
        // (the streak's length comes with notify_delivered, and in the failed counter).
        emit(failures == 1 ? log_level::warn : log_level::debug, "notify_failed",
             {{"reason", reason},
              {"attempt", failures},
              {"retry_in_ms", delay.count()},
              {"alerts", b.alerts.size()},
              {"pending", queue.pending(steady::now())}});
        backoff.expires_after(delay);
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }

  static json ids(const alert_queue::batch& b, bool changes_only) {
    json out = json::array();
    for (const auto& it : b.items)
      if (!changes_only || !it.resend) out.push_back(it.id);
    return out;
  }

  void on_delivered(const alert_queue::batch& b) {
    queue.delivered(b, steady::now());
    counters.delivered += b.alerts.size();
    json fields{{"alerts", b.alerts.size()}, {"incidents", ids(b, true)}};
    json resolved = json::array();
    for (const auto& it : b.items)
      if (!it.firing) resolved.push_back(it.id);
    if (!resolved.empty()) fields["ended"] = std::move(resolved);
    bool changes = false;
    for (const auto& it : b.items) changes = changes || !it.resend;
    if (failures > 0) {
      fields["after_failures"] = failures;
      fields["outage_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                steady::now() - failing_since)
                                .count();
    }
    emit(changes || failures > 0 ? log_level::info : log_level::debug, "notify_delivered",
         std::move(fields));
    reset_failures();
  }

  void reset_failures() { failures = 0; }
};

alertmanager_notifier::alertmanager_notifier(asio::any_io_executor ex, alertmanager_options opts,
                                             logger log) {
  std::string error;
  auto parts = checks::parse_http_url(opts.url, error);
  if (!parts) throw std::invalid_argument("alertmanager_url: " + error);
  if (parts->target.find('?') != std::string::npos)
    throw std::invalid_argument("alertmanager_url: a query string is not allowed");
  parts->target = strip_trailing_slashes(parts->target) + "/api/v2/alerts";

  impl_ = std::make_shared<impl>(ex, std::move(opts), std::move(log));
  impl_->url = std::move(*parts);
  impl_->display = impl_->url.display();
  auto self = impl_;
  asio::co_spawn(ex, impl::run(impl_),
                 asio::bind_cancellation_slot(
                     impl_->cancel.slot(), [self](std::exception_ptr e) {
                       // Nothing is expected to escape; if something does (bad_alloc), say so
                       // unless we were stopping (cancellation may surface as an exception).
                       if (!e || self->stopped) return;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         self->emit(log_level::error, "internal_error",
                                    {{"reason", std::string("alertmanager sender: ") + ex.what()}});
                       } catch (...) {
                         self->emit(log_level::error, "internal_error",
                                    {{"reason", "alertmanager sender: unknown exception"}});
                       }
                     }));
}

alertmanager_notifier::~alertmanager_notifier() { stop(); }

void alertmanager_notifier::update(const incident& i, const alert_context& ctx) {
  if (impl_->stopped) return;
  auto r = impl_->queue.update(i, ctx);
  for (const auto& id : r.dropped) {
    ++impl_->counters.dropped;
    impl_->emit(log_level::error, "notify_dropped",
                {{"incident", id},
                 {"reason", "queue full (" + std::to_string(impl_->queue.options().queue_capacity) +
                                " alerts held)"}});
  }
  // Only an idle sender needs waking; a busy one takes the change on its next round, and a
  // backing-off one waits its delay out (a change is no sign that Alertmanager is back).
  if (r.changed && impl_->idle) impl_->wake.cancel();
}

void alertmanager_notifier::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->wake.cancel();
  impl_->backoff.cancel();
  impl_->cancel.emit(asio::cancellation_type::terminal);  // an in-flight POST
}

alertmanager_stats alertmanager_notifier::stats() const {
  auto s = impl_->counters;
  s.held = impl_->queue.size();
  s.pending = impl_->queue.pending(steady::now());
  return s;
}

}  // namespace acis::daemon
