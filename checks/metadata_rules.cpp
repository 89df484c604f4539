#include "checks/metadata_rules.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace acis::checks {

namespace {

using json = nlohmann::json;
using sys_clock = std::chrono::system_clock;

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

struct metadata_file {
  std::string text;
  sys_clock::time_point mtime;
};

// Reads the whole file, bounded. The error alternative is the reason without the path prefix.
// O_NONBLOCK: a FIFO planted in place of the file must not hang a pool thread in open().
std::variant<metadata_file, std::string> read_metadata_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return std::string("missing");
    return "cannot read: " + os_error(err);
  }
  struct fd_closer {
    int fd;
    ~fd_closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) return "cannot read: " + os_error(errno);
  if (S_ISDIR(st.st_mode)) return "cannot read: " + os_error(EISDIR);
  if (!S_ISREG(st.st_mode)) return std::string("cannot read: not a regular file");
  if (static_cast<std::size_t>(st.st_size) > max_metadata_bytes)
    return "too large: " + std::to_string(st.st_size) + " bytes, limit " +
           std::to_string(max_metadata_bytes);

  metadata_file out;
  out.mtime = sys_clock::time_point(std::chrono::duration_cast<sys_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  // Read one byte past the limit: the file may have grown since fstat. The buffer starts at
  // the size fstat saw (a 1 MiB zeroed buffer per file cost 20 GB of memset per scan of
  // 20 000 folders) and grows up to the limit if the file did.
  const std::size_t cap = max_metadata_bytes + 1;
  std::string buf(std::min(cap, static_cast<std::size_t>(st.st_size) + 4096), '\0');
  std::size_t got = 0;
  while (got < cap) {
    if (got == buf.size()) buf.resize(std::min(cap, buf.size() * 2));
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return "cannot read: " + os_error(errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max_metadata_bytes)
    return "too large: over " + std::to_string(max_metadata_bytes) + " bytes";
  buf.resize(got);
  out.text = std::move(buf);
  return out;
}

// "syntax error while parsing value - unexpected end of input; expected ..." -> the middle.
std::string parse_error_detail(const char* what) {
  std::string_view w(what);
  auto dash = w.find(" - ");
  if (dash == std::string_view::npos) return {};
  w.remove_prefix(dash + 3);
  if (auto semi = w.find(';'); semi != std::string_view::npos) w = w.substr(0, semi);
  return std::string(w);
}

// A value as it appears in a reason: JSON text, cut so that a reason stays one short line.
std::string show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t max_len = 60;
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  return s;
}

std::string show_number(double d) { return json(d).dump(); }

const json* find(const json& doc, const std::string& pointer) {
  try {
    return &doc.at(json::json_pointer(pointer));
  } catch (const json::exception&) {
    return nullptr;  // absent, wrong type on the way, or a malformed pointer
  }
}

std::string describe(const config::metadata_rule& rule) {
  std::string d = "rule";
  if (rule.min) d += " min " + show_number(*rule.min);
  if (rule.max) d += " max " + show_number(*rule.max);
  if (rule.equals) d += " equals " + show(*rule.equals);
  return d;
}

void check_rule(const json& doc, const config::metadata_rule& rule,
                std::vector<std::string>& problems) {
  const json* v = find(doc, rule.path);
  if (!v) {
    problems.push_back(rule.path + " missing (" + describe(rule) + ")");
    return;
  }
  if (rule.min || rule.max) {
    if (!v->is_number()) {
      problems.push_back(rule.path + " = " + show(*v) + " is not a number (" + describe(rule) +
                         ")");
    } else {
      double x = v->get<double>();
      if (rule.min && x < *rule.min)
        problems.push_back(rule.path + " = " + show(*v) + ", rule min " + show_number(*rule.min));
      if (rule.max && x > *rule.max)
        problems.push_back(rule.path + " = " + show(*v) + ", rule max " + show_number(*rule.max));
    }
  }
  if (rule.equals && *v != *rule.equals)
    problems.push_back(rule.path + " = " + show(*v) + ", rule equals " + show(*rule.equals));
}

