#include "remediation/drill.hpp"
#include "remediation/verify.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <system_error>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "checks/attempt.hpp"
#include "checks/check.hpp"
#include "checks/http_client.hpp"
#include "checks/text.hpp"
#include "checks/metadata_rules.hpp"
#include "remediation/process_runner.hpp"
#include "remediation/runbook_runner.hpp"
#include "remediation/steps.hpp"

namespace acis::remediation {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using wall_clock = std::chrono::system_clock;

namespace {

// A drill record is a few KiB; anything much larger in the folder is not ours and is not read.
constexpr std::uintmax_t max_record_bytes = 4 * 1024 * 1024;

// The record in one .json file, or nullopt when the file is unreadable, not JSON, or lacks a
// field the daemon needs (runbook, started, duration_seconds, ok).
std::optional<drill_record> read_record(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec || size > max_record_bytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return std::nullopt;
  const auto j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto rb = j.find("runbook");
  const auto started = j.find("started");
  const auto took = j.find("duration_seconds");
  const auto ok = j.find("ok");
  if (rb == j.end() || !rb->is_string() || rb->get_ref<const std::string&>().empty() ||
      started == j.end() || !started->is_string() || took == j.end() || !took->is_number() ||
      ok == j.end() || !ok->is_boolean())
    return std::nullopt;
  const auto when = checks::parse_rfc3339(started->get_ref<const std::string&>());
  const double seconds = took->get<double>();
  if (!when || !(seconds >= 0)) return std::nullopt;  // also refuses NaN
  drill_record r;
  r.runbook = rb->get<std::string>();
  r.started = *when;
  r.duration_seconds = seconds;
  r.ok = ok->get<bool>();
  r.file = file.string();
  return r;
}

}  // namespace

std::map<std::string, drill_record> latest_drills(const fs::path& drills_dir) {
  std::map<std::string, drill_record> out;
  std::error_code ec;
  fs::directory_iterator it(drills_dir, ec);
  if (ec) return out;  // missing or unreadable folder: no drills known
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    const auto& entry = *it;
    const auto& p = entry.path();
    // Only finished records: the temp files of a drill being written start with '.'.
    if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    auto r = read_record(p);
    if (!r) continue;
    auto [slot, inserted] = out.try_emplace(r->runbook, *r);
    // Newest by `started`; on a tie the later file name wins, so the choice does not depend on
    // the order the folder is listed in.
    if (!inserted && (r->started > slot->second.started ||
                      (r->started == slot->second.started && r->file > slot->second.file)))
      slot->second = std::move(*r);
  }
  return out;
}

// ---- formatting (pure) -----------------------------------------------------------------------

namespace {

using checks::one_line;

// A markdown table cell: one line, '|' escaped so that it cannot add a column.
std::string cell(std::string_view s) {
  std::string out;
  for (char c : one_line(s)) {
    if (c == '|') out += "\\|";
    else out.push_back(c);
  }
  return out;
}

std::size_t longest_backtick_run(std::string_view s) {
  std::size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

// Inline code whose delimiter is longer than any backtick run inside it.
std::string code_span(std::string_view s) {
  const auto text = one_line(s);
  const std::string ticks(longest_backtick_run(text) + 1, '`');
  const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
  return ticks + (pad ? " " : "") + text + (pad ? " " : "") + ticks;
}

// A link when the target is a plain URL, else the text as is.
std::string link(const std::string& url) {
  if (url.empty() || url.find_first_of(" <>") != std::string::npos) return url;
  return "<" + url + ">";
}

struct utc_fields {
  int year;
  unsigned month, day;
  int hour, minute, second, millisecond;
};

utc_fields utc_of(wall_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t.time_since_epoch());
  const auto d = floor<days>(ms);
  const year_month_day ymd{sys_days{d}};
  const auto in_day = ms - d;  // [0, 24h) thanks to floor
  const auto h = duration_cast<hours>(in_day);
  const auto m = duration_cast<minutes>(in_day - h);
  const auto s = duration_cast<seconds>(in_day - h - m);
  const auto f = in_day - h - m - s;
  return {int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()), int(h.count()),
          int(m.count()), int(s.count()), int(f.count())};
}

