// acis-toy-service: a stand-in for the ACIS AI Platform's FastAPI backend and Next.js frontend,
// used by the demo (scripts/platform.sh) and the end-to-end tests.
//
//   --mode api|frontend        what to serve (default api)
//   --listen 127.0.0.1:PORT    port 0 allowed; the first stdout line is `listening HOST:PORT`
//   --pg-conninfo STR          api mode: libpq conninfo (password from PGPASSWORD, read by libpq)
//   --pidfile FILE             own pid, written before `listening`, removed on clean exit
//   --delay-ms N               answer every request N ms late (a slow, "degraded" service)
//   --fail-file FILE           while FILE exists, /health answers 500 (unhealthy but running)
//
// API mode: GET /health runs `SELECT 1` (200 ok / 503 degraded), GET /api/clients/ answers two
// fake clients when the database answers. Frontend mode: GET / answers a small HTML page.
// Anything else is 404. SIGTERM/SIGINT exit 0.
//
// It is a test fixture, but a test relies on it: it must never crash and never hang. The one
// thread running the event loop does no blocking work; libpqxx runs on a small pool, and the
// event loop waits for it under a deadline, so a frozen PostgreSQL yields a 503, not a hang.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct options {
  std::string mode = "api";
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string pg_conninfo;
  std::string pidfile;
  std::string fail_file;
  std::chrono::milliseconds delay{0};
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "acis-toy-service: " << why << "\n"
            << "usage: acis-toy-service [--mode api|frontend] [--listen 127.0.0.1:PORT]\n"
            << "         [--pg-conninfo STR] [--pidfile FILE] [--delay-ms N] [--fail-file FILE]\n";
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--mode") {
      o.mode = value();
      if (o.mode != "api" && o.mode != "frontend") usage("--mode must be api or frontend");
    } else if (arg == "--listen") {
      auto v = value();
      auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--listen expects HOST:PORT");
      o.host = v.substr(0, colon);
      try {
        std::size_t used = 0;
        unsigned long p = std::stoul(v.substr(colon + 1), &used);
        if (used != v.size() - colon - 1 || p > 65535) throw std::out_of_range("port");
        o.port = static_cast<unsigned short>(p);
      } catch (const std::exception&) {
        usage("--listen: bad port in " + v);
      }
    } else if (arg == "--pg-conninfo") {
      o.pg_conninfo = value();
    } else if (arg == "--pidfile") {
      o.pidfile = value();
    } else if (arg == "--fail-file") {
      o.fail_file = value();
    } else if (arg == "--delay-ms") {
      auto v = value();
      try {
        std::size_t used = 0;
        long ms = std::stol(v, &used);
        if (used != v.size() || ms < 0) throw std::out_of_range("delay");
        o.delay = std::chrono::milliseconds(ms);
      } catch (const std::exception&) {
        usage("--delay-ms expects a non-negative integer, got " + v);
      }
    } else if (arg == "--help" || arg == "-h") {
      usage("help");
    } else {
      usage("unknown argument " + std::string(arg));
    }
  }
  if (o.mode == "api" && o.pg_conninfo.empty()) usage("--mode api needs --pg-conninfo");
  return o;
}

// One line per request on stderr: enough for a demo log, cheap enough to never matter.
void log_line(const std::string& line) {
  std::cerr << "acis-toy-service: " << line << std::endl;
}

// The outcome of one database probe: nullopt = ok, otherwise the error text.
using db_outcome = std::optional<std::string>;

// Runs `SELECT 1` on the pool and waits for it on the event loop for at most `deadline`.
// The pool thread cannot be interrupted; connect_timeout bounds it in every case except a
// frozen server, and then only that pool thread stays stuck (the answer is still a 503).
class database_prober {
 public:
  database_prober(asio::io_context& io, std::string conninfo)
      : io_(io), pool_(4), conninfo_(with_connect_timeout(std::move(conninfo))) {}

