// The incident journal (see incident_journal.hpp): replay at start, then a writer thread that
// commits records in groups, holds and retries them when the disk refuses, compacts the file
// while running, and writes reports.
#include "daemon/incident_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <system_error>

namespace acis::daemon {

namespace {

using steady = std::chrono::steady_clock;
using json = nlohmann::json;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::uint64_t id_sequence(std::string_view id) {
  if (!id.starts_with("INC-")) return 0;
  id.remove_prefix(4);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
  return ec == std::errc{} && p == id.data() + id.size() ? v : 0;
}

std::string folder_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes a created or renamed directory entry durable.
void fsync_folder(const std::string& path) {
  int dfd = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw_errno("open folder of " + path);
  int rc = ::fsync(dfd);
  int saved = errno;
  ::close(dfd);
  if (rc != 0) {
    errno = saved;
    throw_errno("fsync folder of " + path);
  }
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void datasync(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) throw_errno("fdatasync " + path);
  }
}

std::string read_all(int fd, const std::string& path) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + path);
    }
    if (n == 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Reasons and targets come from the outside world: never let invalid UTF-8 throw here.
std::string dump_line(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s += '\n';
  return s;
}

// Writes `content` to `path` through `path.tmp` (fsync, rename, fsync of the folder). Never
// leaves the temp file behind.
void write_whole_file(const std::string& path, std::string_view content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("open " + tmp);
  try {
    write_all(fd, content, tmp);
    datasync(fd, tmp);
    if (::close(fd) != 0) {
      fd = -1;
      throw_errno("close " + tmp);
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp);
    fsync_folder(path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

// ---- records -------------------------------------------------------------------------------

journal_record journal_record::for_event(const incident_event& e, time_point at) {
  journal_record r;
  r.what = kind::incident;
  r.at = at;
  r.event = std::string(to_string(e.kind));
  r.change = e.snapshot;
  // Every event appends exactly one timeline entry: only that one is journaled with it.
  if (r.change.timeline.size() > 1)
    r.change.timeline.erase(r.change.timeline.begin(), r.change.timeline.end() - 1);
  return r;
}

journal_record journal_record::reservation(std::uint64_t next_free, time_point at) {
  journal_record r;
  r.what = kind::ids_reserved;
  r.at = at;
  r.ids_reserved = next_free;
  return r;
}

journal_record journal_record::engine_state(nlohmann::json s, time_point at) {
  journal_record r;
  r.what = kind::state;
  r.at = at;
  r.state = std::move(s);
  return r;
}

std::string incident_journal::encode(const journal_record& r) {
  json j{{"v", 2}, {"ts", format_rfc3339(r.at)}};
  switch (r.what) {
    case journal_record::kind::incident: {
      json inc = r.change;
      json add = json::array();
      if (auto it = inc.find("timeline"); it != inc.end()) {
        add = std::move(*it);
        inc.erase(it);
      }
      j["event"] = r.event;
      j["incident"] = std::move(inc);
      j["add"] = std::move(add);
      break;
    }
    case journal_record::kind::ids_reserved:
      j["ids_reserved"] = r.ids_reserved;
      break;
    case journal_record::kind::state:
      j["state"] = r.state;
      break;
  }
  return dump_line(j);
}

// ---- replay --------------------------------------------------------------------------------

incident_journal::incident_journal(std::string path) : path_(std::move(path)) {}

incident_journal::~incident_journal() {
  // One more attempt at what is queued, then go. A thread stuck in the file system is left
  // behind (the owner is about to leave the process: see stop()).
  if (thread_.joinable() && !stop(steady::now() + std::chrono::seconds(1))) {
    thread_.detach();
    return;
  }
  if (fd_ >= 0) ::close(fd_);
}

incident_journal::replay_result incident_journal::open() {
  replay_result res;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  struct stat st{};
  const bool existed = ::stat(path_.c_str(), &st) == 0;
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw_errno("journal: open " + path_);
  fd_ = fd;  // owned from here on (closed by the destructor if we throw)
  if (!existed) fsync_folder(path_);
  const std::string data = read_all(fd_, path_);

  struct merged {
    json fields;                       // the newest fields (no timeline)
    json timeline = json::array();     // every entry, in order
    std::string lines;                 // what compaction must keep to rebuild it
    std::uint64_t first = 0, last = 0; // order of first and newest line
  };
  std::unordered_map<std::string, merged> by_id;
  std::uint64_t order = 0;
  std::uint64_t max_seq = 0, reserved = 0;
  std::size_t pos = 0;
  int line_no = 0;
  while (pos < data.size()) {
    ++line_no;
    const auto nl = data.find('\n', pos);
    const bool complete = nl != std::string::npos;
    const std::size_t next = complete ? nl + 1 : data.size();
    const std::string_view line(data.data() + pos, (complete ? nl : data.size()) - pos);
    const bool last = next >= data.size();
    if (complete && blank(line)) {
      pos = next;
      continue;
    }
    bool ok = false;
    if (complete) {
      auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      const std::string whole(line.data(), line.size() + 1);  // with its newline
      if (j.is_object()) {
        if (auto it = j.find("ids_reserved"); it != j.end() && it->is_number_unsigned()) {
          reserved = std::max(reserved, it->get<std::uint64_t>());
          ids_line_ = whole;
          ok = true;
        } else if (auto st = j.find("state"); st != j.end() && st->is_object()) {
          res.state = *st;
          state_line_ = whole;
          ok = true;
        } else if (auto inc = j.find("incident"); inc != j.end() && inc->is_object() &&
                                                    inc->contains("id") && (*inc)["id"].is_string()) {
          const std::string id = (*inc)["id"].get<std::string>();
          auto add = j.find("add");
          const bool delta = add != j.end();
          if (!delta || add->is_array()) {
            auto [m, inserted] = by_id.try_emplace(id);
            if (inserted) m->second.first = ++order;
            m->second.last = ++order;
            if (delta) {
              json f = *inc;
              f.erase("timeline");
              m->second.fields = std::move(f);
              for (auto& e : *add) m->second.timeline.push_back(std::move(e));
              m->second.lines += whole;
            } else {
              // The first format: a whole snapshot that supersedes everything before it.
              json f = *inc;
              json tl = json::array();
              if (auto t = f.find("timeline"); t != f.end() && t->is_array()) tl = std::move(*t);
              f.erase("timeline");
              m->second.fields = std::move(f);
              m->second.timeline = std::move(tl);
              m->second.lines = whole;
            }
            max_seq = std::max(max_seq, id_sequence(id));
            ok = true;
          }
        }
      }
    }
    if (!ok) {
      if (last) {
        // A crash mid-append: cut it off so that the next append starts on a clean line.
        if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0) throw_errno("journal: truncate " + path_);
        datasync(fd_, path_);
        res.warnings.push_back("journal: dropped a torn last line (" +
                               std::to_string(data.size() - pos) + " bytes)");
        file_bytes_ = pos;
        break;
      }
      res.warnings.push_back("journal line " + std::to_string(line_no) + " unreadable, skipped");
    }
    pos = next;
    file_bytes_ = pos;
  }
  res.next_seq = std::max(max_seq + 1, std::max<std::uint64_t>(reserved, 1));
  high_water_ = res.next_seq;

  // Rebuild the incidents; what does not make a whole incident is reported and dropped.
  struct rebuilt {
    incident inc;
    const merged* m;
  };
  std::vector<rebuilt> open, resolved;
  for (auto& [id, m] : by_id) {
    json whole = m.fields;
    whole["timeline"] = m.timeline;
    try {
      incident inc = whole.get<incident>();
      (inc.is_open() ? open : resolved).push_back({std::move(inc), &m});
    } catch (const std::exception& e) {
      res.warnings.push_back("journal: incident " + id + " unreadable, skipped: " + e.what());
    }
  }
  std::sort(open.begin(), open.end(), [](const rebuilt& a, const rebuilt& b) {
    return id_sequence(a.inc.id) < id_sequence(b.inc.id);
  });
  std::sort(resolved.begin(), resolved.end(),
            [](const rebuilt& a, const rebuilt& b) { return a.m->last < b.m->last; });
  if (resolved.size() > resolved_kept)
    resolved.erase(resolved.begin(), resolved.end() - static_cast<std::ptrdiff_t>(resolved_kept));

  // What the writer keeps for compaction.
  kept_.clear();
  kept_order_.clear();
  resolved_order_.clear();
  live_bytes_ = ids_line_.size() + state_line_.size();
  auto keep = [&](const rebuilt& r, bool is_resolved) {
    kept_incident k{r.m->lines, is_resolved, r.m->first};
    live_bytes_ += k.lines.size();
    kept_order_[k.order] = r.inc.id;
    kept_[r.inc.id] = std::move(k);
    if (is_resolved) resolved_order_.push_back(r.inc.id);
  };
  for (const auto& r : open) keep(r, false);
  for (const auto& r : resolved) keep(r, true);
  next_order_ = order + 1;
  next_compact_at_ = 0;

  try {
    maybe_compact();
    if (compactions_ > 0)
      res.warnings.push_back("journal: compacted " + std::to_string(data.size()) + " bytes into " +
                             std::to_string(file_bytes_));
  } catch (const std::system_error& e) {
    res.warnings.push_back(std::string("journal: compaction failed: ") + e.what());
  }
  bytes_ = file_bytes_;

  for (auto& r : open) res.open.push_back(std::move(r.inc));
  for (auto& r : resolved) res.resolved.push_back(std::move(r.inc));
  return res;
}

// ---- compaction (writer thread, or open() before it starts) ----------------------------------

void incident_journal::track(const std::string& id, const std::string& line, bool resolved,
                             std::uint64_t) {
  high_water_ = std::max(high_water_, id_sequence(id) + 1);
  auto [it, inserted] = kept_.try_emplace(id);
  if (inserted) {
    it->second.order = next_order_++;
    kept_order_[it->second.order] = id;
  }
  it->second.lines += line;
  live_bytes_ += line.size();
  if (resolved && !it->second.resolved) {
    it->second.resolved = true;
    resolved_order_.push_back(id);
    while (resolved_order_.size() > resolved_kept) {
      auto old = kept_.find(resolved_order_.front());
      if (old != kept_.end()) {
        live_bytes_ -= old->second.lines.size();
        kept_order_.erase(old->second.order);
        kept_.erase(old);
      }
      resolved_order_.pop_front();
    }
  }
}

// Throws std::system_error when the compacted file cannot be written; the old file then stays
// in use (still correct, only larger) and the next try waits for more growth.
void incident_journal::maybe_compact() {
  const std::uint64_t limit = std::max({compact_min_, 2 * live_bytes_, next_compact_at_});
  if (file_bytes_ <= limit) return;
  // The id high-water mark survives even when the incident with the highest id is dropped.
  const std::string ids = encode(journal_record::reservation(high_water_, wall_clock::now()));
  std::string text;
  text.reserve(live_bytes_ + ids.size());
  text += ids;
  text += state_line_;
  for (const auto& [order, id] : kept_order_) text += kept_.at(id).lines;
  const std::string tmp = path_ + ".compact";
  try {
    int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (tfd < 0) throw_errno("journal: open " + tmp);
    try {
      write_all(tfd, text, tmp);
      datasync(tfd, tmp);
    } catch (...) {
      ::close(tfd);
      throw;
    }
    ::close(tfd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) throw_errno("journal: rename " + tmp);
    // From here the new file is the journal: switch to it before anything else can fail.
    int nfd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (nfd < 0) throw_errno("journal: reopen " + path_);
    ::close(fd_);
    fd_ = nfd;
    file_bytes_ = text.size();
    live_bytes_ = live_bytes_ - ids_line_.size() + ids.size();
    ids_line_ = ids;
    next_compact_at_ = 0;
    ++compactions_;
    fsync_folder(path_);
  } catch (const std::system_error&) {
    ::unlink(tmp.c_str());
    next_compact_at_ = file_bytes_ + std::max<std::uint64_t>(compact_min_, file_bytes_ / 2);
    throw;
  }
}

// ---- the writer thread -----------------------------------------------------------------------

void incident_journal::start(callbacks cb) {
  cb_ = std::move(cb);
  if (!cb_.post) cb_.post = [](std::function<void()> f) { f(); };
  thread_ = std::thread([this] { writer_main(); });
}

std::uint64_t incident_journal::enqueue(journal_record r) {
  std::uint64_t seq;
  {
    std::lock_guard lk(mu_);
    seq = next_record_seq_++;
    queue_.push_back({seq, std::move(r)});
  }
  ++pending_;
  cv_.notify_all();
  return seq;
}

void incident_journal::write_file(std::string path, std::string content) {
  {
    std::lock_guard lk(mu_);
    files_.push_back({std::move(path), std::move(content)});
  }
  ++files_pending_;
  cv_.notify_all();
}

bool incident_journal::commit(std::vector<queued>& batch) {
  struct encoded {
    std::string line;
    const journal_record* rec;
  };
  std::vector<encoded> lines;
  lines.reserve(batch.size());
  std::string text;
  for (const auto& q : batch) {
    lines.push_back({encode(q.rec), &q.rec});
    text += lines.back().line;
  }
  const std::uint64_t before = file_bytes_;
  try {
    write_all(fd_, text, path_);
    datasync(fd_, path_);
  } catch (const std::system_error& e) {
    // Do not leave a partial group for the next one to be glued to.
    if (::ftruncate(fd_, static_cast<off_t>(before)) == 0) (void)::fdatasync(fd_);
    ++failures_;
    healthy_ = false;
    const std::string why = std::string("journal: ") + e.what();
    if (cb_.failed) cb_.post([f = cb_.failed, why] { f(why); });
    return false;
  }
  file_bytes_ += text.size();
  for (const auto& l : lines) {
    switch (l.rec->what) {
      case journal_record::kind::incident:
        track(l.rec->change.id, l.line, !l.rec->change.is_open(), 0);
        break;
      case journal_record::kind::ids_reserved:
        high_water_ = std::max(high_water_, l.rec->ids_reserved);
        live_bytes_ = live_bytes_ - ids_line_.size() + l.line.size();
        ids_line_ = l.line;
        break;
      case journal_record::kind::state:
        live_bytes_ = live_bytes_ - state_line_.size() + l.line.size();
        state_line_ = l.line;
        break;
    }
  }
  ++commits_;
  records_ += batch.size();
  pending_ -= batch.size();
  healthy_ = true;
  const std::uint64_t up_to = batch.back().seq;
  if (cb_.committed) cb_.post([f = cb_.committed, up_to] { f(up_to); });
  try {
    const auto n = compactions_.load();
    maybe_compact();
    if (compactions_ != n && cb_.note)
      cb_.post([f = cb_.note, b = file_bytes_] { f("compacted to " + std::to_string(b) + " bytes"); });
  } catch (const std::system_error& e) {
    if (cb_.note) cb_.post([f = cb_.note, w = std::string(e.what())] { f("compaction failed: " + w); });
  }
  bytes_ = file_bytes_;
  return true;
}

bool incident_journal::write_one_file(const file_task& t, std::string& error) {
  try {
    const std::string dir = folder_of(t.path);
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) throw_errno("mkdir " + dir);
    write_whole_file(t.path, t.content, 0640);
    return true;
  } catch (const std::system_error& e) {
    error = e.what();
    return false;
  }
}

void incident_journal::writer_main() {
  using std::chrono::milliseconds;
  std::vector<queued> batch;  // held after a failed commit, retried with what came since
  steady::time_point journal_retry_at{}, files_retry_at{};
  milliseconds journal_backoff{0}, files_backoff{0};
  auto grow = [](milliseconds b) { return b.count() == 0 ? milliseconds(50) : std::min(b * 2, milliseconds(5000)); };
  for (;;) {
    bool journal_due = false, file_due = false;
    std::optional<file_task> task;
    {
      std::unique_lock lk(mu_);
      for (;;) {
        const auto now = steady::now();
        const bool held = !batch.empty();
        journal_due = held ? now >= journal_retry_at || (stopping_ && journal_backoff.count() == 0)
                           : !queue_.empty();
        file_due = !files_.empty() && now >= files_retry_at;
        if (journal_due || file_due) break;
        if (stopping_ && (now >= stop_deadline_ || (!held && queue_.empty() && files_.empty()))) {
          lk.unlock();
          std::lock_guard done(exit_mu_);
          exited_ = true;
          exit_cv_.notify_all();
          return;
        }
        std::optional<steady::time_point> wake;
        auto earliest = [&](steady::time_point t) { if (!wake || t < *wake) wake = t; };
        if (held) earliest(journal_retry_at);
        if (!files_.empty()) earliest(files_retry_at);
        if (stopping_) earliest(stop_deadline_);
        if (wake) cv_.wait_until(lk, *wake);
        else cv_.wait(lk);
      }
      if (journal_due)
        while (!queue_.empty()) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      if (file_due) {
        task = std::move(files_.front());
        files_.pop_front();
      }
    }
    if (journal_due && !batch.empty()) {
      commit_started_ns_ = steady::now().time_since_epoch().count();
      const bool ok = commit(batch);
      commit_started_ns_ = 0;
      if (ok) {
        batch.clear();
        journal_backoff = milliseconds(0);
      } else {
        journal_backoff = grow(journal_backoff);
        journal_retry_at = steady::now() + journal_backoff;
      }
    }
    if (task) {
      std::string error;
      if (write_one_file(*task, error)) {
        --files_pending_;
        files_backoff = milliseconds(0);
        if (cb_.file_written) cb_.post([f = cb_.file_written, p = task->path] { f(p); });
      } else {
        files_backoff = grow(files_backoff);
        files_retry_at = steady::now() + files_backoff;
        if (cb_.file_failed) cb_.post([f = cb_.file_failed, p = task->path, error] { f(p, error); });
        std::lock_guard lk(mu_);
        files_.push_front(std::move(*task));
      }
    }
  }
}

bool incident_journal::stop(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return true;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    stop_deadline_ = deadline;
  }
  cv_.notify_all();
  std::unique_lock lk(exit_mu_);
  // A little past the deadline: the thread notices it between two attempts; one stuck in a
  // system call (a frozen file system) does not come back.
  if (!exit_cv_.wait_until(lk, deadline + std::chrono::milliseconds(200), [&] { return exited_; }))
    return false;
  lk.unlock();
  thread_.join();
  return true;
}

incident_journal::stats incident_journal::current() const {
  stats s;
  s.commits = commits_;
  s.records = records_;
  s.failures = failures_;
  s.compactions = compactions_;
  s.pending = pending_;
  s.files_pending = files_pending_;
  s.bytes = bytes_;
  s.healthy = healthy_;
  const auto started = commit_started_ns_.load();
  if (started != 0)
    s.commit_running_for = steady::now() - steady::time_point(steady::duration(started));
  return s;
}

}  // namespace acis::daemon
