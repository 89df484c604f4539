// Finding processes by command line, by reading /proc. Used by the `process` check and by the
// runbook `signal` step.
//
// Contract: blocking (reads /proc); call it from the blocking pool. Never throws for anything
// found in /proc: processes that exit while being read are simply skipped, and processes whose
// command line cannot be read (kernel threads, zombies, another user's under hidepid=) are not
// matched.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>
#include <unistd.h>

namespace acis::checks {

struct process_info {
  pid_t pid = 0;
  std::string cmdline;  // argv joined with single spaces
};

// The command line of `pid` (NUL-separated argv joined with spaces, at most
// max_cmdline_bytes read), or nullopt when the process is gone, is a kernel thread or a
// zombie (empty command line), or cannot be read.
inline constexpr std::size_t max_cmdline_bytes = 256 * 1024;
std::optional<std::string> read_cmdline(pid_t pid);

// Processes whose command line contains `contains` and, when `not_contains` is set, does not
// contain it, other than `exclude_pid` (this process by default, so that the daemon never
// matches, or signals, itself; nullopt excludes none). Sorted by pid.
std::vector<process_info> find_processes(std::string_view contains,
                                         std::optional<std::string_view> not_contains = {},
                                         std::optional<pid_t> exclude_pid = ::getpid());

// "12, 34, 56" with at most `max` pids, then ", ... (N more)".
std::string format_pids(const std::vector<process_info>& procs, std::size_t max = 10);

}  // namespace acis::checks
