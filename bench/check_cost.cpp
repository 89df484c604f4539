// What one HTTP check costs below the daemon, to split the daemon's CPU per check into layers
// (bench/http_checks.sh measures the daemon itself):
//
//   raw    a serial blocking client: socket, connect, send a GET, read to EOF, close. About what
//          Monit does per HTTP test; its CPU is the kernel's TCP floor on loopback plus almost
//          nothing in user space.
//   check  the daemon's `http` check kind (checks::make_check + check::run) driven by
//          coroutines on one io_context, `concurrency` runs in flight, no scheduler, no
//          metrics, no incident tracker.
//
// Prints one markdown row: mode, requests, seconds, requests/s, user and system CPU per
// 1 000 requests of this process (getrusage), failures. Loopback only; every run is bounded
// by --seconds and a per-request deadline.
//
// usage: check_cost --port P [--mode raw|check] [--seconds S] [--concurrency C]
//                   [--linger0] [--path /health]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "checks/check.hpp"
#include "config/config.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct options {
  int port = 0;
  std::string mode = "raw";
  std::string path = "/health";
  double seconds = 10;
  int concurrency = 16;
  bool linger0 = false;  // raw only: close with RST (SO_LINGER 0) instead of FIN
};

struct cpu_times {
  double user = 0, sys = 0;
};

cpu_times cpu_now() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {sec(ru.ru_utime), sec(ru.ru_stime)};
}

struct tally {
  long done = 0;
  long failed = 0;
};

// One request on a fresh blocking socket. Returns false on any failure (counted, not fatal).
bool raw_request(const options& o, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // A bound on every blocking call: a stuck server cannot hold the benchmark.
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(request.size());
  char buf[4096];
  std::size_t got = 0;
  bool status_200 = false;
  while (ok) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) ok = false;
    if (n <= 0) break;
    if (got == 0) status_200 = n >= 12 && std::memcmp(buf + 8, " 200", 4) == 0;
    got += static_cast<std::size_t>(n);
  }
  if (o.linger0) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  return ok && status_200;
}

tally run_raw(const options& o) {
  const std::string request = "GET " + o.path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: check_cost\r\n"
                              "Connection: close\r\n\r\n";
  tally t;
  const auto end = steady::now() + std::chrono::duration<double>(o.seconds);
  while (steady::now() < end) {
    if (raw_request(o, request)) ++t.done;
    else ++t.failed;
  }
  return t;
}

tally run_check(const options& o) {
  namespace asio = boost::asio;
  asio::io_context ioc{1};
  asio::thread_pool pool(1);
  acis::config::check_config cfg;
  cfg.name = "bench";
  acis::config::http_check kind;
  kind.url = "http://127.0.0.1:" + std::to_string(o.port) + o.path;
  cfg.kind = kind;
  cfg.timeout = std::chrono::seconds(2);
  auto check = acis::checks::make_check(cfg, {ioc.get_executor(), &pool});
  tally t;
  const auto end = steady::now() + std::chrono::duration<double>(o.seconds);
  for (int i = 0; i < o.concurrency; ++i) {
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          while (steady::now() < end) {
            auto results = co_await check->run(steady::now() + cfg.timeout);
            if (results.targets.size() == 1 && results.targets[0].status == acis::checks::health::ok) ++t.done;
            else ++t.failed;
          }
        },
        asio::detached);
  }
  ioc.run();
  pool.join();
  return t;
}

int usage() {
  std::fprintf(stderr,
               "usage: check_cost --port P [--mode raw|check] [--seconds S] [--concurrency C]\n"
               "                  [--linger0] [--path /health]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--port" && has_value) o.port = std::atoi(argv[++i]);
    else if (a == "--mode" && has_value) o.mode = argv[++i];
    else if (a == "--seconds" && has_value) o.seconds = std::atof(argv[++i]);
    else if (a == "--concurrency" && has_value) o.concurrency = std::atoi(argv[++i]);
    else if (a == "--path" && has_value) o.path = argv[++i];
    else if (a == "--linger0") o.linger0 = true;
    else return usage();
  }
  if (o.port <= 0 || o.port > 65535 || o.seconds <= 0 || o.seconds > 600 || o.concurrency < 1 ||
      (o.mode != "raw" && o.mode != "check"))
    return usage();

  const auto c0 = cpu_now();
  const auto t0 = steady::now();
  const tally t = o.mode == "raw" ? run_raw(o) : run_check(o);
  const double secs = std::chrono::duration<double>(steady::now() - t0).count();
  const auto c1 = cpu_now();
  const double n = static_cast<double>(t.done + t.failed);
  const double k = n > 0 ? 1000.0 / n : 0;
  std::string label = o.mode;
  if (o.mode == "raw" && o.linger0) label += " (SO_LINGER 0)";
  if (o.mode == "check") label += " (concurrency " + std::to_string(o.concurrency) + ")";
  std::printf("| %s | %ld | %.1f | %.0f | %.4f | %.4f | %.4f | %ld |\n", label.c_str(),
              t.done + t.failed, secs, n / secs, (c1.user - c0.user) * k, (c1.sys - c0.sys) * k,
              (c1.user + c1.sys - c0.user - c0.sys) * k, t.failed);
  return t.failed == 0 ? 0 : 1;
}
