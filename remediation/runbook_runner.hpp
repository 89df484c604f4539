// Running one attempt of a runbook: its steps in order, stopping at the first failure
// (SPEC.md "Incident lifecycle"). Shared by the daemon's remediation loop and by
// `acis-healthd drill --execute`, so that a drill exercises exactly the code an incident runs.
//
// Contract of run_runbook_steps():
//  - Steps run one after another on the caller's event loop; each is awaited through
//    execute_step(). The first step whose outcome is not ok ends the attempt (`failed_step`
//    names it); later steps are not started.
//  - Values produced by a step are visible to the following steps' placeholders: after a
//    successful `rollback_model` step, `{backup}` is the backup that was swapped in.
//  - `observer.step_started` is called before a step runs (with its resolved description),
//    `observer.step_finished` after it (with its record). Both are optional.
//  - `observer.stop_requested` (optional) is asked before each step; when it returns true the
//    attempt ends with `stopped` set and no further step is started.
//  - Cancelling the awaiting coroutine cancels the running step (a `run` step's process group
//    gets SIGTERM, then SIGKILL after its grace: process_runner.hpp); the attempt then ends
//    with that step failed ("cancelled ...").
//  - Never throws for anything a step does; execute_step() turns errors into outcomes.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/config.hpp"
#include "remediation/steps.hpp"

namespace acis::remediation {

struct step_record {
  std::string name;
  std::string kind;      // step_kind()
  std::string resolved;  // describe_step() before it ran
  step_outcome outcome;
  std::chrono::steady_clock::duration took{};
};

struct runbook_observer {
  std::function<void(const config::step_config&, const std::string& resolved)> step_started;
  std::function<void(const config::step_config&, const step_record&)> step_finished;
  std::function<bool()> stop_requested;
};

struct runbook_outcome {
  bool ok = false;                         // every step ran and succeeded
  bool stopped = false;                    // stop_requested() ended it before a step
  std::optional<std::string> failed_step;  // the step that failed
  std::string failure;                     // "<step>: <detail>" when !ok and !stopped
  std::vector<step_record> steps;          // the steps that ran, in order
  std::chrono::steady_clock::duration took{};
};

// `ctx.values` is updated in place with values produced by steps (e.g. "backup").
boost::asio::awaitable<runbook_outcome> run_runbook_steps(const config::runbook_config& rb,
                                                          step_context& ctx,
                                                          const runbook_observer& observer);

}  // namespace acis::remediation
