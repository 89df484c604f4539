// daemon_harness: what every end-to-end test of the real acis-healthd binary needs.
//
//  - e2e_paths: where the built daemon, the toy service and scripts/platform.sh are. The
//    library is compiled without ACIS_SOURCE_DIR / ACIS_BINARY_DIR (only test executables get
//    them), so build_paths() is an inline function that exists in the test's translation unit.
//  - Files written by the binaries: platform.env (read_env_file) and the daemon's JSON log
//    (log_events, find_event, count_events, wait_for_event). A log is re-read whole on every
//    call: lines the daemon has not finished writing are skipped, never an error.
//  - Child commands bounded by a deadline (run_command) and the daemon itself (start_daemon).
//  - systemd's side of sd_notify(): notify_socket, a NOTIFY_SOCKET the test binds and reads.
//  - Fixtures: daemon_fixture (a temp dir, a free port, a config in cfg_, the daemon started
//    from it) and platform_fixture (the same on a toy platform started by platform.sh, with the
//    platform's checks in cfg_). The temp dir is removed after a passing test and kept (its
//    path printed) after a failing one.
//
// Everything waits with a deadline; nothing here hangs a test. Not thread-safe (test thread).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/http_get.hpp"

namespace acis::test {

struct e2e_paths {
  std::string source_dir;
  std::string binary_dir;

