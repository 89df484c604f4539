// The value a check attempt yields. Pure data: no Asio, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace acis::checks {

enum class health { ok, degraded, failing };
std::string_view to_string(health h);

struct check_result {
  std::string target;  // "" for single-target checks; the model folder name for model_metadata
  health status = health::failing;
  std::string reason;  // human readable; never contains a secret
  std::chrono::nanoseconds latency{0};

  static check_result ok(std::string target = {}, std::string reason = "ok") {
    return {std::move(target), health::ok, std::move(reason), {}};
  }
  static check_result failing(std::string reason, std::string target = {}) {
    return {std::move(target), health::failing, std::move(reason), {}};
  }
};

// What one attempt of a check yields: a result per target it judged, and whether that is every
// target the check has. The tracker relies on `complete`: a target a complete attempt does not
// report is gone (its incident resolves, its series leave the metrics); after an incomplete one
// the targets it does not report keep their state.
//  - complete: every single-target check, always; model_metadata when the models folder was
//    listed and every folder in it judged.
//  - incomplete: the check could not enumerate its targets (models folder missing or
//    unreadable, the scan timed out, the attempt timed out or threw). `targets` then holds one
//    failing result with target "" that says why.
struct attempt_result {
  std::vector<check_result> targets;
  bool complete = true;

  // The one result of a single-target check (complete by definition).
  static attempt_result single(check_result r) {
    attempt_result a;
    a.targets.push_back(std::move(r));
    return a;
  }
  // The targets are unknown: one failing result for the check as a whole, target "".
  static attempt_result incomplete(std::string reason) {
    attempt_result a;
    a.targets.push_back(check_result::failing(std::move(reason), ""));
    a.complete = false;
    return a;
  }
};

}  // namespace acis::checks
