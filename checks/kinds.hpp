// Constructors of the check kinds, one per file in checks/ (http_check.cpp, ...).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "checks/check.hpp"

namespace acis::checks {

std::unique_ptr<check> make_http_check(const config::check_config& c, const config::http_check& k,
                                       check_context ctx);
std::unique_ptr<check> make_postgres_check(const config::check_config& c,
                                           const config::postgres_check& k, check_context ctx);
std::unique_ptr<check> make_model_metadata_check(const config::check_config& c,
                                                 const config::model_metadata_check& k,
                                                 check_context ctx);
// The model_metadata check's scan itself (blocking: the check runs it on the pool). Complete
// when models_dir was listed and stayed the same folder while each model folder was judged;
// incomplete (one failing "" result) when it is missing, unreadable, or was removed or replaced
// during the scan. A model folder that vanished before its verdict is not reported (gone).
// `after_listing`, when set, runs between listing and judging: a test's stand-in for a deploy
// that races the scan.
attempt_result scan_model_folders(const config::model_metadata_check& k,
                                  std::chrono::system_clock::time_point now,
                                  const std::function<void()>& after_listing = {});
std::unique_ptr<check> make_process_check(const config::check_config& c,
                                          const config::process_check& k, check_context ctx);
std::unique_ptr<check> make_file_age_check(const config::check_config& c,
                                           const config::file_age_check& k, check_context ctx);

// log_pattern (log_pattern_check.cpp). The instance keeps its place in the file between runs,
// so the scheduler must keep one instance per check and never overlap its runs. `now` is read
// once per run on the event loop and stamps the lines that run found; empty: steady_clock
// (a window of matches must not stretch or shrink when the wall clock is stepped). Tests
// inject it to move the window in simulated time.
using steady_now_fn = std::function<std::chrono::steady_clock::time_point()>;
std::unique_ptr<check> make_log_pattern_check(const config::check_config& c,
                                              const config::log_pattern_check& k, check_context ctx,
                                              steady_now_fn now = {});

// The matching lines a log_pattern check has counted, by the time it saw them. Pure: every time
// is given, nothing is read from a clock. A line seen at `t` counts while `now - t < window`.
// Memory is bounded whatever the rate: counts seen within window/1024 of each other share one
// entry stamped with the newest time, so a line may count up to window/1024 longer (never
// shorter) than the window.
class log_match_window {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  explicit log_match_window(std::chrono::milliseconds window) : window_(window) {}

  // Records `matches` lines and `skipped_bytes` unread bytes seen at `seen` (non-decreasing).
  void add(time_point seen, std::size_t matches, std::uint64_t skipped_bytes = 0);
  // Forgets what was seen at or before `now - window`.
  void expire(time_point now);

  std::size_t matches() const { return matches_; }
  std::uint64_t skipped_bytes() const { return skipped_; }
  std::size_t entries() const { return entries_.size(); }

 private:
  struct entry {
    time_point first, last;
    std::size_t matches;
    std::uint64_t skipped;
  };
  std::chrono::milliseconds window_;
  std::deque<entry> entries_;
  std::size_t matches_ = 0;
  std::uint64_t skipped_ = 0;
};

}  // namespace acis::checks
