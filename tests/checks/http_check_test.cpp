// Tests of the `http` check kind: the URL parser and the judging logic as pure functions, and
// the check itself against real HTTP servers on 127.0.0.1.
#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "checks/http_check.hpp"
#include "checks/http_client.hpp"
#include "checks/kinds.hpp"
#include "tests/support/http_test_server.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using acis::test::http_test_reply;
using acis::test::http_test_request;
using acis::test::http_test_server;
using steady = std::chrono::steady_clock;

// ---- URL parser ---------------------------------------------------------------------------

url_parts parse_ok(std::string_view url) {
  std::string error;
  auto parts = parse_http_url(url, error);
  EXPECT_TRUE(parts.has_value()) << url << ": " << error;
  return parts.value_or(url_parts{});
}

// Well-formed http URLs split into host, port (default 80) and request target.
TEST(http_url, parses_good_urls) {
  auto a = parse_ok("http://127.0.0.1:8000/health");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "8000");
  EXPECT_EQ(a.target, "/health");
  EXPECT_EQ(a.host_header(), "127.0.0.1:8000");

  auto b = parse_ok("http://localhost");
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, "80");
  EXPECT_EQ(b.target, "/");
  EXPECT_EQ(b.host_header(), "localhost");

  auto c = parse_ok("HTTP://api.internal-host_1.example:3000/api/clients/?limit=1&x=y");
  EXPECT_EQ(c.host, "api.internal-host_1.example");
  EXPECT_EQ(c.port, "3000");
  EXPECT_EQ(c.target, "/api/clients/?limit=1&x=y");

  auto d = parse_ok("http://[::1]:9093/api/v2/alerts");
  EXPECT_EQ(d.host, "::1");
  EXPECT_EQ(d.port, "9093");
  EXPECT_EQ(d.host_header(), "[::1]:9093");
  EXPECT_EQ(d.display(), "http://[::1]:9093/api/v2/alerts");

  auto e = parse_ok("http://h?q=1");
  EXPECT_EQ(e.target, "/?q=1");
  EXPECT_EQ(parse_ok("http://h:080/").port, "80");
}

// A query string may carry a token, so the display form used in reasons hides it.
TEST(http_url, display_hides_the_query) {
  auto p = parse_ok("http://127.0.0.1:8000/health?token=s3cret");
  EXPECT_EQ(p.display(), "http://127.0.0.1:8000/health?...");
  EXPECT_EQ(p.display().find("s3cret"), std::string::npos);
}

// Anything that is not a plain http URL with a sane host and port is refused with a reason
// that does not repeat the URL (so credentials in it are not echoed).
TEST(http_url, rejects_bad_urls) {
  for (std::string_view bad :
       {"", "https://127.0.0.1/", "ftp://host/", "127.0.0.1:80/health", "http://", "http:///x",
        "http://:80/", "http://user:s3cret@host/", "http://host:0/", "http://host:65536/",
        "http://host:/", "http://host:8o/", "http://host:1:2/", "http://ho$t/", "http://host/a b",
        "http://host/\r\nX: y", "http://host/#frag", "http://[::1/", "http://[zz::x]/",
        "http://[::1]x/", "http://host:99999999999999999999/"}) {
    std::string error;
    auto parts = parse_http_url(bad, error);
    EXPECT_FALSE(parts.has_value()) << "accepted: " << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
  }
}

// ---- judging (pure) -----------------------------------------------------------------------

constexpr std::string_view url = "http://127.0.0.1:8000/health";

config::json_condition pointer_cond(std::string pointer) {
  config::json_condition c;
  c.pointer = std::move(pointer);
  return c;
}

