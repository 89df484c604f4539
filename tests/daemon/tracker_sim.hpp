// Test helpers for the incident tracker: a tracker plus a simulated clock.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "daemon/incident.hpp"

namespace tracker_sim {

using namespace std::chrono_literals;
using acis::checks::attempt_result;
using acis::checks::check_result;
using acis::checks::health;
using acis::daemon::attempt_outcome;
using acis::daemon::check_policy;
using acis::daemon::event_kind;
using acis::daemon::incident;
using acis::daemon::incident_event;
using acis::daemon::incident_tracker;
using acis::daemon::severity;
using acis::daemon::time_point;

inline const time_point t0 = time_point{} + 1000h;

inline std::map<severity, std::chrono::milliseconds> response_times() {
  return {{severity::critical, 5min}, {severity::high, 15min}, {severity::medium, 1h},
          {severity::low, 4h}};
}

inline check_policy policy(std::string name, int fall, int rise, int window = 0) {
  check_policy p;
  p.name = std::move(name);
  p.fall = fall;
  p.rise = rise;
  p.window = window ? window : fall;
  return p;
}

// A tracker plus a simulated clock that moves 10 s per result unless told otherwise.
struct sim {
  incident_tracker tracker;
  time_point now = t0;

  explicit sim(std::vector<check_policy> policies, time_point start = t0)
      : tracker(std::move(policies), response_times(), start), now(start) {}

  // One attempt reporting one target: complete for a single-target check (target ""),
  // incomplete for a named target (the other targets of the check keep their state).
  attempt_outcome feed(const std::string& check, health h, const std::string& target = {},
                       std::chrono::milliseconds step = 10s) {
    now += step;
    check_result r{target, h, std::string(h == health::ok ? "ok" : "bad") + " at " +
                                  acis::daemon::format_rfc3339(now),
                   {}};
    return tracker.on_attempt(check, attempt_result{{r}, target.empty()}, now);
  }
  // One attempt as given, at now + step.
  attempt_outcome attempt(const std::string& check, attempt_result a,
                          std::chrono::milliseconds step = 10s) {
    now += step;
    return tracker.on_attempt(check, a, now);
  }
  attempt_outcome fail(const std::string& check, const std::string& target = {}) {
    return feed(check, health::failing, target);
  }
  attempt_outcome pass(const std::string& check, const std::string& target = {}) {
    return feed(check, health::ok, target);
  }
  attempt_outcome degrade(const std::string& check, const std::string& target = {}) {
    return feed(check, health::degraded, target);
  }
};

inline std::vector<std::string> kinds(const std::vector<incident_event>& events) {
  std::vector<std::string> v;
  for (const auto& e : events) v.push_back(std::string(to_string(e.kind)));
  return v;
}

inline const incident_event* find_event(const std::vector<incident_event>& events,
                                 const std::string& kind, const std::string& check) {
  for (const auto& e : events)
    if (to_string(e.kind) == kind && e.snapshot.check == check) return &e;
  return nullptr;
}


// The change an attempt of one target made: "check_failed", "check_recovered" or "".
inline std::string check_event(const attempt_outcome& out) {
  return out.changes.empty() ? std::string() : std::string(to_string(out.changes.back().kind));
}

inline check_result result(std::string target, health h, std::string reason = "r") {
  return check_result{std::move(target), h, std::move(reason), {}};
}

}  // namespace tracker_sim
