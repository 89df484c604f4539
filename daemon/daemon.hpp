// The daemon: one io_context on one thread that owns every piece of mutable state (tracker,
// journal, metrics, log); a small thread pool for blocking checks; the HTTP listener.
#pragma once

#include <string>

#include "config/config.hpp"

namespace acis::daemon {

// `acis-healthd run`: returns the process exit code (0 clean stop, 3 runtime failure).
// `config_path` is re-read on SIGHUP (reload); empty: SIGHUP is refused with a log event.
int run_daemon(const config::config& cfg, const std::string& config_path = {});

// `acis-healthd once`: every check once, a table (or JSON) on stdout; 0 all ok, 1 any failing.
int run_once(const config::config& cfg, bool json);

}  // namespace acis::daemon
