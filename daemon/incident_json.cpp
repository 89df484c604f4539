// The incident's names, its JSON form (journal, /incidents) and how a timeline entry reads.
// Split from incident.cpp (the state machine); pure as it is.
#include "daemon/incident.hpp"

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "checks/http_client.hpp"

namespace acis::daemon {

namespace {

using json = nlohmann::json;
using checks::health;

std::string_view health_name(health h) {
  switch (h) {
    case health::ok: return "ok";
    case health::degraded: return "degraded";
    case health::failing: return "failing";
  }
  return "failing";
}

std::optional<health> parse_health(std::string_view s) {
  for (auto h : {health::ok, health::degraded, health::failing})
    if (health_name(h) == s) return h;
  return std::nullopt;
}

std::string severity_name(severity s) { return std::string(config::to_string(s)); }

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

constexpr event_kind all_event_kinds[] = {
    event_kind::incident_opened,       event_kind::incident_suppressed,
    event_kind::incident_unsuppressed, event_kind::incident_severity_changed,
    event_kind::sla_breached,          event_kind::incident_acknowledged,
    event_kind::incident_escalated,    event_kind::incident_resolved,
    event_kind::remediation_started,   event_kind::step_started,
    event_kind::step_finished,         event_kind::manual_action,
    event_kind::remediation_finished,  event_kind::remediation_skipped,
};

}  // namespace

// ---- names ---------------------------------------------------------------------------------

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

std::string_view to_string(event_kind k) {
  switch (k) {
    case event_kind::incident_opened: return "incident_opened";
    case event_kind::incident_suppressed: return "incident_suppressed";
    case event_kind::incident_unsuppressed: return "incident_unsuppressed";
    case event_kind::incident_severity_changed: return "incident_severity_changed";
    case event_kind::sla_breached: return "sla_breached";
    case event_kind::incident_acknowledged: return "incident_acknowledged";
    case event_kind::incident_escalated: return "incident_escalated";
    case event_kind::incident_resolved: return "incident_resolved";
    case event_kind::remediation_started: return "remediation_started";
    case event_kind::step_started: return "step_started";
    case event_kind::step_finished: return "step_finished";
    case event_kind::manual_action: return "manual_action";
    case event_kind::remediation_finished: return "remediation_finished";
    case event_kind::remediation_skipped: return "remediation_skipped";
  }
  return "incident_opened";
}

std::optional<event_kind> parse_event_kind(std::string_view s) {
  for (auto k : all_event_kinds)
    if (to_string(k) == s) return k;
  return std::nullopt;
}

std::string_view to_string(target_change_kind k) {
  return k == target_change_kind::check_failed ? "check_failed" : "check_recovered";
}

// ---- display -------------------------------------------------------------------------------

std::string describe(const timeline_entry& e) {
  auto with_reason = [&](std::string s) {
    if (!e.reason.empty()) s += (s.empty() ? "" : ": ") + e.reason;
    return s;
  };
  switch (e.kind) {
    case event_kind::incident_opened: {
      std::string s = e.level ? severity_name(*e.level) + ", " : std::string();
      s += e.health ? std::string(health_name(*e.health)) : std::string("failing");
      s = with_reason(std::move(s));
      if (e.root_cause) s += " (suppressed, root cause: " + *e.root_cause + ")";
      return s;
    }
    case event_kind::incident_suppressed:
      return e.root_cause ? "root cause: " + *e.root_cause : e.reason;
    case event_kind::incident_unsuppressed:
      return with_reason(e.root_cause ? "root cause " + *e.root_cause + " recovered; still failing"
                                      : "no failing dependency; still failing");
    case event_kind::incident_severity_changed:
      if (e.from_level && e.level)
        return with_reason("raised from " + severity_name(*e.from_level) + " to " +
                           severity_name(*e.level));
      return e.reason;
    case event_kind::sla_breached:
      return e.level ? severity_name(*e.level) + " " + e.reason : e.reason;
    case event_kind::incident_acknowledged:
      return with_reason("acknowledged") + (e.within_sla.value_or(false) ? " (within SLA)" : "");
    case event_kind::remediation_started: {
      std::string s = "attempt " + (e.attempt ? std::to_string(*e.attempt) : std::string("?"));
      if (e.max_attempts) s += " of " + std::to_string(*e.max_attempts);
      if (e.runbook) s += " of runbook " + *e.runbook;
      if (e.dry_run) s += " (dry run)";
      return s;
    }
    case event_kind::step_started:
      return e.step.value_or("");
    case event_kind::step_finished: {
      std::string s = e.step.value_or("step");
      s += e.ok.value_or(false) ? ": ok" : ": failed";
      if (e.duration_s)
        s += " in " + checks::format_seconds(std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::duration<double>(*e.duration_s)));
      if (!e.reason.empty()) s += " — " + e.reason;
      return s;
    }
    case event_kind::remediation_finished:
      if (e.outcome == "success") return "success";
      if (e.outcome == "dry_run") return "success (dry run)";
      return with_reason("failure");
    case event_kind::remediation_skipped: {
      std::string s = with_reason("skipped");
      if (e.not_before) s += "; next allowed at " + format_rfc3339(*e.not_before);
      return s;
    }
    case event_kind::incident_escalated:
    case event_kind::incident_resolved:
    case event_kind::manual_action:
      return e.reason;
  }
  return e.reason;
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



// ---- the timeline in JSON ------------------------------------------------------------------

std::optional<severity> severity_from(std::string_view s) { return config::parse_severity(s); }

// The `detail` prose of a version that did not structure the timeline, parsed back into the
// fields this version writes (the shapes were fixed: incident.cpp and daemon.cpp wrote them).
// What does not parse stays in `reason`, so nothing is lost for display.
void parse_legacy_detail(timeline_entry& e, std::string_view d) {
  e.reason = std::string(d);
  auto after = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (!d.starts_with(prefix)) return std::nullopt;
    return d.substr(prefix.size());
  };
  switch (e.kind) {
    case event_kind::incident_opened: {
      // "SEVERITY: CHECK[/TARGET] HEALTH: REASON[ (suppressed, root cause: X)]"
      auto colon = d.find(": ");
      if (colon == std::string_view::npos) return;
      e.level = severity_from(d.substr(0, colon));
      auto rest = d.substr(colon + 2);
      constexpr std::string_view suffix = " (suppressed, root cause: ";
      if (auto p = rest.rfind(suffix); p != std::string_view::npos && rest.ends_with(")")) {
        e.root_cause = std::string(rest.substr(p + suffix.size(),
                                               rest.size() - 1 - p - suffix.size()));
        rest = rest.substr(0, p);
      }
      for (auto h : {health::failing, health::degraded}) {
        const std::string marker = " " + std::string(health_name(h)) + ": ";
        if (auto p = rest.find(marker); p != std::string_view::npos) {
          e.health = h;
          e.reason = std::string(rest.substr(p + marker.size()));
          return;
        }
      }
      e.reason = std::string(rest);
      return;
    }
    case event_kind::incident_suppressed:
      if (auto r = after("root cause: ")) {
        e.root_cause = std::string(*r);
        e.reason.clear();
      }
      return;
    case event_kind::incident_unsuppressed:
      if (auto r = after("root cause ")) {
        if (auto p = r->find(" recovered"); p != std::string_view::npos) {
          e.root_cause = std::string(r->substr(0, p));
          e.reason.clear();
        }
      } else if (d == "no failing dependency; still failing") {
        e.reason.clear();
      }
      return;
    case event_kind::incident_severity_changed:
      if (auto r = after("raised from ")) {
        auto to = r->find(" to ");
        auto colon = r->find(": ");
        if (to == std::string_view::npos) return;
        e.from_level = severity_from(r->substr(0, to));
        e.level = severity_from(r->substr(to + 4, colon == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : colon - to - 4));
        e.reason = colon == std::string_view::npos ? "" : std::string(r->substr(colon + 2));
      }
      return;
    case event_kind::incident_acknowledged: {
      std::string_view r = d;
      if (r.ends_with(" (within SLA)")) {
        e.within_sla = true;
        r.remove_suffix(13);
      } else {
        e.within_sla = false;
      }
      if (r.starts_with("acknowledged: ")) r.remove_prefix(14);
      else if (r == "acknowledged") r = {};
      e.reason = std::string(r);
      return;
    }
    case event_kind::remediation_started: {
      // "attempt N of M of runbook R[ (dry run)]"
      std::string_view r = d;
      if (r.ends_with(" (dry run)")) {
        e.dry_run = true;
        r.remove_suffix(10);
      }
      int n = 0, m = 0;
      char rb[512] = {0};
      if (std::sscanf(std::string(r).c_str(), "attempt %d of %d of runbook %511[^\n]", &n, &m, rb) == 3) {
        e.attempt = n;
        e.max_attempts = m;
        e.runbook = std::string(rb);
        e.reason.clear();
      }
      return;
    }
    case event_kind::step_finished: {
      // "STEP: ok|failed in DURATION — DETAIL"
      for (std::string_view result : {": ok in ", ": failed in "}) {
        auto p = d.find(result);
        if (p == std::string_view::npos) continue;
        e.step = std::string(d.substr(0, p));
        e.ok = result == ": ok in ";
        auto rest = d.substr(p + result.size());
        auto dash = rest.find(" — ");
        auto took = rest.substr(0, dash);
        const bool in_ms = took.ends_with("ms");
        if (took.ends_with("s")) {
          char* end = nullptr;
          const std::string t(took.substr(0, took.size() - (in_ms ? 2 : 1)));
          const double v = std::strtod(t.c_str(), &end);
          if (!t.empty() && end && *end == '\0') e.duration_s = in_ms ? v / 1000 : v;
        }
        e.reason = dash == std::string_view::npos ? "" : std::string(rest.substr(dash + 5));
        return;
      }
      return;
    }
    case event_kind::remediation_finished:
      if (d.starts_with("success")) {
        e.outcome = "success";
        e.reason.clear();
      } else if (auto r = after("failure: ")) {
        e.outcome = "failure";
        e.reason = std::string(*r);
      } else {
        e.outcome = "failure";
      }
      return;
    default:
      return;
  }
}

