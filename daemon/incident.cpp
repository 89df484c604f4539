// The incident state machine (see incident.hpp for the semantics this implements).
#include "daemon/incident.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

namespace acis::daemon {

namespace {

using std::chrono::milliseconds;
using checks::health;

// Local names, so that this pure file does not pull in the check kinds' object file.
std::string_view health_name(health h) {
  switch (h) {
    case health::ok: return "ok";
    case health::degraded: return "degraded";
    case health::failing: return "failing";
  }
  return "failing";
}

std::string_view severity_name(severity s) { return config::to_string(s); }

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

// Parses exactly `n` digits.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

// ---- names and JSON ------------------------------------------------------------------------

std::string_view to_string(incident_state s) {
  switch (s) {
    case incident_state::open: return "open";
    case incident_state::suppressed: return "suppressed";
    case incident_state::acknowledged: return "acknowledged";
    case incident_state::escalated: return "escalated";
    case incident_state::resolved: return "resolved";
  }
  return "open";
}

std::optional<incident_state> parse_incident_state(std::string_view s) {
  for (auto v : {incident_state::open, incident_state::suppressed, incident_state::acknowledged,
                 incident_state::escalated, incident_state::resolved})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

std::string format_rfc3339(time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t.time_since_epoch());
  const auto day = floor<days>(ms);
  const year_month_day ymd{sys_days{day}};
  const auto in_day = ms - day;  // [0, 24h) thanks to floor
  const auto h = duration_cast<hours>(in_day);
  const auto m = duration_cast<minutes>(in_day - h);
  const auto s = duration_cast<seconds>(in_day - h - m);
  const auto f = in_day - h - m - s;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u" "T%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(h.count()), int(m.count()),
                int(s.count()), int(f.count()));
  return buf;
}

std::optional<time_point> parse_rfc3339(std::string_view s) {
  using namespace std::chrono;
  int Y, M, D, h, m, sec;
  if (!digits(s, 0, 4, Y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, M) ||
      s[7] != '-' || !digits(s, 8, 2, D) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, m) || s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  const year_month_day ymd{year{Y}, month{unsigned(M)}, day{unsigned(D)}};
  if (!ymd.ok() || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    long long scale = 100'000'000;
    long long ns = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
    frac = nanoseconds{ns};
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = hours{oh} + minutes{om};
    if (s[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const auto local = sys_days{ymd}.time_since_epoch() + hours{h} + minutes{m} + seconds{sec} + frac;
  return time_point{duration_cast<wall_clock::duration>(local - offset)};
}

namespace {

nlohmann::json time_json(const std::optional<time_point>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

time_point time_from(const nlohmann::json& j, const char* key) {
  const auto& v = j.at(key);
  auto t = parse_rfc3339(v.get<std::string>());
  if (!t)
    throw nlohmann::json::other_error::create(
        501, std::string("incident: ") + key + " is not an RFC 3339 time", &j);
  return *t;
}

std::optional<time_point> optional_time_from(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return time_from(j, key);
}

std::optional<std::string> optional_string_from(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

void to_json(nlohmann::json& j, const incident& i) {
  auto timeline = nlohmann::json::array();
  for (const auto& e : i.timeline)
    timeline.push_back({{"at", format_rfc3339(e.at)}, {"event", e.event}, {"detail", e.detail}});
  j = nlohmann::json{
      {"id", i.id},
      {"check", i.check},
      {"target", i.target},
      {"severity", severity_name(i.level)},
      {"state", to_string(i.state)},
      {"reason", i.reason},
      {"first_failure", format_rfc3339(i.first_failure)},
      {"opened_at", format_rfc3339(i.opened_at)},
      {"sla_deadline", format_rfc3339(i.sla_deadline)},
      {"sla_breached", i.sla_breached},
      {"suppressed_by", i.suppressed_by ? nlohmann::json(*i.suppressed_by) : nullptr},
      {"acknowledged_at", time_json(i.acknowledged_at)},
      {"ack_comment", i.ack_comment ? nlohmann::json(*i.ack_comment) : nullptr},
      {"resolved_at", time_json(i.resolved_at)},
      {"timeline", std::move(timeline)},
  };
}

void from_json(const nlohmann::json& j, incident& i) {
  incident r;
  r.id = j.at("id").get<std::string>();
  r.check = j.at("check").get<std::string>();
  r.target = j.value("target", std::string{});
  auto level = config::parse_severity(j.at("severity").get<std::string>());
  auto state = parse_incident_state(j.at("state").get<std::string>());
  if (!level || !state)
    throw nlohmann::json::other_error::create(501, "incident: unknown severity or state", &j);
  r.level = *level;
  r.state = *state;
  r.reason = j.value("reason", std::string{});
  r.first_failure = time_from(j, "first_failure");
  r.opened_at = time_from(j, "opened_at");
  r.sla_deadline = time_from(j, "sla_deadline");
  r.sla_breached = j.value("sla_breached", false);
  r.suppressed_by = optional_string_from(j, "suppressed_by");
  r.acknowledged_at = optional_time_from(j, "acknowledged_at");
  r.ack_comment = optional_string_from(j, "ack_comment");
  r.resolved_at = optional_time_from(j, "resolved_at");
  if (auto it = j.find("timeline"); it != j.end()) {
    for (const auto& e : *it)
      r.timeline.push_back({time_from(e, "at"), e.at("event").get<std::string>(),
                            e.value("detail", std::string{})});
  }
  i = std::move(r);
}

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

incident_event incident_tracker::record(incident& inc, std::string kind, std::string detail,
                                        time_point now) {
  inc.timeline.push_back({now, kind, std::move(detail)});
  return incident_event{std::move(kind), inc};
}

result_outcome incident_tracker::on_result(std::string_view check, const checks::check_result& r,
                                           time_point now) {
  result_outcome out;
  auto cit = checks_.find(check);
  if (cit == checks_.end()) return out;  // a result racing a reload that removed its check
  check_entry& c = cit->second;
  const check_policy& p = c.policy;
  target_entry& t = target_of(c, r.target);
  target_state& ts = t.state;

  const bool bad = is_bad(p, r.status);
  const bool was_bad = ts.last && is_bad(p, ts.last->status);
  if (bad && !was_bad) out.check_event = "check_failed";
  if (!bad && ts.last && was_bad) out.check_event = "check_recovered";
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

  bool resolved = false;
  if (ts.incident_id) {
    incident& inc = incidents_.at(*ts.incident_id);
    if (bad) {
      inc.reason = r.reason;
      if (r.status == health::failing && more_severe(p.level, inc.level)) {
        const auto from = inc.level;
        inc.level = p.level;
        inc.sla_deadline = inc.first_failure + response_time(inc.level);
        out.events.push_back(record(inc, "incident_severity_changed",
                                    std::string("raised from ") +
                                        std::string(severity_name(from)) + " to " +
                                        std::string(severity_name(inc.level)) + ": " + r.reason,
                                    now));
      }
      if (inc.state == incident_state::suppressed) {
        // The root cause may have gone while this one kept failing, or a deeper one appeared.
        auto root = root_cause(p.name);
        if (!root) {
          inc.state = incident_state::open;
          inc.suppressed_by.reset();
          inc.first_failure = now;
          inc.sla_deadline = now + response_time(inc.level);
          out.events.push_back(
              record(inc, "incident_unsuppressed", "no failing dependency; still failing", now));
        } else if (*root != inc.suppressed_by) {
          inc.suppressed_by = *root;
          out.events.push_back(record(inc, "incident_suppressed", "root cause: " + *root, now));
        }
      }
    } else if (counted && ts.consecutive_good >= p.rise) {
      resolve(inc, std::to_string(ts.consecutive_good) + " passing result(s) in a row: " +
                       r.reason,
              now, out.events);
      resolved = true;
    }
  } else if (counted && bad) {
    const auto bad_count = std::count_if(t.window.begin(), t.window.end(),
                                         [](const counted_result& x) { return x.bad; });
    if (bad_count >= p.fall) {
      open_incident(c, t, r, now, out.events);
      suppress_dependents(p.name, now, out.events);
    }
  }

  // A dependency that recovered (or whose incident resolved) may release suppressed ones.
  if (resolved || out.check_event == "check_recovered") reevaluate_suppressed(now, out.events);
  return out;
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
  std::string detail = std::string(severity_name(inc.level)) + ": " +
                       target_name(inc.check, inc.target) + " " +
                       std::string(health_name(r.status)) + ": " + r.reason;
  if (auto root = root_cause(p.name)) {
    inc.state = incident_state::suppressed;
    inc.suppressed_by = *root;
    detail += " (suppressed, root cause: " + *root + ")";
  }
  t.state.incident_id = inc.id;
  auto [it, _] = incidents_.emplace(inc.id, std::move(inc));
  events.push_back(record(it->second, "incident_opened", std::move(detail), now));
}

void incident_tracker::resolve(incident& inc, std::string detail, time_point now,
                               std::vector<incident_event>& events) {
  inc.state = incident_state::resolved;
  inc.resolved_at = now;
  events.push_back(record(inc, "incident_resolved", std::move(detail), now));
  if (auto c = checks_.find(inc.check); c != checks_.end()) {
    if (auto t = c->second.targets.find(inc.target); t != c->second.targets.end()) {
      t->second.state.incident_id.reset();
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
      events.push_back(record(inc, "incident_suppressed", "root cause: " + *root, now));
    } else if (inc.state == incident_state::suppressed && inc.suppressed_by != *root) {
      inc.suppressed_by = *root;
      events.push_back(record(inc, "incident_suppressed", "root cause: " + *root, now));
    }
  }
}

void incident_tracker::reevaluate_suppressed(time_point now,
                                             std::vector<incident_event>& events) {
  for (auto& [id, inc] : incidents_) {
    if (inc.state != incident_state::suppressed) continue;
    if (auto root = root_cause(inc.check)) {
      if (*root != inc.suppressed_by) {
        inc.suppressed_by = *root;
        events.push_back(record(inc, "incident_suppressed", "root cause: " + *root, now));
      }
      continue;
    }
    // Without a failing dependency it is this check's own problem, if it still fails; one
    // that is recovering stays suppressed until its rise resolves it (or a bad result
    // unsuppresses it in on_result).
    auto c = checks_.find(inc.check);
    if (c == checks_.end()) continue;
    auto t = c->second.targets.find(inc.target);
    if (t == c->second.targets.end() || !t->second.state.last ||
        !is_bad(c->second.policy, t->second.state.last->status))
      continue;
    const std::string was = inc.suppressed_by.value_or("?");
    inc.state = incident_state::open;
    inc.suppressed_by.reset();
    inc.first_failure = now;
    inc.sla_deadline = now + response_time(inc.level);
    events.push_back(record(inc, "incident_unsuppressed",
                            "root cause " + was + " recovered; still failing", now));
  }
}

std::vector<incident_event> incident_tracker::tick(time_point now) {
  std::vector<incident_event> events;
  for (auto& [id, inc] : incidents_) {
    if (!can_breach(inc) || now < inc.sla_deadline) continue;
    inc.sla_breached = true;
    events.push_back(record(inc, "sla_breached",
                            std::string(severity_name(inc.level)) + " response time of " +
                                config::format_duration(response_time(inc.level)) +
                                " passed without resolution or acknowledgement",
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
  std::string detail = comment.empty() ? "acknowledged" : "acknowledged: " + comment;
  if (!inc.sla_breached) detail += " (within SLA)";
  return record(inc, "incident_acknowledged", std::move(detail), now);
}

std::optional<incident_event> incident_tracker::escalate(std::string_view id, std::string detail,
                                                         time_point now) {
  auto it = incidents_.find(id);
  if (it == incidents_.end() || it->second.state != incident_state::open) return std::nullopt;
  it->second.state = incident_state::escalated;
  return record(it->second, "incident_escalated", std::move(detail), now);
}

std::optional<incident_event> incident_tracker::annotate(std::string_view id, std::string event,
                                                         std::string detail, time_point now) {
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return std::nullopt;
  return record(it->second, std::move(event), std::move(detail), now);
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
