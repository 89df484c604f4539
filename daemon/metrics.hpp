// Every Prometheus metric of SPEC.md, declared in one place (metrics.cpp).
// prometheus-cpp types stay behind a pimpl so that this header is cheap to include.
//
// Thread: all updates happen on the event loop; serialize() may run there too (the registry
// itself is thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace acis::daemon {

class metrics {
 public:
  explicit metrics(const std::string& version);
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  void check_result(const std::string& check, const std::string& target,
                    checks::health result, std::chrono::nanoseconds latency);
  // How late a check started against its schedule (the scheduler's health; benchmarks read
  // its quantiles).
  void schedule_lag(std::chrono::nanoseconds lag);
  void forget_target(const std::string& check, const std::string& target);
  void incident_opened(const std::string& check, config::severity level);
  void set_open_incidents(const std::map<config::severity, int>& open);
  void sla_breached(config::severity level);
  void config_reload(bool ok);
  void remediation_run(const std::string& runbook, const std::string& outcome);
  // Every outcome series of a configured runbook at 0, so that rate()/increase() see its first
  // run or give-up (a series born at 1 is invisible to them).
  void declare_runbook(const std::string& runbook);
  void remediation_step(const std::string& runbook, const std::string& step, double seconds);
  void drill(const std::string& runbook, std::chrono::system_clock::time_point when,
             double seconds);
  // A configured runbook without a saved drill: last drill time 0, so that an alert on "not
  // drilled for a quarter" fires for it too; no duration series.
  void never_drilled(const std::string& runbook);

  // The journal writer's figures (absolute counts; the counters follow them).
  void journal(std::uint64_t commits, std::uint64_t records, std::uint64_t failures,
               std::uint64_t pending, bool healthy);

  // The text exposition format, including process_* metrics read from /proc/self.
  std::string serialize() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace acis::daemon