// "2026-11-30T12:00:00.123Z"
std::string rfc3339(wall_clock::time_point t) {
  const auto u = utc_of(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", u.year, u.month, u.day,
                u.hour, u.minute, u.second, u.millisecond);
  return buf;
}

// Seconds, rounded to the microsecond (a record reads 0.204464, not 0.20446430299999999).
double seconds_of(std::chrono::nanoseconds d) {
  return std::round(std::chrono::duration<double>(d).count() * 1e6) / 1e6;
}

std::string_view result_of(const drill_step& s) {
  if (!s.ran) return "not run";
  if (s.cancelled) return "cancelled";
  return s.ok ? "ok" : "failed";
}

bool refused(const drill_step& s) { return s.detail.rfind("refused:", 0) == 0; }

std::string step_ref(const drill_report& r, std::size_t i) {
  return "step " + std::to_string(i + 1) + " (" + one_line(r.steps[i].name) + ")";
}

// "passed: every step succeeded", "failed at step 2 (verify): ...", "cancelled during step 1
// (restart API)"; for a dry run what would happen.
std::string outcome_line(const drill_report& r) {
  if (r.ok) return r.executed ? "passed: every step succeeded" : "every step would run";
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    if (!s.ran || s.ok) continue;
    if (s.cancelled) return "cancelled during " + step_ref(r, i) + ": " + one_line(s.detail);
    if (!r.executed) return step_ref(r, i) + " would fail: " + one_line(s.detail);
    return "failed at " + step_ref(r, i) + ": " + one_line(s.detail);
  }
  for (std::size_t i = 0; i < r.steps.size(); ++i)
    if (!r.steps[i].ran)
      return std::string(r.cancelled ? "cancelled" : "stopped") + " before " + step_ref(r, i);
  return r.cancelled ? "cancelled" : "failed";
}

std::string check_line(const drill_report& r) {
  if (r.check.empty()) return "none: no check names this runbook";
  std::string s = one_line(r.check);
  if (!r.check_kind.empty()) s += " (" + r.check_kind + " check)";
  return s;
}

// "3.2s, within the high response time of 15m"
std::string total_text(const drill_report& r) {
  std::string s = checks::format_seconds(r.took);
  if (!r.severity || !r.response_time)
    return s + "; severity unknown (no check names runbook " + one_line(r.runbook) +
           "), nothing to compare with";
  const bool within = r.took <= *r.response_time;
  return s + (within ? ", within" : ", exceeds") + " the " +
         std::string(config::to_string(*r.severity)) + " response time of " +
         config::format_duration(*r.response_time);
}

std::string severity_line(const drill_report& r) {
  if (!r.severity) return "unknown (no check names this runbook): nothing to compare the total with";
  std::string s(config::to_string(*r.severity));
  if (r.response_time) s += ", response time " + config::format_duration(*r.response_time);
  return s;
}

}  // namespace

std::string drill_stamp(wall_clock::time_point t) {
  const auto u = utc_of(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", u.year, u.month, u.day, u.hour,
                u.minute, u.second);
  return buf;
}

std::string drill_total_line(const drill_report& r) { return "total " + total_text(r); }

