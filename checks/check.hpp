// A check kind is I/O only: it runs once and yields results. The scheduler (daemon/) owns
// intervals, jitter, the timeout race and thresholds.
//
// Contract for every implementation:
//  - run() is called on the event-loop thread and resumes there; it never throws for an
//    expected failure (refused connection, timeout, bad body, missing file...): that is a
//    `failing` result with a reason.
//  - run() honours `deadline` by itself (per-phase deadlines, a client-side deadline for
//    blocking work), so that a black-holed or frozen peer cannot hold it past the deadline.
//  - A check with one target returns exactly one result (complete); model_metadata returns one
//    result per model folder (complete), or one failing result with target "" when the folder
//    cannot be listed or the scan is cut short (incomplete). See attempt_result.
//  - Blocking work (libpqxx, file system) runs on context.blocking, never on the event loop.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace boost::asio {
class thread_pool;
}

namespace acis::checks {

struct check_context {
  boost::asio::any_io_executor io;         // the event loop
  boost::asio::thread_pool* blocking = nullptr;  // pool for blocking calls
};

class check {
 public:
  virtual ~check() = default;
  virtual boost::asio::awaitable<attempt_result> run(
      std::chrono::steady_clock::time_point deadline) = 0;
};

// Builds the check for a validated config entry.
std::unique_ptr<check> make_check(const config::check_config& cfg, check_context ctx);

}  // namespace acis::checks
