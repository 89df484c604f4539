#include "daemon/event_log.hpp"

#include "daemon/incident.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace acis::daemon {

log_level parse_log_level(std::string_view s) {
  if (s == "debug") return log_level::debug;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  return log_level::info;
}

std::string_view to_string(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

namespace {

bool secret_key(std::string_view key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view bad : {"password", "passwd", "secret", "token", "authorization"}) {
    if (k.find(bad) != std::string::npos) return true;
  }
  return false;
}

void redact(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (secret_key(it.key()) && !it.value().is_null() && !it.value().is_boolean())
        it.value() = "[redacted]";
      else
        redact(it.value());
    }
  } else if (j.is_array()) {
    for (auto& v : j) redact(v);
  }
}

}  // namespace

void event_log::write(log_level level, std::string_view event, nlohmann::json fields) {
  write_at(std::chrono::system_clock::now(), level, event, std::move(fields));
}

void event_log::write_at(std::chrono::system_clock::time_point ts, log_level level,
                         std::string_view event, nlohmann::json fields) {
  if (!enabled(level)) return;
  nlohmann::ordered_json line;
  line["ts"] = format_rfc3339(ts);
  line["level"] = to_string(level);
  line["event"] = event;
  if (fields.is_object()) {
    redact(fields);
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (it.key() == "ts" || it.key() == "level" || it.key() == "event") continue;
      line[it.key()] = it.value();
    }
  }
  // Invalid UTF-8 in a reason (e.g. a body excerpt) is replaced, never thrown.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace acis::daemon
