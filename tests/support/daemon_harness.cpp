#include "tests/support/daemon_harness.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tests/support/http_test_server.hpp"

namespace acis::test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

// ---- child commands ---------------------------------------------------------------------------

command_result run_command(std::vector<std::string> argv, const std::string& output_file,
                           const std::map<std::string, std::string>& env,
                           std::chrono::milliseconds timeout) {
  std::error_code ec;
  fs::remove(output_file, ec);
  child_process p(std::move(argv), output_file, output_file, env);
  auto st = p.wait_for(timeout);
  if (!st) {
    p.stop(1s);
    return {-1, read_file(output_file) + "\n(timed out)"};
  }
  return {WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st), read_file(output_file)};
}

std::unique_ptr<child_process> start_daemon(const std::string& daemon_bin,
                                            const std::string& config_file,
                                            const std::string& log_file,
                                            const std::string& stderr_file,
                                            const std::string& cwd,
                                            const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv;
  if (!cwd.empty()) argv = {"/usr/bin/env", "-C", cwd};
  for (const auto& a : {daemon_bin, std::string("run"), std::string("--config"), config_file})
    argv.push_back(a);
  return std::make_unique<child_process>(std::move(argv), log_file, stderr_file, env);
}

bool wait_healthz(unsigned short port, std::chrono::milliseconds timeout) {
  return wait_until([&] { return http_get(port, "/healthz").status == 200; }, timeout);
}

// ---- notify_socket ----------------------------------------------------------------------------

bool notify_socket::message::has(const std::string& line) const {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

notify_socket::notify_socket(std::string path) : path_(std::move(path)) {
  sockaddr_un addr{};
  if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket path too long: " + path_);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  ::unlink(path_.c_str());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("bind " + path_ + ": " + why);
  }
  thread_ = std::thread([this] { receive_loop(); });
}

notify_socket::~notify_socket() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

void notify_socket::receive_loop() {
  char buf[4096];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;  // re-checks stop_ at least every 50 ms
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) continue;
    std::lock_guard lock(mutex_);
    messages_.push_back({std::chrono::steady_clock::now(), std::string(buf, static_cast<std::size_t>(n))});
  }
}

std::vector<notify_socket::message> notify_socket::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::size_t notify_socket::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

int notify_socket::count(const std::string& line, std::size_t from) const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (std::size_t i = from; i < messages_.size(); ++i)
    if (messages_[i].has(line)) ++n;
  return n;
}

std::optional<std::size_t> notify_socket::wait_for(const std::string& line, std::size_t from,
                                                   std::chrono::milliseconds timeout) const {
  std::optional<std::size_t> found;
  wait_until([&] {
    std::lock_guard lock(mutex_);
    for (std::size_t i = from; i < messages_.size(); ++i)
      if (messages_[i].has(line)) return (found = i).has_value();
    return false;
  }, timeout);
  return found;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  fs::permissions(tmpl, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  return tmpl;
}

// ---- files the binaries write -----------------------------------------------------------------

std::map<std::string, std::string> read_env_file(const std::string& file) {
  std::map<std::string, std::string> env;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1), plain;
    // printf %q output: backslash-escaped characters, or $'...' for control characters.
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) plain.push_back(v[++i]);
      else if (v[i] != '\'') plain.push_back(v[i]);
    }
    env[line.substr(0, eq)] = plain;
  }
  return env;
}

