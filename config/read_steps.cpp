// One reader per step kind (parse_internal.hpp): run, signal, http, verify, wait,
// rollback_model, manual, notify. read_runbooks.cpp has already checked that the step has
// exactly one action and only the sibling keys that action allows.
#include <algorithm>
#include <string>

#include "config/parse_internal.hpp"
#include "config/value_rules.hpp"

namespace acis::config::detail {

run_step read_run_step(json_walker& w, const step_input& in) {
  const json& step = in.step;
  const std::string& step_ptr = in.step_ptr;
  const json& v = in.v;
  const std::string& p = in.p;
  run_step r;
  r.argv.clear();
  w.field(step, step_ptr, "search_path", r.search_path,
          [&](const json& b, const std::string& q) { return w.boolean(b, q); });
  if (w.array(v, p)) {
    if (v.empty()) w.fault(p, "expected the command as an array of strings, got an empty array");
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto q = child(p, i);
      auto s = w.argument(v[i], q);
      if (!s) continue;
      if (i == 0 && s->empty()) {
        w.fault(q, "the program must not be empty");
      } else if (i == 0 && !r.search_path && s->find('/') == std::string::npos) {
        w.fault(q, "the program " + quote(*s) +
                       " is not a path and PATH is not searched; give "
                       "its absolute path or set \"search_path\": true");
      }
      r.argv.push_back(*s);
    }
  }
  w.field(step, step_ptr, "cwd", r.cwd, [&](const json& c, const std::string& q) {
    auto s = w.nonempty_string(c, q);
    if (s) {
      if (auto problem = placeholder_problem(*s)) {
        w.fault(q, *problem);
        return std::optional<std::string>();
      }
    }
    return s;
  });
  w.with(step, step_ptr, "env", [&](const json& e, const std::string& q) {
    if (!w.object(e, q)) return;
    for (const auto& [key, value] : e.items()) {
      auto k = child(q, key);
      if (!is_env_name(key)) {
        w.fault(k, "not a valid environment variable name: " + quote(key));
        continue;
      }
      if (auto s = w.argument(value, k)) r.env[key] = *s;
    }
  });
  w.field(step, step_ptr, "timeout", r.timeout,
          [&](const json& d, const std::string& q) { return w.positive_duration(d, q); });
  w.field(step, step_ptr, "grace", r.grace,
          [&](const json& d, const std::string& q) { return w.any_duration(d, q); });
  w.field(step, step_ptr, "expect_exit", r.expect_exit,
          [&](const json& e, const std::string& q) { return w.int_list(e, q, 0, 255); });
  return r;
}

signal_step read_signal_step(json_walker& w, const step_input& in) {
  const json& v = in.v;
  const std::string& p = in.p;
  signal_step s;
  if (!w.object(v, p)) return s;
  w.check_keys(v, p, {"cmdline_contains", "pidfile", "signal"});
  w.field(v, p, "cmdline_contains", s.cmdline_contains, [&](const json& c, const std::string& q) {
    auto t = w.nonempty_string(c, q);
    if (t) {
      if (auto problem = placeholder_problem(*t)) {
        w.fault(q, *problem);
        return std::optional<std::string>();
      }
    }
    return t;
  });
  w.field(v, p, "pidfile", s.pidfile, [&](const json& c, const std::string& q) {
    auto t = w.nonempty_string(c, q);
    if (t) {
      if (auto problem = placeholder_problem(*t)) {
        w.fault(q, *problem);
        return std::optional<std::string>();
      }
    }
    return t;
  });
  bool by_cmdline = v.contains("cmdline_contains"), by_pidfile = v.contains("pidfile");
  if (!by_cmdline && !by_pidfile)
    w.fault(p, "a signal step needs \"cmdline_contains\" or \"pidfile\" to find its processes");
  else if (by_cmdline && by_pidfile)
    w.fault(p, "use either \"cmdline_contains\" or \"pidfile\", not both");
  w.field(v, p, "signal", s.signal, [&](const json& c, const std::string& q) {
    auto t = w.string(c, q);
    if (!t) return t;
    static const keys names = {"TERM", "KILL", "HUP",  "INT", "QUIT",
                               "USR1", "USR2", "STOP", "CONT"};
    std::string name = *t;
    if (name.rfind("SIG", 0) == 0) name.erase(0, 3);  // "SIGTERM" means "TERM"
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      w.fault(q, "unknown signal " + quote(*t) + " (expected one of " + join_quoted(names, " or ") +
                     ")");
      return std::optional<std::string>();
    }
    return std::optional<std::string>(name);
  });
  return s;
}

http_step read_http_step(json_walker& w, const step_input& in) {
  const json& v = in.v;
  const std::string& p = in.p;
  http_step h;
  if (!w.object(v, p)) return h;
  w.check_keys(v, p, {"url", "method", "expect_status", "timeout"});
  if (w.require(v, p, "url"))
    w.field(v, p, "url", h.url, [&](const json& u, const std::string& q) {
      auto s = w.url(u, q);
      if (s) {
        if (auto problem = placeholder_problem(*s)) {
          w.fault(q, *problem);
          return std::optional<std::string>();
        }
      }
      return s;
    });
  w.field(v, p, "method", h.method,
          [&](const json& m, const std::string& q) { return w.method(m, q); });
  w.field(v, p, "expect_status", h.expect_status,
          [&](const json& s, const std::string& q) { return w.int_list(s, q, 100, 599); });
  w.field(v, p, "timeout", h.timeout,
          [&](const json& d, const std::string& q) { return w.positive_duration(d, q); });
  return h;
}

verify_step read_verify_step(json_walker& w, references& refs, const step_input& in) {
  verify_step s;
  if (auto n = w.nonempty_string(in.v, in.p)) {
    s.check = *n;
    refs.verify_refs.push_back({*n, in.p});
  }
  bool within_ok = true;
  w.field(in.step, in.step_ptr, "within", s.within, [&](const json& v, const std::string& p) {
    auto d = w.positive_duration(v, p);
    within_ok = d.has_value();
    return d;
  });
  // How long the check must keep passing; it has to fit in the bound, else the step could
  // never pass. Not compared with a `within` that is itself refused: that fault comes first.
  w.field(in.step, in.step_ptr, "stable_for", s.stable_for,
          [&](const json& v, const std::string& p) -> std::optional<duration> {
            auto d = w.positive_duration(v, p);
            if (d && within_ok && *d > s.within) {
              w.fault(p, "stable_for (" + format_duration(*d) +
                             ") must not be longer than within (" + format_duration(s.within) +
                             (in.step.contains("within") ? "" : ", the default") +
                             "): the check must have kept passing that long before the step's "
                             "bound runs out");
              return std::nullopt;
            }
            return d;
          });
  return s;
}

wait_step read_wait_step(json_walker& w, const step_input& in) {
  wait_step s;
  if (auto d = w.any_duration(in.v, in.p)) s.wait = *d;
  return s;
}

rollback_model_step read_rollback_model_step(json_walker& w, const step_input& in) {
  if (w.object(in.v, in.p)) w.check_keys(in.v, in.p, {});
  return {};
}

manual_step read_manual_step(json_walker& w, const step_input& in) {
  manual_step s;
  if (auto t = w.nonempty_string(in.v, in.p)) s.instruction = *t;
  return s;
}

notify_step read_notify_step(json_walker& w, const step_input& in) {
  notify_step s;
  if (auto t = w.nonempty_string(in.v, in.p)) s.message = *t;
  return s;
}

}  // namespace acis::config::detail