std::string render_drill_markdown(const drill_report& r) {
  std::string out;
  auto line = [&](const std::string& s) {
    out += s;
    out += '\n';
  };
  line("# Drill: " + one_line(r.runbook));
  line("");
  line("- **Date:** " + rfc3339(r.started) + " (UTC)");
  line("- **Run by:** " + one_line(r.ran_by) + " on host " + one_line(r.host));
  line("- **Check/target:** " + check_line(r) +
       (r.target.empty() ? ", no target" : ", target " + one_line(r.target)));
  line("- **Severity:** " + severity_line(r));
  line("- **Incident id used for placeholders:** " + one_line(r.incident));
  line(std::string("- **Mode:** ") +
       (r.executed ? "executed against the live system" : "dry run (nothing was executed)"));
  line("- **Result:** " + outcome_line(r));
  line("- **Total:** " + total_text(r));
  line("- **Runbook:** " + one_line(r.runbook) +
       (r.doc ? " — doc: " + link(one_line(*r.doc)) : " (no doc link configured)"));
  line("");

  line("## Steps");
  line("");
  line("| # | step | kind | duration | result | detail |");
  line("|---|---|---|---|---|---|");
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    line("| " + std::to_string(i + 1) + " | " + cell(s.name) + " | " + cell(s.kind) + " | " +
         (s.ran ? checks::format_seconds(s.took) : std::string("—")) + " | " +
         std::string(result_of(s)) + " | " + cell(s.detail) + " |");
  }
  line("");

  line("## What each step did");
  line("");
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    line(std::to_string(i + 1) + ". **" + cell(s.name) + "** (" + cell(s.kind) + "): " +
         code_span(s.resolved));
  }
  line("");

  bool any_output = false;
  for (const auto& s : r.steps) any_output |= !s.output.empty();
  if (any_output) {
    line("## Output");
    line("");
    for (std::size_t i = 0; i < r.steps.size(); ++i) {
      const auto& s = r.steps[i];
      if (s.output.empty()) continue;
      const auto text = one_line(s.output);
      const std::string fence(std::max<std::size_t>(3, longest_backtick_run(text) + 1), '`');
      line("### Step " + std::to_string(i + 1) + ": " + one_line(s.name));
      line("");
      line(fence + "text");
      line(text);
      line(fence);
      line("");
    }
  }

  bool any_manual = false;
  for (const auto& s : r.steps) any_manual |= s.manual_instruction.has_value();
  if (any_manual) {
    line("## Action items");
    line("");
    for (std::size_t i = 0; i < r.steps.size(); ++i)
      if (const auto& m = r.steps[i].manual_instruction)
        line("- " + one_line(*m) + " (step " + std::to_string(i + 1) + ")");
    line("");
  }
  return out;
}

std::string render_drill_json(const drill_report& r) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json steps = json::array();
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const auto& s = r.steps[i];
    json j{{"index", i + 1},
           {"name", s.name},
           {"kind", s.kind},
           {"resolved", s.resolved},
           {"result", result_of(s)},
           {"ok", s.ran && s.ok},
           {"duration_seconds", s.ran ? json(seconds_of(s.took)) : json(nullptr)},
           {"detail", s.detail}};
    if (!s.output.empty()) j["output"] = s.output;
    if (s.manual_instruction) j["manual_instruction"] = *s.manual_instruction;
    steps.push_back(std::move(j));
  }
  json j{{"runbook", r.runbook},
         {"doc", r.doc ? json(*r.doc) : json(nullptr)},
         {"check", or_null(r.check)},
         {"check_kind", or_null(r.check_kind)},
         {"target", or_null(r.target)},
         {"severity", r.severity ? json(config::to_string(*r.severity)) : json(nullptr)},
         {"response_time_seconds",
          r.response_time ? json(seconds_of(*r.response_time)) : json(nullptr)},
         {"within_response_time",
          r.response_time ? json(r.took <= *r.response_time) : json(nullptr)},
         {"incident", r.incident},
         {"ran_by", r.ran_by},
         {"host", r.host},
         {"executed", r.executed},
         {"started", rfc3339(r.started)},
         {"finished", rfc3339(r.started + std::chrono::duration_cast<wall_clock::duration>(r.took))},
         {"duration_seconds", seconds_of(r.took)},
         {"ok", r.ok},
         {"cancelled", r.cancelled},
         {"result", outcome_line(r)},
         {"steps", std::move(steps)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// ---- running a drill --------------------------------------------------------------------------

namespace {

// State shared by the drill's coroutines; everything runs on the drill's one event-loop thread.
struct drill_run {
  const config::config& cfg;
  asio::io_context& ioc;
  asio::thread_pool& pool;
  bool cancelled = false;  // SIGINT/SIGTERM received
  std::string signal;      // which one: "SIGINT", "SIGTERM"
};

std::string user_name() {
  const uid_t uid = ::getuid();
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name &&
      *found->pw_name)
    return found->pw_name;
  return "uid " + std::to_string(uid);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown host";
  return buf;
}

std::string errno_text(const fs::path& p) { return p.string() + ": " + std::strerror(errno); }

// Creates the missing folders of `dir`, each with mode 0750 (drill reports name the commands a
// runbook runs: not for every local user). "" on success, else why not.
std::string make_dirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return "";
  if (dir.has_parent_path() && dir.parent_path() != dir)
    if (auto e = make_dirs(dir.parent_path()); !e.empty()) return e;
  if (::mkdir(dir.c_str(), 0750) == 0) {
    ::chmod(dir.c_str(), 0750);  // the umask may have taken bits away
  } else if (errno != EEXIST) {
    return errno_text(dir);
  }
  if (!fs::is_directory(dir, ec)) return dir.string() + ": not a folder";
  return "";
}

std::string write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::strerror(n < 0 ? errno : EIO);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return "";
}