void check_age(const json& doc, const metadata_file& file, const config::model_metadata_check& cfg,
               sys_clock::time_point now, std::vector<std::string>& problems) {
  if (!cfg.max_age) return;
  sys_clock::time_point written = file.mtime;
  const char* what = "last modified";
  if (cfg.timestamp_pointer) {
    const std::string& ptr = *cfg.timestamp_pointer;
    const json* v = find(doc, ptr);
    if (!v) {
      problems.push_back("timestamp " + ptr + " missing (needed for max_age " +
                         format_age(*cfg.max_age) + ")");
      return;
    }
    std::optional<sys_clock::time_point> t;
    if (v->is_string()) t = parse_rfc3339(v->get_ref<const std::string&>());
    if (!t) {
      std::string hint;
      if (v->is_string() && parse_rfc3339(v->get_ref<const std::string&>() + "Z"))
        hint = " (no UTC offset: add Z or +hh:mm)";
      problems.push_back("timestamp " + ptr + " = " + show(*v) + " is not an RFC 3339 timestamp" +
                         hint);
      return;
    }
    written = *t;
    what = "trained";
  }
  auto age = now - written;
  if (age > *cfg.max_age)
    problems.push_back(std::string("stale: ") + what + " " + format_age(age) + " ago, max_age " +
                       format_age(*cfg.max_age));
}

}  // namespace

std::optional<std::string> evaluate_metadata(const std::filesystem::path& model_dir,
                                             const config::model_metadata_check& cfg,
                                             sys_clock::time_point now) {
  const std::filesystem::path path = model_dir / cfg.metadata_file;
  const std::string prefix = path.string() + ": ";
  try {
    auto read = read_metadata_file(path);
    if (auto* err = std::get_if<std::string>(&read)) return prefix + *err;
    const auto& file = std::get<metadata_file>(read);

    json doc;
    try {
      doc = json::parse(file.text);
    } catch (const json::parse_error& e) {
      std::string detail = parse_error_detail(e.what());
      return prefix + "invalid JSON at byte " + std::to_string(e.byte) +
             (detail.empty() ? "" : " (" + detail + ")");
    }

    std::vector<std::string> problems;
    check_age(doc, file, cfg, now, problems);
    for (const auto& rule : cfg.rules) check_rule(doc, rule, problems);
    if (problems.empty()) return std::nullopt;

    std::string reason = prefix;
    for (std::size_t i = 0; i < problems.size() && i < max_metadata_problems; ++i) {
      if (i) reason += "; ";
      reason += problems[i];
    }
    if (problems.size() > max_metadata_problems)
      reason += "; and " + std::to_string(problems.size() - max_metadata_problems) + " more";
    return reason;
  } catch (const std::exception& e) {
    // Only allocation failure is expected here; it is still a verdict, not a crash.
    return prefix + "cannot evaluate: " + e.what();
  }
}

std::optional<sys_clock::time_point> parse_rfc3339(std::string_view s) {
  std::size_t i = 0;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  auto digits = [&](int n, int& out) {
    if (i + static_cast<std::size_t>(n) > s.size()) return false;
    out = 0;
    for (int k = 0; k < n; ++k) {
      char c = s[i + static_cast<std::size_t>(k)];
      if (!is_digit(c)) return false;
      out = out * 10 + (c - '0');
    }
    i += static_cast<std::size_t>(n);
    return true;
  };
  auto lit = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };

  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!digits(4, year) || !lit('-') || !digits(2, mon) || !lit('-') || !digits(2, day))
    return std::nullopt;
  if (!lit('T') && !lit('t') && !lit(' ')) return std::nullopt;
  if (!digits(2, hour) || !lit(':') || !digits(2, min) || !lit(':') || !digits(2, sec))
    return std::nullopt;

  std::chrono::nanoseconds frac{0};
  if (lit('.')) {
    std::size_t start = i;
    long long v = 0;
    int kept = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (kept < 9) {
        v = v * 10 + (s[i] - '0');
        ++kept;
      }
    }
    if (i == start) return std::nullopt;
    for (; kept < 9; ++kept) v *= 10;
    frac = std::chrono::nanoseconds(v);
  }

  std::chrono::minutes offset{0};
  if (lit('Z') || lit('z')) {
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh = 0, om = 0;
    if (!digits(2, oh) || !lit(':') || !digits(2, om) || oh > 23 || om > 59) return std::nullopt;
    offset = std::chrono::minutes(sign * (oh * 60 + om));
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;

  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(mon)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || min > 59 || sec > 60) return std::nullopt;  // 60: leap second
  auto t = sys_days(ymd) + hours(hour) + minutes(min) + seconds(sec) + frac - offset;
  return sys_clock::time_point(duration_cast<sys_clock::duration>(t.time_since_epoch()));
}

std::string format_age(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d <= nanoseconds::zero()) return "0s";
  if (d < seconds(1)) return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
  auto total = duration_cast<seconds>(d).count();
  long long h = total / 3600, m = (total / 60) % 60, s = total % 60;
  auto unit = [](long long v, const char* u) { return v ? std::to_string(v) + u : std::string(); };
  if (h) return std::to_string(h) + "h" + unit(m, "m");
  if (m) return std::to_string(m) + "m" + unit(s, "s");
  return std::to_string(s) + "s";
}

}  // namespace acis::checks
