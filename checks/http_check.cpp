// The `http` check kind: one request per run on a fresh connection, judged against the
// configured expectations. I/O lives in http_client.cpp; this file holds no Beast.
#include "checks/http_check.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <nlohmann/json.hpp>

#include "checks/http_client.hpp"
#include "checks/kinds.hpp"

namespace acis::checks {

namespace {

constexpr std::size_t max_body_bytes = 1024 * 1024;
constexpr std::size_t body_excerpt_chars = 200;
constexpr std::size_t value_excerpt_chars = 100;

std::string quoted_excerpt(std::string_view text, std::size_t max_chars) {
  return "\"" + printable_excerpt(text, max_chars) + "\"";
}

std::string json_excerpt(const nlohmann::json& value) {
  // replace: a string holding invalid UTF-8 must not make dump() throw.
  return printable_excerpt(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                           value_excerpt_chars);
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// nullopt when the JSON condition holds; otherwise why it does not.
std::optional<std::string> json_condition_fault(const config::json_condition& cond,
                                                std::string_view body) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
    if (auto close = what.find("] "); what.rfind("[json.exception.", 0) == 0 && close != what.npos)
      what = what.substr(close + 2);
    return "body is not valid JSON: " + printable_excerpt(what, body_excerpt_chars);
  }
  try {
    const nlohmann::json::json_pointer pointer(cond.pointer);
    if (!doc.contains(pointer)) return "JSON pointer " + cond.pointer + " not found in the body";
    const nlohmann::json& value = doc.at(pointer);
    if (cond.equals && value != *cond.equals) {
      return cond.pointer + " is " + json_excerpt(value) + ", expected " +
             json_excerpt(*cond.equals);
    }
    if (cond.min || cond.max) {
      if (!value.is_number()) {
        return cond.pointer + " is " + json_excerpt(value) + ", not a number";
      }
      const double v = value.get<double>();
      if (cond.min && !(v >= *cond.min))
        return cond.pointer + " is " + json_excerpt(value) + ", below min " +
               format_number(*cond.min);
      if (cond.max && !(v <= *cond.max))
        return cond.pointer + " is " + json_excerpt(value) + ", above max " +
               format_number(*cond.max);
    }
  } catch (const nlohmann::json::exception&) {
    // Config validation checks pointer syntax; an array index too large to parse ends here.
    return "JSON pointer " + cond.pointer + " cannot be evaluated on the body";
  }
  return std::nullopt;
}

bool status_expected(const std::vector<int>& expected, int status) {
  if (expected.empty()) return status >= 200 && status <= 299;
  return std::find(expected.begin(), expected.end(), status) != expected.end();
}

std::string expected_statuses(const std::vector<int>& expected) {
  if (expected.empty()) return "2xx";
  std::string s;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (i) s += expected.size() == 2 ? " or " : (i + 1 == expected.size() ? ", or " : ", ");
    s += std::to_string(expected[i]);
  }
  return s;
}

class http_check final : public check {
 public:
  http_check(const config::http_check& k, check_context ctx) : ctx_(std::move(ctx)) {
    expect_ = k.expect;
    spec_.method = k.method;
    spec_.headers = k.headers;
    spec_.body = k.body;
    spec_.max_body_bytes = max_body_bytes;
    std::string error;
    url_ = parse_http_url(k.url, error);
    // Config validation should have refused such a URL; if one slips through, every run
    // reports it instead of the daemon failing to start.
    if (!url_) url_error_ = "invalid url: " + error;
    else display_ = url_->display();
  }

  boost::asio::awaitable<attempt_result> run(
      std::chrono::steady_clock::time_point deadline) override {
    if (!url_) co_return attempt_result::single(check_result::failing(url_error_));
    auto ex = ctx_.io ? ctx_.io : co_await boost::asio::this_coro::executor;
    http_result r = co_await http_request(ex, *url_, spec_, deadline);
    check_result out;
    if (!r) {
      out = check_result::failing(spec_.method + " " + display_ + ": " + r.error.message);
    } else {
      out = evaluate_http_response(expect_, display_, r.response->status, r.response->body,
                                   r.elapsed);
    }
    out.latency = r.elapsed;
    co_return attempt_result::single(std::move(out));
  }

 private:
  check_context ctx_;
  config::http_expect expect_;
  http_request_spec spec_;
  std::optional<url_parts> url_;
  std::string url_error_;
  std::string display_;
};

}  // namespace

std::string format_limit(std::chrono::milliseconds d) {
  using namespace std::chrono;
  const auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

check_result evaluate_http_response(const config::http_expect& expect, std::string_view url,
                                    int status, std::string_view body,
                                    std::chrono::nanoseconds latency) {
  check_result out;
  out.latency = latency;
  if (!status_expected(expect.status, status)) {
    out.status = health::failing;
    out.reason = "HTTP " + std::to_string(status) + " from " + std::string(url) + " (expected " +
                 expected_statuses(expect.status) + ")";
    if (auto excerpt = printable_excerpt(body, body_excerpt_chars); !excerpt.empty())
      out.reason += ": " + excerpt;
    return out;
  }
  if (expect.body_contains && body.find(*expect.body_contains) == std::string_view::npos) {
    out.status = health::failing;
    out.reason = "body does not contain " + quoted_excerpt(*expect.body_contains, 100) +
                 " (body: " + quoted_excerpt(body, body_excerpt_chars) + ")";
    return out;
  }
  if (expect.json) {
    if (auto fault = json_condition_fault(*expect.json, body)) {
      out.status = health::failing;
      out.reason = std::move(*fault);
      return out;
    }
  }
  if (expect.max_latency && latency > *expect.max_latency) {
    out.status = health::degraded;
    out.reason = "latency " + format_seconds(latency) + " over max_latency " +
                 format_limit(*expect.max_latency);
    return out;
  }
  out.status = health::ok;
  out.reason = "HTTP " + std::to_string(status);
  return out;
}

std::unique_ptr<check> make_http_check(const config::check_config&, const config::http_check& k,
                                       check_context ctx) {
  return std::make_unique<http_check>(k, std::move(ctx));
}

}  // namespace acis::checks