// Writes `dir/name` atomically: a temp file in the same folder, fsync'ed, renamed into place,
// and the folder fsync'ed. A reader sees the old state or the whole file, never a part.
std::string write_atomic(const fs::path& dir, const std::string& name, std::string_view text) {
  const fs::path tmp = dir / ("." + name + ".tmp." + std::to_string(::getpid()));
  const fs::path final_path = dir / name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errno_text(tmp);
  std::string error = write_all(fd, text);
  if (error.empty() && ::fsync(fd) != 0) error = std::strerror(errno);
  if (::close(fd) != 0 && error.empty()) error = std::strerror(errno);
  if (error.empty() && ::rename(tmp.c_str(), final_path.c_str()) != 0) error = std::strerror(errno);
  if (!error.empty()) {
    ::unlink(tmp.c_str());
    return final_path.string() + ": " + error;
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return "";
}

// The folder exists (created 0750 if need be) and a file can be created in it: checked before
// a drill executes anything, so that an unwritable state dir fails the drill up front.
std::string prepare_drills_dir(const fs::path& dir) {
  if (auto e = make_dirs(dir); !e.empty()) return e;
  const fs::path probe = dir / (".probe." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errno_text(probe);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

// Saves the .md and then the .json (the daemon reads the .json: once it is there, the report
// is too). Never overwrites an earlier drill of the same second.
std::string save_report(const fs::path& dir, const drill_report& r, std::vector<fs::path>& saved) {
  std::string stem = r.runbook + "-" + drill_stamp(r.started);
  std::error_code ec;
  for (int n = 2; fs::exists(dir / (stem + ".md"), ec) || fs::exists(dir / (stem + ".json"), ec); ++n)
    stem = r.runbook + "-" + drill_stamp(r.started) + "-" + std::to_string(n);
  if (auto e = write_atomic(dir, stem + ".md", render_drill_markdown(r)); !e.empty()) return e;
  saved.push_back(dir / (stem + ".md"));
  if (auto e = write_atomic(dir, stem + ".json", render_drill_json(r)); !e.empty()) return e;
  saved.push_back(dir / (stem + ".json"));
  return "";
}

const std::string pad = "     ";

void print_step_line(std::ostream& out, std::size_t i, const drill_step& s) {
  out << "  " << (i + 1) << ". " << one_line(s.name) << " [" << s.kind << "] "
      << one_line(s.resolved) << "\n"
      << std::flush;
}

void print_step_result(std::ostream& out, const drill_step& s, const drill_report& r) {
  if (!s.ran) {
    out << pad << "not run" << (r.cancelled ? " (cancelled)" : "") << "\n";
    return;
  }
  if (!r.executed) {
    if (refused(s))  // the step line already says why (describe_step)
      out << pad << "REFUSED: nothing is executed; in an incident this step fails here\n";
    else if (!s.ok)
      out << pad << "would FAIL: " << one_line(s.detail) << "\n";
    else if (s.kind == "signal" || s.kind == "rollback_model")
      out << pad << one_line(s.detail) << "\n";  // which processes, which folder: news to a person
  } else {
    out << pad << (s.cancelled ? "CANCELLED after " : s.ok ? "ok in " : "FAILED in ")
        << checks::format_seconds(s.took) << ": " << one_line(s.detail) << "\n";
  }
  if (!s.ok && r.target.empty() &&
      (s.detail.find("{target}") != std::string::npos || s.detail.find("{model}") != std::string::npos ||
       s.detail.find("needs the failing model") != std::string::npos))
    out << pad << "hint: this step needs a target: give --target T\n";
  if (!s.output.empty()) {
    // Bounded already (the step keeps 2000 printable characters); wrapped for a terminal.
    const auto text = one_line(s.output);
    out << pad << "output:\n";
    for (std::size_t k = 0; k < text.size(); k += 100) out << pad << "  " << text.substr(k, 100) << "\n";
  }
  if (s.manual_instruction && r.executed) out << pad << "action item: " << one_line(*s.manual_instruction) << "\n";
  out << std::flush;
}

}  // namespace

int run_drill(const config::config& cfg, const drill_options& opt, std::ostream& out,
              std::ostream& err) {
  const auto rb_it = cfg.runbooks.find(opt.runbook);
  if (rb_it == cfg.runbooks.end()) {
    err << "acis-healthd: no runbook named \"" << one_line(opt.runbook) << "\" in the config";
    if (cfg.runbooks.empty()) {
      err << ", which defines none\n";
    } else {
      err << "; known runbooks:\n";
      for (const auto& [name, rb] : cfg.runbooks) err << "  " << name << "\n";
    }
    return 2;
  }
  const auto& rb = rb_it->second;
  const config::check_config* chk = nullptr;
  for (const auto& c : cfg.checks) {
    if (c.runbook && *c.runbook == opt.runbook) {
      chk = &c;
      break;
    }
  }

  drill_report rep;
  rep.runbook = opt.runbook;
  rep.doc = rb.doc;
  rep.executed = opt.execute;
  rep.started = wall_clock::now();
  rep.incident = "drill-" + drill_stamp(rep.started);
  rep.ran_by = user_name();
  rep.host = host_name();
  rep.target = opt.target.value_or("");
  template_values values;
  values.values["incident"] = rep.incident;
  if (chk) {
    rep.check = chk->name;
    rep.check_kind = std::string(config::kind_name(chk->kind));
    rep.severity = chk->level;
    if (auto rt = cfg.response_times.find(chk->level); rt != cfg.response_times.end())
      rep.response_time = rt->second;
    values.values["check"] = chk->name;
    values.values["severity"] = std::string(config::to_string(chk->level));
    if (!rep.target.empty() && std::holds_alternative<config::model_metadata_check>(chk->kind))
      values.values["model"] = rep.target;
  }
  if (!rep.target.empty()) values.values["target"] = rep.target;

  out << "Drill: " << rep.runbook << "\n";
  out << "  check:    "
      << (chk ? check_line(rep) : "none: no check names this runbook") << "\n";
  out << "  severity: " << severity_line(rep) << "\n";
  out << "  target:   " << (rep.target.empty() ? "none (no --target)" : one_line(rep.target)) << "\n";
  out << "  incident: " << rep.incident << "\n";
  if (rb.doc) out << "  doc:      " << one_line(*rb.doc) << "\n";
  out << "  mode:     "
      << (opt.execute ? "EXECUTING against the live system" : "dry run — nothing is executed")
      << "\n";
  if (opt.execute && cfg.daemon.dry_run)
    out << "warning: the daemon's config is in dry-run mode (daemon.dry_run: true); a drill "
           "with --execute executes its steps all the same\n";
  out << "\n" << std::flush;

  const fs::path drills_dir = fs::path(cfg.daemon.state_dir) / "drills";
  if (opt.execute) {
    if (auto e = prepare_drills_dir(drills_dir); !e.empty()) {
      err << "acis-healthd: cannot save drill reports in " << drills_dir.string() << ": " << e
          << "; nothing was executed\n";
      return 3;
    }
    // Grandchildren that a step's script orphans come back to us, to be killed and reaped.
    become_subreaper();
  }

  for (const auto& step : rb.steps) {
    drill_step s;
    s.name = step.name;
    s.kind = std::string(step_kind(step));
    s.resolved = describe_step(step, values);
    rep.steps.push_back(std::move(s));
  }

  std::optional<std::size_t> current;  // the step running now
  steady::time_point current_start{};
  {
    asio::io_context ioc{1};
    // The blocking work of the steps (rollback_model) and of `verify` checks (file system,
    // libpqxx): one drill needs little.
    asio::thread_pool pool(2);
    drill_run run{cfg, ioc, pool, false, {}};

    step_context ctx;
    ctx.io = ioc.get_executor();
    ctx.blocking = &pool;
    ctx.values = values;
    ctx.dry_run = !opt.execute;
    ctx.check = chk;
    ctx.target = rep.target;
    ctx.find_check = [&run](const std::string& name) { return run.cfg.find_check(name); };
    // The daemon's verify, feeding no tracker; a cancelled drill stops it.
    ctx.verify = [&run](const verify_spec& spec) -> asio::awaitable<std::string> {
      auto why = co_await verify_until(checks::check_context{run.ioc.get_executor(), &run.pool}, spec, {},
                                       [&run] { return run.cancelled; });
      co_return run.cancelled ? std::string("drill cancelled") : why;
    };

    runbook_observer obs;
    obs.stop_requested = [&run] { return run.cancelled; };
    obs.step_started = [&](const config::step_config& step, const std::string& resolved) {
      const auto i = static_cast<std::size_t>(&step - rb.steps.data());
      rep.steps[i].resolved = resolved;
      current = i;
      current_start = steady::now();
      print_step_line(out, i, rep.steps[i]);
    };
    obs.step_finished = [&](const config::step_config& step, const step_record& rec) {
      const auto i = static_cast<std::size_t>(&step - rb.steps.data());
      auto& s = rep.steps[i];
      s.ran = true;
      s.ok = rec.outcome.ok;
      s.cancelled = !s.ok && run.cancelled;
      s.took = rec.took;
      s.detail = s.cancelled ? "cancelled by " + run.signal + " to the drill (" + rec.outcome.detail + ")"
                             : rec.outcome.detail;
      s.output = rec.outcome.output;
      s.manual_instruction = rec.outcome.manual_instruction;
      current.reset();
      print_step_result(out, s, rep);
    };

    asio::cancellation_signal cancel;
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      run.cancelled = true;
      run.signal = sig == SIGINT ? "SIGINT" : "SIGTERM";
      rep.cancelled = true;
      err << "acis-healthd: " << run.signal
          << ": cancelling the drill (a running step's processes get SIGTERM, then SIGKILL)\n"
          << std::flush;
      cancel.emit(asio::cancellation_type::terminal);
    });

    std::optional<runbook_outcome> result;
    std::string escaped;  // what a cancelled wait/verify/http step threw
    steady::duration took{};
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          const auto t0 = steady::now();
          try {
            result = co_await run_runbook_steps(rb, ctx, obs);
          } catch (const std::exception& e) {
            escaped = e.what();
          }
          took = steady::now() - t0;
        },
        asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { signals.cancel(); }));
    ioc.run();
    pool.join();

    rep.took = took;
    rep.ok = result && result->ok && !run.cancelled;
    if (current) {
      // The step ended by an exception (cancellation of a wait, verify or http step).
      auto& s = rep.steps[*current];
      s.ran = true;
      s.ok = false;
      s.cancelled = run.cancelled;
      s.took = steady::now() - current_start;
      s.detail = run.cancelled ? "cancelled by " + run.signal + " to the drill" : "step error: " + escaped;
      print_step_result(out, s, rep);
    }
    for (std::size_t i = 0; i < rep.steps.size(); ++i) {
      auto& s = rep.steps[i];
      if (s.ran) continue;
      s.resolved = describe_step(rb.steps[i], ctx.values);  // with values earlier steps produced
      print_step_line(out, i, s);
      print_step_result(out, s, rep);
    }
  }

  out << "\n";
  if (opt.execute)
    out << drill_total_line(rep) << "\n";
  else if (rep.response_time)
    out << "nothing executed; with --execute the total is compared with the "
        << config::to_string(*rep.severity) << " response time of "
        << config::format_duration(*rep.response_time) << "\n";
  out << "result: " << outcome_line(rep) << "\n" << std::flush;

  if (opt.execute) {
    std::vector<fs::path> saved;
    const auto e = save_report(drills_dir, rep, saved);
    for (std::size_t k = 0; k < saved.size(); ++k)
      out << (k == 0 ? "report: " : "        ") << saved[k].string() << "\n";
    out << std::flush;
    if (!e.empty()) {
      err << "acis-healthd: cannot save the drill report: " << e << "\n";
      return 3;
    }
  }
  return rep.ok ? 0 : 1;
}

}  // namespace acis::remediation
