#include "checks/http_client.hpp"

// g++ 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (their class-level
// operator new/delete recycle memory), once inlined at -O2 (GCC PR 109224, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace acis::checks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

// ---- URL ----------------------------------------------------------------------------------

namespace {

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool parse_port(std::string_view text, std::string& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
    return false;
  port = std::to_string(value);
  return true;
}

}  // namespace

std::optional<url_parts> parse_http_url(std::string_view url, std::string& error) {
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      error = "the URL contains a space or a control character";
      return std::nullopt;
    }
  }
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), url.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    error = url.substr(0, 8).find("https:") == 0 || url.substr(0, 8).find("HTTPS:") == 0
                ? "https is not supported; expected http://host[:port]/path"
                : "expected http://host[:port]/path";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  if (rest.find('#') != std::string_view::npos) {
    error = "a URL fragment (#...) is not allowed";
    return std::nullopt;
  }
  const auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    error = "credentials in the URL are not allowed; send them in a header";
    return std::nullopt;
  }

  url_parts parts;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 address";
      return std::nullopt;
    }
    parts.host = std::string(authority.substr(1, close - 1));
    error_code ec;
    asio::ip::make_address_v6(parts.host, ec);
    if (ec) {
      error = "invalid IPv6 address";
      return std::nullopt;
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected characters after the IPv6 address";
        return std::nullopt;
      }
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    if (authority.empty()) {
      error = "the URL has no host";
      return std::nullopt;
    }
    if (!std::all_of(authority.begin(), authority.end(), is_host_char)) {
      error = "invalid host name";
      return std::nullopt;
    }
    parts.host = std::string(authority);
  }
  if (parts.host.empty()) {
    error = "the URL has no host";
    return std::nullopt;
  }
  if (has_port) {
    if (!parse_port(port_text, parts.port)) {
      error = "invalid port (expected 1-65535)";
      return std::nullopt;
    }
  } else {
    parts.port = "80";
  }
  if (target.empty()) parts.target = "/";
  else if (target.front() == '?') parts.target = "/" + std::string(target);
  else parts.target = std::string(target);
  return parts;
}

std::string url_parts::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != "80") h += ":" + port;
  return h;
}

std::string url_parts::display() const {
  std::string d = "http://";
  d += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  d += ":" + port;
  const auto q = target.find('?');
  d += target.substr(0, q);
  if (q != std::string::npos) d += "?...";
  return d;
}

// ---- formatting ---------------------------------------------------------------------------

std::string format_seconds(std::chrono::nanoseconds d) {
  char buf[64];
  if (d < std::chrono::seconds(1)) {
    const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    std::snprintf(buf, sizeof buf, "%lldms", ms < 0 ? 0 : ms);
    return buf;
  }
  // Two decimals, trailing zeros trimmed to one: "2.3s", "2.04s", "12.0s". Enough to show
  // that 2.04s is over a 2s limit without pretending to more precision.
  std::snprintf(buf, sizeof buf, "%.2f", std::chrono::duration<double>(d).count());
  std::string s = buf;
  if (s.size() > 1 && s.back() == '0') s.pop_back();
  return s + "s";
}

std::string format_bytes(std::size_t n) {
  constexpr std::size_t kib = 1024, mib = 1024 * 1024;
  if (n >= mib && n % mib == 0) return std::to_string(n / mib) + " MiB";
  if (n >= kib && n % kib == 0) return std::to_string(n / kib) + " KiB";
  return std::to_string(n) + " bytes";
}

std::string printable_excerpt(std::string_view text, std::size_t max_chars) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  const bool cut = text.size() > max_chars;
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + 3);
  for (char c : text.substr(0, max_chars)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') out += ' ';
    else if (u < 0x20 || u >= 0x7f) out += '.';
    else out += c;
  }
  if (cut) out += "...";
  return out;
}

std::string_view describe(http_phase p) {
  switch (p) {
    case http_phase::resolve: return "resolving the host";
    case http_phase::connect: return "connecting";
    case http_phase::write: return "sending the request";
    case http_phase::read_header: return "reading the response headers";
    case http_phase::read_body: return "reading the response body";
  }
  return "?";
}

