#include "daemon/http_server.hpp"

#include <list>
#include <stdexcept>
#include <system_error>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace acis::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::pair<std::string, unsigned short> split_host_port(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    throw std::invalid_argument("expected host:port, got \"" + listen + "\"");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  unsigned long p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') throw std::invalid_argument("bad port in \"" + listen + "\"");
    p = p * 10 + static_cast<unsigned long>(c - '0');
    if (p > 65535) throw std::invalid_argument("port out of range in \"" + listen + "\"");
  }
  return {host, static_cast<unsigned short>(p)};
}

namespace {
constexpr std::size_t max_connections = 64;
constexpr std::size_t header_limit = 8 * 1024;
constexpr std::size_t body_limit = 64 * 1024;
constexpr auto request_deadline = std::chrono::seconds(5);
}  // namespace

struct http_server::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, tcp::endpoint ep, http_handler h)
      : executor(ex), acceptor(ex), handler(std::move(h)) {
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  http_handler handler;
  http_error_log on_error;

  void report(const std::string& what) {
    if (on_error) on_error(what);
  }
  // Completion of a spawned coroutine: an escaped exception is reported, never lost.
  std::function<void(std::exception_ptr)> reporter(std::string where) {
    return [self = shared_from_this(), where = std::move(where)](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        self->report(where + ": " + ex.what());
      } catch (...) {
        self->report(where + ": unknown exception");
      }
      if (where == "accept loop" && !self->stopped)
        asio::co_spawn(self->executor, self->accept_loop(), self->reporter("accept loop"));
    };
  }
  std::list<beast::tcp_stream*> sessions;
  bool stopped = false;

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      if (sessions.size() >= max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::co_spawn(executor, session(std::move(socket)), reporter("connection"));
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    sessions.push_front(&stream);
    auto pos = sessions.begin();
    struct unregister {
      std::list<beast::tcp_stream*>& l;
      std::list<beast::tcp_stream*>::iterator it;
      ~unregister() { l.erase(it); }
    } guard{sessions, pos};

    beast::flat_buffer buffer(header_limit + body_limit);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit);
      parser.body_limit(body_limit);
      stream.expires_after(request_deadline);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser,
                                               asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec) {
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
          http::response<http::string_body> res{http::status::payload_too_large, 11};
          res.set(http::field::connection, "close");
          res.body() = "request too large\n";
          res.prepare_payload();
          stream.expires_after(request_deadline);
          co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      auto& req = parser.get();
      http_request_view view;
      view.method = std::string(req.method_string());
      view.target = std::string(req.target());
      view.authorization = std::string(req[http::field::authorization]);
      view.body = req.body();
      http_reply reply;
      try {
        reply = handler(view);
      } catch (const std::exception& e) {
        report(view.method + " " + view.target.substr(0, 200) + ": " + e.what());
        reply = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
      res.set(http::field::server, "acis-healthd");
      res.set(http::field::content_type, reply.content_type);
      res.set(http::field::cache_control, "no-store");
      res.set("X-Content-Type-Options", "nosniff");
      for (const auto& [name, value] : reply.headers) res.set(name, value);
      res.keep_alive(req.keep_alive());
      res.body() = std::move(reply.body);
      if (view.method == "HEAD") {
        res.prepare_payload();
        res.body().clear();
      } else {
        res.prepare_payload();
      }
      stream.expires_after(request_deadline);
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec || !res.keep_alive() || stopped) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  }
};

http_server::http_server(asio::any_io_executor ex, const std::string& listen, http_handler handler,
                         http_error_log on_error) {
  auto [host, port] = split_host_port(listen);
  beast::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + listen + ": not an IP address");
  try {
    impl_ = std::make_shared<impl>(ex, tcp::endpoint(addr, port), std::move(handler));
    impl_->on_error = std::move(on_error);
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), "cannot listen on " + listen);
  }
}

http_server::~http_server() {
  if (impl_) stop();
}

void http_server::start() {
  asio::co_spawn(impl_->executor, impl_->accept_loop(), impl_->reporter("accept loop"));
}

void http_server::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto* s : impl_->sessions) s->cancel();
}

unsigned short http_server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace acis::daemon
