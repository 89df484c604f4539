// End-to-end tests of the real binary that need no platform: a hung check does not delay
// other checks, and a slow or oversized HTTP client cannot hold the listener.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/black_hole.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::http_get;

namespace {

int connect_to(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class isolation_e2e : public acis::test::daemon_fixture {
 protected:
  isolation_e2e() : daemon_fixture(acis::test::build_paths(), "acis-iso") {}

  void SetUp() override {
    daemon_fixture::SetUp();
    std::ofstream(dir_ + "/fresh.txt") << "x";
    cfg_ = {
        {"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)}, {"state_dir", dir_ + "/state"}}},
        {"checks",
         json::array({{{"name", "hung"}, {"type", "http"},
                       {"url", "http://127.0.0.1:" + std::to_string(hole_.port()) + "/"},
                       {"interval", "1s"}, {"timeout", "900ms"}, {"severity", "low"}},
                      {{"name", "self"}, {"type", "http"},
                       {"url", "http://127.0.0.1:" + std::to_string(port_) + "/healthz"},
                       {"interval", "200ms"}, {"timeout", "150ms"}, {"severity", "low"}},
                      {{"name", "file"}, {"type", "file_age"}, {"path", dir_ + "/fresh.txt"},
                       {"max_age", "1h"}, {"interval", "200ms"}, {"timeout", "150ms"},
                       {"severity", "low"}}})}};
    start_daemon("daemon.log");
  }

  json status() { return json::parse(http_get(port_, "/status").body); }
  std::uint64_t runs(const json& s, const std::string& name) {
    for (const auto& c : s["checks"])
      if (c["name"] == name) return c["runs"].get<std::uint64_t>();
    return 0;
  }

  acis::test::black_hole_listener hole_;
};

}  // namespace

// A check whose peer never answers is cut at its timeout and fails, while checks on 200 ms
// intervals keep their pace (about 5 runs per second each).
TEST_F(isolation_e2e, hung_check_does_not_delay_other_checks) {
  const auto s0 = status();
  std::this_thread::sleep_for(4s);
  const auto s1 = status();
  const auto self_runs = runs(s1, "self") - runs(s0, "self");
  const auto file_runs = runs(s1, "file") - runs(s0, "file");
  const auto hung_runs = runs(s1, "hung") - runs(s0, "hung");
  // 4 s / 200 ms = 20; allow for a loaded machine, but a blocked scheduler would give ~4.
  EXPECT_GE(self_runs, 14u);
  EXPECT_GE(file_runs, 14u);
  EXPECT_GE(hung_runs, 2u);
  for (const auto& c : s1["checks"]) {
    if (c["name"] == "hung") {
      EXPECT_EQ(c["targets"][0]["state"], "failing");
      EXPECT_LT(c["targets"][0]["latency_ms"].get<double>(), 1100.0);
    } else {
      EXPECT_EQ(c["targets"][0]["state"], "ok") << c.dump();
    }
  }
}

// A client that sends half a request holds only its own connection: others are served at
// once, and the server closes the slow one after its request deadline (5 s).
TEST_F(isolation_e2e, slow_client_cannot_hold_the_listener) {
  std::vector<int> slow;
  for (int i = 0; i < 10; ++i) {
    int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    const std::string partial = "GET /status HTTP/1.1\r\nHost: x\r\n";
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), static_cast<ssize_t>(partial.size()));
    slow.push_back(fd);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto r = http_get(port_, "/healthz", 2s);
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // The slow connections are closed by the server within the deadline plus a margin.
  for (int fd : slow) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 9000), 1) << "slow connection not closed by the server";
    char buf[256];
    EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0);
    ::close(fd);
  }
}

// An oversized request header is refused (413 or closed), and the daemon keeps serving.
TEST_F(isolation_e2e, oversized_request_is_refused) {
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  std::string req = "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char buf[512];
  const auto n = ::recv(fd, buf, sizeof buf - 1, 0);
  if (n > 0) {
    buf[n] = 0;
    EXPECT_NE(std::string(buf).find("413"), std::string::npos) << buf;
  }
  ::close(fd);
  EXPECT_EQ(http_get(port_, "/healthz").status, 200);
}

// Unknown paths are 404, wrong methods 405, a bad ?state is 400.
TEST_F(isolation_e2e, routes_and_methods) {
  EXPECT_EQ(http_get(port_, "/nope").status, 404);
  EXPECT_EQ(acis::test::http_request("POST", port_, "/metrics").status, 405);
  EXPECT_EQ(http_get(port_, "/incidents?state=bogus").status, 400);
  EXPECT_EQ(http_get(port_, "/incidents?state=all").status, 200);
  auto m = http_get(port_, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("# TYPE acis_check_runs_total counter"), std::string::npos);
}
