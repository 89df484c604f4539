// pg_cluster: a throwaway PostgreSQL 15 server for integration and end-to-end tests.
//
// The constructor creates /tmp/acis-pg-XXXXXX (0755; owned by `postgres` when running as
// root, because initdb refuses root), runs initdb, starts the server on a free port of
// 127.0.0.1 (and a unix socket in the temp dir), sets a random password for role `postgres`
// (scram-sha-256 over TCP; trust over the unix socket) and creates database "acis-ai".
// The destructor stops the server (-m immediate) and removes the temp dir.
//
// The postmaster is a direct child of this process (not daemonised through pg_ctl), so it is
// always reaped here: this machine's PID 1 reaps orphans slowly. Helper commands are spawned
// with fork/execv (argv, no shell); as root the child drops to `postgres` before exec.
// Every wait has a deadline; a failure throws std::runtime_error carrying the server log tail.
//
// Threading: not thread-safe; call it from one thread (freeze()/thaw() from an io_context
// handler on the test thread is fine). No gtest dependency: usable from a small tool.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace acis::test {

class pg_cluster {
 public:
  enum class stop_mode {
    smart,     // SIGTERM: wait for clients to disconnect
    fast,      // SIGINT: abort sessions, clean shutdown
    immediate  // SIGQUIT: crash-like, recovery on next start (~0.1 s)
  };

  static constexpr const char* default_bin_dir = "/usr/lib/postgresql/15/bin";
  static constexpr const char* database = "acis-ai";

  // initdb + start + role password + database. Throws std::runtime_error.
  explicit pg_cluster(std::string bin_dir = default_bin_dir);
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  // Starts the server on the same port and data dir; returns when it accepts connections.
  void start();
  // Stops the server and reaps the postmaster (a frozen server is thawed first).
  void stop(stop_mode mode = stop_mode::fast);
  void restart(stop_mode mode = stop_mode::fast);

  // SIGSTOP the postmaster, then every child it has (backends, checkpointer, ...), so that
  // neither new connections nor running queries get an answer. TCP connects still complete
  // (the kernel answers the handshake): exactly what a hung server looks like to a client.
  void freeze();
  // SIGCONT everything freeze() stopped.
  void thaw();

  bool running() const { return postmaster_pid_ > 0; }
  bool frozen() const { return !frozen_pids_.empty(); }
  pid_t postmaster_pid() const { return postmaster_pid_; }

  int port() const { return port_; }
  const std::string& base_dir() const { return base_dir_; }
  const std::string& socket_dir() const { return base_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  std::string log_tail(std::size_t max_bytes = 4000) const;

  // "host=127.0.0.1 port=N dbname=acis-ai user=postgres": TCP, needs password().
  std::string conninfo() const;
  const std::string& password() const { return password_; }
  // Unix-socket conninfo with trust auth (no password), superuser `postgres`.
  std::string superuser_conninfo(const std::string& dbname = database) const;

  // Runs SQL as superuser over the unix socket (connect_timeout 10 s; do not call while
  // frozen). Returns every row, every column as text (NULL as ""). Throws on error.
  std::vector<std::vector<std::string>> query(const std::string& sql,
                                              const std::string& dbname = database) const;
  void exec(const std::string& sql, const std::string& dbname = database) const {
    (void)query(sql, dbname);
  }
  // Row 0, column 0 of query(); throws when there is none.
  std::string query_value(const std::string& sql, const std::string& dbname = database) const;

 private:
  void init_dir();
  void run_initdb();
  void start_once();
  void cleanup() noexcept;
  std::vector<pid_t> children_of(pid_t parent) const;

  std::string bin_dir_;
  std::string base_dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string password_;
  int port_ = 0;
  pid_t postmaster_pid_ = -1;
  std::vector<pid_t> frozen_pids_;
  bool as_postgres_ = false;  // running as root: children drop to the postgres user
  uid_t pg_uid_ = 0;
  gid_t pg_gid_ = 0;
};

// A free TCP port on 127.0.0.1 (bind port 0, read it, close). Racy by nature; fine for tests.
int pick_free_port();

}  // namespace acis::test
