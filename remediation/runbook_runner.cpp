#include "remediation/runbook_runner.hpp"

namespace acis::remediation {

boost::asio::awaitable<runbook_outcome> run_runbook_steps(const config::runbook_config& rb,
                                                          step_context& ctx,
                                                          const runbook_observer& observer) {
  runbook_outcome out;
  const auto start = std::chrono::steady_clock::now();
  out.ok = true;
  for (const auto& step : rb.steps) {
    if (observer.stop_requested && observer.stop_requested()) {
      out.ok = false;
      out.stopped = true;
      break;
    }
    step_record rec;
    rec.name = step.name;
    rec.kind = std::string(step_kind(step));
    rec.resolved = describe_step(step, ctx.values);
    if (observer.step_started) observer.step_started(step, rec.resolved);
    const auto t0 = std::chrono::steady_clock::now();
    rec.outcome = co_await execute_step(step, ctx);
    rec.took = std::chrono::steady_clock::now() - t0;
    for (const auto& [k, v] : rec.outcome.produced) ctx.values.values[k] = v;
    if (observer.step_finished) observer.step_finished(step, rec);
    const bool ok = rec.outcome.ok;
    if (!ok) {
      out.ok = false;
      out.failed_step = step.name;
      out.failure = step.name + ": " + rec.outcome.detail;
    }
    out.steps.push_back(std::move(rec));
    if (!ok) break;
  }
  out.took = std::chrono::steady_clock::now() - start;
  co_return out;
}

}  // namespace acis::remediation
