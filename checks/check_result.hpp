// The value a check attempt yields. Pure data: no Asio, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

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

}  // namespace acis::checks
