// The daemon's HTTP listener (Beast, on the event loop): /metrics, /healthz, /status, ...
// Routing lives in the handler the daemon passes in; this class owns sockets and limits.
//
// Limits: request header 8 KiB, body 64 KiB, the whole request must arrive within 5 s of
// the connection (or of the previous response on keep-alive), at most 64 connections at
// once (more are closed at accept). A slow client can hold only its own connection.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

namespace acis::daemon {

struct http_request_view {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string body;
};

struct http_reply {
  http_reply() = default;
  http_reply(int s, std::string type, std::string b,
             std::vector<std::pair<std::string, std::string>> h = {})
      : status(s), content_type(std::move(type)), body(std::move(b)), headers(std::move(h)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

using http_handler = std::function<http_reply(const http_request_view&)>;
// Told what escaped a connection or the accept loop (the loop is restarted), or a handler
// (answered 500): nothing ends silently.
using http_error_log = std::function<void(const std::string& what)>;

class http_server {
 public:
  // Binds at once; throws std::system_error naming the address when it cannot.
  http_server(boost::asio::any_io_executor ex, const std::string& listen, http_handler handler,
              http_error_log on_error = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  void start();
  void stop();  // closes the acceptor and every open connection
  unsigned short port() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// "host:port" -> (host, port); throws std::invalid_argument.
std::pair<std::string, unsigned short> split_host_port(const std::string& listen);

}  // namespace acis::daemon
