// The reader of "type": "http" checks: url (http only), method, headers, body and
// expect {status, body_contains, json condition, max_latency}.

#include <algorithm>
#include <string>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

namespace {

bool is_http_token(std::string_view s) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

}  // namespace

http_check read_http_check(json_walker& w, const json& j, const std::string& ptr) {
  http_check h;
  if (w.require(j, ptr, "url"))
    w.field(j, ptr, "url", h.url, [&](const json& v, const std::string& p) { return w.url(v, p); });
  w.field(j, ptr, "method", h.method,
          [&](const json& v, const std::string& p) { return w.method(v, p); });
  w.with(j, ptr, "headers", [&](const json& v, const std::string& p) {
    if (!w.object(v, p)) return;
    for (const auto& [key, value] : v.items()) {
      auto q = child(p, key);
      if (!is_http_token(key)) {
        w.fault(q, "not a valid header name: " + quote(key));
        continue;
      }
      auto s = w.string(value, q);
      if (!s) continue;
      if (s->find_first_of("\r\n") != std::string::npos) {
        w.fault(q, "a header value must not contain CR or LF");
        continue;
      }
      h.headers.emplace_back(key, *s);
    }
  });
  w.field(j, ptr, "body", h.body,
          [&](const json& v, const std::string& p) { return w.string(v, p); });
  w.with(j, ptr, "expect", [&](const json& v, const std::string& p) {
    if (!w.object(v, p)) return;
    w.check_keys(v, p, {"status", "body_contains", "json", "max_latency"});
    w.field(v, p, "status", h.expect.status,
            [&](const json& s, const std::string& q) { return w.int_list(s, q, 100, 599); });
    w.field(v, p, "body_contains", h.expect.body_contains,
            [&](const json& s, const std::string& q) { return w.nonempty_string(s, q); });
    w.with(v, p, "json", [&](const json& s, const std::string& q) {
      json_condition cond;
      if (w.read_condition(s, q, "pointer", cond.pointer, cond.equals, cond.min, cond.max))
        h.expect.json = std::move(cond);
    });
    w.field(v, p, "max_latency", h.expect.max_latency,
            [&](const json& s, const std::string& q) { return w.positive_duration(s, q); });
  });
  return h;
}

}  // namespace acis::config::detail