std::vector<json> log_events(const std::string& file) {
  std::vector<json> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

event_predicate event_is(std::string event, std::string check, std::string target) {
  return [event = std::move(event), check = std::move(check), target = std::move(target)](const json& e) {
    return e.value("event", "") == event && e.value("check", "") == check &&
           e.value("target", "") == target;
  };
}

event_predicate event_with(std::string event, std::string key, std::string value) {
  return [event = std::move(event), key = std::move(key), value = std::move(value)](const json& e) {
    if (e.value("event", "") != event) return false;
    if (key.empty()) return true;
    auto it = e.find(key);
    return it != e.end() && it->is_string() && it->get<std::string>() == value;
  };
}

std::optional<json> find_event(const std::string& file, const event_predicate& pred) {
  for (auto& e : log_events(file))
    if (pred(e)) return std::move(e);
  return std::nullopt;
}

std::vector<json> find_events(const std::string& file, const event_predicate& pred) {
  std::vector<json> out;
  for (auto& e : log_events(file))
    if (pred(e)) out.push_back(std::move(e));
  return out;
}

int count_events(const std::string& file, const event_predicate& pred) {
  int n = 0;
  for (const auto& e : log_events(file))
    if (pred(e)) ++n;
  return n;
}

std::optional<json> wait_for_event(const std::string& file, const event_predicate& pred,
                                   std::chrono::milliseconds timeout) {
  std::optional<json> found;
  wait_until([&] { return (found = find_event(file, pred)).has_value(); }, timeout);
  return found;
}

// ---- daemon_fixture ---------------------------------------------------------------------------

daemon_fixture::daemon_fixture(e2e_paths paths, std::string prefix)
    : paths_(std::move(paths)), prefix_(std::move(prefix)) {}

void daemon_fixture::SetUp() {
  dir_ = make_temp_dir(prefix_);
  port_ = unused_loopback_port();
}

void daemon_fixture::TearDown() {
  if (daemon_) daemon_->stop();
  daemon_.reset();
  if (dir_.empty()) return;
  if (!HasFailure()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  } else {
    std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
  }
}

void daemon_fixture::start_daemon(const std::string& log_name, const std::string& cwd,
                                  const std::map<std::string, std::string>& env) {
  const std::string config_file = dir_ + "/healthd.json";
  std::ofstream(config_file) << cfg_.dump(2);
  log_ = dir_ + "/" + log_name;
  daemon_ = acis::test::start_daemon(paths_.daemon_bin(), config_file, log_, dir_ + "/daemon.stderr", cwd, env);
  ASSERT_TRUE(wait_healthz(port_, 20s)) << daemon_output();
}

json daemon_fixture::get_json(const std::string& target) {
  auto r = http_get(port_, target);
  EXPECT_EQ(r.status, 200) << target << " " << r.error;
  return json::parse(r.body, nullptr, false);
}

std::string daemon_fixture::target_state(const std::string& check, const std::string& target) {
  const json status = get_json("/status");  // a named value: the loops below point into it
  if (!status.is_object() || !status.contains("checks")) return {};
  for (const auto& c : status["checks"]) {
    if (c.value("name", "") != check) continue;
    for (const auto& t : c["targets"])
      if (t.value("target", "") == target) return t.value("state", "");
  }
  return {};
}

std::string daemon_fixture::daemon_output() const {
  return read_file(log_) + read_file(dir_ + "/daemon.stderr");
}

// ---- platform_fixture -------------------------------------------------------------------------

platform_fixture::platform_fixture(e2e_paths paths, std::string prefix)
    : daemon_fixture(std::move(paths), std::move(prefix)) {}

void platform_fixture::SetUp() {
  daemon_fixture::SetUp();
  auto [rc, out] = run_command({"/bin/bash", paths_.platform_sh(), "start", dir_}, dir_ + "/cmd.out",
                               {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}, 90s);
  ASSERT_EQ(rc, 0) << out;
  started_ = true;
  env_ = read_env_file(dir_ + "/platform.env");
  ASSERT_EQ(env_["PLATFORM_READY"], "1") << read_file(dir_ + "/platform.env");
  cfg_ = base_config();
}

void platform_fixture::TearDown() {
  daemon_.reset();  // SIGKILL: nothing of the daemon's shutdown is under test here
  if (started_)
    run_command({"/bin/bash", paths_.platform_sh(), "stop", dir_}, dir_ + "/cmd.out",
                {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}, 60s);
  daemon_fixture::TearDown();
}

json platform_fixture::base_config() {
  return {
      {"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                  {"state_dir", dir_ + "/state"},
                  {"log_level", "debug"}}},
      {"checks",
       json::array(
           {{{"name", "database"}, {"type", "postgres"}, {"conninfo", env_["PG_CONNINFO"]},
             {"password_file", dir_ + "/pgpassword"}, {"query", "SELECT 1"},
             {"interval", "500ms"}, {"timeout", "400ms"}, {"fall", 2}, {"rise", 1},
             {"severity", "critical"}, {"issue_type", "database"}},
            {{"name", "api"}, {"type", "http"}, {"url", env_["API_URL"] + "/health"},
             {"expect", {{"status", json::array({200})}, {"body_contains", "ok"}}},
             {"interval", "500ms"}, {"timeout", "400ms"}, {"fall", 2}, {"rise", 1},
             {"severity", "high"}, {"depends_on", json::array({"database"})},
             {"issue_type", "backend"}},
            {{"name", "frontend"}, {"type", "http"}, {"url", env_["FRONTEND_URL"] + "/"},
             {"interval", "1s"}, {"timeout", "500ms"}, {"severity", "high"},
             {"depends_on", json::array({"api"})}, {"issue_type", "backend"}},
            {{"name", "models"}, {"type", "model_metadata"}, {"models_dir", env_["MODELS_DIR"]},
             {"rules", json::array({{{"path", "/metrics/sharpe_ratio"}, {"min", 0.5}}})},
             {"interval", "1s"}, {"timeout", "500ms"}, {"severity", "critical"},
             {"issue_type", "model"}}})},
      {"escalation",
       {{"database", {{"primary", "DBA"}, {"backup", "Infrastructure"}}},
        {"backend", {{"primary", "Backend Lead"}, {"backup", "DevOps"}}},
        {"model", {{"primary", "ML Team Lead"}, {"backup", "Platform Owner"}}}}}};
}

json& platform_fixture::check(const std::string& name) {
  for (auto& c : cfg_["checks"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no check " + name);
}

bool platform_fixture::platform(const std::string& what) {
  auto [rc, out] = run_command({"/bin/bash", paths_.platform_sh(), what, dir_}, dir_ + "/cmd.out",
                               {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}, 60s);
  EXPECT_EQ(rc, 0) << what << ": " << out;
  return rc == 0;
}

json platform_fixture::restart_api_runbook() {
  return {{"max_attempts", 3}, {"backoff", "1s"}, {"cooldown", "1m"},
          {"steps", json::array({{{"name", "restart API"},
                                  {"run", json::array({"/bin/bash", paths_.platform_sh(), "start-api", dir_})},
                                  {"env", {{"ACIS_TOY_SERVICE", paths_.toy_bin()}}},
                                  {"timeout", "30s"}},
                                 {{"name", "verify health"}, {"verify", "api"}, {"within", "10s"}}})}};
}

unsigned short platform_fixture::api_port() {
  return static_cast<unsigned short>(std::stoi(read_env_file(dir_ + "/platform.env")["API_PORT"]));
}

}  // namespace acis::test
