// log_pattern: lines matching a pattern appended to a log file, counted over a time window.
//
// Follows the file like `tail -F`:
//  - The first run starts at the end of the file: lines written before the daemon started
//    watching are not counted (a restart must not re-alert on yesterday's errors). A file that
//    does not exist at the first run is read from its start once it appears: all of it is new.
//  - Each run first reads what was appended since the last run from the file descriptor it
//    holds, then stats the path. A different inode (rotation: rename + new file) -> the new file
//    is read from its start, and the old one is read once more at the next run (a writer keeps
//    writing to it until it reopens its log) before it is closed. A file shorter than the
//    offset (truncation, copytruncate) -> read from 0. A missing path fails ("cannot open").
//  - A file truncated and then written past the old offset before the next run looks like
//    plain growth; no poll-based follower can tell (tail -F cannot either).
//  - At most max_read_per_run bytes per run: when more was appended, the oldest part is
//    skipped (the newest lines matter most) and the reason says how much.
//  - Lines are matched on their first max_line_bytes bytes; a last line without its newline is
//    kept until it is completed (or until the file is rotated or truncated under it).
//
// Matching uses POSIX extended regular expressions (<regex.h>), not std::regex: libstdc++'s
// std::regex recurses once per character and overflows the stack on a long line (GCC bug
// 86164); one long log line must not crash the daemon. The config refuses back-references,
// which would make matching exponential.
//
// Threading: the file work runs on the blocking pool (run_blocking_until, with the busy guard:
// runs never overlap). The follower state is touched only by the pool job, or by the event loop
// while no job runs; a job that outlives its deadline leaves what it found in the state, and the
// next run counts it.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/blocking.hpp"
#include "checks/kinds.hpp"
#include "checks/metadata_rules.hpp"