  asio::awaitable<db_outcome> probe(std::chrono::steady_clock::duration deadline) {
    struct waiter {
      explicit waiter(asio::io_context& io) : timer(io) {}
      asio::steady_timer timer;
      bool done = false;
      db_outcome result;
    };
    auto w = std::make_shared<waiter>(io_);
    w->timer.expires_after(deadline);
    asio::post(pool_, [this, w]() mutable {
      // Counted while running only: jobs that pool_.stop() abandons never started.
      in_flight_.fetch_add(1);
      db_outcome r = run_select_one();
      in_flight_.fetch_sub(1);
      // Hand the waiter back to the event loop; this thread keeps no reference, so the timer
      // is only ever touched (and destroyed) on the event loop thread.
      asio::post(io_, [w = std::move(w), r = std::move(r)]() mutable {
        w->done = true;
        w->result = std::move(r);
        w->timer.cancel();
      });
    });
    // The completion above is posted to this (single) thread, so it cannot run before the
    // wait below is started: no lost wake-up.
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!w->done) co_return db_outcome{"timeout: no answer from the database within the deadline"};
    co_return w->result;
  }

  // Stop taking work; join the pool if no call is stuck, otherwise give up after `grace`
  // (the caller then exits without joining).
  bool shutdown(std::chrono::steady_clock::duration grace) {
    pool_.stop();
    auto until = std::chrono::steady_clock::now() + grace;
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(20ms);
    if (in_flight_.load() > 0) return false;
    pool_.join();
    return true;
  }

 private:
  static std::string with_connect_timeout(std::string conninfo) {
    if (conninfo.find("connect_timeout") == std::string::npos) conninfo += " connect_timeout=2";
    return conninfo;
  }

  db_outcome run_select_one() const {
    try {
      pqxx::connection conn{conninfo_};
      pqxx::nontransaction tx{conn};
      tx.exec("SELECT 1");
      return std::nullopt;
    } catch (const std::exception& e) {
      std::string msg = e.what();
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      // One line for a JSON field: newlines and tabs become single spaces.
      std::string flat;
      for (char c : msg) {
        if (c == '\n' || c == '\t') c = ' ';
        if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
        flat += c;
      }
      msg = std::move(flat);
      return msg.empty() ? std::string("unknown database error") : msg;
    }
  }

  asio::io_context& io_;
  asio::thread_pool pool_;
  std::string conninfo_;
  std::atomic<int> in_flight_{0};
};

struct server_context {
  options opts;
  database_prober* db = nullptr;  // api mode only
};

http::response<http::string_body> make_response(const http::request<http::string_body>& req,
                                                http::status status, std::string content_type,
                                                std::string body) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "acis-toy-service");
  res.set(http::field::content_type, content_type);
  res.keep_alive(false);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> json_response(const http::request<http::string_body>& req,
                                                http::status status, const nlohmann::json& j) {
  return make_response(req, status, "application/json", j.dump());
}

asio::awaitable<http::response<http::string_body>> route(server_context& ctx,
                                                         const http::request<http::string_body>& req) {
  std::string target(req.target());
  if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
  const bool get = req.method() == http::verb::get;
  const auto deadline = 5s;

  if (ctx.opts.mode == "frontend") {
    if (target == "/") {
      if (!get) co_return json_response(req, http::status::method_not_allowed, {{"detail", "Method Not Allowed"}});
      co_return make_response(req, http::status::ok, "text/html; charset=utf-8",
                              "<!doctype html>\n<html><head><title>ACIS AI Platform</title></head>\n"
                              "<body><h1>ACIS AI Platform</h1><p>Portfolio dashboard (toy).</p></body></html>\n");
    }
    co_return make_response(req, http::status::not_found, "text/plain", "not found\n");
  }

  if (target == "/health") {
    if (!get) co_return json_response(req, http::status::method_not_allowed, {{"detail", "Method Not Allowed"}});
    std::error_code ec;
    if (!ctx.opts.fail_file.empty() && std::filesystem::exists(ctx.opts.fail_file, ec))
      co_return json_response(req, http::status::internal_server_error,
                              {{"status", "error"}, {"detail", "fail file present: " + ctx.opts.fail_file}});
    auto err = co_await ctx.db->probe(deadline);
    if (err) co_return json_response(req, http::status::service_unavailable, {{"status", "degraded"}, {"database", *err}});
    co_return json_response(req, http::status::ok, {{"status", "ok"}, {"database", "ok"}});
  }
  if (target == "/api/clients/") {
    if (!get) co_return json_response(req, http::status::method_not_allowed, {{"detail", "Method Not Allowed"}});
    auto err = co_await ctx.db->probe(deadline);
    if (err) co_return json_response(req, http::status::service_unavailable, {{"detail", "database unavailable: " + *err}});
    nlohmann::json clients = nlohmann::json::array({
        {{"client_id", 1}, {"name", "Alpha Capital"}, {"strategy", "momentum"}, {"market_cap", "large"}},
        {{"client_id", 2}, {"name", "Beta Partners"}, {"strategy", "value"}, {"market_cap", "small"}},
    });
    co_return json_response(req, http::status::ok, clients);
  }
  co_return json_response(req, http::status::not_found, {{"detail", "Not Found"}});
}

