// parse_config(): JSON text -> a validated config, or config_error with every fault found.
//
// The walk never stops at the first fault: each reader records what is wrong at its JSON
// pointer and leaves the field at its default, so that one run of `check-config` shows the
// operator everything to fix. Cross-checks (names, dependencies, runbooks, escalation) run
// after the walk, on whatever parsed cleanly.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.hpp"

namespace acis::config {

namespace {

using json = nlohmann::json;

// ---- pointers and messages ---------------------------------------------------------------

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string escape_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string child(const std::string& ptr, std::string_view key) {
  return ptr + "/" + escape_token(key);
}
std::string child(const std::string& ptr, std::size_t index) {
  return ptr + "/" + std::to_string(index);
}

// Cuts at a UTF-8 character boundary: messages end up in JSON log lines, and a cut inside a
// multi-byte sequence would make the logger's dump() throw.
std::string truncate_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
}

std::string quote(std::string_view s) { return truncate_utf8(json(std::string(s)).dump(), 120); }

// What a value is, for "expected X, got Y" messages.
std::string describe(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return j.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "the number " + j.dump();
    case json::value_t::string: return quote(j.get_ref<const std::string&>());
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    default: return "an invalid value";
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the commonest
// typo ("hihg" for "high" is one edit, not two).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate when it is close enough to be a typo of `word`.
std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  auto w = lower(word);
  for (auto c : candidates) {
    auto d = edit_distance(w, lower(c));
    if (!best || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  std::size_t allowed = word.size() <= 4 ? 1 : 2;
  if (best && best_distance <= allowed) return best;
  return std::nullopt;
}

std::string join_quoted(const std::vector<std::string_view>& words, std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last_sep : std::string_view(", ");
    out += '"';
    out += words[i];
    out += '"';
  }
  return out;
}

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

bool is_http_token(std::string_view s) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

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
    auto part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
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

// "host:port"; port 0 allowed when min_port is 0 (bind to any free port, as tests do).
bool is_host_port(std::string_view s, int min_port) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto host = s.substr(0, colon);
  if (host.front() != '[' && host.find(':') != std::string_view::npos) return false;
  return is_host(host) && is_port(s.substr(colon + 1), min_port);
}

// The reason an http URL is unusable, or nullopt when it is fine.
// The URL as an error may show it: user info ("user:password@") replaced by "***@", so that a
// refused URL never echoes a credential.
std::string shown_url(std::string_view url) {
  const auto sep = url.find("://");
  const auto start = sep == std::string_view::npos ? 0 : sep + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto authority = url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + at));
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
  if (std::any_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
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

// The conninfo may not carry a password: the config file is readable by more people than the
// secret should be, and it would show up in logs and /status.
bool conninfo_has_password(std::string_view conninfo) {
  auto text = lower(conninfo);
  for (std::size_t pos = text.find("password"); pos != std::string::npos;
       pos = text.find("password", pos + 1)) {
    bool word_start = pos == 0 || std::isspace(static_cast<unsigned char>(text[pos - 1])) ||
                      text[pos - 1] == '?' || text[pos - 1] == '&';
    auto after = pos + 8;
    while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
    if (word_start && after < text.size() && text[after] == '=') return true;
  }
  // URI form: postgresql://user:secret@host/db
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (text.rfind(scheme, 0) != 0) continue;
    auto rest = std::string_view(text).substr(scheme.size());
    auto authority = rest.substr(0, rest.find_first_of("/?"));
    auto at = authority.rfind('@');
    if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
      return true;
  }
  return false;
}

// ---- key tables ---------------------------------------------------------------------------

using keys = std::vector<std::string_view>;

const keys common_check_keys = {
    "name",   "type",     "interval",          "timeout", "jitter",     "pending_interval",
    "start_grace", "fall", "rise",             "window",  "severity",   "degraded_severity",
    "runbook", "issue_type", "depends_on"};

struct kind_table {
  std::string_view type;
  keys keys_;
};
const kind_table kinds[] = {
    {"http", {"url", "method", "headers", "body", "expect"}},
    {"postgres", {"conninfo", "password_env", "password_file", "query", "expect"}},
    {"model_metadata", {"models_dir", "metadata_file", "max_age", "timestamp_pointer", "rules"}},
    {"process", {"cmdline_contains", "cmdline_not_contains", "running"}},
    {"file_age", {"path", "max_age"}},
    {"log_pattern", {"path", "pattern", "within", "max_matches"}},
};

const keys step_actions = {"run",    "signal",         "http",   "verify",
                           "wait",   "rollback_model", "manual", "notify"};
const std::map<std::string_view, keys> step_siblings = {
    {"run", {"cwd", "env", "search_path", "timeout", "grace", "expect_exit"}},
    {"verify", {"within"}},
};

// Where else an unknown key would have been valid, e.g. "it belongs to http checks".
using key_hint = std::function<std::string(std::string_view key)>;

std::string check_key_hint(std::string_view key) {
  std::vector<std::string_view> owners;
  for (const auto& k : kinds) {
    if (std::find(k.keys_.begin(), k.keys_.end(), key) != k.keys_.end()) owners.push_back(k.type);
  }
  if (owners.empty()) return {};
  std::string out = "it belongs to ";
  for (std::size_t i = 0; i < owners.size(); ++i) {
    if (i > 0) out += i + 1 == owners.size() ? " and " : ", ";
    out += owners[i];
  }
  return out + " checks";
}

std::string step_key_hint(std::string_view key) {
  for (const auto& [action, siblings] : step_siblings) {
    if (std::find(siblings.begin(), siblings.end(), key) != siblings.end())
      return "it belongs to \"" + std::string(action) + "\" steps";
  }
  return {};
}

// ---- the walk -----------------------------------------------------------------------------

// Where a check was found, for the cross-checks that run after the walk.
struct check_site {
  std::string ptr;
  bool named = false;
  std::vector<std::pair<std::string, std::string>> depends;  // (name, pointer)
};

struct name_ref {
  std::string name;
  std::string ptr;
};

class walker {
 public:
  std::vector<config_fault> faults;

  void fault(std::string ptr, std::string message) {
    faults.push_back({std::move(ptr), std::move(message)});
  }

