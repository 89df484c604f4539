#include <chrono>

#include <gtest/gtest.h>

#include "daemon/schedule.hpp"

using namespace std::chrono_literals;
using acis::daemon::schedule_policy;
using tp = std::chrono::steady_clock::time_point;
using state = acis::daemon::schedule_state<tp>;

// The first run is jittered too, within [0, jitter).
TEST(schedule, first_run_is_jittered) {
  const schedule_policy p{10s, 2s, 1s};
  const tp t0{};
  EXPECT_EQ(state::first(t0, p, 0.0).due, t0);
  EXPECT_EQ(state::first(t0, p, 0.5).due, t0 + 500ms);
  EXPECT_LT(state::first(t0, p, 0.999).due, t0 + 1s);
}

// Slots keep a fixed phase: jitter does not accumulate into drift over many runs.
TEST(schedule, fixed_phase_without_drift) {
  const schedule_policy p{10s, 2s, 1s};
  const tp t0{};
  auto s = state::first(t0, p, 0.9);
  for (int i = 0; i < 1000; ++i) s = s.next(s.due + 100ms, p, false, 0.9);
  EXPECT_EQ(s.base, t0 + 10000s);
  EXPECT_EQ(s.due, t0 + 10000s + 900ms);
}

// A pending transition shortens the period; jitter is capped to half of it.
TEST(schedule, pending_interval_and_capped_jitter) {
  const schedule_policy p{10s, 1s, 4s};
  const tp t0{};
  auto s = state::first(t0, p, 0.0);
  auto n = s.next(t0 + 50ms, p, true, 0.99);
  EXPECT_EQ(n.base, t0 + 1s);
  EXPECT_LT(n.due, t0 + 1500ms);
  auto back = n.next(n.due, p, false, 0.0);
  EXPECT_EQ(back.base, t0 + 11s);
}

// An overrun does not queue catch-up runs: the next run starts at once, once.
TEST(schedule, overrun_starts_next_at_once_without_burst) {
  const schedule_policy p{1s, 1s, 0ms};
  const tp t0{};
  auto s = state::first(t0, p, 0.0);
  auto late = t0 + 5500ms;
  auto n = s.next(late, p, false, 0.0);
  EXPECT_EQ(n.due, late);
  auto n2 = n.next(late + 10ms, p, false, 0.0);
  EXPECT_EQ(n2.due, late + 1s);
}
