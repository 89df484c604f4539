// The incident state machine (see incident.hpp for the semantics this implements).
#include "daemon/incident.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

namespace acis::daemon {

namespace {

using std::chrono::milliseconds;
using checks::health;

// critical (0) is the most severe.
bool more_severe(severity a, severity b) { return static_cast<int>(a) < static_cast<int>(b); }

bool is_bad(const check_policy& p, health h) {
  return h == health::failing || (h == health::degraded && p.degraded_level.has_value());
}

std::string target_name(std::string_view check, std::string_view target) {
  std::string s(check);
  if (!target.empty()) {
    s += '/';
    s += target;
  }
  return s;
}

std::string format_id(std::uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "INC-%06llu", static_cast<unsigned long long>(seq));
  return buf;
}

std::optional<std::uint64_t> id_sequence(std::string_view id) {
  if (!id.starts_with("INC-")) return std::nullopt;
  id.remove_prefix(4);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
  if (ec != std::errc{} || p != id.data() + id.size()) return std::nullopt;
  return v;
}

// SPEC.md's defaults, for a map that lacks a level (the config always has all four).
milliseconds default_response_time(severity s) {
  using namespace std::chrono_literals;
  switch (s) {
    case severity::critical: return 5min;
    case severity::high: return 15min;
    case severity::medium: return 1h;
    case severity::low: return 4h;
  }
  return 15min;
}

bool can_breach(const incident& i) {
  return (i.state == incident_state::open || i.state == incident_state::escalated) &&
         !i.sla_breached;
}

}  // namespace

check_policy check_policy::from_config(const config::check_config& c) {
  check_policy p;
  p.name = c.name;
  p.fall = c.fall;
  p.rise = c.rise;
  p.window = c.effective_window();
  p.start_grace = c.effective_start_grace();
  p.level = c.level;
  p.degraded_level = c.degraded_severity;
  p.depends_on = c.depends_on;
  return p;
}

// ---- the tracker ---------------------------------------------------------------------------

namespace {

// Long enough for any real grace or response time, short enough that time_point arithmetic
// (nanoseconds since 1970) cannot overflow.
constexpr milliseconds max_span = std::chrono::hours(24 * 365 * 100);

milliseconds bounded(milliseconds d) { return std::clamp(d, milliseconds(0), max_span); }

// Values the config validates, made safe here too: the window always holds `fall` results.
check_policy sane(check_policy p) {
  p.fall = std::max(p.fall, 1);
  p.rise = std::max(p.rise, 1);
  p.window = std::max(p.window, p.fall);
  p.start_grace = bounded(p.start_grace);
  return p;
}

}  // namespace

incident_tracker::incident_tracker(std::vector<check_policy> policies,
                                   std::map<severity, std::chrono::milliseconds> response_times,
                                   time_point start)
    : response_times_(std::move(response_times)) {
  for (auto& p : policies) {
    std::string name = p.name;
    checks_[name] = check_entry{sane(std::move(p)), start, {}};
  }
  index_dependencies();
}

// Which checks others depend on: only their transitions can suppress or release anybody, so
// the others (20 000 model folders failing at once) skip the scans over every open incident.
void incident_tracker::index_dependencies() {
  depended_on_.clear();
  for (const auto& [name, c] : checks_)
    for (const auto& d : c.policy.depends_on) depended_on_.insert(d);
}

std::chrono::milliseconds incident_tracker::response_time(severity s) const {
  auto it = response_times_.find(s);
  return bounded(it != response_times_.end() ? it->second : default_response_time(s));
}

incident_tracker::target_entry& incident_tracker::target_of(check_entry& c,
                                                            const std::string& target) {
  auto [it, inserted] = c.targets.try_emplace(target);
  if (inserted) {
    it->second.state.check = c.policy.name;
    it->second.state.target = target;
  }
  return it->second;
}

incident_event incident_tracker::record(incident& inc, timeline_entry entry, time_point now) {
  entry.at = now;
  const auto kind = entry.kind;
  inc.timeline.push_back(std::move(entry));
  return incident_event{kind, inc};
}

