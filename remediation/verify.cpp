// verify_until (see verify.hpp).
#include "remediation/verify.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "checks/attempt.hpp"
#include "checks/http_client.hpp"  // format_seconds

namespace acis::remediation {

namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// Whether one attempt passes; `why` says why not.
bool passing(const checks::attempt_result& a, const verify_spec& spec, std::string& why) {
  if (spec.per_target) {
    for (const auto& r : a.targets) {
      if (r.target != spec.target) continue;
      if (r.status == checks::health::failing) {
        why = r.reason;
        return false;
      }
      return true;
    }
    why = "no result for target " + (spec.target.empty() ? std::string("\"\"") : spec.target);
    if (!a.complete && !a.targets.empty()) why += " (" + a.targets.front().reason + ")";
    return false;
  }
  if (a.targets.empty()) {
    why = "the check gave no result";
    return false;
  }
  for (const auto& r : a.targets) {
    if (r.status == checks::health::failing) {
      why = r.target.empty() ? r.reason : r.target + ": " + r.reason;
      return false;
    }
  }
  if (!a.complete) {
    why = "the check could not judge all its targets";
    return false;
  }
  return true;
}

}  // namespace

asio::awaitable<std::string> verify_until(checks::check_context ctx, verify_spec spec,
                                          std::function<void(const checks::attempt_result&)> on_results,
                                          std::function<bool()> stopped) {
  if (!spec.check) co_return "no check to verify";
  const auto& c = *spec.check;
  auto chk = checks::make_check(c, ctx);
  const int needed = std::max(spec.rise, 1);
  const auto end = steady::now() + spec.within;
  const auto pause = std::min<steady::duration>(c.effective_pending_interval(), std::chrono::seconds(1));
  std::string last = "not run";
  int streak = 0;
  steady::time_point streak_start{};
  asio::steady_timer timer(ctx.io);
  for (;;) {
    const auto attempt_start = steady::now();
    auto result = co_await checks::attempt_check(*chk, c);
    if (stopped && stopped()) co_return "stopped";
    if (on_results) on_results(result);
    std::string why;
    if (passing(result, spec, why)) {
      if (streak++ == 0) streak_start = attempt_start;
      const bool long_enough = !spec.stable_for || steady::now() - streak_start >= *spec.stable_for;
      if (streak >= needed && long_enough) co_return "";
    } else {
      streak = 0;
      last = why;
    }
    if (steady::now() + pause >= end) {
      if (streak == 0) co_return last;
      std::string got = "passing for " + std::to_string(streak) + " of the " + std::to_string(needed) +
                        " result(s) in a row it needs";
      if (spec.stable_for)
        got += ", " + checks::format_seconds(steady::now() - streak_start) + " of " +
               config::format_duration(*spec.stable_for);
      co_return got + " (last failure: " + last + ")";
    }
    timer.expires_after(pause);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped && stopped()) co_return "stopped";
  }
}

}  // namespace acis::remediation