// The order of verdicts: status, body, JSON, latency; an ok response reports its status.
TEST(http_evaluate, status_body_and_latency) {
  config::http_expect e;
  e.body_contains = "ok";
  e.max_latency = 2s;

  auto ok = evaluate_http_response(e, url, 200, "all ok", 15ms);
  EXPECT_EQ(ok.status, health::ok);
  EXPECT_EQ(ok.reason, "HTTP 200");
  EXPECT_EQ(ok.latency, 15ms);

  auto bad_status = evaluate_http_response(e, url, 500, "boom\n", 3s);
  EXPECT_EQ(bad_status.status, health::failing);
  EXPECT_EQ(bad_status.reason, "HTTP 500 from http://127.0.0.1:8000/health (expected 200): boom");

  auto bad_body = evaluate_http_response(e, url, 200, "degraded", 10ms);
  EXPECT_EQ(bad_body.status, health::failing);
  EXPECT_EQ(bad_body.reason, "body does not contain \"ok\" (body: \"degraded\")");

  auto slow = evaluate_http_response(e, url, 200, "ok", 2300ms);
  EXPECT_EQ(slow.status, health::degraded);
  EXPECT_EQ(slow.reason, "latency 2.3s over max_latency 2s");

  auto just_over = evaluate_http_response(e, url, 200, "ok", 2040ms);
  EXPECT_EQ(just_over.reason, "latency 2.04s over max_latency 2s");

  config::http_expect several;
  several.status = {200, 204};
  EXPECT_EQ(evaluate_http_response(several, url, 204, "", 1ms).status, health::ok);
  EXPECT_EQ(evaluate_http_response(several, url, 404, "", 1ms).reason,
            "HTTP 404 from http://127.0.0.1:8000/health (expected 200 or 204)");
  config::http_expect any_2xx;
  any_2xx.status.clear();
  EXPECT_EQ(evaluate_http_response(any_2xx, url, 299, "", 1ms).status, health::ok);
  EXPECT_EQ(evaluate_http_response(any_2xx, url, 302, "", 1ms).status, health::failing);
}

// A body excerpt in a reason is bounded and printable whatever the server sends.
TEST(http_evaluate, body_excerpt_is_bounded_and_printable) {
  std::string body(5000, 'x');
  body[3] = '\x1b';
  body[4] = '\0';
  body[5] = '\n';
  body[6] = '\xff';
  config::http_expect e;
  auto r = evaluate_http_response(e, url, 503, body, 1ms);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_LT(r.reason.size(), 300u);
  EXPECT_NE(r.reason.find("xxx.. .xxx"), std::string::npos) << r.reason;
  EXPECT_EQ(r.reason.substr(r.reason.size() - 3), "...");
  for (char c : r.reason) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
}

// A JSON condition: equality, numeric bounds, a missing pointer, a non-number, invalid JSON.
TEST(http_evaluate, json_conditions) {
  config::http_expect e;
  const std::string body = R"({"status":"up","db":{"lag":3.5,"ok":true},"items":[1,2]})";

  e.json = pointer_cond("/status");
  e.json->equals = "up";
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).status, health::ok);
  e.json->equals = "down";
  auto neq = evaluate_http_response(e, url, 200, body, 1ms);
  EXPECT_EQ(neq.status, health::failing);
  EXPECT_EQ(neq.reason, "/status is \"up\", expected \"down\"");

  e.json = pointer_cond("/db/lag");
  e.json->min = 1;
  e.json->max = 5;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).status, health::ok);
  e.json->max = 3;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).reason, "/db/lag is 3.5, above max 3");
  e.json->max.reset();
  e.json->min = 4;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).reason, "/db/lag is 3.5, below min 4");

  e.json = pointer_cond("/db/ok");
  e.json->equals = true;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).status, health::ok);
  e.json->equals.reset();
  e.json->min = 0;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).reason, "/db/ok is true, not a number");

  e.json = pointer_cond("/items/1");
  e.json->equals = 2.0;  // JSON equality: 2 == 2.0
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).status, health::ok);

  e.json = pointer_cond("/db/missing");
  e.json->equals = 1;
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).reason,
            "JSON pointer /db/missing not found in the body");
  e.json = pointer_cond("/items/99999999999999999999999");
  EXPECT_EQ(evaluate_http_response(e, url, 200, body, 1ms).status, health::failing);

  e.json = pointer_cond("/status");
  auto invalid = evaluate_http_response(e, url, 200, "<html>ok</html>", 1ms);
  EXPECT_EQ(invalid.status, health::failing);
  EXPECT_EQ(invalid.reason.rfind("body is not valid JSON: parse error", 0), 0u) << invalid.reason;
}