attempt_outcome incident_tracker::on_attempt(std::string_view check,
                                             const checks::attempt_result& a, time_point now) {
  attempt_outcome out;
  auto cit = checks_.find(check);
  if (cit == checks_.end()) return out;  // an attempt racing a reload that removed its check
  check_entry& c = cit->second;
  for (const auto& r : a.targets)
    if (auto change = on_result(c, r, now, out.events))
      out.changes.push_back({r.target, *change, r});
  if (!a.complete) return out;  // unreported targets: unknown, not gone

  std::set<std::string_view> reported;
  for (const auto& r : a.targets) reported.insert(r.target);
  std::vector<std::string> gone;
  for (const auto& [name, t] : c.targets)
    if (!reported.contains(name)) gone.push_back(name);
  for (const auto& name : gone) {
    auto t = c.targets.find(name);
    if (t->second.state.incident_id)
      resolve(incidents_.at(*t->second.state.incident_id), "target gone", now, out.events);
    c.targets.erase(t);
  }
  // A gone target may have been the root cause of suppressed dependents.
  if (!gone.empty() && depended_on_.contains(c.policy.name)) reevaluate_suppressed(now, out.events);
  out.gone_targets = std::move(gone);
  return out;
}

std::optional<target_change_kind> incident_tracker::on_result(check_entry& c,
                                                              const checks::check_result& r,
                                                              time_point now,
                                                              std::vector<incident_event>& events) {
  std::optional<target_change_kind> change;
  const check_policy& p = c.policy;
  target_entry& t = target_of(c, r.target);
  target_state& ts = t.state;

  const bool bad = is_bad(p, r.status);
  const bool was_bad = ts.last && is_bad(p, ts.last->status);
  if (bad && !was_bad) change = target_change_kind::check_failed;
  if (!bad && ts.last && was_bad) change = target_change_kind::check_recovered;
  ts.last = r;
  ts.last_at = now;

  // Start grace: a target that never passed is not counted down while the platform may still
  // be starting. One pass ends the grace for good.
  const bool counted = !bad || ts.ever_passed || now >= c.grace_from + p.start_grace;
  if (!bad) ts.ever_passed = true;
  if (counted) {
    t.window.push_back({bad, r.status == health::failing, now});
    ts.window.push_back(bad);
    while (t.window.size() > static_cast<std::size_t>(p.window)) {
      t.window.pop_front();
      ts.window.pop_front();
    }
    if (bad) {
      ++ts.consecutive_bad;
      ts.consecutive_good = 0;
    } else {
      ++ts.consecutive_good;
      ts.consecutive_bad = 0;
    }
  }

  // When the result was taken: a bad one taken before its incident lost its root cause is stale.
  const time_point taken = now - std::chrono::duration_cast<time_point::duration>(
                                     std::max(r.latency, std::chrono::nanoseconds(0)));
  bool resolved = false;
  if (ts.incident_id) {
    incident& inc = incidents_.at(*ts.incident_id);
    if (bad) {
      inc.reason = r.reason;
      if (r.status == health::failing && more_severe(p.level, inc.level)) {
        const auto from = inc.level;
        inc.level = p.level;
        inc.sla_deadline = inc.first_failure + response_time(inc.level);
        events.push_back(record(inc,
                                {.kind = event_kind::incident_severity_changed,
                                 .reason = r.reason,
                                 .from_level = from,
                                 .level = inc.level},
                                now));
      }
      if (inc.state == incident_state::suppressed) {
        // The root cause may have gone while this one kept failing, or a deeper one appeared.
        auto root = root_cause(p.name);
        if (!root && (!t.released_at || taken >= *t.released_at)) {
          // A fresh bad result with no failing dependency: its own problem now.
          unsuppress(inc, t, r.reason, now, events);
        } else if (root) {
          t.released_at.reset();
          if (*root != inc.suppressed_by) {
            inc.suppressed_by = *root;
            events.push_back(record(
                inc, {.kind = event_kind::incident_suppressed, .root_cause = *root}, now));
          }
        }
      }
    } else if (counted && ts.consecutive_good >= p.rise) {
      resolve(inc, std::to_string(ts.consecutive_good) + " passing result(s) in a row: " +
                       r.reason,
              now, events);
      resolved = true;
    }
  } else if (counted && bad) {
    const auto bad_count = std::count_if(t.window.begin(), t.window.end(),
                                         [](const counted_result& x) { return x.bad; });
    if (bad_count >= p.fall) {
      open_incident(c, t, r, now, events);
      if (depended_on_.contains(p.name)) suppress_dependents(p.name, now, events);
    }
  }

  // A dependency that recovered (or whose incident resolved) may release suppressed ones.
  if ((resolved || change == target_change_kind::check_recovered) && depended_on_.contains(p.name))
    reevaluate_suppressed(now, events);
  return change;
}

