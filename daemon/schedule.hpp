// When a check runs next: a pure value computation (userver's periodic_task idea), so that
// tests drive it in simulated time and the event loop only sleeps until `due`.
//
// A check has a fixed phase: slot k starts at base_0 + k * period, plus a random jitter in
// [0, jitter) drawn per run (also for the first run, so that checks configured alike do not
// fire in lockstep). A run that overruns its slot does not queue catch-up runs: the next slot
// starts at once. While a transition is pending, the period is the shorter pending_interval.
#pragma once

#include <algorithm>
#include <chrono>

namespace acis::daemon {

struct schedule_policy {
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds pending_interval{2500};
  std::chrono::milliseconds jitter{0};
};

template <typename TimePoint>
struct schedule_state {
  TimePoint base{};  // the slot without jitter
  TimePoint due{};   // when the run should start

  // `u` is a uniform draw in [0, 1).
  static schedule_state first(TimePoint start, const schedule_policy& p, double u) {
    return {start, start + jitter_for(p, p.interval, u)};
  }

  schedule_state next(TimePoint now, const schedule_policy& p, bool pending, double u) const {
    const auto period = pending ? std::min(p.pending_interval, p.interval) : p.interval;
    TimePoint b = base + period;
    if (b < now) b = now;  // overran: no catch-up burst
    return {b, b + jitter_for(p, period, u)};
  }

 private:
  // Jitter never exceeds half the period in use, so a short pending interval stays short.
  static std::chrono::milliseconds jitter_for(const schedule_policy& p,
                                              std::chrono::milliseconds period, double u) {
    const auto j = std::min(p.jitter, period / 2);
    return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(j.count()) * u));
  }
};

}  // namespace acis::daemon
