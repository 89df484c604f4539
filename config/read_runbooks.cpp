// Runbooks: their own keys (doc, attempts, backoff, cooldown), the list of steps, and the
// step table: which action keys exist, which sibling keys each allows, and which reader (in
// read_steps.cpp, one per step kind) reads it. A step does exactly one thing.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <type_traits>

#include "config/parse_internal.hpp"
#include "config/value_rules.hpp"

namespace acis::config::detail {

namespace {

// Every reader, as a pointer of one type that returns the variant (only verify needs refs).
template <auto read>
step_action as_step_action(json_walker& w, references& refs, const step_input& in) {
  if constexpr (std::is_invocable_v<decltype(read), json_walker&, references&, const step_input&>)
    return read(w, refs, in);
  else
    return read(w, in);
}

struct step_kind {
  std::string_view action;
  step_action (*read)(json_walker& w, references& refs, const step_input& in);
};
// In this order in messages ("one of ...").
const step_kind step_kinds[] = {
    {"run", as_step_action<read_run_step>},
    {"signal", as_step_action<read_signal_step>},
    {"http", as_step_action<read_http_step>},
    {"verify", as_step_action<read_verify_step>},
    {"wait", as_step_action<read_wait_step>},
    {"rollback_model", as_step_action<read_rollback_model_step>},
    {"manual", as_step_action<read_manual_step>},
    {"notify", as_step_action<read_notify_step>},
};

const keys step_actions = [] {
  keys out;
  for (const auto& kind : step_kinds) out.push_back(kind.action);
  return out;
}();

// Keys next to the action key, for the kinds that have any.
const std::map<std::string_view, keys> step_siblings = {
    {"run", {"cwd", "env", "search_path", "timeout", "grace", "expect_exit"}},
    {"verify", {"within", "stable_for"}},
};

std::string step_key_hint(std::string_view key) {
  for (const auto& [action, siblings] : step_siblings) {
    if (std::find(siblings.begin(), siblings.end(), key) != siblings.end())
      return "it belongs to \"" + std::string(action) + "\" steps";
  }
  return {};
}

// Returns whether the step has a name and exactly one action.
bool read_step(json_walker& w, references& refs, const json& j, const std::string& ptr,
               step_config& step) {
  if (!w.object(j, ptr)) return false;
  keys present;
  for (auto action : step_actions) {
    if (j.contains(std::string(action))) present.push_back(action);
  }
  keys allowed = {"name"};
  allowed.insert(allowed.end(), step_actions.begin(), step_actions.end());
  auto add_siblings = [&](std::string_view action) {
    if (auto it = step_siblings.find(action); it != step_siblings.end())
      allowed.insert(allowed.end(), it->second.begin(), it->second.end());
  };
  if (present.empty()) {
    for (const auto& [action, siblings] : step_siblings) add_siblings(action);
  } else {
    for (auto action : present) add_siblings(action);
  }
  std::string action_list = join_quoted(step_actions, " or ");
  w.check_keys(j, ptr, allowed, [&](std::string_view key) {
    auto hint = step_key_hint(key);
    return hint.empty() || present.empty()
               ? hint
               : hint + ", not to \"" + std::string(present[0]) + "\" steps";
  });

  bool ok = w.require(j, ptr, "name");
  if (ok) {
    w.field(j, ptr, "name", step.name,
            [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
    ok = !step.name.empty();
  }
  if (present.empty()) {
    w.fault(ptr, "a step needs one action: one of " + action_list);
    return false;
  }
  if (present.size() > 1) {
    w.fault(ptr, "a step does one thing, but this one has " + join_quoted(present, " and ") +
                     "; split it into separate steps");
    return false;
  }
  auto before = w.faults.size();
  auto action = present[0];
  auto p = child(ptr, action);
  const json& v = j.at(std::string(action));
  for (const auto& kind : step_kinds) {
    if (kind.action == action) step.action = kind.read(w, refs, {j, ptr, v, p});
  }
  return ok && w.faults.size() == before;
}

void read_runbook(json_walker& w, references& refs, const json& j, const std::string& ptr,
                  runbook_config& rb) {
  if (!w.object(j, ptr)) return;
  w.check_keys(j, ptr, {"doc", "max_attempts", "backoff", "backoff_max", "cooldown", "steps"});
  w.field(j, ptr, "doc", rb.doc,
          [&](const json& v, const std::string& p) { return w.nonempty_string(v, p); });
  w.field(j, ptr, "max_attempts", rb.max_attempts,
          [&](const json& v, const std::string& p) { return w.count(v, p); });
  auto any = [&](const json& v, const std::string& p) { return w.any_duration(v, p); };
  bool backoff_ok = true, backoff_max_ok = true;
  w.field(j, ptr, "backoff", rb.backoff, [&](const json& v, const std::string& p) {
    auto d = w.any_duration(v, p);
    backoff_ok = d.has_value();
    return d;
  });
  w.field(j, ptr, "backoff_max", rb.backoff_max, [&](const json& v, const std::string& p) {
    auto d = w.any_duration(v, p);
    backoff_max_ok = d.has_value();
    return d;
  });
  if (backoff_ok && backoff_max_ok && rb.backoff_max < rb.backoff)
    w.fault(child(ptr, j.contains("backoff_max") ? "backoff_max" : "backoff"),
            "backoff_max (" + format_duration(rb.backoff_max) +
                ") must not be shorter than backoff (" + format_duration(rb.backoff) + ")");
  w.field(j, ptr, "cooldown", rb.cooldown, any);
  if (!w.require(j, ptr, "steps")) return;
  w.with(j, ptr, "steps", [&](const json& v, const std::string& p) {
    if (!w.array(v, p)) return;
    if (v.empty()) w.fault(p, "a runbook needs at least one step");
    std::set<std::string> names;
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto q = child(p, i);
      step_config step;
      if (read_step(w, refs, v[i], q, step)) {
        if (!names.insert(step.name).second)
          w.fault(child(q, "name"), "duplicate step name " + quote(step.name) +
                                        " (step names label metrics and reports)");
        rb.steps.push_back(std::move(step));
      }
    }
  });
}

}  // namespace

void read_runbooks(json_walker& w, references& refs, const json& j, const std::string& ptr,
                   std::map<std::string, runbook_config>& out) {
  if (!w.object(j, ptr)) {
    refs.runbook_names_complete = false;
    return;
  }
  for (const auto& [key, value] : j.items()) {
    refs.runbook_names_seen.insert(key);
    auto p = child(ptr, key);
    bool named = is_name(key);
    if (!named)
      w.fault(p,
              "a runbook name must be letters, digits, '.', '_' and '-' (starting with a "
              "letter or digit, at most 100 characters), got " +
                  quote(key));
    runbook_config rb;
    rb.name = key;
    read_runbook(w, refs, value, p, rb);  // its faults are worth reporting even under a bad name
    if (named) out.emplace(key, std::move(rb));
  }
}

}  // namespace acis::config::detail
