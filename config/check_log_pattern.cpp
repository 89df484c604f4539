// The reader of "type": "log_pattern" checks: path (absolute), pattern (compiled here exactly
// as the check compiles it, back-references refused), within (the time window), max_matches.

#include <regex.h>

#include <string>
#include <string_view>

#include "config/parse_internal.hpp"

namespace acis::config::detail {

namespace {

// A "\1".."\9" outside bracket expressions (where a backslash is an ordinary character).
bool has_back_reference(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '\\') {
      if (i + 1 < s.size() && s[i + 1] >= '1' && s[i + 1] <= '9') return true;
      i += 2;
    } else if (s[i] == '[') {
      std::size_t k = i + 1;
      if (k < s.size() && s[k] == '^') ++k;
      if (k < s.size() && s[k] == ']') ++k;  // a leading ']' is a member
      while (k < s.size() && s[k] != ']') {
        if (s[k] == '[' && k + 1 < s.size() &&
            (s[k + 1] == ':' || s[k + 1] == '.' || s[k + 1] == '=')) {
          auto close = s.find(std::string{s[k + 1], ']'}, k + 2);  // [:alpha:] [.a.] [=e=]
          k = close == std::string_view::npos ? s.size() : close + 2;
        } else {
          ++k;
        }
      }
      i = k + 1;
    } else {
      ++i;
    }
  }
  return false;
}

// Why a log_pattern pattern is refused, or nullopt: it must compile exactly as the check
// compiles it (POSIX extended, no submatches).
std::optional<std::string> pattern_problem(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (has_back_reference(s))
    return "back-references (\\1 ... \\9) are not supported: they make matching a long line "
           "take exponential time";
  regex_t re;
  int rc = ::regcomp(&re, s.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    ::regfree(&re);
    return std::nullopt;
  }
  char message[256];
  ::regerror(rc, &re, message, sizeof message);  // regfree() is not for a failed regcomp()
  return "not a POSIX extended regular expression (" + std::string(message) + "): " + quote(s);
}

}  // namespace

log_pattern_check read_log_pattern_check(json_walker& w, const json& j, const std::string& ptr) {
  log_pattern_check l;
  if (w.require(j, ptr, "path"))
    w.field(j, ptr, "path", l.path, [&](const json& v, const std::string& p) {
      return w.checked_string(v, p, [](const std::string& s) -> std::optional<std::string> {
        if (!s.empty() && s.front() == '/') return std::nullopt;
        // Relative to what? The daemon's working directory is not the operator's.
        return "expected an absolute path like \"/var/log/acis/trading.log\", got " + quote(s);
      });
    });
  if (w.require(j, ptr, "pattern"))
    w.field(j, ptr, "pattern", l.pattern, [&](const json& v, const std::string& p) {
      return w.checked_string(v, p, pattern_problem);
    });
  w.field(j, ptr, "within", l.window,
          [&](const json& v, const std::string& p) { return w.positive_duration(v, p); });
  w.field(j, ptr, "max_matches", l.max_matches, [&](const json& v, const std::string& p) {
    auto n = w.integer(v, p, 0, 1000000);
    return n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
  });
  return l;
}

}  // namespace acis::config::detail
