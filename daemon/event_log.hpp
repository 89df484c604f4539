// The structured log: one JSON object per line on stdout (journald takes them), SPEC.md "Log".
//
// Every line is built as a JSON value and serialised by nlohmann (never formatted by hand),
// so reasons with quotes, newlines or control bytes stay one valid line. Keys that name a
// secret (password, token, authorization, ...) are replaced by "[redacted]" as a last line
// of defence; callers never pass secrets in the first place.
//
// Thread: call from the event loop only (the one writer); a line is written with one
// fwrite and flushed, so lines never interleave with other output of ours.
#pragma once

#include <chrono>
#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

namespace acis::daemon {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };
log_level parse_log_level(std::string_view s);  // unknown -> info
std::string_view to_string(log_level l);

class event_log {
 public:
  explicit event_log(std::FILE* out = stdout, log_level min = log_level::info)
      : out_(out), min_(min) {}

  void set_level(log_level l) { min_ = l; }
  bool enabled(log_level l) const { return l >= min_; }

  // Writes {"ts","level","event", ...fields}. `fields` must be an object (or null).
  void write(log_level level, std::string_view event, nlohmann::json fields = nullptr);
  void write_at(std::chrono::system_clock::time_point ts, log_level level,
                std::string_view event, nlohmann::json fields);

  void info(std::string_view event, nlohmann::json fields = nullptr) {
    write(log_level::info, event, std::move(fields));
  }
  void warn(std::string_view event, nlohmann::json fields = nullptr) {
    write(log_level::warn, event, std::move(fields));
  }
  void error(std::string_view event, nlohmann::json fields = nullptr) {
    write(log_level::error, event, std::move(fields));
  }
  void debug(std::string_view event, nlohmann::json fields = nullptr) {
    write(log_level::debug, event, std::move(fields));
  }

 private:
  std::FILE* out_;
  log_level min_;
};

}  // namespace acis::daemon