  config walk(const json& doc) {
    config out;
    for (auto s : all_severities) out.response_times[s] = default_response_time(s);
    if (!object(doc, "")) return out;
    check_keys(doc, "", {"daemon", "severities", "checks", "runbooks", "escalation", "notify"});
    with(doc, "", "daemon", [&](const json& j, const std::string& p) { read_daemon(j, p, out.daemon); });
    with(doc, "", "severities",
         [&](const json& j, const std::string& p) { read_severities(j, p, out.response_times); });
    with(doc, "", "checks", [&](const json& j, const std::string& p) { read_checks(j, p, out.checks); });
    with(doc, "", "runbooks", [&](const json& j, const std::string& p) { read_runbooks(j, p, out.runbooks); });
    with(doc, "", "escalation",
         [&](const json& j, const std::string& p) { read_escalation(j, p, out.escalation); });
    with(doc, "", "notify", [&](const json& j, const std::string& p) { read_notify(j, p, out.notify); });
    cross_check(out);
    return out;
  }

 private:
  std::vector<check_site> check_sites_;
  std::vector<name_ref> check_runbook_refs_;
  std::vector<name_ref> check_issue_refs_;
  std::vector<name_ref> verify_refs_;

  static duration default_response_time(severity s) {
    using namespace std::chrono_literals;
    switch (s) {
      case severity::critical: return 5min;
      case severity::high: return 15min;
      case severity::medium: return 1h;
      case severity::low: return 4h;
    }
    return 1h;
  }

  // -- generic readers: each records its own fault and returns nullopt on a bad value --

  template <class F>
  void with(const json& obj, const std::string& ptr, std::string_view key, F&& f) {
    auto it = obj.find(std::string(key));
    if (it != obj.end()) f(*it, child(ptr, key));
  }

  // Reads obj[key] through `conv` into `out` (a T or an optional<T>) when the key is present.
  template <class T, class Conv>
  void field(const json& obj, const std::string& ptr, std::string_view key, T& out, Conv conv) {
    auto it = obj.find(std::string(key));
    if (it == obj.end()) return;
    if (auto v = conv(*it, child(ptr, key))) out = std::move(*v);
  }

  bool require(const json& obj, const std::string& ptr, std::string_view key) {
    if (obj.contains(std::string(key))) return true;
    fault(ptr, "missing required key \"" + std::string(key) + "\"");
    return false;
  }

  bool object(const json& j, const std::string& ptr) {
    if (j.is_object()) return true;
    fault(ptr, "expected an object, got " + describe(j));
    return false;
  }

  bool array(const json& j, const std::string& ptr) {
    if (j.is_array()) return true;
    fault(ptr, "expected an array, got " + describe(j));
    return false;
  }

