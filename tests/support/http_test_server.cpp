#include "tests/support/http_test_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace acis::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses the head (up to and excluding the blank line); false when malformed.
bool parse_head(std::string_view head, http_test_request& req) {
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == line.npos ? line.npos : sp1 + 1);
  if (sp1 == line.npos || sp2 == line.npos) return false;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  while (line_end != head.npos) {
    const auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    line = head.substr(start, line_end == head.npos ? head.npos : line_end - start);
    if (line.empty()) continue;
    const auto colon = line.find(':');
    if (colon == line.npos) return false;
    req.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

std::string reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

std::string http_test_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

struct http_test_server::impl {
  explicit impl(handler h) : handler_(std::move(h)), acceptor_(ioc_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~impl() {
    ioc_.stop();
    thread_.join();
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      ++connections_;
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> serve(tcp::socket socket) {
    std::string buffer;
    auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n",
                                                   asio::as_tuple(use_awaitable));
    if (ec) co_return;
    http_test_request req;
    if (!parse_head(std::string_view(buffer).substr(0, n - 2), req)) co_return;
    buffer.erase(0, n);
    std::size_t content_length = 0;
    if (auto cl = req.header("Content-Length"); !cl.empty()) content_length = std::stoul(cl);
    if (buffer.size() < content_length) {
      auto [ec2, m] = co_await asio::async_read(
          socket, asio::dynamic_buffer(buffer), asio::transfer_exactly(content_length - buffer.size()),
          asio::as_tuple(use_awaitable));
      if (ec2) co_return;
    }
    req.body = buffer.substr(0, content_length);

    http_test_reply reply = handler_(req);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(req));
    }

    asio::steady_timer timer(socket.get_executor());
    switch (reply.act) {
      case http_test_reply::action::close:
        co_return;
      case http_test_reply::action::never_answer:
        // Held until the server stops (the io_context's destruction frees this frame).
        timer.expires_at(asio::steady_timer::time_point::max());
        co_await timer.async_wait(asio::as_tuple(use_awaitable));
        co_return;
      case http_test_reply::action::respond:
        break;
    }
    if (reply.delay.count() > 0) {
      timer.expires_after(reply.delay);
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                       reason_phrase(reply.status) + "\r\n";
    head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    if (reply.body_delay.count() > 0) {
      auto [wec, w] = co_await asio::async_write(socket, asio::buffer(head), asio::as_tuple(use_awaitable));
      if (wec) co_return;
      timer.expires_after(reply.body_delay);
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
      co_await asio::async_write(socket, asio::buffer(reply.body), asio::as_tuple(use_awaitable));
    } else {
      head += reply.body;
      co_await asio::async_write(socket, asio::buffer(head), asio::as_tuple(use_awaitable));
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    // Let the client read to the end before the socket closes (a close with unread request
    // bytes would reset the connection).
    char sink[512];
    for (;;) {
      auto [rec, r] = co_await socket.async_read_some(asio::buffer(sink), asio::as_tuple(use_awaitable));
      if (rec) break;
    }
  }

  handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mutex_;
  std::vector<http_test_request> requests_;
};

http_test_server::http_test_server(handler h) : impl_(std::make_unique<impl>(std::move(h))) {}
http_test_server::~http_test_server() = default;

unsigned short http_test_server::port() const { return impl_->port_; }

std::string http_test_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port_) + std::string(path);
}

std::vector<http_test_request> http_test_server::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

std::size_t http_test_server::connections() const { return impl_->connections_; }

unsigned short unused_loopback_port() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

}  // namespace acis::test