namespace acis::checks {

// ---- log_match_window (pure) -----------------------------------------------------------------

void log_match_window::add(time_point seen, std::size_t matches, std::uint64_t skipped_bytes) {
  if (matches == 0 && skipped_bytes == 0) return;
  matches_ += matches;
  skipped_ += skipped_bytes;
  const auto merge_span = std::chrono::duration_cast<std::chrono::steady_clock::duration>(window_) / 1024;
  if (!entries_.empty() && seen - entries_.back().first < merge_span) {
    auto& back = entries_.back();
    back.last = std::max(back.last, seen);
    back.matches += matches;
    back.skipped += skipped_bytes;
    return;
  }
  entries_.push_back({seen, seen, matches, skipped_bytes});
}

void log_match_window::expire(time_point now) {
  while (!entries_.empty() && now - entries_.front().last >= window_) {
    matches_ -= entries_.front().matches;
    skipped_ -= entries_.front().skipped;
    entries_.pop_front();
  }
}

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

constexpr std::uint64_t max_read_per_run = 16 * 1024 * 1024;
constexpr std::size_t max_line_bytes = 64 * 1024;
constexpr std::size_t max_quoted_lines = 5;
constexpr std::size_t max_quoted_bytes = 200;  // per line, after escaping
constexpr std::size_t max_reason_bytes = 1500;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// ---- text for the reason -----------------------------------------------------------------------

// Length of the valid UTF-8 sequence of a printable character starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  unsigned char c = byte(i);
  if (c == 0xC2) return cont(i + 1, 0xA0) ? 2 : 0;  // C1 controls (U+0080..U+009F) are escaped
  if (c >= 0xC3 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;  // no surrogates
  if (c >= 0xE1 && c <= 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xF0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

// `raw` as the inside of a double-quoted string: printable ASCII and valid UTF-8 kept, '"' and
// '\' backslashed, every other byte as \xHH. At most `max_out` bytes, then "..." (also when
// `longer`: the caller already cut `raw`). The result is valid UTF-8 (it goes into JSON).
std::string escape_text(std::string_view raw, std::size_t max_out, bool longer = false) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  std::size_t i = 0;
  while (i < raw.size()) {
    auto c = static_cast<unsigned char>(raw[i]);
    char piece[5];
    std::size_t n = 0, used = 1;
    if (c == '"' || c == '\\') {
      piece[0] = '\\';
      piece[1] = static_cast<char>(c);
      n = 2;
    } else if (c == '\t') {
      piece[0] = '\\';
      piece[1] = 't';
      n = 2;
    } else if (c >= 0x20 && c < 0x7f) {
      piece[0] = static_cast<char>(c);
      n = 1;
    } else if (std::size_t seq = c >= 0x80 ? utf8_sequence(raw, i) : 0; seq > 0) {
      std::memcpy(piece, raw.data() + i, seq);
      n = used = seq;
    } else {
      piece[0] = '\\';
      piece[1] = 'x';
      piece[2] = hex[c >> 4];
      piece[3] = hex[c & 0xf];
      n = 4;
    }
    if (out.size() + n > max_out) break;
    out.append(piece, n);
    i += used;
  }
  if (i < raw.size() || longer) out += "...";
  return out;
}

std::string quoted(std::string_view raw, std::size_t max_out, bool longer = false) {
  return "\"" + escape_text(raw, max_out, longer) + "\"";
}

std::string format_bytes(std::uint64_t n) {
  if (n >= 1024 * 1024) return std::to_string(n / (1024 * 1024)) + " MiB";
  if (n >= 1024) return std::to_string(n / 1024) + " KiB";
  return std::to_string(n) + " bytes";
}

// A reason is all valid UTF-8 (see escape_text): cut at a character boundary.
std::string bounded(std::string reason) {
  if (reason.size() <= max_reason_bytes) return reason;
  std::size_t cut = max_reason_bytes - 3;
  while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
  reason.resize(cut);
  return reason + "...";
}

// ---- the pattern ---------------------------------------------------------------------------------

class line_matcher {
 public:
  explicit line_matcher(const std::string& pattern) {
    int rc = ::regcomp(&re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
      compiled_ = true;
    } else {
      char message[256];
      ::regerror(rc, &re_, message, sizeof message);
      error_ = message;
    }
  }
  ~line_matcher() {
    if (compiled_) ::regfree(&re_);
  }
  line_matcher(const line_matcher&) = delete;
  line_matcher& operator=(const line_matcher&) = delete;

  bool compiled() const { return compiled_; }
  const std::string& error() const { return error_; }

  // The whole line, NUL bytes included (REG_STARTEND), not only up to its first NUL.
  bool matches(std::string_view line) const {
    regmatch_t range[1];
    range[0].rm_so = 0;
    range[0].rm_eo = static_cast<regoff_t>(line.size());
    return ::regexec(&re_, line.data(), 1, range, REG_STARTEND) == 0;
  }

 private:
  regex_t re_{};
  bool compiled_ = false;
  std::string error_;
};

// ---- following the file --------------------------------------------------------------------------

struct followed_file {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t offset = 0;
  std::string partial;      // the line being read, at most max_line_bytes
  bool discarding = false;  // the current line began before the place we started reading

  followed_file() = default;
  followed_file(const followed_file&) = delete;
  followed_file& operator=(const followed_file&) = delete;
  ~followed_file() {
    if (fd >= 0) ::close(fd);
  }
};

// What scans found and the event loop has not counted yet.
struct scan_findings {
  std::size_t matches = 0;
  // The newest matching lines, oldest first: the first max_quoted_bytes + 4 raw bytes (enough
  // for the escaped quote) and whether the line was longer.
  std::deque<std::pair<std::string, bool>> newest;
  std::uint64_t skipped_bytes = 0;
};

struct follower_state {
  std::unique_ptr<followed_file> current;
  std::unique_ptr<followed_file> retired;  // rotated away or unlinked; read once more
  bool started = false;                    // the first open (at the end) is behind us
  scan_findings found;
  std::optional<std::string> problem;            // of the latest scan: why it cannot follow
  std::optional<std::uint64_t> started_at_byte;  // set by the scan that opened at the end
};

class scanner {
 public:
  scanner(follower_state& st, const line_matcher& m, const std::string& path)
      : st_(st), m_(m), path_(path) {}

  void scan() {
    st_.problem.reset();
    st_.started_at_byte.reset();
    if (st_.retired) {
      drain(*st_.retired);
      finish_line(*st_.retired);
      st_.retired.reset();
    }
    if (st_.current) drain(*st_.current);

    struct stat by_path {};
    if (::stat(path_.c_str(), &by_path) != 0) {
      int err = errno;
      // The writer may still append to the file it has open: read it once more next run.
      if (st_.current) st_.retired = std::move(st_.current);
      if (err == ENOENT) st_.started = true;  // it did not exist: whatever appears is new
      fail("cannot open " + display_path() + ": " + errno_text(err));
      return;
    }
    if (st_.current && (by_path.st_dev != st_.current->dev || by_path.st_ino != st_.current->ino))
      st_.retired = std::move(st_.current);  // rotated
    if (!st_.current) open_current();
  }

 private:
  void fail(std::string problem) {
    if (!st_.problem) st_.problem = std::move(problem);
  }

  std::string display_path() const { return escape_text(path_, 160); }

  void open_current() {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) st_.started = true;
      fail("cannot open " + display_path() + ": " + errno_text(err));
      return;
    }
    auto f = std::make_unique<followed_file>();
    f->fd = fd;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      fail("cannot stat " + display_path() + ": " + errno_text(errno));
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      fail(display_path() + ": not a regular file");
      return;
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!st_.started) {
      // tail -F: begin at the end. A last line without its newline is not ours to count.
      auto size = static_cast<std::uint64_t>(st.st_size);
      f->offset = size;
      char last = '\n';
      if (size > 0 && ::pread(fd, &last, 1, static_cast<off_t>(size - 1)) == 1 && last != '\n')
        f->discarding = true;
      st_.started = true;
      st_.started_at_byte = size;
      st_.current = std::move(f);
      return;
    }
    st_.current = std::move(f);
    drain(*st_.current);
  }

  // Reads `f` from its offset to its end (or the run's budget).
  void drain(followed_file& f) {
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) {
      fail("cannot stat " + display_path() + ": " + errno_text(errno));
      return;
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < f.offset) {  // truncated in place (copytruncate): start again at 0
      finish_line(f);
      f.offset = 0;
      f.discarding = false;
    }
    if (size - f.offset > budget_) {  // skip the oldest part, keep the newest
      auto skip = size - f.offset - budget_;
      st_.found.skipped_bytes += skip;
      f.offset += skip;
      f.partial.clear();
      f.discarding = true;  // landed inside a line
    }
    while (budget_ > 0) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), budget_));
      ssize_t n = ::pread(f.fd, buffer_.data(), want, static_cast<off_t>(f.offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot read " + display_path() + ": " + errno_text(errno));
        return;
      }
      if (n == 0) return;
      f.offset += static_cast<std::uint64_t>(n);
      budget_ -= static_cast<std::uint64_t>(n);
      take(f, std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
    }
  }

  void take(followed_file& f, std::string_view bytes) {
    while (!bytes.empty()) {
      auto nl = bytes.find('\n');
      auto piece = bytes.substr(0, nl);
      if (!f.discarding && f.partial.size() < max_line_bytes)
        f.partial.append(piece.substr(0, max_line_bytes - f.partial.size()));
      if (nl == std::string_view::npos) return;
      if (!f.discarding) match(f.partial);
      f.partial.clear();
      f.discarding = false;
      bytes.remove_prefix(nl + 1);
    }
  }

  // A last line without its newline that will never be completed (rotation, truncation).
  void finish_line(followed_file& f) {
    if (!f.discarding && !f.partial.empty()) match(f.partial);
    f.partial.clear();
    f.discarding = false;
  }

  void match(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF logs
    if (!m_.matches(line)) return;
    ++st_.found.matches;
    constexpr std::size_t keep = max_quoted_bytes + 4;
    st_.found.newest.emplace_back(std::string(line.substr(0, keep)), line.size() > keep);
    if (st_.found.newest.size() > max_quoted_lines) st_.found.newest.pop_front();
  }

  follower_state& st_;
  const line_matcher& m_;
  const std::string& path_;
  std::uint64_t budget_ = max_read_per_run;
  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
};