  void check_keys(const json& obj, const std::string& ptr, const keys& allowed,
                  const key_hint& hint = {}) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string message = "unknown key " + quote(key);
      std::string elsewhere = hint ? hint(key) : std::string();
      if (!elsewhere.empty()) {
        message += " (" + elsewhere + ")";
      } else if (auto near = closest(key, allowed)) {
        message += " (did you mean \"" + std::string(*near) + "\"?)";
      } else if (!allowed.empty()) {
        message += " (expected one of " + join_quoted(allowed, " or ") + ")";
      }
      fault(child(ptr, key), std::move(message));
    }
  }

  std::optional<std::string> string(const json& j, const std::string& ptr) {
    if (j.is_string()) return j.get<std::string>();
    fault(ptr, "expected a string, got " + describe(j));
    return std::nullopt;
  }

  // A string that must also pass `problem` (which returns why it is refused, or nullopt).
  template <typename Problem>
  std::optional<std::string> checked_string(const json& j, const std::string& ptr, Problem problem) {
    auto s = string(j, ptr);
    if (!s) return s;
    if (auto why = problem(*s)) {
      fault(ptr, *why);
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> nonempty_string(const json& j, const std::string& ptr) {
    return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
      if (v.empty()) return "must not be empty";
      return std::nullopt;
    });
  }

  std::optional<std::string> name(const json& j, const std::string& ptr) {
    return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
      if (is_name(v)) return std::nullopt;
      return "expected a name of letters, digits, '.', '_' and '-' (starting with a letter or "
             "digit, at most 100 characters), got " + quote(v);
    });
  }

  std::optional<std::string> url(const json& j, const std::string& ptr) {
    return checked_string(j, ptr, [](const std::string& v) { return url_problem(v); });
  }

  std::optional<std::string> pointer(const json& j, const std::string& ptr) {
    return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
      if (is_json_pointer(v)) return std::nullopt;
      return "expected a JSON pointer like \"/metrics/sharpe_ratio\" (\"\" for the whole "
             "document), got " + quote(v);
    });
  }

  // A string that becomes (part of) a step's argument: placeholders are checked.
  std::optional<std::string> argument(const json& j, const std::string& ptr) {
    return checked_string(j, ptr, [](const std::string& v) { return placeholder_problem(v); });
  }

  std::optional<duration> any_duration(const json& j, const std::string& ptr) {
    if (j.is_string()) {
      if (auto d = parse_duration(j.get_ref<const std::string&>())) return d;
    }
    fault(ptr, "expected a duration like \"10s\", got " + describe(j));
    return std::nullopt;
  }

  std::optional<duration> positive_duration(const json& j, const std::string& ptr) {
    auto d = any_duration(j, ptr);
    if (d && d->count() <= 0) {
      fault(ptr, "must be longer than 0s");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::int64_t> integer(const json& j, const std::string& ptr, std::int64_t lo,
                                      std::int64_t hi) {
    if (!j.is_number_integer()) {
      fault(ptr, "expected an integer, got " + describe(j));
      return std::nullopt;
    }
    std::int64_t v = 0;
    if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
      fault(ptr, "must be at most " + std::to_string(hi) + ", got " + j.dump());
      return std::nullopt;
    }
    v = j.is_number_unsigned() ? static_cast<std::int64_t>(j.get<std::uint64_t>()) : j.get<std::int64_t>();
    if (v < lo) {
      fault(ptr, "must be at least " + std::to_string(lo) + ", got " + j.dump());
      return std::nullopt;
    }
    if (v > hi) {
      fault(ptr, "must be at most " + std::to_string(hi) + ", got " + j.dump());
      return std::nullopt;
    }
    return v;
  }

  // fall, rise, window, max_attempts: counts from 1 to a bound that keeps products sane.
  std::optional<int> count(const json& j, const std::string& ptr) {
    auto v = integer(j, ptr, 1, 1000);
    if (!v) return std::nullopt;
    return static_cast<int>(*v);
  }

  std::optional<bool> boolean(const json& j, const std::string& ptr) {
    if (j.is_boolean()) return j.get<bool>();
    fault(ptr, "expected true or false, got " + describe(j));
    return std::nullopt;
  }

  std::optional<double> number(const json& j, const std::string& ptr) {
    if (j.is_number()) return j.get<double>();
    fault(ptr, "expected a number, got " + describe(j));
    return std::nullopt;
  }

  std::optional<severity> severity_value(const json& j, const std::string& ptr) {
    auto s = string(j, ptr);
    if (!s) return std::nullopt;
    if (auto level = parse_severity(*s)) return level;
    fault(ptr, "unknown severity " + quote(*s) + " (expected \"critical\", \"high\", \"medium\" or "
               "\"low\")");
    return std::nullopt;
  }

  // An integer or an array of integers in [lo, hi] (status codes, exit codes).
  std::optional<std::vector<int>> int_list(const json& j, const std::string& ptr, int lo, int hi) {
    if (j.is_number_integer()) {
      auto v = integer(j, ptr, lo, hi);
      if (!v) return std::nullopt;
      return std::vector<int>{static_cast<int>(*v)};
    }
    if (!j.is_array()) {
      fault(ptr, "expected an integer or an array of integers, got " + describe(j));
      return std::nullopt;
    }
    if (j.empty()) {
      fault(ptr, "must not be empty");
      return std::nullopt;
    }
    std::vector<int> out;
    bool ok = true;
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (auto v = integer(j[i], child(ptr, i), lo, hi)) {
        out.push_back(static_cast<int>(*v));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // -- daemon, severities ------------------------------------------------------------------

  void read_daemon(const json& j, const std::string& ptr, daemon_config& d) {
    if (!object(j, ptr)) return;
    check_keys(j, ptr,
               {"listen", "state_dir", "log_level", "dry_run", "control_token_file", "blocking_threads"});
    field(j, ptr, "listen", d.listen, [&](const json& v, const std::string& p) {
      auto s = string(v, p);
      if (s && !is_host_port(*s, 0)) {
        fault(p, "expected host:port like \"127.0.0.1:9187\", got " + quote(*s));
        return std::optional<std::string>();
      }
      return s;
    });
    field(j, ptr, "state_dir", d.state_dir,
          [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "log_level", d.log_level, [&](const json& v, const std::string& p) {
      auto s = string(v, p);
      static const keys levels = {"debug", "info", "warn", "error"};
      if (s && std::find(levels.begin(), levels.end(), *s) == levels.end()) {
        fault(p, "unknown log level " + quote(*s) + " (expected " + join_quoted(levels, " or ") + ")");
        return std::optional<std::string>();
      }
      return s;
    });
    field(j, ptr, "dry_run", d.dry_run, [&](const json& v, const std::string& p) { return boolean(v, p); });
    with(j, ptr, "control_token_file", [&](const json& v, const std::string& p) {
      if (v.is_null()) {
        d.control_token_file.reset();
      } else if (v.is_string()) {
        if (auto s = nonempty_string(v, p)) d.control_token_file = *s;
      } else {
        fault(p, "expected a file path or null, got " + describe(v));
      }
    });
    field(j, ptr, "blocking_threads", d.blocking_threads, [&](const json& v, const std::string& p) {
      auto n = integer(v, p, 1, 256);
      return n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
    });
  }

  void read_severities(const json& j, const std::string& ptr, std::map<severity, duration>& out) {
    if (!object(j, ptr)) return;
    for (const auto& [key, value] : j.items()) {
      auto p = child(ptr, key);
      auto level = parse_severity(key);
      if (!level) {
        std::string message = "unknown severity " + quote(key);
        if (auto near = closest(key, {"critical", "high", "medium", "low"}))
          message += " (did you mean \"" + std::string(*near) + "\"?)";
        else
          message += " (expected \"critical\", \"high\", \"medium\" or \"low\")";
        fault(p, message);
        continue;
      }
      if (!object(value, p)) continue;
      check_keys(value, p, {"response_time"});
      if (!require(value, p, "response_time")) continue;
      field(value, p, "response_time", out[*level],
            [&](const json& v, const std::string& q) { return positive_duration(v, q); });
    }
  }

  // -- checks ------------------------------------------------------------------------------

  void read_checks(const json& j, const std::string& ptr, std::vector<check_config>& out) {
    if (!array(j, ptr)) {
      check_names_complete_ = false;
      return;
    }
    for (std::size_t i = 0; i < j.size(); ++i) {
      check_config c;
      check_site site;
      site.ptr = child(ptr, i);
      read_check(j[i], site.ptr, c, site);
      out.push_back(std::move(c));
      check_sites_.push_back(std::move(site));
    }
  }

  void read_check(const json& j, const std::string& ptr, check_config& c, check_site& site) {
    if (!object(j, ptr)) {
      check_names_complete_ = false;
      return;
    }
    if (auto n = j.find("name"); n != j.end() && n->is_string()) {
      check_names_seen_.insert(n->get<std::string>());
    } else {
      check_names_complete_ = false;
    }

    // The type decides which keys are allowed.
    const kind_table* kind = nullptr;
    if (auto t = j.find("type"); t == j.end()) {
      fault(ptr, "missing required key \"type\"");
    } else if (auto type = string(*t, child(ptr, "type"))) {
      for (const auto& k : kinds) {
        if (k.type == *type) kind = &k;
      }
      if (!kind) {
        keys known;
        for (const auto& k : kinds) known.push_back(k.type);
        std::string message = "unknown check type " + quote(*type);
        if (auto near = closest(*type, known))
          message += " (did you mean \"" + std::string(*near) + "\"?)";
        else
          message += " (expected " + join_quoted(known, " or ") + ")";
        fault(child(ptr, "type"), message);
      }
    }
    keys allowed = common_check_keys;
    if (kind) {
      allowed.insert(allowed.end(), kind->keys_.begin(), kind->keys_.end());
      check_keys(j, ptr, allowed, [&](std::string_view key) {
        auto owners = check_key_hint(key);
        return owners.empty() ? owners : owners + ", not to " + std::string(kind->type) + " checks";
      });
    } else {
      // Without a usable type, accept every kind's keys rather than drown the real fault.
      for (const auto& k : kinds) allowed.insert(allowed.end(), k.keys_.begin(), k.keys_.end());
      check_keys(j, ptr, allowed);
    }

    if (require(j, ptr, "name")) {
      field(j, ptr, "name", c.name, [&](const json& v, const std::string& p) {
        auto n = name(v, p);
        site.named = n.has_value();
        return n;
      });
    }
    auto positive = [&](const json& v, const std::string& p) { return positive_duration(v, p); };
    field(j, ptr, "interval", c.interval, positive);
    field(j, ptr, "timeout", c.timeout, positive);
    field(j, ptr, "jitter", c.jitter, [&](const json& v, const std::string& p) { return any_duration(v, p); });
    field(j, ptr, "pending_interval", c.pending_interval, positive);
    field(j, ptr, "start_grace", c.start_grace,
          [&](const json& v, const std::string& p) { return any_duration(v, p); });
    auto counted = [&](const json& v, const std::string& p) { return count(v, p); };
    bool fall_ok = true, window_ok = true;
    field(j, ptr, "fall", c.fall, [&](const json& v, const std::string& p) {
      auto n = count(v, p);
      fall_ok = n.has_value();
      return n;
    });
    field(j, ptr, "rise", c.rise, counted);
    field(j, ptr, "window", c.window, [&](const json& v, const std::string& p) {
      if (kind && kind->type == "log_pattern" && v.is_string()) {
        // The likeliest mistake with this kind: the time window has its own key.
        fault(p, "\"window\" counts check results (an integer); the time window of a "
                 "log_pattern check is \"within\", e.g. \"within\": " + describe(v));
        window_ok = false;
        return std::optional<int>();
      }
      auto n = count(v, p);
      window_ok = n.has_value();
      return n;
    });
    auto level = [&](const json& v, const std::string& p) { return severity_value(v, p); };
    field(j, ptr, "severity", c.level, level);
    field(j, ptr, "degraded_severity", c.degraded_severity, level);
    with(j, ptr, "runbook", [&](const json& v, const std::string& p) {
      if (auto s = nonempty_string(v, p)) {
        c.runbook = *s;
        check_runbook_refs_.push_back({*s, p});
      }
    });
    with(j, ptr, "issue_type", [&](const json& v, const std::string& p) {
      if (auto s = nonempty_string(v, p)) {
        c.issue_type = *s;
        check_issue_refs_.push_back({*s, p});
      }
    });
    with(j, ptr, "depends_on", [&](const json& v, const std::string& p) {
      if (!array(v, p)) return;
      for (std::size_t i = 0; i < v.size(); ++i) {
        auto q = child(p, i);
        if (auto s = nonempty_string(v[i], q)) {
          c.depends_on.push_back(*s);
          site.depends.emplace_back(*s, q);
        }
      }
    });

    // Relations between the timing fields of one check.
    if (fall_ok && window_ok && c.window && *c.window < c.fall)
      fault(child(ptr, "window"), "window (" + std::to_string(*c.window) +
                                      ") must be at least fall (" + std::to_string(c.fall) +
                                      "): fall failures must fit in the window");
    if (j.contains("timeout") && c.timeout >= c.interval)
      fault(child(ptr, "timeout"), "timeout (" + format_duration(c.timeout) +
                                       ") must be shorter than interval (" +
                                       format_duration(c.interval) + ")");
    else if (!j.contains("timeout") && j.contains("interval") && c.timeout >= c.interval)
      fault(child(ptr, "interval"), "interval (" + format_duration(c.interval) +
                                        ") must be longer than the default timeout (" +
                                        format_duration(c.timeout) + "); set a shorter timeout");
    if (j.contains("jitter") && c.jitter >= c.interval)
      fault(child(ptr, "jitter"), "jitter (" + format_duration(c.jitter) +
                                      ") must be shorter than interval (" +
                                      format_duration(c.interval) + ")");
    if (c.pending_interval && *c.pending_interval > c.interval)
      fault(child(ptr, "pending_interval"),
            "pending_interval (" + format_duration(*c.pending_interval) +
                ") must not be longer than interval (" + format_duration(c.interval) + ")");

    if (!kind) return;
    if (kind->type == "http") {
      c.kind = read_http(j, ptr);
    } else if (kind->type == "postgres") {
      c.kind = read_postgres(j, ptr);
    } else if (kind->type == "model_metadata") {
      c.kind = read_model_metadata(j, ptr);
    } else if (kind->type == "process") {
      c.kind = read_process(j, ptr);
    } else if (kind->type == "file_age") {
      c.kind = read_file_age(j, ptr);
    } else if (kind->type == "log_pattern") {
      c.kind = read_log_pattern(j, ptr);
    }
  }

  http_check read_http(const json& j, const std::string& ptr) {
    http_check h;
    if (require(j, ptr, "url"))
      field(j, ptr, "url", h.url, [&](const json& v, const std::string& p) { return url(v, p); });
    field(j, ptr, "method", h.method, [&](const json& v, const std::string& p) { return method(v, p); });
    with(j, ptr, "headers", [&](const json& v, const std::string& p) {
      if (!object(v, p)) return;
      for (const auto& [key, value] : v.items()) {
        auto q = child(p, key);
        if (!is_http_token(key)) {
          fault(q, "not a valid header name: " + quote(key));
          continue;
        }
        auto s = string(value, q);
        if (!s) continue;
        if (s->find_first_of("\r\n") != std::string::npos) {
          fault(q, "a header value must not contain CR or LF");
          continue;
        }
        h.headers.emplace_back(key, *s);
      }
    });
    field(j, ptr, "body", h.body, [&](const json& v, const std::string& p) { return string(v, p); });
    with(j, ptr, "expect", [&](const json& v, const std::string& p) {
      if (!object(v, p)) return;
      check_keys(v, p, {"status", "body_contains", "json", "max_latency"});
      field(v, p, "status", h.expect.status,
            [&](const json& s, const std::string& q) { return int_list(s, q, 100, 599); });
      field(v, p, "body_contains", h.expect.body_contains,
            [&](const json& s, const std::string& q) { return nonempty_string(s, q); });
      with(v, p, "json", [&](const json& s, const std::string& q) {
        json_condition cond;
        if (read_condition(s, q, "pointer", cond.pointer, cond.equals, cond.min, cond.max))
          h.expect.json = std::move(cond);
      });
      field(v, p, "max_latency", h.expect.max_latency,
            [&](const json& s, const std::string& q) { return positive_duration(s, q); });
    });
    return h;
  }

  std::optional<std::string> method(const json& v, const std::string& p) {
    auto s = string(v, p);
    if (s && (s->empty() || !std::all_of(s->begin(), s->end(), [](char c) { return c >= 'A' && c <= 'Z'; }))) {
      fault(p, "expected an HTTP method in capitals like \"GET\", got " + quote(*s));
      return std::nullopt;
    }
    return s;
  }

  // {pointer-key, equals | min | max}: min and max may go together (a range), equals alone.
  bool read_condition(const json& j, const std::string& ptr, std::string_view pointer_key,
                      std::string& where, std::optional<json>& equals, std::optional<double>& min,
                      std::optional<double>& max) {
    if (!object(j, ptr)) return false;
    check_keys(j, ptr, {pointer_key, "equals", "min", "max"});
    auto before = faults.size();
    if (require(j, ptr, pointer_key))
      field(j, ptr, pointer_key, where, [&](const json& v, const std::string& p) { return pointer(v, p); });
    if (j.contains("equals")) equals = j.at("equals");
    auto num = [&](const json& v, const std::string& p) { return number(v, p); };
    field(j, ptr, "min", min, num);
    field(j, ptr, "max", max, num);
    bool has_range = j.contains("min") || j.contains("max");
    if (!j.contains("equals") && !has_range)
      fault(ptr, "a condition needs \"min\", \"max\" or \"equals\"");
    else if (j.contains("equals") && has_range)
      fault(ptr, "\"equals\" cannot be combined with \"min\" or \"max\"");
    else if (min && max && *min > *max)
      fault(child(ptr, "max"), "max (" + j.at("max").dump() + ") is below min (" + j.at("min").dump() + ")");
    return faults.size() == before;
  }

  postgres_check read_postgres(const json& j, const std::string& ptr) {
    postgres_check pg;
    if (require(j, ptr, "conninfo")) {
      field(j, ptr, "conninfo", pg.conninfo, [&](const json& v, const std::string& p) {
        auto s = nonempty_string(v, p);
        if (s && conninfo_has_password(*s)) {
          // The value is not echoed: it holds a secret.
          fault(p, "contains a password; put the password in password_env or password_file");
          return std::optional<std::string>();
        }
        return s;
      });
    }
    field(j, ptr, "password_env", pg.password_env, [&](const json& v, const std::string& p) {
      auto s = string(v, p);
      if (s && !is_env_name(*s)) {
        // Not echoed: a value that is not a variable name may be the password itself.
        fault(p, "expected the name of an environment variable holding the password, like "
                 "\"PGPASSWORD\" (the value given is not shown: it may be a secret)");
        return std::optional<std::string>();
      }
      return s;
    });
    field(j, ptr, "password_file", pg.password_file,
          [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    if (j.contains("password_env") && j.contains("password_file"))
      fault(child(ptr, "password_file"), "use either password_env or password_file, not both");
    field(j, ptr, "query", pg.query, [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "expect", pg.expect, [&](const json& v, const std::string& p) { return string(v, p); });
    return pg;
  }

  model_metadata_check read_model_metadata(const json& j, const std::string& ptr) {
    model_metadata_check m;
    if (require(j, ptr, "models_dir"))
      field(j, ptr, "models_dir", m.models_dir,
            [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "metadata_file", m.metadata_file, [&](const json& v, const std::string& p) {
      auto s = nonempty_string(v, p);
      if (s && (s->front() == '/' || *s == "." || *s == "..")) {
        fault(p, "expected a file name relative to each model folder, got " + quote(*s));
        return std::optional<std::string>();
      }
      return s;
    });
    field(j, ptr, "max_age", m.max_age,
          [&](const json& v, const std::string& p) { return positive_duration(v, p); });
    field(j, ptr, "timestamp_pointer", m.timestamp_pointer,
          [&](const json& v, const std::string& p) { return pointer(v, p); });
    with(j, ptr, "rules", [&](const json& v, const std::string& p) {
      if (!array(v, p)) return;
      for (std::size_t i = 0; i < v.size(); ++i) {
        metadata_rule rule;
        if (read_condition(v[i], child(p, i), "path", rule.path, rule.equals, rule.min, rule.max))
          m.rules.push_back(std::move(rule));
      }
    });
    return m;
  }

  process_check read_process(const json& j, const std::string& ptr) {
    process_check pr;
    if (require(j, ptr, "cmdline_contains"))
      field(j, ptr, "cmdline_contains", pr.cmdline_contains,
            [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "cmdline_not_contains", pr.cmdline_not_contains,
          [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "running", pr.running, [&](const json& v, const std::string& p) { return boolean(v, p); });
    return pr;
  }

  file_age_check read_file_age(const json& j, const std::string& ptr) {
    file_age_check f;
    if (require(j, ptr, "path"))
      field(j, ptr, "path", f.path, [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    if (require(j, ptr, "max_age"))
      field(j, ptr, "max_age", f.max_age,
            [&](const json& v, const std::string& p) { return positive_duration(v, p); });
    return f;
  }

  log_pattern_check read_log_pattern(const json& j, const std::string& ptr) {
    log_pattern_check l;
    if (require(j, ptr, "path"))
      field(j, ptr, "path", l.path, [&](const json& v, const std::string& p) {
        return checked_string(v, p, [](const std::string& s) -> std::optional<std::string> {
          if (!s.empty() && s.front() == '/') return std::nullopt;
          // Relative to what? The daemon's working directory is not the operator's.
          return "expected an absolute path like \"/var/log/acis/trading.log\", got " + quote(s);
        });
      });
    if (require(j, ptr, "pattern"))
      field(j, ptr, "pattern", l.pattern,
            [&](const json& v, const std::string& p) { return checked_string(v, p, pattern_problem); });
    field(j, ptr, "within", l.window,
          [&](const json& v, const std::string& p) { return positive_duration(v, p); });
    field(j, ptr, "max_matches", l.max_matches, [&](const json& v, const std::string& p) {
      auto n = integer(v, p, 0, 1000000);
      return n ? std::optional<int>(static_cast<int>(*n)) : std::nullopt;
    });
    return l;
  }

  // Why a log_pattern pattern is refused, or nullopt: it must compile exactly as the check
  // compiles it (POSIX extended, no submatches).
  static std::optional<std::string> pattern_problem(const std::string& s) {
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

  // A "\1".."\9" outside bracket expressions (where a backslash is an ordinary character).
  static bool has_back_reference(std::string_view s) {
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
          if (s[k] == '[' && k + 1 < s.size() && (s[k + 1] == ':' || s[k + 1] == '.' || s[k + 1] == '=')) {
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

  // -- runbooks ----------------------------------------------------------------------------

  void read_runbooks(const json& j, const std::string& ptr, std::map<std::string, runbook_config>& out) {
    if (!object(j, ptr)) {
      runbook_names_complete_ = false;
      return;
    }
    for (const auto& [key, value] : j.items()) {
      runbook_names_seen_.insert(key);
      auto p = child(ptr, key);
      bool named = is_name(key);
      if (!named)
        fault(p, "a runbook name must be letters, digits, '.', '_' and '-' (starting with a "
                 "letter or digit, at most 100 characters), got " + quote(key));
      runbook_config rb;
      rb.name = key;
      read_runbook(value, p, rb);  // its faults are worth reporting even under a bad name
      if (named) out.emplace(key, std::move(rb));
    }
  }

  void read_runbook(const json& j, const std::string& ptr, runbook_config& rb) {
    if (!object(j, ptr)) return;
    check_keys(j, ptr, {"doc", "max_attempts", "backoff", "backoff_max", "cooldown", "steps"});
    field(j, ptr, "doc", rb.doc, [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
    field(j, ptr, "max_attempts", rb.max_attempts, [&](const json& v, const std::string& p) { return count(v, p); });
    auto any = [&](const json& v, const std::string& p) { return any_duration(v, p); };
    bool backoff_ok = true, backoff_max_ok = true;
    field(j, ptr, "backoff", rb.backoff, [&](const json& v, const std::string& p) {
      auto d = any_duration(v, p);
      backoff_ok = d.has_value();
      return d;
    });
    field(j, ptr, "backoff_max", rb.backoff_max, [&](const json& v, const std::string& p) {
      auto d = any_duration(v, p);
      backoff_max_ok = d.has_value();
      return d;
    });
    if (backoff_ok && backoff_max_ok && rb.backoff_max < rb.backoff)
      fault(child(ptr, j.contains("backoff_max") ? "backoff_max" : "backoff"),
            "backoff_max (" + format_duration(rb.backoff_max) + ") must not be shorter than backoff (" +
                format_duration(rb.backoff) + ")");
    field(j, ptr, "cooldown", rb.cooldown, any);
    if (!require(j, ptr, "steps")) return;
    with(j, ptr, "steps", [&](const json& v, const std::string& p) {
      if (!array(v, p)) return;
      if (v.empty()) fault(p, "a runbook needs at least one step");
      std::set<std::string> names;
      for (std::size_t i = 0; i < v.size(); ++i) {
        auto q = child(p, i);
        step_config step;
        if (read_step(v[i], q, step)) {
          if (!names.insert(step.name).second)
            fault(child(q, "name"), "duplicate step name " + quote(step.name) +
                                        " (step names label metrics and reports)");
          rb.steps.push_back(std::move(step));
        }
      }
    });
  }

  // Returns whether the step has a name and exactly one action.
  bool read_step(const json& j, const std::string& ptr, step_config& step) {
    if (!object(j, ptr)) return false;
    keys present;
    for (auto action : step_actions) {
      if (j.contains(std::string(action))) present.push_back(action);
    }
    keys allowed = {"name"};
    allowed.insert(allowed.end(), step_actions.begin(), step_actions.end());
    auto add_siblings = [&](std::string_view action) {
      if (auto it = step_siblings.find(action); it != step_siblings.end())
        allowed.insert(allowed.end(), it->second.begin(), it->second.end());
    };
    if (present.empty()) {
      for (const auto& [action, siblings] : step_siblings) add_siblings(action);
    } else {
      for (auto action : present) add_siblings(action);
    }
    std::string action_list = join_quoted(step_actions, " or ");
    check_keys(j, ptr, allowed, [&](std::string_view key) {
      auto hint = step_key_hint(key);
      return hint.empty() || present.empty() ? hint : hint + ", not to \"" + std::string(present[0]) + "\" steps";
    });

    bool ok = require(j, ptr, "name");
    if (ok) {
      field(j, ptr, "name", step.name, [&](const json& v, const std::string& p) { return nonempty_string(v, p); });
      ok = !step.name.empty();
    }
    if (present.empty()) {
      fault(ptr, "a step needs one action: one of " + action_list);
      return false;
    }
    if (present.size() > 1) {
      fault(ptr, "a step does one thing, but this one has " + join_quoted(present, " and ") +
                     "; split it into separate steps");
      return false;
    }
    auto before = faults.size();
    auto action = present[0];
    auto p = child(ptr, action);
    const json& v = j.at(std::string(action));
    if (action == "run") {
      step.action = read_run(j, ptr, v, p);
    } else if (action == "signal") {
      step.action = read_signal(v, p);
    } else if (action == "http") {
      step.action = read_http_step(v, p);
    } else if (action == "verify") {
      verify_step s;
      if (auto n = nonempty_string(v, p)) {
        s.check = *n;
        verify_refs_.push_back({*n, p});
      }
      field(j, ptr, "within", s.within, [&](const json& w, const std::string& q) { return positive_duration(w, q); });
      step.action = s;
    } else if (action == "wait") {
      wait_step s;
      if (auto d = any_duration(v, p)) s.wait = *d;
      step.action = s;
    } else if (action == "rollback_model") {
      if (object(v, p)) check_keys(v, p, {});
      step.action = rollback_model_step{};
    } else if (action == "manual") {
      manual_step s;
      if (auto t = nonempty_string(v, p)) s.instruction = *t;
      step.action = s;
    } else if (action == "notify") {
      notify_step s;
      if (auto t = nonempty_string(v, p)) s.message = *t;
      step.action = s;
    }
    return ok && faults.size() == before;
  }

  run_step read_run(const json& step, const std::string& step_ptr, const json& v, const std::string& p) {
    run_step r;
    r.argv.clear();
    field(step, step_ptr, "search_path", r.search_path,
          [&](const json& b, const std::string& q) { return boolean(b, q); });
    if (array(v, p)) {
      if (v.empty()) fault(p, "expected the command as an array of strings, got an empty array");
      for (std::size_t i = 0; i < v.size(); ++i) {
        auto q = child(p, i);
        auto s = argument(v[i], q);
        if (!s) continue;
        if (i == 0 && s->empty()) {
          fault(q, "the program must not be empty");
        } else if (i == 0 && !r.search_path && s->find('/') == std::string::npos) {
          fault(q, "the program " + quote(*s) + " is not a path and PATH is not searched; give "
                   "its absolute path or set \"search_path\": true");
        }
        r.argv.push_back(*s);
      }
    }
    field(step, step_ptr, "cwd", r.cwd, [&](const json& c, const std::string& q) {
      auto s = nonempty_string(c, q);
      if (s) {
        if (auto problem = placeholder_problem(*s)) {
          fault(q, *problem);
          return std::optional<std::string>();
        }
      }
      return s;
    });
    with(step, step_ptr, "env", [&](const json& e, const std::string& q) {
      if (!object(e, q)) return;
      for (const auto& [key, value] : e.items()) {
        auto k = child(q, key);
        if (!is_env_name(key)) {
          fault(k, "not a valid environment variable name: " + quote(key));
          continue;
        }
        if (auto s = argument(value, k)) r.env[key] = *s;
      }
    });
    field(step, step_ptr, "timeout", r.timeout,
          [&](const json& d, const std::string& q) { return positive_duration(d, q); });
    field(step, step_ptr, "grace", r.grace, [&](const json& d, const std::string& q) { return any_duration(d, q); });
    field(step, step_ptr, "expect_exit", r.expect_exit,
          [&](const json& e, const std::string& q) { return int_list(e, q, 0, 255); });
    return r;
  }

  signal_step read_signal(const json& v, const std::string& p) {
    signal_step s;
    if (!object(v, p)) return s;
    check_keys(v, p, {"cmdline_contains", "pidfile", "signal"});
    field(v, p, "cmdline_contains", s.cmdline_contains,
          [&](const json& c, const std::string& q) {
            auto t = nonempty_string(c, q);
            if (t) {
              if (auto problem = placeholder_problem(*t)) {
                fault(q, *problem);
                return std::optional<std::string>();
              }
            }
            return t;
          });
    field(v, p, "pidfile", s.pidfile, [&](const json& c, const std::string& q) {
      auto t = nonempty_string(c, q);
      if (t) {
        if (auto problem = placeholder_problem(*t)) {
          fault(q, *problem);
          return std::optional<std::string>();
        }
      }
      return t;
    });
    bool by_cmdline = v.contains("cmdline_contains"), by_pidfile = v.contains("pidfile");
    if (!by_cmdline && !by_pidfile)
      fault(p, "a signal step needs \"cmdline_contains\" or \"pidfile\" to find its processes");
    else if (by_cmdline && by_pidfile)
      fault(p, "use either \"cmdline_contains\" or \"pidfile\", not both");
    field(v, p, "signal", s.signal, [&](const json& c, const std::string& q) {
      auto t = string(c, q);
      if (!t) return t;
      static const keys names = {"TERM", "KILL", "HUP", "INT", "QUIT", "USR1", "USR2", "STOP", "CONT"};
      std::string name = *t;
      if (name.rfind("SIG", 0) == 0) name.erase(0, 3);  // "SIGTERM" means "TERM"
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        fault(q, "unknown signal " + quote(*t) + " (expected one of " + join_quoted(names, " or ") + ")");
        return std::optional<std::string>();
      }
      return std::optional<std::string>(name);
    });
    return s;
  }

  http_step read_http_step(const json& v, const std::string& p) {
    http_step h;
    if (!object(v, p)) return h;
    check_keys(v, p, {"url", "method", "expect_status", "timeout"});
    if (require(v, p, "url"))
      field(v, p, "url", h.url, [&](const json& u, const std::string& q) {
        auto s = url(u, q);
        if (s) {
          if (auto problem = placeholder_problem(*s)) {
            fault(q, *problem);
            return std::optional<std::string>();
          }
        }
        return s;
      });
    field(v, p, "method", h.method, [&](const json& m, const std::string& q) { return method(m, q); });
    field(v, p, "expect_status", h.expect_status,
          [&](const json& s, const std::string& q) { return int_list(s, q, 100, 599); });
    field(v, p, "timeout", h.timeout, [&](const json& d, const std::string& q) { return positive_duration(d, q); });
    return h;
  }

  // -- escalation, notify ------------------------------------------------------------------

  void read_escalation(const json& j, const std::string& ptr,
                       std::map<std::string, escalation_contacts>& out) {
    if (!object(j, ptr)) {
      escalation_complete_ = false;
      return;
    }
    for (const auto& [key, value] : j.items()) {
      auto p = child(ptr, key);
      if (key.empty()) {
        fault(p, "an issue type must not be empty");
        continue;
      }
      if (!object(value, p)) continue;
      check_keys(value, p, {"primary", "backup"});
      escalation_contacts contacts;
      bool ok = require(value, p, "primary");
      ok = require(value, p, "backup") && ok;
      auto before = faults.size();
      field(value, p, "primary", contacts.primary,
            [&](const json& v, const std::string& q) { return nonempty_string(v, q); });
      field(value, p, "backup", contacts.backup,
            [&](const json& v, const std::string& q) { return nonempty_string(v, q); });
      if (ok && faults.size() == before) out.emplace(key, std::move(contacts));
      // A malformed entry still counts as defined for the issue_type cross-check: its own
      // fault is the one to fix.
      if (!ok || faults.size() != before) malformed_escalation_.insert(key);
    }
  }

  void read_notify(const json& j, const std::string& ptr, notify_config& n) {
    if (!object(j, ptr)) return;
    check_keys(j, ptr, {"alertmanager_url"});
    with(j, ptr, "alertmanager_url", [&](const json& v, const std::string& p) {
      if (v.is_null()) {
        n.alertmanager_url.reset();
      } else if (v.is_string()) {
        if (auto u = url(v, p)) n.alertmanager_url = *u;
      } else {
        fault(p, "expected an http:// url or null, got " + describe(v));
      }
    });
  }

  // A reference to a name is only called dangling when the list of names could be read: a
  // malformed /checks would otherwise bury its own fault under one fault per reference.
  // Names seen but refused (an invalid name) also count as defined: their fault comes first.
  bool check_names_complete_ = true;
  std::set<std::string> check_names_seen_;
  bool runbook_names_complete_ = true;
  std::set<std::string> runbook_names_seen_;
  bool escalation_complete_ = true;
  std::set<std::string> malformed_escalation_;

  // -- cross-checks --------------------------------------------------------------------------

  void cross_check(const config& cfg) {
    // Names: first occurrence wins, later duplicates are faults.
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
      if (!check_sites_[i].named) continue;
      auto [it, inserted] = index.emplace(cfg.checks[i].name, i);
      if (!inserted)
        fault(child(check_sites_[i].ptr, "name"),
              "duplicate check name " + quote(cfg.checks[i].name) + " (first used at " +
                  check_sites_[it->second].ptr + ")");
    }

    // Dependencies: known, not self, no cycles.
    std::vector<std::vector<std::pair<std::size_t, std::string>>> edges(cfg.checks.size());
    for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
      const auto& site = check_sites_[i];
      for (const auto& [dep, ptr] : site.depends) {
        auto it = index.find(dep);
        if (it == index.end()) {
          if (check_names_complete_ && !check_names_seen_.contains(dep))
            fault(ptr, "depends on " + quote(dep) + ", which is no check");
        } else if (site.named && dep == cfg.checks[i].name) {
          fault(ptr, "a check cannot depend on itself");
        } else if (it->second != i) {
          edges[i].emplace_back(it->second, ptr);
        }
      }
    }
    find_cycles(cfg, edges);

    for (const auto& ref : check_runbook_refs_) {
      if (runbook_names_complete_ && !runbook_names_seen_.contains(ref.name))
        fault(ref.ptr, "names runbook " + quote(ref.name) + ", which is not defined under /runbooks");
    }
    for (const auto& ref : check_issue_refs_) {
      if (escalation_complete_ && !cfg.escalation.contains(ref.name) &&
          !malformed_escalation_.contains(ref.name))
        fault(ref.ptr, "issue type " + quote(ref.name) +
                           " has no entry under /escalation (who is to be called?)");
    }
    for (const auto& ref : verify_refs_) {
      if (check_names_complete_ && !check_names_seen_.contains(ref.name)) {
        fault(ref.ptr, "verifies check " + quote(ref.name) + ", which is no check");
      } else if (const auto* c = cfg.find_check(ref.name);
                 c && std::holds_alternative<log_pattern_check>(c->kind)) {
        // A verify run is a fresh check instance, and a fresh log follower starts at the end of
        // the file: it would pass at once whatever the fix did.
        fault(ref.ptr, "verifies " + quote(ref.name) + ", a log_pattern check, which cannot "
                       "confirm a fix (it only counts lines written after it starts); verify a "
                       "check that probes what the runbook fixed");
      }
    }
  }

  // Depth-first search in config order; every back edge closes one cycle, reported at the
  // depends_on entry that closes it.
  void find_cycles(const config& cfg,
                   const std::vector<std::vector<std::pair<std::size_t, std::string>>>& edges) {
    enum class mark { fresh, active, done };
    std::vector<mark> marks(edges.size(), mark::fresh);
    std::vector<std::size_t> path;
    std::function<void(std::size_t)> visit = [&](std::size_t u) {
      marks[u] = mark::active;
      path.push_back(u);
      for (const auto& [v, ptr] : edges[u]) {
        if (marks[v] == mark::active) {
          std::string cycle;
          auto start = std::find(path.begin(), path.end(), v);
          for (auto it = start; it != path.end(); ++it) cycle += cfg.checks[*it].name + " -> ";
          cycle += cfg.checks[v].name;
          fault(ptr, "dependency cycle: " + cycle);
        } else if (marks[v] == mark::fresh) {
          visit(v);
        }
      }
      path.pop_back();
      marks[u] = mark::done;
    };
    for (std::size_t i = 0; i < edges.size(); ++i) {
      if (marks[i] == mark::fresh) visit(i);
    }
  }
};

// ---- JSON text ----------------------------------------------------------------------------

// Parses with comments allowed and reports duplicate object keys, which nlohmann accepts
// silently (the last one wins): a duplicated key is as much a hidden typo as an unknown one.
std::optional<json> parse_json(std::string_view text, std::vector<config_fault>& faults) {
  struct frame {
    bool is_array;
    std::size_t count = 0;
    std::string segment;  // the member or element being parsed inside this container
    std::set<std::string> keys;
  };
  std::vector<frame> stack;
  auto begin_element = [&] {
    if (!stack.empty() && stack.back().is_array) stack.back().segment = std::to_string(stack.back().count++);
  };
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        begin_element();
        stack.push_back(frame{false, 0, {}, {}});
        break;
      case json::parse_event_t::array_start:
        begin_element();
        stack.push_back(frame{true, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::key: {
        if (stack.empty() || !parsed.is_string()) break;
        auto& top = stack.back();
        const auto& key = parsed.get_ref<const std::string&>();
        if (!top.keys.insert(key).second) {
          std::string ptr;
          for (std::size_t i = 0; i + 1 < stack.size(); ++i) ptr = child(ptr, stack[i].segment);
          faults.push_back({child(ptr, key), "duplicate key " + quote(key) +
                                                 " (only the last one would take effect)"});
        }
        top.segment = key;
        break;
      }
      case json::parse_event_t::value:
        begin_element();
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                       /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> from "parse".
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    faults.push_back({"", "invalid JSON: " + what});
    return std::nullopt;
  }
}

}  // namespace

config parse_config(std::string_view text) {
  std::vector<config_fault> faults;
  auto doc = parse_json(text, faults);
  if (!doc) throw config_error(std::move(faults));
  walker w;
  w.faults = std::move(faults);
  config out = w.walk(*doc);
  if (!w.faults.empty()) throw config_error(std::move(w.faults));
  return out;
}

config load_config_file(const std::string& path) {
  // Bounded: a config is a few KiB; refusing a huge file beats allocating for it.
  constexpr std::size_t max_bytes = 16 * 1024 * 1024;
  auto os_error = [&](std::string_view what) {
    int err = errno;
    return config_error({{"", std::string(what) + " " + quote(path) + ": " + std::strerror(err)}});
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw os_error("cannot open config file");
  std::string text;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto error = os_error("cannot read config file");
      ::close(fd);
      throw error;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      throw config_error({{"", "config file " + quote(path) + " is larger than 16 MiB"}});
    }
  }
  ::close(fd);
  return parse_config(text);
}

}  // namespace acis::config