// Durations in reasons: sub-second in ms, otherwise seconds; limits as configured.
TEST(http_evaluate, formats) {
  EXPECT_EQ(format_seconds(250ms), "250ms");
  EXPECT_EQ(format_seconds(2s), "2.0s");
  EXPECT_EQ(format_seconds(12500ms), "12.5s");
  EXPECT_EQ(format_limit(2s), "2s");
  EXPECT_EQ(format_limit(1500ms), "1500ms");
  EXPECT_EQ(format_limit(5min), "5m");
  EXPECT_EQ(format_bytes(1024 * 1024), "1 MiB");
  EXPECT_EQ(format_bytes(1000), "1000 bytes");
}

// ---- the check against real servers ------------------------------------------------------

struct run_outcome {
  std::optional<check_result> result;  // nullopt: the fail-safe deadline passed
  std::chrono::nanoseconds took{0};
};

class http_check_test : public ::testing::Test {
 protected:
  std::unique_ptr<check> make(std::string url, config::http_expect expect = {},
                              std::string method = "GET",
                              std::vector<std::pair<std::string, std::string>> headers = {},
                              std::string body = {}) {
    config::check_config c;
    c.name = "api";
    config::http_check k;
    k.url = std::move(url);
    k.method = std::move(method);
    k.headers = std::move(headers);
    k.body = std::move(body);
    k.expect = std::move(expect);
    c.kind = k;
    return make_http_check(c, k, check_context{ioc_.get_executor(), nullptr});
  }

  // Runs the check once with `deadline` from now; the io_context runs at most `fail_safe`.
  run_outcome run(check& c, std::chrono::milliseconds deadline,
                  std::chrono::milliseconds fail_safe = 10s) {
    run_outcome out;
    const auto start = steady::now();
    ioc_.restart();
    asio::co_spawn(ioc_, c.run(start + deadline),
                   [&](std::exception_ptr e, acis::checks::attempt_result a) {
                     auto& results = a.targets;
                     EXPECT_TRUE(a.complete);
                     out.took = steady::now() - start;
                     EXPECT_FALSE(e) << "run() threw";
                     EXPECT_EQ(results.size(), 1u);
                     if (!results.empty()) out.result = results.front();
                     ioc_.stop();
                   });
    ioc_.run_for(fail_safe);
    EXPECT_TRUE(out.result.has_value()) << "the check did not complete within the fail-safe";
    return out;
  }

  asio::io_context ioc_{1};
};

http_test_server::handler reply_with(http_test_reply r) {
  return [r](const http_test_request&) { return r; };
}
http_test_server::handler answer(std::string body, int status = 200) {
  http_test_reply r;
  r.status = status;
  r.body = std::move(body);
  return reply_with(r);
}
http_test_server::handler answer_after(std::chrono::milliseconds delay,
                                       std::chrono::milliseconds body_delay = {}) {
  http_test_reply r;
  r.delay = delay;
  r.body_delay = body_delay;
  return reply_with(r);
}
http_test_server::handler act(http_test_reply::action a) {
  http_test_reply r;
  r.act = a;
  return reply_with(r);
}

// A 200 whose body holds the expected text is ok, with a measured latency.
TEST_F(http_check_test, ok_on_200_with_expected_body) {
  http_test_server server(answer("status: ok"));
  config::http_expect e;
  e.body_contains = "ok";
  auto c = make(server.url("/health"), e);
  auto r = run(*c, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::ok) << r.result->reason;
  EXPECT_EQ(r.result->reason, "HTTP 200");
  EXPECT_GT(r.result->latency, 0ns);
  EXPECT_LE(r.result->latency, r.took);
  EXPECT_EQ(r.result->target, "");
}