// ---- the check -----------------------------------------------------------------------------------

// What a job needs, shared with it: after a timeout this check may be destroyed while the pool
// thread is still reading.
struct job_state {
  config::log_pattern_check kind;
  line_matcher matcher;
  follower_state follower;

  explicit job_state(const config::log_pattern_check& k) : kind(k), matcher(k.pattern) {}
};

class log_pattern_check final : public check {
 public:
  log_pattern_check(const config::log_pattern_check& k, check_context ctx, steady_now_fn now)
      : job_(std::make_shared<job_state>(k)),
        ctx_(ctx),
        now_(now ? std::move(now) : steady_now_fn([] { return steady_clock::now(); })),
        window_(k.window) {}

  asio::awaitable<attempt_result> run(steady_clock::time_point deadline) override {
    const auto& k = job_->kind;
    if (!job_->matcher.compiled())
      co_return attempt_result::single(check_result::failing("invalid pattern " + quoted(k.pattern, 80) +
                                                  ": " + job_->matcher.error()));
    if (busy_->load())
      co_return attempt_result::single(check_result::failing("previous attempt still blocked"));
    const auto start = steady_clock::now();
    auto work = [job = job_] {
      scanner(job->follower, job->matcher, job->kind.path).scan();
      return true;
    };
    check_result r;
    try {
      if (co_await run_blocking_until<bool>(ctx_.blocking, work, busy_, deadline)) {
        r = judge(now_());
      } else {
        r = check_result::failing(escape_text(k.path, 160) + ": timed out after " +
                                  format_age(steady_clock::now() - start) +
                                  " (blocked in the file system)");
      }
    } catch (const std::exception& e) {
      r = check_result::failing(std::string("internal error: ") + e.what());
    }
    r.latency = steady_clock::now() - start;
    co_return attempt_result::single(std::move(r));
  }