  std::string daemon_bin() const { return binary_dir + "/daemon/acis-healthd"; }
  std::string toy_bin() const { return binary_dir + "/tests/toy/acis-toy-service"; }
  std::string platform_sh() const { return source_dir + "/scripts/platform.sh"; }
};

#if defined(ACIS_SOURCE_DIR) && defined(ACIS_BINARY_DIR)
inline e2e_paths build_paths() { return {ACIS_SOURCE_DIR, ACIS_BINARY_DIR}; }
#endif

// ---- child commands ---------------------------------------------------------------------------

struct command_result {
  int status = -1;  // exit code; 128 + signal when killed; -1 when it outlived the timeout
  std::string output;
};

// Runs argv (no shell) to completion with stdout and stderr appended to `output_file` (emptied
// first) and returns the exit status and that output. A command that outlives `timeout` is
// stopped and reported with status -1 and "(timed out)" appended.
command_result run_command(std::vector<std::string> argv, const std::string& output_file,
                           const std::map<std::string, std::string>& env = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Starts `daemon_bin run --config config_file`, stdout to log_file, stderr to stderr_file.
// With a `cwd` the daemon runs there (through /usr/bin/env -C, which execs it: the child's pid
// is the daemon's), so that anything written to a relative path lands in the test's folder.
// `env` is added to the test's environment (e.g. NOTIFY_SOCKET, WATCHDOG_USEC).
std::unique_ptr<child_process> start_daemon(const std::string& daemon_bin,
                                            const std::string& config_file,
                                            const std::string& log_file,
                                            const std::string& stderr_file,
                                            const std::string& cwd = {},
                                            const std::map<std::string, std::string>& env = {});

// True once GET /healthz on 127.0.0.1:port answers 200 within `timeout`.
bool wait_healthz(unsigned short port, std::chrono::milliseconds timeout);

// A unix datagram socket standing in for systemd's NOTIFY_SOCKET: bound at `path` (give the
// daemon NOTIFY_SOCKET=path()), a thread collects every datagram sd_notify() sends
// ("READY=1", "WATCHDOG=1", "RELOADING=1\nMONOTONIC_USEC=...") with its arrival time. Methods
// are thread-safe; waits have deadlines. Throws std::runtime_error when it cannot bind.
class notify_socket {
 public:
  struct message {
    std::chrono::steady_clock::time_point at;
    std::string text;
    bool has(const std::string& line) const;  // one of its lines is exactly `line`
  };

  explicit notify_socket(std::string path);
  ~notify_socket();  // stops the thread, closes and unlinks the socket
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  const std::string& path() const { return path_; }
  std::vector<message> messages() const;
  std::size_t size() const;
  // Messages with index >= from that carry `line`.
  int count(const std::string& line, std::size_t from = 0) const;
  // Index of the first message with index >= from carrying `line`, polling until `timeout`.
  std::optional<std::size_t> wait_for(const std::string& line, std::size_t from,
                                      std::chrono::milliseconds timeout) const;

 private:
  void receive_loop();

  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<message> messages_;
  std::thread thread_;
};

// A fresh folder /tmp/PREFIX-XXXXXX, mode 0755 (postgres, run as its own user, must traverse
// it). Throws std::runtime_error.
std::string make_temp_dir(const std::string& prefix);

// ---- files the binaries write -----------------------------------------------------------------

// KEY=VALUE lines as written by platform.sh (`printf %q`): the values unquoted.
std::map<std::string, std::string> read_env_file(const std::string& file);

// Every complete JSON line of a log file, in order (others skipped).
std::vector<nlohmann::json> log_events(const std::string& file);

using event_predicate = std::function<bool(const nlohmann::json&)>;

// Matches `event` of `check` with exactly that `target` ("" for targetless checks).
event_predicate event_is(std::string event, std::string check, std::string target = {});
// Matches `event` whose field `key` is the string `value`; with an empty key any `event`.
event_predicate event_with(std::string event, std::string key = {}, std::string value = {});

std::optional<nlohmann::json> find_event(const std::string& file, const event_predicate& pred);
std::vector<nlohmann::json> find_events(const std::string& file, const event_predicate& pred);
int count_events(const std::string& file, const event_predicate& pred);
// The first event matching `pred`, polling the file until `timeout` passes.
std::optional<nlohmann::json> wait_for_event(const std::string& file, const event_predicate& pred,
                                             std::chrono::milliseconds timeout);

// The old spellings, kept for the tests that use them.
inline bool has_event(const std::string& file, const std::string& event, const std::string& check,
                      const std::string& target = {}) {
  return find_event(file, event_is(event, check, target)).has_value();
}
inline std::optional<nlohmann::json> find_event(const std::string& file, const std::string& event,
                                                const std::string& check,
                                                const std::string& target = {}) {
  return find_event(file, event_is(event, check, target));
}
inline int count_events(const std::string& file, const std::string& event,
                        const std::string& key = {}, const std::string& value = {}) {
  return count_events(file, event_with(event, key, value));
}

// ---- fixtures ---------------------------------------------------------------------------------

// A temp dir, a free loopback port for daemon.listen, and the daemon started from cfg_.
// Derived fixtures pass build_paths() and a temp-dir prefix, e.g. "acis-ctl".
class daemon_fixture : public ::testing::Test {
 protected:
  daemon_fixture(e2e_paths paths, std::string prefix);

  void SetUp() override;
  // Stops the daemon (SIGTERM, then SIGKILL), removes the temp dir unless the test failed.
  void TearDown() override;

  // Writes cfg_ to dir_/healthd.json, starts the daemon with its log in dir_/LOG_NAME (stderr
  // in dir_/daemon.stderr) and waits (fatally, 20 s) until /healthz answers. `env` is added
  // to the daemon's environment.
  void start_daemon(const std::string& log_name, const std::string& cwd = {},
                    const std::map<std::string, std::string>& env = {});
  // GET target on the daemon; expects 200 and JSON (a discarded value otherwise).
  nlohmann::json get_json(const std::string& target);
  // The state ("ok", "failing", ...) of a check's target in /status; "" when not listed.
  std::string target_state(const std::string& check, const std::string& target = {});
  // The log and stderr, for failure messages.
  std::string daemon_output() const;

  e2e_paths paths_;
  std::string prefix_;
  std::string dir_;
  nlohmann::json cfg_ = nlohmann::json::object();
  unsigned short port_ = 0;
  std::string log_;
  std::unique_ptr<child_process> daemon_;
};

// daemon_fixture on a toy platform (scripts/platform.sh start DIR): PostgreSQL, the toy API
// and frontend, a models folder (momentum_large healthy, value_small failing). cfg_ starts as
// base_config(): checks database, api (depends on database), frontend (on api), models.
class platform_fixture : public daemon_fixture {
 protected:
  explicit platform_fixture(e2e_paths paths, std::string prefix = "acis-e2e");

  void SetUp() override;
  void TearDown() override;

  nlohmann::json base_config();
  // The check of cfg_ with that name (throws when there is none).
  nlohmann::json& check(const std::string& name);
  // platform.sh WHAT DIR, asserting (non-fatally) that it succeeded; returns whether it did.
  bool platform(const std::string& what);
  // A runbook that restarts the toy API through platform.sh and verifies the api check.
  nlohmann::json restart_api_runbook();
  unsigned short api_port();  // from platform.env, re-read (start-api may change it)

  bool started_ = false;
  std::map<std::string, std::string> env_;
};

}  // namespace acis::test
