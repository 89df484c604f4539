#include "checks/attempt.hpp"

#include <chrono>
#include <exception>
#include <string>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace acis::checks {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

asio::awaitable<attempt_result> attempt_check(check& chk, const config::check_config& cfg) {
  using namespace asio::experimental::awaitable_operators;
  const auto start = steady::now();
  const auto deadline = start + cfg.timeout;
  attempt_result out;
  try {
    asio::steady_timer backstop(co_await asio::this_coro::executor);
    backstop.expires_at(deadline + std::chrono::milliseconds(100));
    // as_tuple: the loser's cancellation is a value, not an exception thrown per check.
    auto r = co_await (chk.run(deadline) ||
                       backstop.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (r.index() == 0)
      out = std::move(std::get<0>(r));
    else
      out = attempt_result::incomplete("no result within the timeout of " +
                                       config::format_duration(cfg.timeout));
  } catch (const boost::system::system_error& e) {
    // The caller is being cancelled (a drill's SIGINT): let it stop, it wants no result.
    if (e.code() == asio::error::operation_aborted) throw;
    out = attempt_result::incomplete(std::string("check error: ") + e.what());
  } catch (const std::exception& e) {
    out = attempt_result::incomplete(std::string("check error: ") + e.what());
  }
  // A check that returned nothing has said nothing about its targets.
  if (out.targets.empty()) out = attempt_result::incomplete("the check gave no result");
  const auto elapsed = steady::now() - start;
  for (auto& r : out.targets)
    if (r.latency.count() == 0) r.latency = elapsed;
  co_return out;
}

}  // namespace acis::checks
