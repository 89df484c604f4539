// black_hole_listener: a TCP port on 127.0.0.1 that completes the handshake and never answers.
//
// The socket listens and nobody ever accepts or reads: the kernel completes connects from its
// backlog and buffers what the client sends, so a client sees an established connection that
// stays silent forever (a hung peer, or a firewall that half-drops). Closed by the destructor.
#pragma once

namespace acis::test {

class black_hole_listener {
 public:
  black_hole_listener();  // throws std::runtime_error
  ~black_hole_listener();
  black_hole_listener(const black_hole_listener&) = delete;
  black_hole_listener& operator=(const black_hole_listener&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace acis::test
