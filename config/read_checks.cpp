// The keys every check has (name, schedule, thresholds, severity, runbook, dependencies) and
// the kind table: which keys each `type` allows and which reader reads them. The readers of
// the kinds themselves are in check_<kind>.cpp, one file per kind.
#include <algorithm>
#include <string>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

namespace {

const keys common_check_keys = {
    "name",        "type",       "interval",  "timeout", "jitter",   "pending_interval",
    "start_grace", "fall",       "rise",      "window",  "severity", "degraded_severity",
    "runbook",     "issue_type", "depends_on"};

// Each kind's own keys live here, next to the others, rather than in check_<kind>.cpp: an
// unknown key's hint names every kind it belongs to.
// Every reader, as a pointer of one type that returns the variant.
template <auto read>
check_kind as_check_kind(json_walker& w, const json& j, const std::string& ptr) {
  return read(w, j, ptr);
}

struct kind_table {
  std::string_view type;
  keys keys_;
  check_kind (*read)(json_walker& w, const json& j, const std::string& ptr);
};
const kind_table kinds[] = {
    {"http", {"url", "method", "headers", "body", "expect"}, as_check_kind<read_http_check>},
    {"postgres",
     {"conninfo", "password_env", "password_file", "query", "expect"},
     as_check_kind<read_postgres_check>},
    {"model_metadata",
     {"models_dir", "metadata_file", "max_age", "timestamp_pointer", "rules"},
     as_check_kind<read_model_metadata_check>},
    {"process",
     {"cmdline_contains", "cmdline_not_contains", "running"},
     as_check_kind<read_process_check>},
    {"file_age", {"path", "max_age"}, as_check_kind<read_file_age_check>},
    {"log_pattern",
     {"path", "pattern", "within", "max_matches"},
     as_check_kind<read_log_pattern_check>},
};

std::string check_key_hint(std::string_view key) {
  std::vector<std::string_view> owners;
  for (const auto& k : kinds) {
    if (std::find(k.keys_.begin(), k.keys_.end(), key) != k.keys_.end()) owners.push_back(k.type);
  }
  if (owners.empty()) return {};
  std::string out = "it belongs to ";
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (i > 0) out += i + 1 == owners.size() ? " and " : ", ";
    out += owners[i];
  }
  return out + " checks";
}

