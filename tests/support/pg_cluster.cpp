#include "tests/support/pg_cluster.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pqxx/pqxx>

namespace acis::test {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Fail-safe bounds: generous (a loaded 2-core machine, sanitizers), but never infinite.
constexpr auto initdb_deadline = 120s;
constexpr auto start_deadline = 60s;
constexpr auto stop_deadline = 60s;
constexpr auto freeze_settle_deadline = 2s;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

struct spawn_spec {
  std::vector<std::string> argv;  // argv[0] is an absolute path: no PATH search
  int out_fd = -1;                // stdout and stderr; -1: /dev/null
  std::string cwd = "/";
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// fork + execv. Everything the child needs is prepared before fork: between fork and exec the
// child (of a possibly multi-threaded parent) only makes async-signal-safe system calls.
pid_t spawn(const spawn_spec& s) {
  std::vector<char*> argv;
  for (const auto& a : s.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) throw sys_error("open /dev/null");
  int out = s.out_fd >= 0 ? s.out_fd : devnull;
  const char* cwd = s.cwd.c_str();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(devnull);
    throw sys_error("fork");
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // an ignored disposition would survive exec
    if (::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) _exit(126);
    if (s.drop_privileges) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(s.gid) != 0 || ::setuid(s.uid) != 0) {
        static const char msg[] = "pg_cluster: cannot drop privileges\n";
        (void)!::write(2, msg, sizeof msg - 1);
        _exit(126);
      }
    }
    if (::chdir(cwd) != 0) _exit(126);
    ::execv(argv[0], argv.data());
    static const char msg[] = "pg_cluster: execv failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  ::close(devnull);
  return pid;
}

// Waits for `pid` until `deadline`. Returns the wait status, or nullopt at the deadline.
// ECHILD (someone else reaped it) counts as "exited" with status 0.
std::optional<int> wait_until(pid_t pid, clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno == ECHILD) return 0;
    if (r < 0 && errno != EINTR) throw sys_error("waitpid");
    if (clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  // SIGKILL cannot be ignored: this wait is bounded by the kernel tearing the process down.
  (void)wait_until(pid, clock::now() + 30s);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

// Field 3 (state) and 4 (ppid) of /proc/PID/stat; comm (field 2) may contain spaces and
// parentheses, so parse after the last ')'.
struct proc_stat {
  char state = '?';
  pid_t ppid = -1;
};
std::optional<proc_stat> read_proc_stat(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all;
  if (!f || !std::getline(f, all)) return std::nullopt;
  auto close = all.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(all.substr(close + 1));
  proc_stat st;
  if (!(rest >> st.state >> st.ppid)) return std::nullopt;
  return st;
}

std::string random_password() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string pw;
  for (int i = 0; i < 24; ++i) pw += alphabet[pick(rd)];
  return pw;
}

}  // namespace

int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    auto err = sys_error("bind 127.0.0.1:0");
    ::close(fd);
    throw err;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

pg_cluster::pg_cluster(std::string bin_dir) : bin_dir_(std::move(bin_dir)) {
  try {
    init_dir();
    run_initdb();
    // The port is picked, closed, then bound by postgres: another process may take it in
    // between. Retry a few times with a fresh port when that happens.
    for (int attempt = 1;; ++attempt) {
      port_ = pick_free_port();
      try {
        start();
        break;
      } catch (const std::exception&) {
        if (attempt >= 3 || log_tail().find("could not bind") == std::string::npos) throw;
      }
    }
    password_ = random_password();
    exec("ALTER ROLE postgres PASSWORD '" + password_ + "'", "postgres");
    exec(std::string("CREATE DATABASE \"") + database + "\"", "postgres");
  } catch (...) {
    cleanup();
    throw;
  }
}

pg_cluster::~pg_cluster() { cleanup(); }

void pg_cluster::cleanup() noexcept {
  try {
    if (running()) stop(stop_mode::immediate);
  } catch (...) {
  }
  if (running()) {  // stop() failed half-way: make sure nothing survives
    for (pid_t c : children_of(postmaster_pid_)) ::kill(c, SIGKILL);
    kill_and_reap(postmaster_pid_);
    postmaster_pid_ = -1;
  }
  if (!base_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(base_dir_, ec);
  }
}

void pg_cluster::init_dir() {
  // Under /tmp (not $TMPDIR): every parent must be traversable by `postgres`.
  char tmpl[] = "/tmp/acis-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw sys_error("mkdtemp /tmp/acis-pg-XXXXXX");
  base_dir_ = tmpl;
  data_dir_ = base_dir_ + "/data";
  log_path_ = base_dir_ + "/postgres.log";
  if (::chmod(base_dir_.c_str(), 0755) != 0) throw sys_error("chmod " + base_dir_);
  if (::geteuid() == 0) {
    // initdb and postgres refuse to run as root.
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root but there is no user postgres");
    as_postgres_ = true;
    pg_uid_ = pw->pw_uid;
    pg_gid_ = pw->pw_gid;
    if (::chown(base_dir_.c_str(), pg_uid_, pg_gid_) != 0) throw sys_error("chown " + base_dir_);
  }
}

