// One bounded attempt of a check, shared by the daemon (scheduled runs, `verify` steps) and
// drills, so that both bound and report an attempt the same way.
//
// Contract: runs on the caller's executor; the check honours `deadline = now + cfg.timeout`
// itself and a backstop timer (deadline + 100 ms) raced with it guarantees the bound. Every
// result's latency is filled in (the check's own, else the attempt's elapsed time). A timeout
// or an exception from the check is a value: complete = false with one failing "" result.
// Never throws, except boost::system::system_error(operation_aborted) when the caller's own
// coroutine is cancelled (a drill interrupted by SIGINT), so that a cancelled caller stops.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "checks/check.hpp"
#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace acis::checks {

boost::asio::awaitable<attempt_result> attempt_check(check& chk, const config::check_config& cfg);

}  // namespace acis::checks
