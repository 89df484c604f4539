// The `verify` step: re-run a check until its target is seen passing and stays passing, or a
// bound is over. One implementation for incidents (the daemon feeds every result to its
// incident tracker) and drills (nothing fed), so that both judge a fix the same way.
//
// Semantics:
//  - A fresh instance of the check (a scheduled run in flight is not disturbed), each attempt
//    bounded by checks::attempt_check(), pauses of min(pending_interval, 1 s) between them.
//  - Passing: with `per_target`, the attempt must report `target` and that result must not be
//    failing (a missing target is not passing: "no result for target X"); without it, the
//    attempt must be complete, report at least one target, and none failing.
//  - It passes once `rise` passing attempts came in a row (the check's own `rise`, so that one
//    answer from a process that is still dying is not enough) and, with `stable_for`, the first
//    of them is at least that old. A failing attempt starts the count again.
//  - It fails when `within` is over: the reason is the last failure, or how far the streak got.
//  - `stopped` is asked after every attempt and pause; true ends it with "stopped". A cancelled
//    caller gets boost::system::system_error(operation_aborted) out of the attempt.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "checks/check.hpp"
#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace acis::remediation {

struct verify_spec {
  const config::check_config* check = nullptr;
  std::string target;
  bool per_target = true;
  int rise = 1;
  std::optional<config::duration> stable_for;
  config::duration within{30000};
};

// "" when verified, else why not.
boost::asio::awaitable<std::string> verify_until(
    checks::check_context ctx, verify_spec spec,
    std::function<void(const checks::attempt_result&)> on_results, std::function<bool()> stopped);

}  // namespace acis::remediation
