// What a valid value of the config looks like (value_rules.hpp): names, host:port, http URLs,
// JSON pointers, step placeholders. Pure predicates; the faults are the walker's.
#include "config/value_rules.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <nlohmann/json.hpp>

#include "config/json_walker.hpp"

namespace acis::config::detail {

namespace {

bool is_port(std::string_view s, int min_port) {
  if (s.empty() || s.size() > 5) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  int port = std::stoi(std::string(s));
  return port >= min_port && port <= 65535;
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    auto part =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3) return false;
    if (!std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    if (std::stoi(std::string(part)) > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

// host, "[v6]" or IPv4 literal; no user info, no spaces.
bool is_host(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return false;
    auto inner = host.substr(1, host.size() - 2);
    return std::all_of(inner.begin(), inner.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  }
  bool numeric = std::all_of(host.begin(), host.end(),
                             [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (numeric) return is_ipv4(host);
  return host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
         });
}

// The URL as an error may show it: user info ("user:password@") replaced by "***@", so that a
// refused URL never echoes a credential.
std::string shown_url(std::string_view url) {
  const auto sep = url.find("://");
  const auto start = sep == std::string_view::npos ? 0 : sep + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto authority =
      url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + at));
}

}  // namespace

bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool is_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// "host:port"; port 0 allowed when min_port is 0 (bind to any free port, as tests do).
bool is_host_port(std::string_view s, int min_port) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto host = s.substr(0, colon);
  if (host.front() != '[' && host.find(':') != std::string_view::npos) return false;
  return is_host(host) && is_port(s.substr(colon + 1), min_port);
}

std::optional<std::string> url_problem(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  const std::string shown = shown_url(url);
  if (shown != url)
    return "user info in the url is not supported (credentials do not belong in the config), got " +
           quote(shown);
  if (lower(url.substr(0, 8)) == "https://")
    return "https is not supported (the daemon speaks plain http to local endpoints); use an "
           "http:// url, got " +
           quote(shown);
  if (lower(url.substr(0, scheme.size())) != scheme)
    return "expected a URL starting with \"http://\", got " + quote(shown);
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return "a URL must not contain spaces or control characters, got " + quote(shown);
  auto rest = url.substr(scheme.size());
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  bool ok;
  auto colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    ok = close != std::string_view::npos &&
         (close + 1 == authority.size() ||
          (authority[close + 1] == ':' && is_port(authority.substr(close + 2), 1))) &&
         is_host(authority.substr(0, close + 1));
  } else if (colon != std::string_view::npos) {
    ok = is_host(authority.substr(0, colon)) && is_port(authority.substr(colon + 1), 1);
  } else {
    ok = is_host(authority);
  }
  if (!ok) return "expected a URL like \"http://127.0.0.1:8000/health\", got " + quote(shown);
  return std::nullopt;
}

bool is_json_pointer(const std::string& s) {
  try {
    json::json_pointer p(s);
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// Step arguments may carry these placeholders; anything else in braces that looks like one is
// a typo that would otherwise reach a command line verbatim.
constexpr std::string_view placeholders[] = {"check",  "target",   "model",
                                             "backup", "incident", "severity"};

std::optional<std::string> placeholder_problem(std::string_view s) {
  std::size_t pos = 0;
  while ((pos = s.find('{', pos)) != std::string_view::npos) {
    auto close = s.find('}', pos);
    if (close == std::string_view::npos) break;
    auto name = s.substr(pos + 1, close - pos - 1);
    bool looks_like_one = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '_';
    });
    if (looks_like_one &&
        std::find(std::begin(placeholders), std::end(placeholders), name) == std::end(placeholders))
      return "unknown placeholder {" + std::string(name) +
             "} (known: {check}, {target}, {model}, {backup}, {incident}, {severity})";
    pos = close + 1;
  }
  return std::nullopt;
}

}  // namespace acis::config::detail
