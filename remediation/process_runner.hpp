// Running the program of a runbook `run` step: argv in, a status value out (SPEC.md "Runbook
// step kinds").
//
// Contract of run_process():
//  - No shell, ever. argv elements reach execve as they are (no splitting, no quoting, no
//    expansion). argv[0] must be an absolute path unless `search_path`; with `search_path` it
//    is looked up in the spec's PATH (absolute entries only), never in the daemon's PATH.
//  - The child gets exactly `env` (plus PATH=/usr/sbin:/usr/bin:/sbin:/bin when absent):
//    nothing of the daemon's environment is inherited. Its cwd is `cwd` (else the daemon's),
//    stdin is /dev/null, stdout and stderr share one pipe, every other descriptor of the
//    daemon is closed, the signal mask is empty and every signal has its default disposition.
//  - The child leads its own process group. At `timeout` the whole group gets SIGTERM, and
//    SIGKILL `grace` later. When the main child ends (on its own or not), processes it left
//    behind in its group get SIGTERM, then SIGKILL after `grace`. Every process of the group
//    that becomes our child is reaped, by pid (never waitpid(-1), which would steal other
//    children's statuses); grandchildren become our children once become_subreaper() was
//    called. A process that left the group (setsid/setpgid, as a restart script that
//    daemonises a service does on purpose) is NOT signalled: the service must outlive the step.
//    Such a process should not keep the output pipe open; if it does, the step still ends
//    once its own group is gone, the pipe is closed, and its later writes fail with EPIPE.
//  - Output is read until EOF even past `output_limit`, so a chatty child never blocks on a
//    full pipe; the first `output_limit` bytes are kept, the rest counted. The bytes are raw
//    (not necessarily UTF-8): whoever logs them must escape or replace invalid sequences.
//    Logging is the caller's (the step executor's) job; this layer does no I/O besides the
//    child's.
//  - Cancelling the awaiting coroutine (e.g. racing it with `||`, or the daemon stopping)
//    sends SIGTERM to the group, SIGKILL after `grace`, reaps, and completes with `cancelled`
//    (with the main child's own status instead if it had already ended and only leftovers of
//    its group were being cleaned up). The completion waits for that clean-up (at most `grace`
//    plus the SIGKILL wait), so `a || b` returns with nothing of the step left running.
//  - Never throws for anything about the child: a failure to start is `spawn_failed` with a
//    reason. Nothing blocks the event loop beyond posix_spawn itself (which returns once the
//    child has exec'd) and short reads of /proc while a group is being cleaned up.
//  - A process that survives SIGKILL (uninterruptible sleep) is waited for 5 s; then the step
//    completes anyway with a note in `error`, and it is reaped in the background when it ends.
//  - If the io_context is destroyed while a step runs, the group is SIGKILLed and reaped
//    (bounded) in the destructor, so a stopping daemon leaves nothing running behind.
//
// Threading: call and resume on the event loop (a single-threaded io_context); `ex` must be
// that loop's executor. The daemon must not set SIGCHLD to SIG_IGN (children would be reaped
// by the kernel and their status lost).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace acis::remediation {

struct process_spec {
  std::vector<std::string> argv;               // argv[0] absolute unless search_path
  std::optional<std::string> cwd;
  std::map<std::string, std::string> env;      // the child's whole environment (plus
                                               // PATH=/usr/sbin:/usr/bin:/sbin:/bin when absent)
  bool search_path = false;
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds grace{5000};
  std::size_t output_limit = 64 * 1024;        // bytes of stdout+stderr kept
  // Called on the event loop right after the child started, with its pid (= its process
  // group id), so that the caller can record the group (a daemon restarted after a crash ends
  // what its predecessor left running: leftover_group.hpp).
  std::function<void(int pid)> on_started;
};

struct process_outcome {
  enum class status { exited, signaled, timed_out, spawn_failed, cancelled };
  status how = status::spawn_failed;
  int exit_code = -1;       // when the main child exited (also after a timeout, if it did)
  int signal = 0;           // the signal that ended the main child (when signaled, timed out or
                            // cancelled and it died of one)
  std::string output;       // stdout+stderr interleaved as read, at most output_limit bytes
  std::uint64_t output_bytes = 0;  // total read from the pipe
  bool output_truncated = false;
  std::chrono::nanoseconds duration{};         // from spawn to the group being gone
  std::chrono::milliseconds timeout{};         // the spec's timeout (for describe())
  std::string error;        // spawn_failed: why ("/nope: No such file or directory");
                            // otherwise empty unless the clean-up failed (a process survived
                            // SIGKILL, the status was lost)
  int pid = -1;             // the main child, -1 when not spawned

  // "exit 0", "exit 3", "killed by SIGSEGV", "killed by SIGKILL after timeout 2s",
  // "exit 143 after timeout 500ms", "cancelled (killed by SIGTERM)", "spawn failed: ...".
  std::string describe() const;
};

std::string to_string(process_outcome::status s);  // "exited", "timed_out", ...

boost::asio::awaitable<process_outcome> run_process(boost::asio::any_io_executor ex,
                                                    process_spec spec);

// Call once at daemon start (and in tests): makes this process a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER), so that grandchildren orphaned by a step's script are
// re-parented to us and can be killed and reaped, not left to PID 1. Returns false (and
// changes nothing) when the kernel refuses.
bool become_subreaper();

}  // namespace acis::remediation
