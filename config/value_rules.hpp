// What a valid value of the config looks like: names, URLs, addresses, JSON pointers, step
// placeholders. Pure predicates (no faults recorded); the walker and the readers turn a "no"
// into a fault with the message of their place.
//
// Internal to config/ (not included by config.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace acis::config::detail {

// A check or runbook name: letters, digits, '.', '_', '-', starting with a letter or digit,
// at most 100 characters.
bool is_name(std::string_view s);
bool is_env_name(std::string_view s);
// "host:port"; port 0 allowed when min_port is 0 (bind to any free port, as tests do).
bool is_host_port(std::string_view s, int min_port);
bool is_json_pointer(const std::string& s);

// The reason an http URL is unusable, or nullopt when it is fine. A URL in the message has its
// user info replaced by "***@", so that a refused URL never echoes a credential.
std::optional<std::string> url_problem(std::string_view url);

// Step arguments may carry {check}, {target}, {model}, {backup}, {incident}, {severity};
// anything else in braces that looks like one is a typo that would otherwise reach a command
// line verbatim. The reason, or nullopt.
std::optional<std::string> placeholder_problem(std::string_view s);

}  // namespace acis::config::detail
