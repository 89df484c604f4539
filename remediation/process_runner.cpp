// Process execution for runbook `run` steps: posix_spawn into an own process group, a pidfd to
// learn of the exit without blocking the loop, one non-blocking pipe for stdout+stderr, and a
// small callback state machine for timeout, cancellation and the group's clean-up.
#include "remediation/process_runner.hpp"
#include "remediation/leftover_group.hpp"  // read_proc_stat

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace acis::remediation {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;
using error_code = boost::system::error_code;

// How long processes are waited for after SIGKILL before the step completes anyway.
constexpr auto kill_wait = 5s;
// Bytes read synchronously when the group is gone but the pipe is still held open by a process
// that escaped the group: what it wrote so far, not whatever it keeps writing.
constexpr std::size_t max_final_drain = 1024 * 1024;
constexpr const char* default_path = "/usr/sbin:/usr/bin:/sbin:/bin";

std::string format_ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// The first regular, executable file named `name` in the absolute directories of `path`.
std::optional<std::string> find_in_path(const std::string& name, const std::string& path) {
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    const std::string dir = path.substr(begin, end - begin);
    begin = end + 1;
    // Empty and relative entries would resolve against the daemon's cwd: never used.
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate = dir + (dir.back() == '/' ? "" : "/") + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

// Scans /proc for members of process group `pgid`. Zombies that are our children are reaped
// (by pid); zombies of other parents are not counted (their parent reaps them). Returns the
// number of members still alive.
std::size_t reap_and_count_group(pid_t pgid) {
  const pid_t self = ::getpid();
  std::size_t alive = 0;
  DIR* dir = ::opendir("/proc");
  if (!dir) return 0;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto st = read_proc_stat(static_cast<pid_t>(pid));
    if (!st || st->pgrp != pgid) continue;
    if (st->state == 'Z' || st->state == 'X') {
      if (st->ppid != self) continue;
      int status = 0;
      pid_t r;
      do {
        r = ::waitpid(static_cast<pid_t>(pid), &status, WNOHANG);
      } while (r < 0 && errno == EINTR);
      if (r == 0) ++alive;  // not waitable yet: look again on the next scan
      continue;
    }
    ++alive;
  }
  ::closedir(dir);
  return alive;
}

struct fd_closer {
  int fd = -1;
  fd_closer() = default;
  explicit fd_closer(int f) : fd(f) {}
  fd_closer(const fd_closer&) = delete;
  fd_closer& operator=(const fd_closer&) = delete;
  ~fd_closer() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

using handler_type = asio::any_completion_handler<void(process_outcome)>;

class process_op : public std::enable_shared_from_this<process_op> {
 public:
  process_op(asio::any_io_executor ex, process_spec spec, handler_type handler)
      : ex_(ex),
        spec_(std::move(spec)),
        handler_(std::move(handler)),
        pipe_(ex),
        pidfd_(ex),
        timeout_timer_(ex),
        term_timer_(ex),
        group_timer_(ex),
        leader_poll_timer_(ex) {
    outcome_.timeout = spec_.timeout;
  }

  process_op(const process_op&) = delete;
  process_op& operator=(const process_op&) = delete;

  // Only reached without completion when the io_context is destroyed with the step running:
  // nothing may outlive the daemon's loop, so kill and reap synchronously (bounded).
  ~process_op() {
    if (pid_ <= 0) return;
    if (!leader_reaped_ || !group_done_) ::kill(-pid_, SIGKILL);
    const auto give_up = steady_clock::now() + 2s;
    while (!leader_reaped_ && steady_clock::now() < give_up) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      struct timespec ts{0, 5 * 1000 * 1000};
      ::nanosleep(&ts, nullptr);
    }
    while (!group_done_ && reap_and_count_group(pid_) > 0 && steady_clock::now() < give_up) {
      struct timespec ts{0, 5 * 1000 * 1000};
      ::nanosleep(&ts, nullptr);
    }
  }

  void start() {
    start_time_ = steady_clock::now();
    if (!spawn()) {
      outcome_.how = process_outcome::status::spawn_failed;
      complete();
      return;
    }
    outcome_.pid = pid_;

    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      std::weak_ptr<process_op> weak = shared_from_this();
      slot.assign([weak, ex = ex_](asio::cancellation_type) {
        asio::post(ex, [weak] {
          if (auto self = weak.lock()) self->on_cancel();
        });
      });
    }

    read_more();
    watch_leader();
    timeout_timer_.expires_after(spec_.timeout);
    timeout_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_timeout();
    });
  }

 private:
  // Validates the spec and starts the child. On failure sets outcome_.error and returns false.
  bool spawn() {
    if (spec_.argv.empty()) {
      outcome_.error = "empty argv";
      return false;
    }
    for (std::size_t i = 0; i < spec_.argv.size(); ++i) {
      if (has_nul(spec_.argv[i])) {
        outcome_.error = "argv[" + std::to_string(i) + "] contains a NUL byte";
        return false;
      }
    }
    std::vector<std::string> env_strings;
    bool has_path = false;
    for (const auto& [name, value] : spec_.env) {
      if (name.empty() || name.find('=') != std::string::npos || has_nul(name) || has_nul(value)) {
        outcome_.error = "invalid environment variable: " + name;
        return false;
      }
      if (name == "PATH") has_path = true;
      env_strings.push_back(name + "=" + value);
    }
    if (!has_path) env_strings.push_back(std::string("PATH=") + default_path);
    if (spec_.cwd && (spec_.cwd->empty() || has_nul(*spec_.cwd))) {
      outcome_.error = "invalid cwd";
      return false;
    }

    std::string program = spec_.argv[0];
    if (!spec_.search_path) {
      if (program.empty() || program.front() != '/') {
        outcome_.error = "argv[0] must be an absolute path (search_path is off): " + program;
        return false;
      }
    } else if (program.find('/') == std::string::npos) {
      auto it = spec_.env.find("PATH");
      const std::string path = it != spec_.env.end() ? it->second : default_path;
      auto found = find_in_path(program, path);
      if (!found) {
        outcome_.error = program + ": not found in PATH " + path;
        return false;
      }
      program = *found;
    }

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      outcome_.error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
    fd_closer read_end(fds[0]), write_end(fds[1]);
    // Only our end is non-blocking: the child's stdout must block like any other stdout.
    ::fcntl(read_end.fd, F_SETFL, ::fcntl(read_end.fd, F_GETFL) | O_NONBLOCK);
    if (write_end.fd <= STDERR_FILENO) {
      // dup2(fd, fd) would leave FD_CLOEXEC set: keep the write end off 0..2.
      const int moved = ::fcntl(write_end.fd, F_DUPFD_CLOEXEC, 3);
      if (moved < 0) {
        outcome_.error = std::string("pipe: ") + std::strerror(errno);
        return false;
      }
      write_end.reset();
      write_end.fd = moved;
    }

    std::vector<char*> argv_ptrs, env_ptrs;
    for (auto& a : spec_.argv) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    for (auto& e : env_strings) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, write_end.fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, write_end.fd, STDERR_FILENO);
    // Descriptors other threads opened without O_CLOEXEC (Asio's sockets, a library's files)
    // must not leak into a service that a restart script starts.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (spec_.cwd) posix_spawn_file_actions_addchdir_np(&fa, spec_.cwd->c_str());

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty_mask, all_default;
    sigemptyset(&empty_mask);
    sigfillset(&all_default);
    posix_spawnattr_setsigmask(&attr, &empty_mask);
    posix_spawnattr_setsigdefault(&attr, &all_default);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

    pid_t pid = -1;
    const int rc =
        ::posix_spawn(&pid, program.c_str(), &fa, &attr, argv_ptrs.data(), env_ptrs.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      struct stat st{};
      if (spec_.cwd && ::stat(spec_.cwd->c_str(), &st) != 0) {
        outcome_.error = "cwd " + *spec_.cwd + ": " + std::strerror(errno);
      } else if (spec_.cwd && !S_ISDIR(st.st_mode)) {
        outcome_.error = "cwd " + *spec_.cwd + ": " + std::strerror(ENOTDIR);
      } else {
        outcome_.error = program + ": " + std::strerror(rc);
      }
      return false;
    }
    pid_ = pid;
    if (spec_.on_started) spec_.on_started(pid);
    write_end.reset();  // the children hold the only write ends: EOF once they are all gone

    error_code ec;
    pipe_.assign(read_end.release(), ec);
    if (ec) pipe_done_ = true;  // cannot happen for a fresh pipe; the child still runs and ends
    return true;
  }

  // ---- output ----

  void read_more() {
    if (pipe_done_) return;
    read_pending_ = true;
    pipe_.async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
  }

  void append(const char* data, std::size_t n) {
    outcome_.output_bytes += n;
    const std::size_t room = spec_.output_limit - std::min(spec_.output_limit, outcome_.output.size());
    const std::size_t keep = std::min(room, n);
    outcome_.output.append(data, keep);
    if (keep < n) outcome_.output_truncated = true;
  }

  void on_read(error_code ec, std::size_t n) {
    read_pending_ = false;
    append(buf_.data(), n);
    if (ec && ec != asio::error::operation_aborted) {  // EOF: every writer is gone
      close_pipe();
      maybe_finish();
      return;
    }
    if (group_done_ || gave_up_) {
      drain_and_close_pipe();
      maybe_finish();
      return;
    }
    read_more();
  }

  // The group is gone but some process outside it may hold the write end: take what is in the
  // pipe now and stop.
  void drain_and_close_pipe() {
    if (pipe_done_) return;
    std::size_t drained = 0;
    while (drained < max_final_drain) {
      const ssize_t n = ::read(pipe_.native_handle(), buf_.data(), buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      append(buf_.data(), static_cast<std::size_t>(n));
      drained += static_cast<std::size_t>(n);
    }
    close_pipe();
  }

  void close_pipe() {
    error_code ignored;
    pipe_.close(ignored);
    pipe_done_ = true;
  }

  // ---- the main child ----

  void watch_leader() {
    const long fd = ::syscall(SYS_pidfd_open, pid_, 0);
    error_code ec;
    if (fd >= 0) {
      ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
      pidfd_.assign(static_cast<int>(fd), ec);
      if (ec) ::close(static_cast<int>(fd));
    }
    if (fd < 0 || ec) {  // no pidfd (kernel < 5.3, seccomp): poll instead
      poll_leader(1ms);
      return;
    }
    // A pidfd becomes readable once the process has exited.
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](error_code wec) {
                        if (wec == asio::error::operation_aborted) return;
                        self->on_leader_maybe_exited();
                      });
  }

  void poll_leader(std::chrono::milliseconds interval) {
    leader_poll_timer_.expires_after(interval);
    leader_poll_timer_.async_wait([self = shared_from_this(), interval](error_code ec) {
      if (ec) return;
      self->on_leader_maybe_exited(std::min<std::chrono::milliseconds>(interval * 2, 50ms));
    });
  }

  void on_leader_maybe_exited(std::chrono::milliseconds next_poll = 0ms) {
    if (leader_reaped_) return;
    siginfo_t si{};
    int r;
    do {
      r = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      // ECHILD: someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)).
      outcome_.error = std::string("exit status lost: ") + std::strerror(errno);
    } else if (si.si_pid == 0) {  // not exited yet (only when polling)
      if (next_poll > 0ms) {
        poll_leader(next_poll);
      } else {
        poll_leader(1ms);  // a readable pidfd without a waitable child: fall back to polling
      }
      return;
    } else if (si.si_code == CLD_EXITED) {
      outcome_.exit_code = si.si_status;
    } else {
      outcome_.signal = si.si_status;
    }
    leader_reaped_ = true;
    error_code ignored;
    pidfd_.close(ignored);
    timeout_timer_.cancel();
    check_group();
  }

  // ---- timeout, cancellation, the group ----

  void on_timeout() {
    if (leader_reaped_ || finished_) return;
    timed_out_ = true;
    terminate_group();
  }

  void on_cancel() {
    if (finished_) return;
    if (!leader_reaped_) cancelled_ = true;
    timeout_timer_.cancel();
    if (!leader_reaped_ || !group_done_) terminate_group();
  }

  void terminate_group() {
    if (terminating_) return;
    terminating_ = true;
    ::kill(-pid_, SIGTERM);
    term_timer_.expires_after(spec_.grace);
    term_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_grace_over();
    });
  }

  void on_grace_over() {
    if (leader_reaped_ && group_done_) return;
    ::kill(-pid_, SIGKILL);
    term_timer_.expires_after(kill_wait);
    term_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_kill_wait_over();
    });
  }

  void on_kill_wait_over() {
    if (finished_ || (leader_reaped_ && group_done_)) return;
    gave_up_ = true;
    outcome_.error = "processes of group " + std::to_string(pid_) + " still present " +
                     format_ms(std::chrono::duration_cast<std::chrono::milliseconds>(kill_wait)) +
                     " after SIGKILL";
    if (!read_pending_) drain_and_close_pipe();
    else pipe_.cancel();  // the read handler drains and closes
    complete();
    // The op stays alive through its pending waits: the leader and the group are reaped when
    // they finally end.
  }

  // After the main child is reaped: processes left in its group get SIGTERM, SIGKILL after the
  // grace; poll until none is left (each scan reaps those that became our zombies).
  void check_group(std::chrono::milliseconds next = 2ms) {
    if (!leader_reaped_ || group_done_) return;
    if (reap_and_count_group(pid_) == 0) {
      group_done_ = true;
      term_timer_.cancel();
      group_timer_.cancel();
      if (read_pending_) {
        pipe_.cancel();  // the read handler drains what is left and closes
      } else {
        drain_and_close_pipe();
      }
      maybe_finish();
      return;
    }
    terminate_group();
    group_timer_.expires_after(next);
    const auto after = finished_ ? std::chrono::milliseconds(1s)
                                 : std::min<std::chrono::milliseconds>(next * 2, 100ms);
    group_timer_.async_wait([self = shared_from_this(), after](error_code ec) {
      if (!ec) self->check_group(after);
    });
  }

  void maybe_finish() {
    if (!finished_ && leader_reaped_ && group_done_ && pipe_done_) complete();
  }

  void complete() {
    finished_ = true;
    outcome_.duration = steady_clock::now() - start_time_;
    if (pid_ <= 0) {
      outcome_.how = process_outcome::status::spawn_failed;
    } else {
      if (cancelled_) {
        outcome_.how = process_outcome::status::cancelled;
      } else if (timed_out_) {
        outcome_.how = process_outcome::status::timed_out;
      } else if (outcome_.signal != 0) {
        outcome_.how = process_outcome::status::signaled;
      } else {
        outcome_.how = process_outcome::status::exited;
      }
    }
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.clear();
    // Never completes inline (start() may fail synchronously inside the initiation); post()
    // then dispatches to the handler's own executor.
    asio::post(ex_, asio::append(std::move(handler_), outcome_));
  }

  asio::any_io_executor ex_;
  process_spec spec_;
  handler_type handler_;
  process_outcome outcome_;
  steady_clock::time_point start_time_;
  pid_t pid_ = -1;  // also the process group id

  asio::posix::stream_descriptor pipe_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer timeout_timer_;
  asio::steady_timer term_timer_;
  asio::steady_timer group_timer_;
  asio::steady_timer leader_poll_timer_;
  std::array<char, 64 * 1024> buf_{};

  bool read_pending_ = false;
  bool pipe_done_ = false;
  bool leader_reaped_ = false;
  bool group_done_ = false;
  bool terminating_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool gave_up_ = false;
  bool finished_ = false;
};

}  // namespace

