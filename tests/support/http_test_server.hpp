// A real HTTP/1.1 server on 127.0.0.1 (port 0) for tests, running on its own thread with its
// own io_context so that the code under test is timed against an independent peer.
//
// Each accepted connection reads one request (request line, headers, Content-Length body),
// asks the handler for a reply plan, and carries it out: answer (optionally late, optionally
// with a late body), never answer, or close at once. Requests are recorded for assertions.
// The handler runs on the server thread. The destructor stops the server and joins the
// thread; connections still open are closed then.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace acis::test {

struct http_test_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The value of the first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

struct http_test_reply {
  enum class action {
    respond,       // send status, headers and body
    never_answer,  // read the request, then hold the connection open and send nothing
    close,         // read the request, then close the connection without a byte
  };
  action act = action::respond;
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::chrono::milliseconds delay{0};       // before the status line
  std::chrono::milliseconds body_delay{0};  // between the headers and the body
};

class http_test_server {
 public:
  using handler = std::function<http_test_reply(const http_test_request&)>;

  explicit http_test_server(handler h);
  ~http_test_server();
  http_test_server(const http_test_server&) = delete;
  http_test_server& operator=(const http_test_server&) = delete;

  unsigned short port() const;
  // "http://127.0.0.1:PORT" + path
  std::string url(std::string_view path = "/") const;
  std::vector<http_test_request> requests() const;
  std::size_t connections() const;  // accepted so far

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A loopback port that nothing listens on: bound, read, and closed again.
unsigned short unused_loopback_port();

}  // namespace acis::test
