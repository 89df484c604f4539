// The JSON walker (json_walker.hpp): pointers, messages, "did you mean", typed readers.
// It knows nothing of what the config means; the readers of sections, check kinds and step
// kinds (parse_internal.hpp) do.
#include "config/json_walker.hpp"

#include <algorithm>
#include <cctype>

#include "config/value_rules.hpp"

namespace acis::config::detail {

namespace {

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

// Cuts at a UTF-8 character boundary: messages end up in JSON log lines, and a cut inside a
// multi-byte sequence would make the logger's dump() throw.
std::string truncate_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
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

}  // namespace

std::string child(const std::string& ptr, std::string_view key) {
  return ptr + "/" + escape_token(key);
}
std::string child(const std::string& ptr, std::size_t index) {
  return ptr + "/" + std::to_string(index);
}

std::string quote(std::string_view s) { return truncate_utf8(json(std::string(s)).dump(), 120); }

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

std::optional<std::string_view> closest(std::string_view word, const keys& candidates) {
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

std::string join_quoted(const keys& words, std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? last_sep : std::string_view(", ");
    out += '"';
    out += words[i];
    out += '"';
  }
  return out;
}

// ---- json_walker ------------------------------------------------------------------------

bool json_walker::require(const json& obj, const std::string& ptr, std::string_view key) {
  if (obj.contains(std::string(key))) return true;
  fault(ptr, "missing required key \"" + std::string(key) + "\"");
  return false;
}

bool json_walker::object(const json& j, const std::string& ptr) {
  if (j.is_object()) return true;
  fault(ptr, "expected an object, got " + describe(j));
  return false;
}

bool json_walker::array(const json& j, const std::string& ptr) {
  if (j.is_array()) return true;
  fault(ptr, "expected an array, got " + describe(j));
  return false;
}

void json_walker::check_keys(const json& obj, const std::string& ptr, const keys& allowed,
                             const key_hint& hint) {
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

std::optional<std::string> json_walker::string(const json& j, const std::string& ptr) {
  if (j.is_string()) return j.get<std::string>();
  fault(ptr, "expected a string, got " + describe(j));
  return std::nullopt;
}

std::optional<std::string> json_walker::nonempty_string(const json& j, const std::string& ptr) {
  return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return "must not be empty";
    return std::nullopt;
  });
}

std::optional<std::string> json_walker::name(const json& j, const std::string& ptr) {
  return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
    if (is_name(v)) return std::nullopt;
    return "expected a name of letters, digits, '.', '_' and '-' (starting with a letter or "
           "digit, at most 100 characters), got " +
           quote(v);
  });
}

std::optional<std::string> json_walker::url(const json& j, const std::string& ptr) {
  return checked_string(j, ptr, [](const std::string& v) { return url_problem(v); });
}

std::optional<std::string> json_walker::pointer(const json& j, const std::string& ptr) {
  return checked_string(j, ptr, [](const std::string& v) -> std::optional<std::string> {
    if (is_json_pointer(v)) return std::nullopt;
    return "expected a JSON pointer like \"/metrics/sharpe_ratio\" (\"\" for the whole "
           "document), got " +
           quote(v);
  });
}

std::optional<std::string> json_walker::argument(const json& j, const std::string& ptr) {
  return checked_string(j, ptr, [](const std::string& v) { return placeholder_problem(v); });
}

std::optional<std::string> json_walker::method(const json& v, const std::string& p) {
  auto s = string(v, p);
  if (s && (s->empty() ||
            !std::all_of(s->begin(), s->end(), [](char c) { return c >= 'A' && c <= 'Z'; }))) {
    fault(p, "expected an HTTP method in capitals like \"GET\", got " + quote(*s));
    return std::nullopt;
  }
  return s;
}

std::optional<duration> json_walker::any_duration(const json& j, const std::string& ptr) {
  if (j.is_string()) {
    if (auto d = parse_duration(j.get_ref<const std::string&>())) return d;
  }
  fault(ptr, "expected a duration like \"10s\", got " + describe(j));
  return std::nullopt;
}

std::optional<duration> json_walker::positive_duration(const json& j, const std::string& ptr) {
  auto d = any_duration(j, ptr);
  if (d && d->count() <= 0) {
    fault(ptr, "must be longer than 0s");
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> json_walker::integer(const json& j, const std::string& ptr,
                                                 std::int64_t lo, std::int64_t hi) {
  if (!j.is_number_integer()) {
    fault(ptr, "expected an integer, got " + describe(j));
    return std::nullopt;
  }
  std::int64_t v = 0;
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
    fault(ptr, "must be at most " + std::to_string(hi) + ", got " + j.dump());
    return std::nullopt;
  }
  v = j.is_number_unsigned() ? static_cast<std::int64_t>(j.get<std::uint64_t>())
                             : j.get<std::int64_t>();
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

std::optional<int> json_walker::count(const json& j, const std::string& ptr) {
  auto v = integer(j, ptr, 1, 1000);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<bool> json_walker::boolean(const json& j, const std::string& ptr) {
  if (j.is_boolean()) return j.get<bool>();
  fault(ptr, "expected true or false, got " + describe(j));
  return std::nullopt;
}

std::optional<double> json_walker::number(const json& j, const std::string& ptr) {
  if (j.is_number()) return j.get<double>();
  fault(ptr, "expected a number, got " + describe(j));
  return std::nullopt;
}

std::optional<severity> json_walker::severity_value(const json& j, const std::string& ptr) {
  auto s = string(j, ptr);
  if (!s) return std::nullopt;
  if (auto level = parse_severity(*s)) return level;
  fault(ptr, "unknown severity " + quote(*s) +
                 " (expected \"critical\", \"high\", \"medium\" or "
                 "\"low\")");
  return std::nullopt;
}

std::optional<std::vector<int>> json_walker::int_list(const json& j, const std::string& ptr, int lo,
                                                      int hi) {
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

bool json_walker::read_condition(const json& j, const std::string& ptr,
                                 std::string_view pointer_key, std::string& where,
                                 std::optional<json>& equals, std::optional<double>& min,
                                 std::optional<double>& max) {
  if (!object(j, ptr)) return false;
  check_keys(j, ptr, {pointer_key, "equals", "min", "max"});
  auto before = faults.size();
  if (require(j, ptr, pointer_key))
    field(j, ptr, pointer_key, where,
          [&](const json& v, const std::string& p) { return pointer(v, p); });
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
    fault(child(ptr, "max"),
          "max (" + j.at("max").dump() + ") is below min (" + j.at("min").dump() + ")");
  return faults.size() == before;
}

}  // namespace acis::config::detail