// The request carries the method, target, Host, User-Agent, configured headers and body;
// and a configured header's value (a secret) never appears in a reason.
TEST_F(http_check_test, sends_the_configured_request_and_never_leaks_headers) {
  http_test_server server(answer("nope", 500));
  auto c = make(server.url("/api/clients/?limit=1"), {}, "POST",
                {{"Authorization", "Bearer s3cret-token"}, {"X-Probe", "1"}}, R"({"ping":1})");
  auto r = run(*c, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason.find("s3cret"), std::string::npos) << r.result->reason;
  EXPECT_NE(r.result->reason.find("?..."), std::string::npos) << r.result->reason;

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/api/clients/?limit=1");
  EXPECT_EQ(reqs[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(reqs[0].header("User-Agent").rfind("acis-healthd", 0), 0u);
  EXPECT_EQ(reqs[0].header("Authorization"), "Bearer s3cret-token");
  EXPECT_EQ(reqs[0].header("X-Probe"), "1");
  EXPECT_EQ(reqs[0].body, R"({"ping":1})");
}

// A header value with a line break is refused before anything is sent, without echoing it.
TEST_F(http_check_test, refuses_header_injection) {
  http_test_server server(reply_with({}));
  auto c = make(server.url("/"), {}, "GET", {{"X-Token", "s3cret\r\nX-Evil: 1"}});
  auto r = run(*c, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("header #1"), std::string::npos) << r.result->reason;
  EXPECT_EQ(r.result->reason.find("s3cret"), std::string::npos) << r.result->reason;
  EXPECT_EQ(server.connections(), 0u);
}

// An unexpected status fails, naming the status, the URL and an excerpt of the body.
TEST_F(http_check_test, failing_on_500) {
  http_test_server server(answer("database is down\n", 500));
  auto c = make(server.url("/health"));
  auto r = run(*c, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason, "HTTP 500 from " + server.url("/health") +
                                  " (expected 200): database is down");
}

// A 200 without the expected text fails.
TEST_F(http_check_test, failing_on_wrong_body) {
  http_test_server server(answer("starting"));
  config::http_expect e;
  e.body_contains = "ok";
  auto c = make(server.url("/health"), e);
  auto r = run(*c, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason.rfind("body does not contain \"ok\"", 0), 0u) << r.result->reason;
}

// A JSON pointer condition holds or fails on a real response (equals and min).
TEST_F(http_check_test, json_pointer_condition) {
  http_test_reply json_reply;
  json_reply.body = R"({"status":"up","clients":3})";
  json_reply.headers = {{"Content-Type", "application/json"}};
  http_test_server server(reply_with(json_reply));
  config::http_expect e;
  e.json = pointer_cond("/status");
  e.json->equals = "up";
  auto r1 = run(*make(server.url("/health"), e), 5s);
  ASSERT_TRUE(r1.result);
  EXPECT_EQ(r1.result->status, health::ok) << r1.result->reason;

  e.json->equals = "degraded";
  auto r2 = run(*make(server.url("/health"), e), 5s);
  ASSERT_TRUE(r2.result);
  EXPECT_EQ(r2.result->status, health::failing);
  EXPECT_EQ(r2.result->reason, "/status is \"up\", expected \"degraded\"");

  e.json = pointer_cond("/clients");
  e.json->min = 1;
  auto r3 = run(*make(server.url("/health"), e), 5s);
  ASSERT_TRUE(r3.result);
  EXPECT_EQ(r3.result->status, health::ok) << r3.result->reason;

  e.json->min = 5;
  auto r4 = run(*make(server.url("/health"), e), 5s);
  ASSERT_TRUE(r4.result);
  EXPECT_EQ(r4.result->status, health::failing);
  EXPECT_EQ(r4.result->reason, "/clients is 3, below min 5");
}

// A slow but correct answer is degraded when slower than max_latency, ok when not.
TEST_F(http_check_test, slow_server_is_degraded_over_max_latency) {
  http_test_server server(answer_after(300ms));
  config::http_expect e;
  e.max_latency = 100ms;
  auto r = run(*make(server.url("/"), e), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::degraded) << r.result->reason;
  EXPECT_GE(r.result->latency, 300ms);
  EXPECT_NE(r.result->reason.find("over max_latency 100ms"), std::string::npos) << r.result->reason;

  e.max_latency = 5s;
  auto r2 = run(*make(server.url("/"), e), 5s);
  ASSERT_TRUE(r2.result);
  EXPECT_EQ(r2.result->status, health::ok) << r2.result->reason;
}

// A server slower than the deadline fails with a timeout naming the phase, and the check
// returns at the deadline, not when the server finally answers.
TEST_F(http_check_test, slow_server_beyond_deadline_times_out) {
  http_test_server server(answer_after(5s));
  auto r = run(*make(server.url("/"), {}), 1s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("timeout after 1.0"), std::string::npos) << r.result->reason;
  EXPECT_NE(r.result->reason.find("while reading the response headers"), std::string::npos)
      << r.result->reason;
  EXPECT_GE(r.took, 1s);
  EXPECT_LT(r.took, 2s);
}

// Headers in time but a body that comes too late: the timeout names the body phase.
TEST_F(http_check_test, slow_body_times_out_in_the_body_phase) {
  http_test_server server(answer_after(0ms, 5s));
  auto r = run(*make(server.url("/"), {}), 700ms);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("while reading the response body"), std::string::npos)
      << r.result->reason;
  EXPECT_LT(r.took, 1700ms);
}

// A server that accepts and never answers fails with a timeout within the deadline.
TEST_F(http_check_test, never_answering_server_times_out) {
  http_test_server server(act(http_test_reply::action::never_answer));
  auto r = run(*make(server.url("/"), {}), 800ms);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("timeout after"), std::string::npos) << r.result->reason;
  EXPECT_GE(r.result->latency, 800ms);
  EXPECT_LT(r.took, 1800ms);
}