json timeline_json(const timeline_entry& e) {
  json j{{"at", format_rfc3339(e.at)}, {"event", to_string(e.kind)}, {"reason", e.reason}};
  if (e.health) j["health"] = health_name(*e.health);
  if (e.root_cause) j["root_cause"] = *e.root_cause;
  if (e.from_level) j["from_severity"] = severity_name(*e.from_level);
  if (e.level) j["severity"] = severity_name(*e.level);
  if (e.attempt) j["attempt"] = *e.attempt;
  if (e.max_attempts) j["max_attempts"] = *e.max_attempts;
  if (e.runbook) j["runbook"] = *e.runbook;
  if (e.outcome) j["outcome"] = *e.outcome;
  if (e.step) j["step"] = *e.step;
  if (e.ok) j["ok"] = *e.ok;
  if (e.duration_s) j["duration_s"] = *e.duration_s;
  if (e.within_sla) j["within_sla"] = *e.within_sla;
  if (e.not_before) j["not_before"] = format_rfc3339(*e.not_before);
  if (e.dry_run) j["dry_run"] = true;
  j["detail"] = describe(e);  // for operators reading /incidents; never read back
  return j;
}

template <typename T>
std::optional<T> opt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

// nullopt for an event this version does not know (skipped rather than losing the incident).
std::optional<timeline_entry> timeline_from(const json& j) {
  auto kind = parse_event_kind(j.at("event").get<std::string>());
  if (!kind) return std::nullopt;
  timeline_entry e;
  e.at = time_from(j, "at");
  e.kind = *kind;
  if (!j.contains("reason")) {  // the old form: {"at", "event", "detail"}
    parse_legacy_detail(e, j.value("detail", std::string{}));
    return e;
  }
  e.reason = j.at("reason").get<std::string>();
  if (auto h = opt<std::string>(j, "health")) e.health = parse_health(*h);
  e.root_cause = opt<std::string>(j, "root_cause");
  if (auto s = opt<std::string>(j, "from_severity")) e.from_level = severity_from(*s);
  if (auto s = opt<std::string>(j, "severity")) e.level = severity_from(*s);
  e.attempt = opt<int>(j, "attempt");
  e.max_attempts = opt<int>(j, "max_attempts");
  e.runbook = opt<std::string>(j, "runbook");
  e.outcome = opt<std::string>(j, "outcome");
  e.step = opt<std::string>(j, "step");
  e.ok = opt<bool>(j, "ok");
  e.duration_s = opt<double>(j, "duration_s");
  e.within_sla = opt<bool>(j, "within_sla");
  e.not_before = optional_time_from(j, "not_before");
  e.dry_run = j.value("dry_run", false);
  return e;
}

}  // namespace

void to_json(nlohmann::json& j, const incident& i) {
  auto timeline = nlohmann::json::array();
  for (const auto& e : i.timeline) timeline.push_back(timeline_json(e));
  j = nlohmann::json{
      {"id", i.id},
      {"check", i.check},
      {"target", i.target},
      {"severity", config::to_string(i.level)},
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
      {"escalated_at", time_json(i.escalated_at)},
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
      if (auto entry = timeline_from(e)) r.timeline.push_back(std::move(*entry));
  }
  r.escalated_at = optional_time_from(j, "escalated_at");
  if (!j.contains("escalated_at")) {
    // Written before escalated_at existed: the timeline says whether it was escalated.
    for (const auto& e : r.timeline)
      if (e.kind == event_kind::incident_escalated) {
        r.escalated_at = e.at;
        break;
      }
  }
  i = std::move(r);
}

}  // namespace acis::daemon