void pg_cluster::run_initdb() {
  const std::string out_path = base_dir_ + "/initdb.log";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw sys_error("open " + out_path);
  spawn_spec s;
  s.argv = {bin_dir_ + "/initdb", "-D", data_dir_, "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            "--no-instructions"};
  s.out_fd = out;
  s.cwd = base_dir_;
  s.drop_privileges = as_postgres_;
  s.uid = pg_uid_;
  s.gid = pg_gid_;
  pid_t pid;
  try {
    pid = spawn(s);
  } catch (...) {
    ::close(out);
    throw;
  }
  ::close(out);
  auto status = wait_until(pid, clock::now() + initdb_deadline);
  if (!status) {
    kill_and_reap(pid);
    throw std::runtime_error("initdb did not finish in time:\n" + read_tail(out_path, 4000));
  }
  if (*status != 0)
    throw std::runtime_error("initdb failed (" + describe_status(*status) + "):\n" +
                             read_tail(out_path, 4000));
}

void pg_cluster::start() {
  if (running()) throw std::logic_error("pg_cluster::start: already running");
  int out = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw sys_error("open " + log_path_);
  spawn_spec s;
  s.argv = {bin_dir_ + "/postgres", "-D", data_dir_, "-p", std::to_string(port_), "-k",
            base_dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
            "synchronous_commit=off", "-c", "full_page_writes=off"};
  s.out_fd = out;
  s.cwd = base_dir_;
  s.drop_privileges = as_postgres_;
  s.uid = pg_uid_;
  s.gid = pg_gid_;
  pid_t pid;
  try {
    pid = spawn(s);
  } catch (...) {
    ::close(out);
    throw;
  }
  ::close(out);
  postmaster_pid_ = pid;

  // Ready when postmaster.pid names this pid (not a stale file) and line 8 says "ready".
  const auto deadline = clock::now() + start_deadline;
  const std::string pidfile = data_dir_ + "/postmaster.pid";
  for (;;) {
    auto lines = read_lines(pidfile);
    if (lines.size() >= 8 && lines[0] == std::to_string(pid) && lines[7].rfind("ready", 0) == 0)
      return;
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      postmaster_pid_ = -1;
      throw std::runtime_error("postgres exited during start-up (" + describe_status(status) +
                               "):\n" + log_tail());
    }
    if (clock::now() >= deadline) {
      for (pid_t c : children_of(pid)) ::kill(c, SIGKILL);
      kill_and_reap(pid);
      postmaster_pid_ = -1;
      throw std::runtime_error("postgres not ready in time:\n" + log_tail());
    }
    std::this_thread::sleep_for(10ms);
  }
}

void pg_cluster::stop(stop_mode mode) {
  if (!running()) return;
  thaw();  // a stopped process would not act on the shutdown signal
  const int sig = mode == stop_mode::smart ? SIGTERM
                  : mode == stop_mode::fast ? SIGINT
                                            : SIGQUIT;
  const pid_t pid = postmaster_pid_;
  ::kill(pid, sig);
  auto status = wait_until(pid, clock::now() + stop_deadline);
  if (!status) {
    for (pid_t c : children_of(pid)) ::kill(c, SIGKILL);
    kill_and_reap(pid);
  }
  postmaster_pid_ = -1;
  if (!status) throw std::runtime_error("postgres did not stop in time; killed:\n" + log_tail());
}

void pg_cluster::restart(stop_mode mode) {
  stop(mode);
  start();
}

std::vector<pid_t> pg_cluster::children_of(pid_t parent) const {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    auto st = read_proc_stat(static_cast<pid_t>(pid));
    if (st && st->ppid == parent) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

void pg_cluster::freeze() {
  if (!running()) throw std::logic_error("pg_cluster::freeze: not running");
  if (frozen()) return;
  // The postmaster first: once it is stopped it forks no new backend.
  if (::kill(postmaster_pid_, SIGSTOP) != 0) throw sys_error("kill SIGSTOP postmaster");
  frozen_pids_.push_back(postmaster_pid_);
  for (pid_t c : children_of(postmaster_pid_))
    if (::kill(c, SIGSTOP) == 0) frozen_pids_.push_back(c);
  // SIGSTOP is asynchronous: wait (bounded) until each process is really stopped, so that a
  // test starting its client right after freeze() never races a still-running backend.
  const auto deadline = clock::now() + freeze_settle_deadline;
  for (pid_t p : frozen_pids_) {
    for (;;) {
      auto st = read_proc_stat(p);
      if (!st || st->state == 'T' || st->state == 't' || st->state == 'Z') break;
      if (clock::now() >= deadline) break;
      std::this_thread::sleep_for(1ms);
    }
  }
}

void pg_cluster::thaw() {
  for (pid_t p : frozen_pids_) ::kill(p, SIGCONT);
  frozen_pids_.clear();
}

std::string pg_cluster::log_tail(std::size_t max_bytes) const {
  return read_tail(log_path_, max_bytes);
}

std::string pg_cluster::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database +
         " user=postgres";
}

std::string pg_cluster::superuser_conninfo(const std::string& dbname) const {
  return "host=" + base_dir_ + " port=" + std::to_string(port_) + " dbname='" + dbname +
         "' user=postgres";
}

std::vector<std::vector<std::string>> pg_cluster::query(const std::string& sql,
                                                        const std::string& dbname) const {
  pqxx::connection c{superuser_conninfo(dbname) + " connect_timeout=10"};
  pqxx::nontransaction tx{c};
  pqxx::result r = tx.exec(sql);
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r) {
    std::vector<std::string> cols;
    for (const auto& field : row) cols.emplace_back(field.is_null() ? "" : field.c_str());
    rows.push_back(std::move(cols));
  }
  return rows;
}

std::string pg_cluster::query_value(const std::string& sql, const std::string& dbname) const {
  auto rows = query(sql, dbname);
  if (rows.empty() || rows[0].empty())
    throw std::runtime_error("pg_cluster::query_value: no value from: " + sql);
  return rows[0][0];
}

}  // namespace acis::test
