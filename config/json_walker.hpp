// The JSON walker of parse_config(): everything a reader needs to walk one JSON object and
// record what is wrong with it, without knowing what the object means.
//
// Internal to config/ (not included by config.hpp). A json_walker collects config_faults, each
// at the RFC 6901 pointer of its place; every typed reader (string, duration, integer, ...)
// records its own fault and returns nullopt on a bad value, so the caller leaves the field at
// its default and the walk goes on: one `check-config` run shows every fault. check_keys()
// refuses unknown keys with a "did you mean" hint. The readers of config sections, check kinds
// and step kinds (parse_internal.hpp) are built on these.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace acis::config::detail {

using json = nlohmann::json;
using keys = std::vector<std::string_view>;

// ---- pointers and messages ---------------------------------------------------------------

// A child of pointer `ptr`, its token escaped as RFC 6901 says ("~" -> "~0", "/" -> "~1").
std::string child(const std::string& ptr, std::string_view key);
std::string child(const std::string& ptr, std::size_t index);

// A string as a JSON literal for a message, cut at 120 bytes (at a UTF-8 boundary).
std::string quote(std::string_view s);
// What a value is, for "expected X, got Y" messages.
std::string describe(const json& j);
std::string lower(std::string_view s);
// The closest candidate when it is close enough to be a typo of `word`.
std::optional<std::string_view> closest(std::string_view word, const keys& candidates);
// "a", "b" or "c" (with last_sep " or ").
std::string join_quoted(const keys& words, std::string_view last_sep);

// Where else an unknown key would have been valid, e.g. "it belongs to http checks".
using key_hint = std::function<std::string(std::string_view key)>;

// ---- the walker ---------------------------------------------------------------------------

class json_walker {
 public:
  std::vector<config_fault> faults;

  void fault(std::string ptr, std::string message) {
    faults.push_back({std::move(ptr), std::move(message)});
  }

  // Calls f(obj[key], pointer of obj[key]) when the key is present.
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

  bool require(const json& obj, const std::string& ptr, std::string_view key);
  bool object(const json& j, const std::string& ptr);
  bool array(const json& j, const std::string& ptr);

  // Every key of `obj` not in `allowed` is a fault at its own pointer: with the hint's words
  // when it knows where the key belongs, else the closest allowed key, else the list.
  void check_keys(const json& obj, const std::string& ptr, const keys& allowed,
                  const key_hint& hint = {});

  // -- typed readers: each records its own fault and returns nullopt on a bad value --

  std::optional<std::string> string(const json& j, const std::string& ptr);

  // A string that must also pass `problem` (which returns why it is refused, or nullopt).
  template <typename Problem>
  std::optional<std::string> checked_string(const json& j, const std::string& ptr,
                                            Problem problem) {
    auto s = string(j, ptr);
    if (!s) return s;
    if (auto why = problem(*s)) {
      fault(ptr, *why);
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> nonempty_string(const json& j, const std::string& ptr);
  std::optional<std::string> name(const json& j, const std::string& ptr);     // see is_name()
  std::optional<std::string> url(const json& j, const std::string& ptr);      // see url_problem()
  std::optional<std::string> pointer(const json& j, const std::string& ptr);  // a JSON pointer
  // A string that becomes (part of) a step's argument: placeholders are checked.
  std::optional<std::string> argument(const json& j, const std::string& ptr);
  // An HTTP method in capitals ("GET").
  std::optional<std::string> method(const json& j, const std::string& ptr);

  std::optional<duration> any_duration(const json& j, const std::string& ptr);
  std::optional<duration> positive_duration(const json& j, const std::string& ptr);

  std::optional<std::int64_t> integer(const json& j, const std::string& ptr, std::int64_t lo,
                                      std::int64_t hi);
  // fall, rise, window, max_attempts: counts from 1 to a bound that keeps products sane.
  std::optional<int> count(const json& j, const std::string& ptr);
  std::optional<bool> boolean(const json& j, const std::string& ptr);
  std::optional<double> number(const json& j, const std::string& ptr);
  std::optional<severity> severity_value(const json& j, const std::string& ptr);
  // An integer or an array of integers in [lo, hi] (status codes, exit codes).
  std::optional<std::vector<int>> int_list(const json& j, const std::string& ptr, int lo, int hi);

  // {pointer-key, equals | min | max}: min and max may go together (a range), equals alone.
  // Used by http's expect.json and model_metadata's rules. True when it read cleanly.
  bool read_condition(const json& j, const std::string& ptr, std::string_view pointer_key,
                      std::string& where, std::optional<json>& equals, std::optional<double>& min,
                      std::optional<double>& max);
};

}  // namespace acis::config::detail