void read_check(json_walker& w, references& refs, const json& j, const std::string& ptr,
                check_config& c, check_site& site) {
  if (!w.object(j, ptr)) {
    refs.check_names_complete = false;
    return;
  }
  if (auto n = j.find("name"); n != j.end() && n->is_string()) {
    refs.check_names_seen.insert(n->get<std::string>());
  } else {
    refs.check_names_complete = false;
  }

  // The type decides which keys are allowed.
  const kind_table* kind = nullptr;
  if (auto t = j.find("type"); t == j.end()) {
    w.fault(ptr, "missing required key \"type\"");
  } else if (auto type = w.string(*t, child(ptr, "type"))) {
    for (const auto& k : kinds) {
      if (k.type == *type) kind = &k;
    }
    if (!kind) {
      keys known;
      for (const auto& k : kinds) known.push_back(k.type);
      std::string message = "unknown check type " + quote(*type);
      if (auto near = closest(*type, known))
        message += " (did you mean \"" + std::string(*near) + "\"?)";
      else
        message += " (expected " + join_quoted(known, " or ") + ")";
      w.fault(child(ptr, "type"), message);
    }
  }
  keys allowed = common_check_keys;
  if (kind) {
    allowed.insert(allowed.end(), kind->keys_.begin(), kind->keys_.end());
    w.check_keys(j, ptr, allowed, [&](std::string_view key) {
      auto owners = check_key_hint(key);
      return owners.empty() ? owners : owners + ", not to " + std::string(kind->type) + " checks";
    });
  } else {
    // Without a usable type, accept every kind's keys rather than drown the real fault.
    for (const auto& k : kinds) allowed.insert(allowed.end(), k.keys_.begin(), k.keys_.end());
    w.check_keys(j, ptr, allowed);
  }

  if (w.require(j, ptr, "name")) {
    w.field(j, ptr, "name", c.name, [&](const json& v, const std::string& p) {
      auto n = w.name(v, p);
      site.named = n.has_value();
      return n;
    });
  }
  auto positive = [&](const json& v, const std::string& p) { return w.positive_duration(v, p); };
  w.field(j, ptr, "interval", c.interval, positive);
  w.field(j, ptr, "timeout", c.timeout, positive);
  w.field(j, ptr, "jitter", c.jitter,
          [&](const json& v, const std::string& p) { return w.any_duration(v, p); });
  w.field(j, ptr, "pending_interval", c.pending_interval, positive);
  w.field(j, ptr, "start_grace", c.start_grace,
          [&](const json& v, const std::string& p) { return w.any_duration(v, p); });
  auto counted = [&](const json& v, const std::string& p) { return w.count(v, p); };
  bool fall_ok = true, window_ok = true;
  w.field(j, ptr, "fall", c.fall, [&](const json& v, const std::string& p) {
    auto n = w.count(v, p);
    fall_ok = n.has_value();
    return n;
  });
  w.field(j, ptr, "rise", c.rise, counted);
  w.field(j, ptr, "window", c.window, [&](const json& v, const std::string& p) {
    if (kind && kind->type == "log_pattern" && v.is_string()) {
      // The likeliest mistake with this kind: the time window has its own key.
      w.fault(p,
              "\"window\" counts check results (an integer); the time window of a "
              "log_pattern check is \"within\", e.g. \"within\": " +
                  describe(v));
      window_ok = false;
      return std::optional<int>();
    }
    auto n = w.count(v, p);
    window_ok = n.has_value();
    return n;
  });
  auto level = [&](const json& v, const std::string& p) { return w.severity_value(v, p); };
  w.field(j, ptr, "severity", c.level, level);
  w.field(j, ptr, "degraded_severity", c.degraded_severity, level);
  w.with(j, ptr, "runbook", [&](const json& v, const std::string& p) {
    if (auto s = w.nonempty_string(v, p)) {
      c.runbook = *s;
      refs.check_runbook_refs.push_back({*s, p});
    }
  });
  w.with(j, ptr, "issue_type", [&](const json& v, const std::string& p) {
    if (auto s = w.nonempty_string(v, p)) {
      c.issue_type = *s;
      refs.check_issue_refs.push_back({*s, p});
    }
  });
  w.with(j, ptr, "depends_on", [&](const json& v, const std::string& p) {
    if (!w.array(v, p)) return;
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto q = child(p, i);
      if (auto s = w.nonempty_string(v[i], q)) {
        c.depends_on.push_back(*s);
        site.depends.emplace_back(*s, q);
      }
    }
  });

  // Relations between the timing fields of one check.
  if (fall_ok && window_ok && c.window && *c.window < c.fall)
    w.fault(child(ptr, "window"), "window (" + std::to_string(*c.window) +
                                      ") must be at least fall (" + std::to_string(c.fall) +
                                      "): fall failures must fit in the window");
  if (j.contains("timeout") && c.timeout >= c.interval)
    w.fault(child(ptr, "timeout"), "timeout (" + format_duration(c.timeout) +
                                       ") must be shorter than interval (" +
                                       format_duration(c.interval) + ")");
  else if (!j.contains("timeout") && j.contains("interval") && c.timeout >= c.interval)
    w.fault(child(ptr, "interval"), "interval (" + format_duration(c.interval) +
                                        ") must be longer than the default timeout (" +
                                        format_duration(c.timeout) + "); set a shorter timeout");
  if (j.contains("jitter") && c.jitter >= c.interval)
    w.fault(child(ptr, "jitter"), "jitter (" + format_duration(c.jitter) +
                                      ") must be shorter than interval (" +
                                      format_duration(c.interval) + ")");
  if (c.pending_interval && *c.pending_interval > c.interval)
    w.fault(child(ptr, "pending_interval"),
            "pending_interval (" + format_duration(*c.pending_interval) +
                ") must not be longer than interval (" + format_duration(c.interval) + ")");

  if (kind) c.kind = kind->read(w, j, ptr);
}

}  // namespace

void read_checks(json_walker& w, references& refs, const json& j, const std::string& ptr,
                 std::vector<check_config>& out) {
  if (!w.array(j, ptr)) {
    refs.check_names_complete = false;
    return;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    check_config c;
    check_site site;
    site.ptr = child(ptr, i);
    read_check(w, refs, j[i], site.ptr, c, site);
    out.push_back(std::move(c));
    refs.check_sites.push_back(std::move(site));
  }
}

}  // namespace acis::config::detail
