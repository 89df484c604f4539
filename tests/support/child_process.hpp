// Real child processes for end-to-end tests: argv in (no shell), stdout/stderr to files,
// kill and reap by pid. Every wait has a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace acis::test {

class child_process {
 public:
  // Starts argv[0] (an absolute path) with the current environment plus `env`; stdout and
  // stderr are appended to the given files (empty: /dev/null). Throws std::runtime_error.
  child_process(std::vector<std::string> argv, const std::string& stdout_file,
                const std::string& stderr_file = {},
                const std::map<std::string, std::string>& env = {});
  ~child_process();  // SIGKILL and reap if still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; nullopt on timeout. The value is the exit status as from waitpid().
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  // SIGTERM, wait, SIGKILL: returns the status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Polls `pred` every 20 ms until it is true or the timeout passes.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    struct timespec ts{0, 20 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return pred();
}

std::string read_file(const std::string& path);

}  // namespace acis::test