 private:
  // Counts what the scans found as seen at `now` and judges the window. Event loop only, with
  // no job running.
  check_result judge(steady_clock::time_point now) {
    auto& f = job_->follower;
    auto found = std::exchange(f.found, {});
    window_.add(now, found.matches, found.skipped_bytes);
    window_.expire(now);
    for (auto& line : found.newest) {
      newest_.push_back({now, std::move(line.first), line.second});
      if (newest_.size() > max_quoted_lines) newest_.pop_front();
    }
    while (!newest_.empty() && now - newest_.front().seen >= job_->kind.window) newest_.pop_front();

    const auto& k = job_->kind;
    const std::size_t count = window_.matches();
    const bool too_many = count > static_cast<std::size_t>(std::max(k.max_matches, 0));
    std::string summary = std::to_string(count) + (count == 1 ? " line" : " lines") +
                          " matching " + quoted(k.pattern, 80) + " in " +
                          escape_text(k.path, 160) + " in the last " +
                          config::format_duration(k.window);
    if (too_many) {
      summary += ", more than max_matches " + std::to_string(k.max_matches);
      summary += "; the last " + std::to_string(newest_.size()) + ":";
      for (const auto& line : newest_) summary += " " + quoted(line.text, max_quoted_bytes, line.longer);
    } else if (count > 0) {
      summary += " (at most " + std::to_string(k.max_matches) + " allowed)";
    }
    if (window_.skipped_bytes() > 0)
      summary += "; " + format_bytes(window_.skipped_bytes()) + " not read (more than " +
                 format_bytes(max_read_per_run) + " appended between two runs)";
    if (f.started_at_byte)
      summary += "; following from byte " + std::to_string(*f.started_at_byte) +
                 " (lines written before are not counted)";

    if (f.problem)
      return check_result::failing(bounded(*f.problem + (count > 0 ? "; " + summary : std::string())));
    if (too_many) return check_result::failing(bounded(std::move(summary)));
    return check_result::ok({}, bounded(std::move(summary)));
  }

  struct quoted_line {
    steady_clock::time_point seen;
    std::string text;
    bool longer;
  };

  std::shared_ptr<job_state> job_;
  check_context ctx_;
  steady_now_fn now_;
  log_match_window window_;
  std::deque<quoted_line> newest_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::unique_ptr<check> make_log_pattern_check(const config::check_config&,
                                              const config::log_pattern_check& k, check_context ctx,
                                              steady_now_fn now) {
  return std::make_unique<log_pattern_check>(k, ctx, std::move(now));
}

}  // namespace acis::checks
