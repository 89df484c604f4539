// A minimal blocking HTTP/1.1 client for tests (plain sockets, a deadline on every call), so
// that end-to-end tests talk to the daemon like curl would, without Beast in the test.
#pragma once

#include <chrono>
#include <string>

namespace acis::test {

struct http_result {
  int status = 0;  // 0: no answer (refused, timeout, garbage)
  std::string body;
  std::string error;
};

http_result http_request(const std::string& method, unsigned short port, const std::string& target,
                         const std::string& body = {}, const std::string& authorization = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
inline http_result http_get(unsigned short port, const std::string& target,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return http_request("GET", port, target, {}, {}, timeout);
}

}  // namespace acis::test