// One request per connection (Connection: close). Every I/O phase has a deadline, so a silent
// client cannot pin a connection forever.
asio::awaitable<void> serve_connection(server_context& ctx, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  stream.expires_after(10s);
  auto [rec, rn] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
  (void)rn;
  if (rec) co_return;  // closed, timed out or garbage: nothing to answer

  auto res = co_await route(ctx, req);
  if (ctx.opts.delay.count() > 0) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(ctx.opts.delay);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  log_line(std::string(req.method_string()) + " " + std::string(req.target()) + " -> " +
           std::to_string(res.result_int()));
  stream.expires_after(10s);
  auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  (void)wn;
  (void)wec;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(server_context& ctx, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log_line("accept failed: " + ec.message());
      asio::steady_timer t(acceptor.get_executor());
      t.expires_after(100ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serve_connection(ctx, std::move(socket)),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log_line(std::string("connection error: ") + ex.what());
                     } catch (...) {
                       log_line("connection error: unknown");
                     }
                   });
  }
}

int run(const options& opts) {
  asio::io_context io(1);
  std::optional<database_prober> db;
  if (opts.mode == "api") db.emplace(io, opts.pg_conninfo);
  server_context ctx{opts, db ? &*db : nullptr};

  tcp::acceptor acceptor(io);
  try {
    tcp::endpoint ep(asio::ip::make_address(opts.host), opts.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const std::exception& e) {
    std::cerr << "acis-toy-service: cannot listen on " << opts.host << ":" << opts.port << ": " << e.what()
              << "\n";
    return 3;
  }

  if (!opts.pidfile.empty()) {
    std::ofstream pf(opts.pidfile, std::ios::trunc);
    pf << ::getpid() << "\n";
    if (!pf) {
      std::cerr << "acis-toy-service: cannot write pidfile " << opts.pidfile << "\n";
      return 3;
    }
  }

  const auto bound = acceptor.local_endpoint();
  std::cout << "listening " << bound.address().to_string() << ":" << bound.port() << std::endl;
  log_line("mode " + opts.mode + " on " + bound.address().to_string() + ":" + std::to_string(bound.port()));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log_line("signal " + std::to_string(sig) + ", stopping");
    beast::error_code ignored;
    acceptor.close(ignored);
    io.stop();
  });

  asio::co_spawn(io, accept_loop(ctx, acceptor), asio::detached);
  io.run();

  if (!opts.pidfile.empty()) {
    std::error_code ec;
    std::filesystem::remove(opts.pidfile, ec);
  }
  if (db && !db->shutdown(3s)) {
    // A pool thread is stuck in libpq (frozen server): it cannot be joined, and it holds
    // references into the event loop, so leave without running destructors.
    log_line("a database call is still blocked; exiting without joining it");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  options opts = parse_args(argc, argv);
  try {
    return run(opts);
  } catch (const std::exception& e) {
    std::cerr << "acis-toy-service: fatal: " << e.what() << "\n";
    return 3;
  }
}
