// The small value helpers of config.hpp: durations, severities, check defaults, config_error.
// The JSON walk and the cross-checks: parse_config.cpp and the files it lists
// (parse_internal.hpp).
#include <algorithm>
#include <cstdint>
#include <limits>

#include "config/config.hpp"

namespace acis::config {

namespace {

// The longest duration a config may hold. Timers downstream count in nanoseconds from a
// steady clock (int64: ~292 years); ten years leaves room for `now + d` and for products such
// as interval * fall, so nothing that passed the parser can overflow a timer.
constexpr std::int64_t max_duration_ms = 3650LL * 24 * 3600 * 1000;

struct unit {
  std::string_view suffix;
  std::int64_t ms;
};
// Largest first: compound durations must name their units in this order ("1h30m", not
// "30m1h"), each at most once, so that every duration has one spelling per decomposition.
constexpr unit units[] = {
    {"d", 24LL * 3600 * 1000}, {"h", 3600LL * 1000}, {"m", 60LL * 1000}, {"s", 1000}, {"ms", 1},
};

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // units[next_unit..] are still allowed
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    std::int64_t number = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > max_duration_ms) return std::nullopt;  // also guards the next * 10
      ++i;
    }
    // "ms" before "m": the longest suffix that matches.
    std::optional<std::size_t> found;
    for (std::size_t u = 0; u < std::size(units); ++u) {
      auto suffix = units[u].suffix;
      if (text.substr(i, suffix.size()) != suffix) continue;
      if (!found || suffix.size() > units[*found].suffix.size()) found = u;
    }
    if (!found || *found < next_unit) return std::nullopt;
    if (number > (max_duration_ms - total) / units[*found].ms) return std::nullopt;
    total += number * units[*found].ms;
    i += units[*found].suffix.size();
    next_unit = *found + 1;
  }
  return duration(total);
}

std::string format_duration(duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  std::uint64_t rest;
  if (ms < 0) {
    out.push_back('-');  // not out = "-": g++ 12 -O2 with sanitizers warns falsely (-Wrestrict)
    rest = std::uint64_t(0) - static_cast<std::uint64_t>(ms);  // well defined for INT64_MIN
  } else {
    rest = static_cast<std::uint64_t>(ms);
  }
  for (const auto& u : units) {
    auto size = static_cast<std::uint64_t>(u.ms);
    if (rest >= size) {
      out += std::to_string(rest / size);
      out += u.suffix;
      rest %= size;
    }
  }
  return out;
}

std::string_view to_string(severity s) {
  switch (s) {
    case severity::critical: return "critical";
    case severity::high: return "high";
    case severity::medium: return "medium";
    case severity::low: return "low";
  }
  return "unknown";
}

std::optional<severity> parse_severity(std::string_view text) {
  for (auto s : all_severities) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view kind_name(const check_kind& k) {
  struct visitor {
    std::string_view operator()(const http_check&) const { return "http"; }
    std::string_view operator()(const postgres_check&) const { return "postgres"; }
    std::string_view operator()(const model_metadata_check&) const { return "model_metadata"; }
    std::string_view operator()(const process_check&) const { return "process"; }
    std::string_view operator()(const file_age_check&) const { return "file_age"; }
    std::string_view operator()(const log_pattern_check&) const { return "log_pattern"; }
  };
  return std::visit(visitor{}, k);
}

duration check_config::effective_pending_interval() const {
  if (pending_interval) return *pending_interval;
  auto quarter = std::max(duration(100), interval / 4);
  return std::min(quarter, interval);
}

duration check_config::effective_start_grace() const {
  if (start_grace) return *start_grace;
  // Saturating: a check_config built in code (not parsed) may hold anything.
  if (interval.count() <= 0 || fall <= 0) return duration(0);
  constexpr auto max = std::numeric_limits<duration::rep>::max();
  if (interval.count() > max / fall) return duration(max);
  return interval * fall;
}

const check_config* config::find_check(std::string_view name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

namespace {

std::string join_faults(const std::vector<config_fault>& faults) {
  if (faults.empty()) return "invalid configuration";
  std::string out;
  for (const auto& f : faults) {
    if (!out.empty()) out += '\n';
    out += f.to_string();
  }
  return out;
}

}  // namespace

config_error::config_error(std::vector<config_fault> faults)
    : std::runtime_error(join_faults(faults)), faults_(std::move(faults)) {}

}  // namespace acis::config
