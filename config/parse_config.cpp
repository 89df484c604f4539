// parse_config(): JSON text -> a validated config, or config_error with every fault found.
//
// The walk never stops at the first fault: each reader records what is wrong at its JSON
// pointer and leaves the field at its default, so that one run of `check-config` shows the
// operator everything to fix. Cross-checks (names, dependencies, runbooks, escalation) run
// after the walk, on whatever parsed cleanly.
//
// This file only wires the pieces (map in parse_internal.hpp): the JSON text (comments,
// duplicate keys), the top-level sections in order, the cross-checks, and reading the file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/parse_internal.hpp"

namespace acis::config {

namespace {

using detail::json;

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
    if (!stack.empty() && stack.back().is_array)
      stack.back().segment = std::to_string(stack.back().count++);
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
          for (std::size_t i = 0; i + 1 < stack.size(); ++i)
            ptr = detail::child(ptr, stack[i].segment);
          faults.push_back({detail::child(ptr, key), "duplicate key " + detail::quote(key) +
                                                         " (only the last one would take effect)"});
        }
        top.segment = key;
        break;
      }
      case json::parse_event_t::value: begin_element(); break;
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

config walk(detail::json_walker& w, const json& doc) {
  using namespace detail;
  config out;
  references refs;
  for (auto s : all_severities) out.response_times[s] = default_response_time(s);
  if (!w.object(doc, "")) return out;
  w.check_keys(
      doc, "",
      {"daemon", "severities", "checks", "runbooks", "remediation", "escalation", "notify"});
  w.with(doc, "", "daemon",
         [&](const json& j, const std::string& p) { read_daemon(w, j, p, out.daemon); });
  w.with(doc, "", "severities", [&](const json& j, const std::string& p) {
    read_severities(w, j, p, out.response_times);
  });
  w.with(doc, "", "checks",
         [&](const json& j, const std::string& p) { read_checks(w, refs, j, p, out.checks); });
  w.with(doc, "", "runbooks",
         [&](const json& j, const std::string& p) { read_runbooks(w, refs, j, p, out.runbooks); });
  w.with(doc, "", "remediation",
         [&](const json& j, const std::string& p) { read_remediation(w, j, p, out.remediation); });
  w.with(doc, "", "escalation", [&](const json& j, const std::string& p) {
    read_escalation(w, refs, j, p, out.escalation);
  });
  w.with(doc, "", "notify",
         [&](const json& j, const std::string& p) { read_notify(w, j, p, out.notify); });
  cross_check(w, refs, out);
  return out;
}

}  // namespace

config parse_config(std::string_view text) {
  std::vector<config_fault> faults;
  auto doc = parse_json(text, faults);
  if (!doc) throw config_error(std::move(faults));
  detail::json_walker w;
  w.faults = std::move(faults);
  config out = walk(w, *doc);
  if (!w.faults.empty()) throw config_error(std::move(w.faults));
  return out;
}

config load_config_file(const std::string& path) {
  // Bounded: a config is a few KiB; refusing a huge file beats allocating for it.
  constexpr std::size_t max_bytes = 16 * 1024 * 1024;
  auto os_error = [&](std::string_view what) {
    int err = errno;
    return config_error(
        {{"", std::string(what) + " " + detail::quote(path) + ": " + std::strerror(err)}});
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
      throw config_error({{"", "config file " + detail::quote(path) + " is larger than 16 MiB"}});
    }
  }
  ::close(fd);
  return parse_config(text);
}

}  // namespace acis::config
