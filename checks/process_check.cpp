// process: a process whose command line contains a string is running (or, with
// running=false, is not running), e.g. "no run_daily_rebalance left after a stop".
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/blocking.hpp"
#include "checks/kinds.hpp"
#include "checks/metadata_rules.hpp"
#include "checks/proc_scan.hpp"

namespace acis::checks {

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

std::string describe(const config::process_check& k) {
  std::string d = "process whose command line contains \"" + k.cmdline_contains + "\"";
  if (k.cmdline_not_contains) d += " and not \"" + *k.cmdline_not_contains + "\"";
  return d;
}

check_result evaluate_processes(const config::process_check& k) {
  std::optional<std::string_view> not_contains;
  if (k.cmdline_not_contains) not_contains = *k.cmdline_not_contains;
  auto procs = find_processes(k.cmdline_contains, not_contains);
  const std::string n = std::to_string(procs.size());
  if (k.running) {
    if (procs.empty()) return check_result::failing("no " + describe(k));
    return check_result::ok({}, n + " matching (pids " + format_pids(procs) + ")");
  }
  if (procs.empty()) return check_result::ok({}, "no " + describe(k));
  return check_result::failing(n + " matching processes running (pids " + format_pids(procs) +
                               ")");
}

class process_check final : public check {
 public:
  process_check(const config::process_check& k, check_context ctx)
      : kind_(std::make_shared<const config::process_check>(k)), ctx_(ctx) {}

  asio::awaitable<attempt_result> run(steady_clock::time_point deadline) override {
    if (busy_->load()) co_return attempt_result::single(check_result::failing("previous attempt still blocked"));
    const auto start = steady_clock::now();
    // Owns a copy of the config: after a timeout the pool thread may outlive this check.
    auto work = [kind = kind_] { return evaluate_processes(*kind); };
    check_result r;
    try {
      if (auto done = co_await run_blocking_until<check_result>(ctx_.blocking, work, busy_, deadline))
        r = std::move(*done);
      else
        r = check_result::failing("timed out after " + format_age(steady_clock::now() - start) +
                                  " (blocked reading /proc)");
    } catch (const std::exception& e) {
      r = check_result::failing(std::string("internal error: ") + e.what());
    }
    r.latency = steady_clock::now() - start;
    co_return attempt_result::single(std::move(r));
  }

 private:
  std::shared_ptr<const config::process_check> kind_;
  check_context ctx_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::unique_ptr<check> make_process_check(const config::check_config&,
                                          const config::process_check& k, check_context ctx) {
  return std::make_unique<process_check>(k, ctx);
}

}  // namespace acis::checks
