#include "remediation/policy.hpp"

#include <algorithm>
#include <utility>

namespace acis::remediation {

namespace {

using namespace std::chrono_literals;
constexpr config::duration window = 1h;

// t + d, saturating at time_point::max() (durations from code-built configs may be huge).
time_point add(time_point t, config::duration d) {
  if (d <= config::duration::zero()) return t;
  auto room = t.time_since_epoch().count() < 0
                  ? time_point::max().time_since_epoch()
                  : time_point::max() - t;
  if (d >= std::chrono::duration_cast<config::duration>(room)) return time_point::max();
  return t + std::chrono::duration_cast<time_point::duration>(d);
}

std::string format(config::duration d) { return config::format_duration(d); }

void prune(std::deque<time_point>& starts, time_point now) {
  while (!starts.empty() && add(starts.front(), window) <= now) starts.pop_front();
}

// Starts still inside the rolling hour at `now`.
int in_window(const std::deque<time_point>& starts, time_point now) {
  return static_cast<int>(std::count_if(starts.begin(), starts.end(), [&](time_point s) {
    return add(s, window) > now;
  }));
}

// When one more start fits under `limit` starts per rolling hour; nullopt when it fits now.
std::optional<time_point> rate_free_at(const std::deque<time_point>& starts, int limit,
                                       time_point now) {
  if (limit <= 0) return std::nullopt;
  std::vector<time_point> live;
  for (auto s : starts)
    if (add(s, window) > now) live.push_back(s);  // future starts (clock stepped back) count
  if (static_cast<int>(live.size()) < limit) return std::nullopt;
  std::sort(live.begin(), live.end());
  // live.size() - limit + 1 starts must leave the window; the last of them decides.
  return add(live[live.size() - static_cast<std::size_t>(limit)], window);
}

std::string key_name(const std::string& check, const std::string& target) {
  return target.empty() ? check : check + "/" + target;
}

}  // namespace

std::string_view to_string(decision::kind k) {
  switch (k) {
    case decision::kind::run: return "run";
    case decision::kind::wait: return "wait";
    case decision::kind::give_up: return "give_up";
    case decision::kind::skip: return "skip";
  }
  return "unknown";
}

remediation_policy::remediation_policy(std::map<std::string, config::runbook_config> runbooks,
                                       policy_limits limits)
    : runbooks_(std::move(runbooks)), limits_(limits) {}

config::duration remediation_policy::backoff_after(const config::runbook_config& rb,
                                                   int attempts) {
  auto cap = std::max(rb.backoff_max, config::duration::zero());
  auto d = std::max(rb.backoff, config::duration::zero());
  for (int k = 1; k < attempts && d < cap; ++k) d = d > cap / 2 ? cap : d * 2;
  return std::min(d, cap);
}

config::duration remediation_policy::reset_after(const std::string& runbook) const {
  if (limits_.reset_after) return *limits_.reset_after;
  auto it = runbooks_.find(runbook);
  config::duration cooldown = it == runbooks_.end() ? config::duration::zero() : it->second.cooldown;
  return std::max<config::duration>(cooldown, 1h);
}

int remediation_policy::effective_give_ups(const target_key& key, time_point now) const {
  auto it = give_ups_.find(key);
  if (it == give_ups_.end()) return 0;
  auto h = healthy_since_.find({std::get<1>(key), std::get<2>(key)});
  if (h != healthy_since_.end() && add(h->second, reset_after(std::get<0>(key))) <= now) return 0;
  return it->second;
}

void remediation_policy::apply_due_resets(std::string_view check, std::string_view target,
                                          time_point now) {
  auto h = healthy_since_.find({std::string(check), std::string(target)});
  if (h == healthy_since_.end()) return;
  for (auto it = give_ups_.begin(); it != give_ups_.end();) {
    const auto& [runbook, c, t] = it->first;
    if (c == check && t == target && add(h->second, reset_after(runbook)) <= now)
      it = give_ups_.erase(it);
    else
      ++it;
  }
}

void remediation_policy::clear_hold(const incident_ref& ref) {
  give_ups_.erase({ref.runbook, ref.check, ref.target});
}

decision remediation_policy::decide(const incident_ref& incident,
                                    const incident_conditions& conditions, time_point now) {
  auto& inc = incidents_[incident.id];
  inc.ref = incident;
  inc.waiting_until.reset();
  apply_due_resets(incident.check, incident.target, now);

  auto skip = [&](std::string reason) {
    return decision{decision::kind::skip, std::nullopt, std::move(reason), inc.attempts};
  };
  auto rb_it = runbooks_.find(incident.runbook);
  if (rb_it == runbooks_.end()) return skip("runbook " + incident.runbook + " is not configured");
  const auto& rb = rb_it->second;
  if (conditions.suppressed_by) return skip("suppressed by " + *conditions.suppressed_by);
  if (inc.gave_up)
    return skip("gave up after " + std::to_string(inc.attempts) +
                " attempt(s); waiting for resolution or an operator");
  if (conditions.escalated && !inc.operator_cleared)
    return skip("escalated; waiting for resolution or an operator");
  if (conditions.maintenance) return skip("maintenance: remediation paused");
  if (inc.running)
    return decision{decision::kind::wait, std::nullopt,
                    "attempt " + std::to_string(inc.attempts) + " is running", inc.attempts};

  auto give_up = [&](std::string reason) {
    inc.gave_up = true;
    inc.operator_cleared = false;
    // The target is not healthy now, whatever was reported: its healthy clock starts afresh.
    healthy_since_.erase({incident.check, incident.target});
    return decision{decision::kind::give_up, std::nullopt, std::move(reason), inc.attempts};
  };

  if (inc.attempts == 0 && limits_.give_ups_before_hold > 0) {
    int count = effective_give_ups({incident.runbook, incident.check, incident.target}, now);
    if (count >= limits_.give_ups_before_hold)
      return give_up("held: runbook " + incident.runbook + " gave up on " +
                     key_name(incident.check, incident.target) + " " + std::to_string(count) +
                     " episode(s) in a row; automatic runs resume after it has been healthy for " +
                     format(reset_after(incident.runbook)) + " or when an operator acts");
  }

  int max_attempts = std::max(rb.max_attempts, 1);
  if (inc.attempts >= max_attempts) {
    if (inc.last_success.value_or(false) && inc.last_end) {
      auto until = add(*inc.last_end, backoff_after(rb, inc.attempts));
      if (now < until) {
        inc.waiting_until = until;
        return decision{decision::kind::wait, until,
                        "attempt " + std::to_string(inc.attempts) + " of " +
                            std::to_string(max_attempts) +
                            " passed; giving up unless the incident resolves first",
                        inc.attempts};
      }
    }
    ++give_ups_[{incident.runbook, incident.check, incident.target}];
    return give_up(std::to_string(inc.attempts) + " attempt(s) of " + incident.runbook +
                   " without resolution");
  }
  return wait_or_run(inc, rb, now);
}

decision remediation_policy::wait_or_run(incident_entry& inc, const config::runbook_config& rb,
                                         time_point now) {
  const auto& ref = inc.ref;
  int next = inc.attempts + 1;
  auto& state = runbook_state_[ref.runbook];
  if (state.running_incident)
    return decision{decision::kind::wait, std::nullopt,
                    "runbook " + ref.runbook + " is running for " + *state.running_incident, next};

  std::optional<time_point> until;
  std::string why;
  auto consider = [&](std::optional<time_point> t, std::string reason) {
    if (t && *t > now && (!until || *t > *until)) {
      until = t;
      why = std::move(reason);
    }
  };
  if (inc.attempts > 0 && inc.last_end) {
    auto pause = backoff_after(rb, inc.attempts);
    consider(add(*inc.last_end, pause), "backoff " + format(pause) + " after attempt " +
                                            std::to_string(inc.attempts));
  }
  if (state.last_run_end && state.last_run_incident != ref.id)
    consider(add(*state.last_run_end, rb.cooldown),
             "cooldown " + format(rb.cooldown) + " of runbook " + ref.runbook + " after its run for " +
                 state.last_run_incident.value_or("?"));
  consider(rate_free_at(state.starts, limits_.runbook_runs_per_hour, now),
           "rate limit: " + std::to_string(limits_.runbook_runs_per_hour) + " runs of " +
               ref.runbook + " per hour");
  consider(rate_free_at(global_starts_, limits_.global_runs_per_hour, now),
           "global rate limit: " + std::to_string(limits_.global_runs_per_hour) +
               " runbook runs per hour");
  if (until) {
    inc.waiting_until = until;
    return decision{decision::kind::wait, until, std::move(why), next};
  }
  return decision{decision::kind::run, std::nullopt,
                  "attempt " + std::to_string(next) + " of " +
                      std::to_string(std::max(rb.max_attempts, 1)),
                  next};
}

bool remediation_policy::started(const incident_ref& incident, time_point now) {
  auto& state = runbook_state_[incident.runbook];
  if (state.running_incident) return false;
  auto& inc = incidents_[incident.id];
  if (inc.running) return false;
  auto rb = runbooks_.find(incident.runbook);
  if (rb != runbooks_.end() && inc.attempts >= std::max(rb->second.max_attempts, 1)) return false;
  inc.ref = incident;
  ++inc.attempts;
  inc.running = true;
  inc.waiting_until.reset();
  state.running_incident = incident.id;
  state.last_run_start = now;
  prune(state.starts, now);
  prune(global_starts_, now);
  state.starts.push_back(now);
  global_starts_.push_back(now);
  return true;
}

bool remediation_policy::finished(std::string_view incident_id, bool success, time_point now) {
  auto state = std::find_if(runbook_state_.begin(), runbook_state_.end(), [&](const auto& e) {
    return e.second.running_incident == incident_id;
  });
  if (state == runbook_state_.end()) return false;
  state->second.running_incident.reset();
  state->second.last_run_end = now;
  state->second.last_run_incident = std::string(incident_id);
  if (auto inc = incidents_.find(incident_id); inc != incidents_.end()) {
    inc->second.running = false;
    inc->second.last_end = now;
    inc->second.last_success = success;
  }
  return true;
}

void remediation_policy::incident_closed(std::string_view incident_id, time_point now) {
  auto it = incidents_.find(incident_id);
  if (it == incidents_.end()) return;
  const auto& inc = it->second;
  apply_due_resets(inc.ref.check, inc.ref.target, now);
  // An episode that ran and ended by resolution breaks the run of give-ups.
  if (inc.attempts > 0 && !inc.gave_up) clear_hold(inc.ref);
  incidents_.erase(it);
}

void remediation_policy::operator_reset(std::string_view incident_id) {
  auto it = incidents_.find(incident_id);
  if (it == incidents_.end()) it = incidents_.emplace(std::string(incident_id), incident_entry{}).first;
  auto& inc = it->second;
  inc.ref.id = std::string(incident_id);
  inc.gave_up = false;
  inc.operator_cleared = true;
  inc.attempts = inc.running ? 1 : 0;
  inc.last_end.reset();
  inc.last_success.reset();
  inc.waiting_until.reset();
  if (!inc.ref.runbook.empty()) clear_hold(inc.ref);
}

void remediation_policy::target_healthy(std::string_view check, std::string_view target,
                                        time_point now) {
  healthy_since_.try_emplace({std::string(check), std::string(target)}, now);
  apply_due_resets(check, target, now);
}

void remediation_policy::target_unhealthy(std::string_view check, std::string_view target,
                                          time_point now) {
  // A healthy stretch long enough has already earned its reset, reported or not.
  apply_due_resets(check, target, now);
  healthy_since_.erase({std::string(check), std::string(target)});
}

std::optional<time_point> remediation_policy::next_wakeup() const {
  std::optional<time_point> earliest;
  for (const auto& [id, inc] : incidents_)
    if (inc.waiting_until && (!earliest || *inc.waiting_until < *earliest))
      earliest = inc.waiting_until;
  return earliest;
}

void remediation_policy::reconfigure(std::map<std::string, config::runbook_config> runbooks) {
  runbooks_ = std::move(runbooks);
}

void remediation_policy::reconfigure(std::map<std::string, config::runbook_config> runbooks,
                                     policy_limits limits) {
  runbooks_ = std::move(runbooks);
  limits_ = limits;
}

policy_snapshot remediation_policy::snapshot(time_point now) const {
  policy_snapshot s;
  for (const auto& [id, inc] : incidents_)
    s.incidents.push_back({id, inc.ref.runbook, inc.ref.check, inc.ref.target, inc.attempts,
                           inc.running, inc.gave_up, inc.last_end, inc.last_success,
                           inc.waiting_until});
  for (const auto& [name, st] : runbook_state_) {
    policy_snapshot::runbook_view v;
    v.name = name;
    v.running_incident = st.running_incident;
    v.last_run_start = st.last_run_start;
    v.last_run_end = st.last_run_end;
    v.last_run_incident = st.last_run_incident;
    if (auto rb = runbooks_.find(name); rb != runbooks_.end() && st.last_run_end)
      v.cooldown_until = add(*st.last_run_end, rb->second.cooldown);
    v.runs_last_hour = in_window(st.starts, now);
    s.runbooks.push_back(std::move(v));
  }
  for (const auto& [key, count] : give_ups_) {
    policy_snapshot::target_view v;
    std::tie(v.runbook, v.check, v.target) = key;
    v.consecutive_give_ups = effective_give_ups(key, now);
    v.held = limits_.give_ups_before_hold > 0 && v.consecutive_give_ups >= limits_.give_ups_before_hold;
    if (auto h = healthy_since_.find({v.check, v.target}); h != healthy_since_.end())
      v.healthy_since = h->second;
    s.targets.push_back(std::move(v));
  }
  s.global_runs_last_hour = in_window(global_starts_, now);
  return s;
}

// ---- durable state -----------------------------------------------------------------------

namespace {

using json = nlohmann::json;

json time_json(const std::optional<time_point>& t) {
  if (!t) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

std::optional<time_point> time_from(const json& j) {
  if (!j.is_number_integer()) return std::nullopt;
  return time_point(std::chrono::duration_cast<time_point::duration>(
      std::chrono::milliseconds(j.get<std::int64_t>())));
}

json times_json(const std::deque<time_point>& ts) {
  json a = json::array();
  for (auto t : ts) a.push_back(time_json(t));
  return a;
}

std::deque<time_point> times_from(const json& j) {
  std::deque<time_point> out;
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (auto t = time_from(v)) out.push_back(*t);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> string_from(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

nlohmann::json remediation_policy::save() const {
  json runbooks = json::object();
  for (const auto& [name, st] : runbook_state_) {
    runbooks[name] = {{"running", st.running_incident ? json(*st.running_incident) : json(nullptr)},
                      {"last_start", time_json(st.last_run_start)},
                      {"last_end", time_json(st.last_run_end)},
                      {"last_incident", st.last_run_incident ? json(*st.last_run_incident) : json(nullptr)},
                      {"starts", times_json(st.starts)}};
  }
  json holds = json::array();
  for (const auto& [key, count] : give_ups_)
    holds.push_back({{"runbook", std::get<0>(key)}, {"check", std::get<1>(key)},
                     {"target", std::get<2>(key)}, {"give_ups", count}});
  json incidents = json::object();
  for (const auto& [id, inc] : incidents_) {
    if (inc.attempts == 0 && !inc.gave_up && !inc.running) continue;
    incidents[id] = {{"runbook", inc.ref.runbook},
                     {"check", inc.ref.check},
                     {"target", inc.ref.target},
                     {"attempts", inc.attempts},
                     {"running", inc.running},
                     {"gave_up", inc.gave_up},
                     {"operator_cleared", inc.operator_cleared},
                     {"last_end", time_json(inc.last_end)},
                     {"last_success", inc.last_success ? json(*inc.last_success) : json(nullptr)}};
  }
  return {{"runbooks", std::move(runbooks)},
          {"global_starts", times_json(global_starts_)},
          {"holds", std::move(holds)},
          {"incidents", std::move(incidents)}};
}

bool remediation_policy::restore(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("runbooks") || !state["runbooks"].is_object())
    return false;
  std::map<std::string, runbook_entry, std::less<>> runbooks;
  for (const auto& [name, j] : state["runbooks"].items()) {
    if (!j.is_object()) continue;
    runbook_entry e;
    e.running_incident = string_from(j, "running");
    e.last_run_start = time_from(j.value("last_start", json()));
    e.last_run_end = time_from(j.value("last_end", json()));
    e.last_run_incident = string_from(j, "last_incident");
    e.starts = times_from(j.value("starts", json()));
    runbooks[name] = std::move(e);
  }
  std::map<target_key, int> holds;
  if (auto h = state.find("holds"); h != state.end() && h->is_array())
    for (const auto& j : *h) {
      if (!j.is_object()) continue;
      auto rb = string_from(j, "runbook"), c = string_from(j, "check"), t = string_from(j, "target");
      const auto n = j.value("give_ups", json());
      if (rb && c && t && n.is_number_integer() && n.get<int>() > 0) holds[{*rb, *c, *t}] = n.get<int>();
    }
  std::map<std::string, incident_entry, std::less<>> incidents;
  if (auto is = state.find("incidents"); is != state.end() && is->is_object())
    for (const auto& [id, j] : is->items()) {
      if (!j.is_object()) continue;
      incident_entry e;
      e.ref = {id, string_from(j, "runbook").value_or(""), string_from(j, "check").value_or(""),
               string_from(j, "target").value_or("")};
      const auto attempts = j.value("attempts", json());
      e.attempts = attempts.is_number_integer() ? std::max(0, attempts.get<int>()) : 0;
      e.running = j.value("running", json()).is_boolean() && j["running"].get<bool>();
      e.gave_up = j.value("gave_up", json()).is_boolean() && j["gave_up"].get<bool>();
      e.operator_cleared = j.value("operator_cleared", json()).is_boolean() && j["operator_cleared"].get<bool>();
      e.last_end = time_from(j.value("last_end", json()));
      if (auto ls = j.value("last_success", json()); ls.is_boolean()) e.last_success = ls.get<bool>();
      incidents[id] = std::move(e);
    }
  // A runbook's run in progress and its incident agree, whatever the file says.
  for (auto& [name, rb] : runbooks) {
    if (!rb.running_incident) continue;
    auto it = incidents.find(*rb.running_incident);
    if (it == incidents.end()) {
      incident_entry e;
      e.ref = {*rb.running_incident, name, "", ""};
      e.attempts = 1;
      it = incidents.emplace(*rb.running_incident, std::move(e)).first;
    }
    it->second.running = true;
  }
  for (auto& [id, inc] : incidents) {
    if (!inc.running) continue;
    auto rb = runbooks.find(inc.ref.runbook);
    if (rb == runbooks.end() || rb->second.running_incident != id) inc.running = false;
  }
  runbook_state_ = std::move(runbooks);
  give_ups_ = std::move(holds);
  incidents_ = std::move(incidents);
  global_starts_ = times_from(state.value("global_starts", json()));
  return true;
}

std::vector<incident_ref> remediation_policy::running() const {
  std::vector<incident_ref> out;
  for (const auto& [id, inc] : incidents_)
    if (inc.running) out.push_back(inc.ref);
  return out;
}

}  // namespace acis::remediation