// ---- the request --------------------------------------------------------------------------

namespace {

bool is_token(std::string_view s) {
  // RFC 9110 token: the characters allowed in a method or header name.
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

bool is_field_value(std::string_view s) {
  // No CR, LF or NUL: a header value must not be able to inject another header.
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// State of one host-name resolution. It is shared with the resolver's completion handler so
// that the caller can walk away at its deadline (or on cancellation) while getaddrinfo, which
// cannot be interrupted, finishes on the resolver's own thread.
struct resolve_state {
  explicit resolve_state(const asio::any_io_executor& ex) : resolver(ex), wake(ex) {}
  tcp::resolver resolver;
  asio::steady_timer wake;  // used as an event: cancelled when the answer arrives
  std::optional<error_code> ec;
  tcp::resolver::results_type results;
};

}  // namespace

asio::awaitable<http_result> http_request(asio::any_io_executor ex, url_parts url,
                                          http_request_spec spec, steady::time_point deadline) {
  const auto start = steady::now();
  http_result result;
  auto fail = [&](http_error::kind what, http_phase phase, std::string message) {
    result.response.reset();
    result.error = http_error{what, phase, std::move(message)};
    result.elapsed = steady::now() - start;
    return std::move(result);
  };
  auto timeout = [&](http_phase phase) {
    return fail(http_error::kind::timeout, phase,
                "timeout after " + format_seconds(steady::now() - start) + " while " +
                    std::string(describe(phase)));
  };
  auto cancelled = [&](http_phase phase) {
    return fail(http_error::kind::cancelled, phase,
                "cancelled while " + std::string(describe(phase)));
  };
  // Once a cancellation was requested, no new asynchronous operation (nor awaitable) may be
  // co_awaited: the awaitable machinery would throw operation_aborted. So every phase asks
  // first, and completes with a `cancelled` error instead. The state is a handle: it reads
  // the live value each time.
  const auto cancellation = co_await asio::this_coro::cancellation_state;
  auto is_cancelled = [&] { return cancellation.cancelled() != asio::cancellation_type::none; };

  // Build the request before touching the network: a bad spec sends nothing.
  if (!is_token(spec.method))
    co_return fail(http_error::kind::bad_request, http_phase::write, "invalid HTTP method");
  http::request<http::string_body> req;
  req.version(11);
  req.target(url.target);
  if (auto verb = http::string_to_verb(spec.method); verb != http::verb::unknown)
    req.method(verb);
  else
    req.method_string(spec.method);
  req.set(http::field::host, url.host_header());
#ifdef ACIS_VERSION
  req.set(http::field::user_agent, "acis-healthd/" ACIS_VERSION);
#else
  req.set(http::field::user_agent, "acis-healthd");
#endif
  req.set(http::field::connection, "close");
  for (std::size_t i = 0; i < spec.headers.size(); ++i) {
    const auto& [name, value] = spec.headers[i];
    if (!is_token(name) || !is_field_value(value)) {
      // Name the header by position only: its value may be a secret.
      co_return fail(http_error::kind::bad_request, http_phase::write,
                     "header #" + std::to_string(i + 1) + " has an invalid name or value");
    }
    req.set(name, value);
  }
  const bool has_body = !spec.body.empty();
  req.body() = std::move(spec.body);
  if (has_body || req.method() == http::verb::post || req.method() == http::verb::put ||
      req.method() == http::verb::patch)
    req.prepare_payload();

  // ---- resolve
  std::vector<tcp::endpoint> endpoints;
  {
    unsigned short port = 0;
    const auto [end, port_ec] =
        std::from_chars(url.port.data(), url.port.data() + url.port.size(), port);
    if (port_ec != std::errc{} || end != url.port.data() + url.port.size() || port == 0)
      co_return fail(http_error::kind::bad_request, http_phase::resolve, "invalid port");
    error_code addr_ec;
    const auto address = asio::ip::make_address(url.host, addr_ec);
    if (!addr_ec) {
      endpoints.emplace_back(address, port);
    } else {
      if (steady::now() >= deadline) co_return timeout(http_phase::resolve);
      auto st = std::make_shared<resolve_state>(ex);
      st->wake.expires_at(deadline);
      // No AI_ADDRCONFIG (Asio's default): on a host whose only configured addresses are
      // loopback, glibc would then refuse to resolve "localhost" at all.
      st->resolver.async_resolve(url.host, url.port, tcp::resolver::numeric_service,
                                 [st](const error_code& ec, tcp::resolver::results_type r) {
                                   st->ec = ec;
                                   st->results = std::move(r);
                                   st->wake.cancel();
                                 });
      co_await st->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!st->ec) {
        st->resolver.cancel();  // best effort; the answer, if any, is dropped
        if (is_cancelled()) co_return cancelled(http_phase::resolve);
        co_return timeout(http_phase::resolve);
      }
      if (*st->ec) {
        co_return fail(http_error::kind::failed, http_phase::resolve,
                       "cannot resolve host \"" + url.host + "\": " + lower_first(st->ec->message()));
      }
      for (const auto& entry : st->results) endpoints.push_back(entry.endpoint());
      if (endpoints.empty()) {
        co_return fail(http_error::kind::failed, http_phase::resolve,
                       "host \"" + url.host + "\" has no address");
      }
    }
  }
  if (is_cancelled()) co_return cancelled(http_phase::resolve);

  // Maps an I/O error of `phase` to an http_error. Timeout and cancellation first: after
  // either, the stream is closed and the error code says little.
  auto io_failure = [&](const error_code& ec, http_phase phase) {
    if (ec == beast::error::timeout) return timeout(phase);
    if (ec == asio::error::operation_aborted) return cancelled(phase);
    if (ec == http::error::body_limit)
      return fail(http_error::kind::body_too_large, phase,
                  "body larger than " + format_bytes(spec.max_body_bytes));
    if (ec == http::error::end_of_stream || ec == asio::error::eof)
      return fail(http_error::kind::failed, phase,
                  "connection closed by the server while " + std::string(describe(phase)));
    if (ec == http::error::partial_message)
      return fail(http_error::kind::failed, phase,
                  "connection closed by the server in the middle of " +
                      std::string(phase == http_phase::read_body ? "the response body"
                                                                 : "the response headers"));
    if (ec.category() == http::make_error_code(http::error::bad_version).category())
      return fail(http_error::kind::failed, phase,
                  "invalid HTTP response (" + ec.message() + ") while " +
                      std::string(describe(phase)));
    return fail(http_error::kind::failed, phase,
                lower_first(ec.message()) + " while " + std::string(describe(phase)));
  };

  // ---- connect
  beast::tcp_stream stream(ex);
  if (steady::now() >= deadline) co_return timeout(http_phase::connect);
  stream.expires_at(deadline);
  {
    auto [ec, ep] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return io_failure(ec, http_phase::connect);
  }
  if (is_cancelled()) co_return cancelled(http_phase::connect);

  // ---- write
  if (steady::now() >= deadline) co_return timeout(http_phase::write);
  stream.expires_at(deadline);
  {
    auto [ec, n] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return io_failure(ec, http_phase::write);
  }
  if (is_cancelled()) co_return cancelled(http_phase::write);

  // ---- read the header, then the body (bounded)
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(spec.max_body_bytes);
  if (req.method() == http::verb::head) parser.skip(true);
  if (steady::now() >= deadline) co_return timeout(http_phase::read_header);
  stream.expires_at(deadline);
  {
    auto [ec, n] =
        co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return io_failure(ec, http_phase::read_header);
  }
  if (is_cancelled()) co_return cancelled(http_phase::read_header);
  if (!parser.is_done()) {
    if (steady::now() >= deadline) co_return timeout(http_phase::read_body);
    stream.expires_at(deadline);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return io_failure(ec, http_phase::read_body);
    if (is_cancelled()) co_return cancelled(http_phase::read_body);
  }

  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  auto& res = parser.get();
  http_response out;
  out.status = static_cast<int>(res.result_int());
  if (auto it = res.find(http::field::content_type); it != res.end())
    out.content_type = std::string(it->value());
  out.body = std::move(res.body());
  result.response = std::move(out);
  result.elapsed = steady::now() - start;
  co_return std::move(result);
}

}  // namespace acis::checks