// A server that closes without answering fails at once, saying so.
TEST_F(http_check_test, server_closing_without_answer_fails) {
  http_test_server server(act(http_test_reply::action::close));
  auto r = run(*make(server.url("/"), {}), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason, "GET " + server.url("/") +
                                  ": connection closed by the server while reading the response "
                                  "headers");
  EXPECT_LT(r.took, 2s);
}

// Nothing listening: connection refused, at once, naming the phase.
TEST_F(http_check_test, connection_refused) {
  const auto port = acis::test::unused_loopback_port();
  auto r = run(*make("http://127.0.0.1:" + std::to_string(port) + "/health", {}), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason, "GET http://127.0.0.1:" + std::to_string(port) +
                                  "/health: connection refused while connecting");
  EXPECT_LT(r.took, 2s);
}

// A host name goes through the resolver (localhost is in /etc/hosts: no DNS traffic).
TEST_F(http_check_test, resolves_localhost) {
  http_test_server server(reply_with({}));
  auto r = run(*make("http://localhost:" + std::to_string(server.port()) + "/", {}), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::ok) << r.result->reason;
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("Host"), "localhost:" + std::to_string(server.port()));
}

// A body over the bound (1 MiB) fails instead of being buffered without limit.
TEST_F(http_check_test, body_larger_than_bound_fails) {
  http_test_server server(answer(std::string(2 * 1024 * 1024, 'a')));
  auto r = run(*make(server.url("/"), {}), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("body larger than 1 MiB"), std::string::npos)
      << r.result->reason;
}

// A body just under the bound is read whole.
TEST_F(http_check_test, body_under_bound_is_read) {
  std::string body(1024 * 1024 - 10, 'a');
  body += "healthy";
  http_test_server server(answer(body));
  config::http_expect e;
  e.body_contains = "healthy";
  auto r = run(*make(server.url("/"), e), 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::ok) << r.result->reason;
}

// An invalid URL that slipped past config validation fails every run instead of throwing.
TEST_F(http_check_test, invalid_url_fails_without_throwing) {
  auto r = run(*make("https://127.0.0.1/"), 1s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_EQ(r.result->reason.rfind("invalid url: ", 0), 0u) << r.result->reason;
}

// A deadline already past: failing at once, no connection attempted.
TEST_F(http_check_test, deadline_already_passed) {
  http_test_server server(reply_with({}));
  auto r = run(*make(server.url("/"), {}), 0ms);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("timeout"), std::string::npos) << r.result->reason;
  EXPECT_EQ(server.connections(), 0u);
}

