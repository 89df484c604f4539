// A minimal HTTP/1.1 client for the event loop: one request, one fresh connection, one
// deadline. Used by the `http` check kind, the runbook `http` step and the Alertmanager
// notifier. Beast stays out of this header (it is costly to compile); only Asio's awaitable.
//
// Contract of http_request():
//  - Never throws for an expected failure (unresolvable host, refused or reset connection,
//    timeout, malformed or oversized response): the result carries an http_error instead.
//  - Never runs past `deadline`: every phase (resolve, connect, write, read) is bounded by the
//    time left to it. A host name whose resolution hangs is abandoned at the deadline (the
//    resolver thread finishes on its own; its late answer is dropped).
//  - Reacts to per-operation cancellation (e.g. being the loser of an awaitable `||` race)
//    promptly, completing with an http_error of kind `cancelled`, and starts no further
//    asynchronous operation after it.
//  - Must be awaited on a single-threaded executor (the daemon's event loop) or a strand.
//  - Messages in http_error never contain header values or the URL's query string.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace acis::checks {

// The parts of an `http://host[:port]/path?query` URL. Only plain http is supported.
struct url_parts {
  std::string host;    // a name, an IPv4 literal or an IPv6 literal without brackets
  std::string port;    // decimal, "80" when the URL has none
  std::string target;  // path and query as sent on the request line, at least "/"

  // The Host header value: host[:port], IPv6 literals bracketed, ":80" omitted.
  std::string host_header() const;
  // "http://host:port/path" for reasons and logs; a query string shows as "?..." because it
  // may carry a token.
  std::string display() const;
};

// Parses an absolute http URL. On failure returns nullopt and sets `error` to a message that
// does not repeat the URL (the caller knows it). Rejects other schemes, user:password@
// (credentials belong in a header, never in a URL that ends up in logs), fragments, empty
// hosts, bad ports and control characters or spaces anywhere.
std::optional<url_parts> parse_http_url(std::string_view url, std::string& error);

struct http_request_spec {
  std::string method = "GET";
  // Sent as given after the defaults (Host, User-Agent, Connection: close); a configured
  // Host or User-Agent replaces the default. Values are never echoed in errors.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Length when non-empty (or for methods with a body)
  std::size_t max_body_bytes = 1024 * 1024;
};

struct http_response {
  int status = 0;
  std::string body;  // at most max_body_bytes
  std::optional<std::string> content_type;
};

enum class http_phase { resolve, connect, write, read_header, read_body };
// "resolving the host", "connecting", "sending the request", "reading the response headers",
// "reading the response body".
std::string_view describe(http_phase p);

struct http_error {
  enum class kind {
    failed,          // resolve/connect/IO/protocol error; `message` says which
    timeout,         // the deadline passed during `phase`
    body_too_large,  // the body exceeded max_body_bytes
    cancelled,       // per-operation cancellation was requested
    bad_request,     // the spec itself is unusable (bad method or header); nothing was sent
  };
  kind what = kind::failed;
  http_phase phase = http_phase::resolve;
  // A complete human-readable sentence fragment, e.g. "connection refused while connecting",
  // "timeout after 2.0s while reading the response headers", "body larger than 1 MiB".
  std::string message;
};

struct http_result {
  std::optional<http_response> response;  // set on success (any status code)
  http_error error;                       // meaningful only when !response
  std::chrono::nanoseconds elapsed{0};    // from the call until completion
  explicit operator bool() const { return response.has_value(); }
};

// Sends one request on a new connection (Connection: close) and reads the whole response.
// See the contract at the top of this file.
boost::asio::awaitable<http_result> http_request(boost::asio::any_io_executor ex, url_parts url,
                                                 http_request_spec spec,
                                                 std::chrono::steady_clock::time_point deadline);

// Formatting helpers shared by the users of this client.
std::string format_seconds(std::chrono::nanoseconds d);  // "2.0s", "0.3s", "12.5s"
std::string format_bytes(std::size_t n);                 // "1 MiB", "64 KiB", "1000 bytes"
// At most `max_chars` characters of `text`, non-printable bytes shown as '.', newlines and
// tabs as spaces, "..." appended when cut.
std::string printable_excerpt(std::string_view text, std::size_t max_chars);

}  // namespace acis::checks