void incident_tracker::open_incident(check_entry& c, target_entry& t,
                                     const checks::check_result& r, time_point now,
                                     std::vector<incident_event>& events) {
  const check_policy& p = c.policy;
  incident inc;
  inc.id = format_id(next_seq_++);
  inc.check = p.name;
  inc.target = t.state.target;
  bool any_failing = false;
  std::optional<time_point> first_bad;
  for (const auto& x : t.window) {
    if (!x.bad) continue;
    any_failing = any_failing || x.failing;
    if (!first_bad) first_bad = x.at;
  }
  inc.level = any_failing || !p.degraded_level ? p.level : *p.degraded_level;
  inc.reason = r.reason;
  inc.first_failure = first_bad.value_or(now);
  inc.opened_at = now;
  inc.sla_deadline = inc.first_failure + response_time(inc.level);
  timeline_entry opened{
      .kind = event_kind::incident_opened, .health = r.status, .reason = r.reason,
      .level = inc.level};
  if (auto root = root_cause(p.name)) {
    inc.state = incident_state::suppressed;
    inc.suppressed_by = *root;
    opened.root_cause = *root;
  }
  t.state.incident_id = inc.id;
  t.released_at.reset();
  auto [it, _] = incidents_.emplace(inc.id, std::move(inc));
  events.push_back(record(it->second, std::move(opened), now));
}

void incident_tracker::resolve(incident& inc, std::string reason, time_point now,
                               std::vector<incident_event>& events) {
  inc.state = incident_state::resolved;
  inc.resolved_at = now;
  events.push_back(
      record(inc, {.kind = event_kind::incident_resolved, .reason = std::move(reason)}, now));
  if (auto c = checks_.find(inc.check); c != checks_.end()) {
    if (auto t = c->second.targets.find(inc.target); t != c->second.targets.end()) {
      t->second.state.incident_id.reset();
      t->second.released_at.reset();
      // The results that opened it are used up: a new incident needs `fall` new bad results.
      t->second.window.clear();
      t->second.state.window.clear();
    }
  }
  incidents_.erase(std::string(inc.id));  // copy: `inc` dies here
}

bool incident_tracker::depends_on(std::string_view check, std::string_view dependency) const {
  std::set<std::string, std::less<>> seen;
  std::vector<std::string_view> todo{check};
  while (!todo.empty()) {
    auto name = todo.back();
    todo.pop_back();
    auto it = checks_.find(name);
    if (it == checks_.end()) continue;
    for (const auto& d : it->second.policy.depends_on) {
      if (d == dependency) return true;
      if (seen.insert(d).second) todo.push_back(d);
    }
  }
  return false;
}

std::optional<std::string> incident_tracker::failing_target(std::string_view check) const {
  auto it = checks_.find(check);
  if (it == checks_.end()) return std::nullopt;
  for (const auto& [name, t] : it->second.targets) {
    if (t.state.incident_id || (t.state.last && is_bad(it->second.policy, t.state.last->status)))
      return target_name(check, name);
  }
  return std::nullopt;
}

std::optional<std::string> incident_tracker::root_cause(std::string_view check) const {
  // Depth first: a failing dependency's own failing dependency is the deeper cause. `seen`
  // guards against a cycle the config should have refused.
  std::set<std::string, std::less<>> seen{std::string(check)};
  auto walk = [&](auto& self, std::string_view name) -> std::optional<std::string> {
    auto it = checks_.find(name);
    if (it == checks_.end()) return std::nullopt;
    for (const auto& d : it->second.policy.depends_on) {
      if (!seen.insert(d).second) continue;
      if (auto deeper = self(self, d)) return deeper;
      if (auto f = failing_target(d)) return f;
    }
    return std::nullopt;
  };
  return walk(walk, check);
}