std::string to_string(process_outcome::status s) {
  switch (s) {
    case process_outcome::status::exited: return "exited";
    case process_outcome::status::signaled: return "signaled";
    case process_outcome::status::timed_out: return "timed_out";
    case process_outcome::status::spawn_failed: return "spawn_failed";
    case process_outcome::status::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string process_outcome::describe() const {
  auto ending = [this]() -> std::string {
    if (signal != 0) return "killed by " + signal_name(signal);
    if (exit_code >= 0) return "exit " + std::to_string(exit_code);
    return "still running";
  };
  std::string d;
  switch (how) {
    case status::exited:
    case status::signaled: d = ending(); break;
    case status::timed_out: d = ending() + " after timeout " + format_ms(timeout); break;
    case status::cancelled: d = "cancelled (" + ending() + ")"; break;
    case status::spawn_failed: return "spawn failed: " + error;
  }
  if (!error.empty()) d += "; " + error;
  return d;
}

asio::awaitable<process_outcome> run_process(asio::any_io_executor ex, process_spec spec) {
  auto initiate = [](auto handler, asio::any_io_executor ex, process_spec spec) {
    auto op = std::make_shared<process_op>(ex, std::move(spec), handler_type(std::move(handler)));
    op->start();
  };
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(process_outcome)>(
      initiate, asio::use_awaitable, std::move(ex), std::move(spec));
}

bool become_subreaper() { return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0; }

}  // namespace acis::remediation