// Fills a listen queue (backlog 0) with idle connections so that the next SYN is dropped.
// Returns false when this kernel still completes handshakes (then the test is skipped).
bool fill_listen_queue(asio::io_context& ioc, asio::ip::tcp::acceptor& acceptor,
                       std::vector<asio::ip::tcp::socket>& fillers) {
  using asio::ip::tcp;
  acceptor.open(tcp::v4());
  acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acceptor.listen(0);
  for (int i = 0; i < 16; ++i) {
    tcp::socket s(ioc);
    bool connected = false;
    s.async_connect(acceptor.local_endpoint(),
                    [&](boost::system::error_code ec) { connected = !ec; });
    ioc.restart();
    ioc.run_for(300ms);
    if (!connected) {
      s.close();
      ioc.restart();
      ioc.run_for(50ms);  // let the cancelled connect complete
      return true;
    }
    fillers.push_back(std::move(s));
  }
  return false;
}

// A listener that never accepts, its queue full: the connect phase times out at the deadline.
TEST_F(http_check_test, full_backlog_times_out_while_connecting) {
  asio::ip::tcp::acceptor acceptor(ioc_);
  std::vector<asio::ip::tcp::socket> fillers;
  if (!fill_listen_queue(ioc_, acceptor, fillers))
    GTEST_SKIP() << "this kernel completes handshakes beyond the backlog";
  const auto port = acceptor.local_endpoint().port();
  auto r = run(*make("http://127.0.0.1:" + std::to_string(port) + "/", {}), 800ms);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::failing);
  EXPECT_NE(r.result->reason.find("while connecting"), std::string::npos) << r.result->reason;
  EXPECT_NE(r.result->reason.find("timeout after"), std::string::npos) << r.result->reason;
  EXPECT_LT(r.took, 1800ms);
}

// The scheduler races run() against its own timer with `||`: a check blocked on a silent
// server must give way promptly when the timer wins, and the race must not throw.
TEST_F(http_check_test, cancelled_by_awaitable_race) {
  using namespace asio::experimental::awaitable_operators;
  http_test_server server(act(http_test_reply::action::never_answer));
  auto c = make(server.url("/"), {});
  const auto start = steady::now();
  std::optional<std::size_t> winner;
  std::chrono::nanoseconds took{0};
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<std::size_t> {
        asio::steady_timer timer(ioc_, 200ms);
        auto v = co_await (c->run(start + 10s) || timer.async_wait(asio::use_awaitable));
        co_return v.index();
      },
      [&](std::exception_ptr e, std::size_t index) {
        took = steady::now() - start;
        EXPECT_FALSE(e) << "the race threw";
        if (!e) winner = index;
        ioc_.stop();
      });
  ioc_.run_for(10s);
  ASSERT_TRUE(winner.has_value()) << "the race did not complete within the fail-safe";
  EXPECT_EQ(*winner, 1u);  // the timer
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 1200ms);

  // The same check object runs normally afterwards.
  http_test_server good(reply_with({}));
  auto c2 = make(good.url("/"), {});
  auto r = run(*c2, 5s);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->status, health::ok);
}

// Cancellation also reaches the connect phase (a listener whose queue is full).
TEST_F(http_check_test, cancelled_while_connecting) {
  using namespace asio::experimental::awaitable_operators;
  asio::ip::tcp::acceptor acceptor(ioc_);
  std::vector<asio::ip::tcp::socket> fillers;
  if (!fill_listen_queue(ioc_, acceptor, fillers))
    GTEST_SKIP() << "this kernel completes handshakes beyond the backlog";
  auto c = make("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/", {});
  const auto start = steady::now();
  std::optional<std::size_t> winner;
  std::chrono::nanoseconds took{0};
  ioc_.restart();
  asio::co_spawn(
      ioc_,
      [&]() -> asio::awaitable<std::size_t> {
        asio::steady_timer timer(ioc_, 200ms);
        auto v = co_await (c->run(start + 10s) || timer.async_wait(asio::use_awaitable));
        co_return v.index();
      },
      [&](std::exception_ptr e, std::size_t index) {
        took = steady::now() - start;
        EXPECT_FALSE(e);
        if (!e) winner = index;
        ioc_.stop();
      });
  ioc_.run_for(10s);
  ASSERT_TRUE(winner.has_value());
  EXPECT_EQ(*winner, 1u);
  EXPECT_LT(took, 1200ms);
}

}  // namespace
}  // namespace acis::checks