void incident_tracker::suppress_dependents(std::string_view check, time_point now,
                                           std::vector<incident_event>& events) {
  for (auto& [id, inc] : incidents_) {
    if (inc.check == check || !depends_on(inc.check, check)) continue;
    auto root = root_cause(inc.check);
    if (!root) continue;
    if (inc.state == incident_state::open || inc.state == incident_state::escalated) {
      inc.state = incident_state::suppressed;
      inc.suppressed_by = *root;
      events.push_back(
          record(inc, {.kind = event_kind::incident_suppressed, .root_cause = *root}, now));
    } else if (inc.state == incident_state::suppressed && inc.suppressed_by != *root) {
      inc.suppressed_by = *root;
      events.push_back(
          record(inc, {.kind = event_kind::incident_suppressed, .root_cause = *root}, now));
    }
  }
}

void incident_tracker::reevaluate_suppressed(time_point now,
                                             std::vector<incident_event>& events) {
  for (auto& [id, inc] : incidents_) {
    if (inc.state != incident_state::suppressed) continue;
    auto c = checks_.find(inc.check);
    target_entry* t = nullptr;
    if (c != checks_.end())
      if (auto it = c->second.targets.find(inc.target); it != c->second.targets.end())
        t = &it->second;
    if (auto root = root_cause(inc.check)) {
      if (t) t->released_at.reset();
      if (*root != inc.suppressed_by) {
        inc.suppressed_by = *root;
        events.push_back(
            record(inc, {.kind = event_kind::incident_suppressed, .root_cause = *root}, now));
      }
      continue;
    }
    // Without a failing dependency it may be this check's own problem, but its latest result
    // was taken while the root cause still failed: it is judged again on the next result
    // (bad: unsuppressed in on_result; good: counts toward rise). Not here, on a stale one.
    if (t && !t->released_at) t->released_at = now;
  }
}

void incident_tracker::unsuppress(incident& inc, target_entry& t, const std::string& reason,
                                  time_point now, std::vector<incident_event>& events) {
  std::optional<std::string> was = inc.suppressed_by;
  // Escalated in this episode: it stays escalated (remediation gave up; not a second page).
  inc.state = inc.escalated_at ? incident_state::escalated : incident_state::open;
  inc.suppressed_by.reset();
  inc.first_failure = now;
  inc.sla_deadline = now + response_time(inc.level);
  t.released_at.reset();
  events.push_back(record(
      inc, {.kind = event_kind::incident_unsuppressed, .reason = reason, .root_cause = was}, now));
}

std::vector<incident_event> incident_tracker::tick(time_point now) {
  std::vector<incident_event> events;
  for (auto& [id, inc] : incidents_) {
    if (!can_breach(inc) || now < inc.sla_deadline) continue;
    inc.sla_breached = true;
    events.push_back(record(inc,
                            {.kind = event_kind::sla_breached,
                             .reason = "response time of " +
                                       config::format_duration(response_time(inc.level)) +
                                       " passed without resolution or acknowledgement",
                             .level = inc.level},
                            now));
  }
  return events;
}

std::optional<time_point> incident_tracker::next_deadline() const {
  std::optional<time_point> next;
  for (const auto& [id, inc] : incidents_)
    if (can_breach(inc) && (!next || inc.sla_deadline < *next)) next = inc.sla_deadline;
  return next;
}

