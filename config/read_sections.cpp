// Readers of the small top-level sections: daemon, severities, remediation, escalation,
// notify (parse_internal.hpp). Each refuses unknown keys and leaves bad fields at defaults.
#include <algorithm>

#include "config/parse_internal.hpp"
#include "config/value_rules.hpp"

namespace acis::config::detail {

duration default_response_time(severity s) {
  using namespace std::chrono_literals;
  switch (s) {
    case severity::critical: return 5min;
    case severity::high: return 15min;
    case severity::medium: return 1h;
    case severity::low: return 4h;
  }
  return 1h;
}

void read_daemon(json_walker& w, const json& j, const std::string& ptr, daemon_config& d) {
  if (!w.object(j, ptr)) return;
  w.check_keys(
      j, ptr,
      {"listen", "state_dir", "log_level", "dry_run", "control_token_file", "blocking_threads"});
  w.field(j, ptr, "listen", d.listen, [&](const json& v, const std::string& p) {
    auto s = w.string(v, p);
    if (s && !is_host_port(*s, 0)) {
      w.fault(p, "expected host:port like \"127.0.0.1:9187\", got " + quote(*s));
      return std::optional<std::string>();
    }
    return s;
  });
  w.field(j, ptr, "state_dir", d.state_dir,
          [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "log_level", d.log_level, [&](const json& v, const std::string& p) {
    auto s = w.string(v, p);
    static const keys levels = {"debug", "info", "warn", "error"};
    if (s && std::find(levels.begin(), levels.end(), *s) == levels.end()) {
      w.fault(p,
              "unknown log level " + quote(*s) + " (expected " + join_quoted(levels, " or ") + ")");
      return std::optional<std::string>();
    }
    return s;
  });
  w.field(j, ptr, "dry_run", d.dry_run,
          [&](const json& v, const std::string& p) { return w.boolean(v, p); });
  w.with(j, ptr, "control_token_file", [&](const json& v, const std::string& p) {
    if (v.is_null()) {
      d.control_token_file.reset();
    } else if (v.is_string()) {
      if (auto s = w.nonempty_string(v, p)) d.control_token_file = *s;
    } else {
      w.fault(p, "expected a file path or null, got " + describe(v));
    }
  });
  w.field(j, ptr, "blocking_threads", d.blocking_threads, [&](const json& v, const std::string& p) {
    auto n = w.integer(v, p, 1, 256);
    return n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
  });
}

void read_severities(json_walker& w, const json& j, const std::string& ptr,
                     std::map<severity, duration>& out) {
  if (!w.object(j, ptr)) return;
  for (const auto& [key, value] : j.items()) {
    auto p = child(ptr, key);
    auto level = parse_severity(key);
    if (!level) {
      std::string message = "unknown severity " + quote(key);
      if (auto near = closest(key, {"critical", "high", "medium", "low"}))
        message += " (did you mean \"" + std::string(*near) + "\"?)";
      else
        message += " (expected \"critical\", \"high\", \"medium\" or \"low\")";
      w.fault(p, message);
      continue;
    }
    if (!w.object(value, p)) continue;
    w.check_keys(value, p, {"response_time"});
    if (!w.require(value, p, "response_time")) continue;
    w.field(value, p, "response_time", out[*level],
            [&](const json& v, const std::string& q) { return w.positive_duration(v, q); });
  }
}

// The largest hourly cap: one start a second on average. A larger one is no cap at all, and
// the policy keeps every start of the last hour in memory.
constexpr int max_runs_per_hour_cap = 3600;

void read_remediation(json_walker& w, const json& j, const std::string& ptr,
                      remediation_config& r) {
  if (!w.object(j, ptr)) return;
  w.check_keys(j, ptr, {"max_runs_per_hour", "max_runs_per_hour_total"});
  auto cap = [&](const json& v, const std::string& p) -> std::optional<int> {
    auto n = w.integer(v, p, 1, max_runs_per_hour_cap);
    if (!n) return std::nullopt;
    return static_cast<int>(*n);
  };
  w.field(j, ptr, "max_runs_per_hour", r.max_runs_per_hour, cap);
  w.field(j, ptr, "max_runs_per_hour_total", r.max_runs_per_hour_total, cap);
}

void read_escalation(json_walker& w, references& refs, const json& j, const std::string& ptr,
                     std::map<std::string, escalation_contacts>& out) {
  if (!w.object(j, ptr)) {
    refs.escalation_complete = false;
    return;
  }
  for (const auto& [key, value] : j.items()) {
    auto p = child(ptr, key);
    if (key.empty()) {
      w.fault(p, "an issue type must not be empty");
      continue;
    }
    if (!w.object(value, p)) continue;
    w.check_keys(value, p, {"primary", "backup"});
    escalation_contacts contacts;
    bool ok = w.require(value, p, "primary");
    ok = w.require(value, p, "backup") && ok;
    auto before = w.faults.size();
    w.field(value, p, "primary", contacts.primary,
            [&](const json& v, const std::string& q) { return w.nonempty_string(v, q); });
    w.field(value, p, "backup", contacts.backup,
            [&](const json& v, const std::string& q) { return w.nonempty_string(v, q); });
    if (ok && w.faults.size() == before) out.emplace(key, std::move(contacts));
    // A malformed entry still counts as defined for the issue_type cross-check: its own
    // fault is the one to fix.
    if (!ok || w.faults.size() != before) refs.malformed_escalation.insert(key);
  }
}

void read_notify(json_walker& w, const json& j, const std::string& ptr, notify_config& n) {
  if (!w.object(j, ptr)) return;
  w.check_keys(j, ptr, {"alertmanager_url"});
  w.with(j, ptr, "alertmanager_url", [&](const json& v, const std::string& p) {
    if (v.is_null()) {
      n.alertmanager_url.reset();
    } else if (v.is_string()) {
      if (auto u = w.url(v, p)) n.alertmanager_url = *u;
    } else {
      w.fault(p, "expected an http:// url or null, got " + describe(v));
    }
  });
}

}  // namespace acis::config::detail
