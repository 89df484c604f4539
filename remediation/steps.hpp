// Runbook step execution: one function per step kind behind execute_step().
//
// Contract:
//  - Runs on the event loop and resumes there; blocking work (rollback_model) goes to the
//    blocking pool. Never throws for an expected failure: the outcome says ok=false and why.
//  - Placeholders ({check}, {target}, {model}, {backup}, {incident}, {severity}) are expanded
//    by templating.hpp before anything happens; a refused value fails the step with nothing
//    executed.
//  - In dry-run nothing is executed, signalled, requested or changed: the outcome is ok with
//    detail "dry run" and `resolved` says exactly what would have happened (argv, URL, ...).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "config/config.hpp"
#include "remediation/templating.hpp"
#include "remediation/verify.hpp"

namespace boost::asio {
class thread_pool;
}

namespace acis::remediation {

struct step_context {
  boost::asio::any_io_executor io;
  boost::asio::thread_pool* blocking = nullptr;
  template_values values;  // check, target, model, incident, severity (and backup once chosen)
  bool dry_run = false;
  // The incident's check (rollback_model needs its models_dir and rules).
  const config::check_config* check = nullptr;
  // The checks of the configuration the attempt runs with (for `verify` steps).
  std::function<const config::check_config*(const std::string& name)> find_check;
  std::string target;
  // The `verify` step (remediation/verify.hpp): re-runs spec.check until its target is seen
  // passing and stays passing; "" when verified, else why not. Provided by the daemon (which
  // feeds the results to the incident tracker) and by drills; the step fills spec from its
  // config (within, stable_for), the check's rise and the incident's target.
  std::function<boost::asio::awaitable<std::string>(const verify_spec&)> verify;
  // Optional: told the pid (= process group id) of a `run` step's child as soon as it runs.
  std::function<void(int pid)> on_process_started;
};

struct step_outcome {
  bool ok = false;
  std::string detail;    // one line: "exit 0", "HTTP 200", "verified", "no healthy backup: ..."
  std::string output;    // captured output of a `run` step (bounded)
  std::string resolved;  // what the step does with placeholders resolved (argv as JSON, URL...)
  std::optional<std::string> manual_instruction;  // for `manual` steps
  // Placeholder values the step produced for the steps after it: a successful
  // `rollback_model` sets "backup" to the backup it swapped in.
  std::map<std::string, std::string> produced;
};

std::string_view step_kind(const config::step_config& s);  // "run", "signal", ...

// What the step would do, placeholders resolved, for dry-run logs and drills; an error message
// when a placeholder value is refused.
std::string describe_step(const config::step_config& s, const template_values& values);

boost::asio::awaitable<step_outcome> execute_step(const config::step_config& step,
                                                  const step_context& ctx);

}  // namespace acis::remediation
