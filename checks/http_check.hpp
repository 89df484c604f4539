// The judging half of the `http` check kind, pure so that it can be tested without a server.
// The I/O half is make_http_check() (checks/kinds.hpp) on top of http_request()
// (checks/http_client.hpp).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "checks/check_result.hpp"
#include "config/config.hpp"

namespace acis::checks {

// Judges one received response against `expect`, in this order: status (an empty list means
// any 2xx), body_contains, the JSON condition, then max_latency (only an otherwise good
// response can be `degraded`). `url` is what reasons show (url_parts::display()).
// Reasons hold at most a short printable excerpt of the body, never a header. Never throws
// for any body.
check_result evaluate_http_response(const config::http_expect& expect, std::string_view url,
                                    int status, std::string_view body,
                                    std::chrono::nanoseconds latency);

// "2s", "1500ms", "2m": a configured limit as written in a reason.
std::string format_limit(std::chrono::milliseconds d);

}  // namespace acis::checks