bool incident_tracker::transition_pending(std::string_view check) const {
  auto it = checks_.find(check);
  if (it == checks_.end()) return false;
  const auto& p = it->second.policy;
  for (const auto& [name, t] : it->second.targets) {
    if (t.state.incident_id) {
      if (t.state.consecutive_good > 0 && t.state.consecutive_good < p.rise) return true;
      continue;
    }
    // Pending when some counted bad result can still be part of an opening window: after k
    // more bad results, the newest window - k of today's results are still in the window.
    const int n = static_cast<int>(t.window.size());
    for (int k = 1; k < p.window; ++k) {
      const int kept = std::min(p.window - k, n);
      const auto bad = std::count_if(t.window.end() - kept, t.window.end(),
                                     [](const counted_result& x) { return x.bad; });
      if (bad > 0 && bad + k >= p.fall) return true;
    }
  }
  return false;
}

std::optional<incident_event> incident_tracker::acknowledge(std::string_view id,
                                                            std::string comment,
                                                            time_point now) {
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return std::nullopt;
  incident& inc = it->second;
  if (inc.state == incident_state::acknowledged) return std::nullopt;
  inc.state = incident_state::acknowledged;
  inc.acknowledged_at = now;
  inc.ack_comment = comment;
  return record(inc,
                {.kind = event_kind::incident_acknowledged,
                 .reason = std::move(comment),
                 .within_sla = !inc.sla_breached},
                now);
}

std::optional<incident_event> incident_tracker::escalate(std::string_view id, std::string reason,
                                                         time_point now) {
  auto it = incidents_.find(id);
  if (it == incidents_.end() || it->second.state != incident_state::open ||
      it->second.escalated_at)
    return std::nullopt;
  it->second.state = incident_state::escalated;
  it->second.escalated_at = now;
  return record(it->second,
                {.kind = event_kind::incident_escalated, .reason = std::move(reason)}, now);
}

std::optional<incident_event> incident_tracker::annotate(std::string_view id, timeline_entry entry,
                                                         time_point now) {
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return std::nullopt;
  return record(it->second, std::move(entry), now);
}

void incident_tracker::restore(std::vector<incident> open_incidents, std::uint64_t next_seq) {
  next_seq_ = std::max(next_seq_, next_seq);
  for (auto& inc : open_incidents) {
    if (!inc.is_open()) continue;
    if (auto seq = id_sequence(inc.id)) next_seq_ = std::max(next_seq_, *seq + 1);
    if (auto c = checks_.find(inc.check); c != checks_.end())
      target_of(c->second, inc.target).state.incident_id = inc.id;
    std::string id = inc.id;
    incidents_.insert_or_assign(std::move(id), std::move(inc));
  }
}

std::vector<incident_event> incident_tracker::reconfigure(std::vector<check_policy> policies,
                                                          time_point now) {
  std::map<std::string, check_entry, std::less<>> next;
  for (auto& p : policies) {
    std::string name = p.name;
    auto old = checks_.find(name);
    if (old == checks_.end()) {
      next[name] = check_entry{sane(std::move(p)), now, {}};
      continue;
    }
    check_entry e = std::move(old->second);
    e.policy = sane(std::move(p));
    for (auto& [_, t] : e.targets) {
      while (t.window.size() > static_cast<std::size_t>(e.policy.window)) {
        t.window.pop_front();
        t.state.window.pop_front();
      }
    }
    next[name] = std::move(e);
  }
  checks_ = std::move(next);
  index_dependencies();

  std::vector<incident_event> events;
  std::vector<std::string> orphans;
  for (const auto& [id, inc] : incidents_)
    if (!checks_.contains(inc.check)) orphans.push_back(id);
  for (const auto& id : orphans) resolve(incidents_.at(id), "check removed", now, events);
  // Dependencies may have changed or gone with the removed checks.
  reevaluate_suppressed(now, events);
  return events;
}

const incident* incident_tracker::find(std::string_view id) const {
  auto it = incidents_.find(id);
  return it == incidents_.end() ? nullptr : &it->second;
}

std::vector<const incident*> incident_tracker::open_incidents() const {
  std::vector<const incident*> v;
  v.reserve(incidents_.size());
  for (const auto& [id, inc] : incidents_) v.push_back(&inc);
  return v;
}

std::vector<const target_state*> incident_tracker::targets() const {
  std::vector<const target_state*> v;
  for (const auto& [name, c] : checks_)
    for (const auto& [tname, t] : c.targets) v.push_back(&t.state);
  return v;
}

}  // namespace acis::daemon
