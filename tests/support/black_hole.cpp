#include "tests/support/black_hole.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace acis::test {

black_hole_listener::black_hole_listener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  // A generous backlog: every connect attempt of a test completes without an accept().
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 128) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string err = std::string("black hole listener: ") + std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error(err);
  }
  port_ = ntohs(addr.sin_port);
}

black_hole_listener::~black_hole_listener() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace acis::test
