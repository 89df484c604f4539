#include "tests/support/http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace acis::test {

http_result http_request(const std::string& method, unsigned short port, const std::string& target,
                         const std::string& body, const std::string& authorization,
                         std::chrono::milliseconds timeout) {
  http_result out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {0, {}, std::strerror(errno)};
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
    return {0, {}, std::strerror(errno)};
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, remaining_ms()) != 1) return {0, {}, "connect timeout"};
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return {0, {}, std::strerror(err)};

  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < req.size()) {
    pollfd w{fd, POLLOUT, 0};
    if (::poll(&w, 1, remaining_ms()) != 1) return {0, {}, "write timeout"};
    const auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return {0, {}, std::strerror(errno)};
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    pollfd r{fd, POLLIN, 0};
    if (::poll(&r, 1, remaining_ms()) != 1) return {0, raw, "read timeout"};
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN) continue;
      break;
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  const auto sp = raw.find(' ');
  const auto hdr_end = raw.find("\r\n\r\n");
  if (sp == std::string::npos || hdr_end == std::string::npos) return {0, raw, "bad response"};
  out.status = std::atoi(raw.c_str() + sp + 1);
  out.body = raw.substr(hdr_end + 4);
  // Chunked responses are not produced by our server (it sets Content-Length).
  return out;
}

}  // namespace acis::test
