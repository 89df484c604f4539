// The incident journal: JSON lines, appended with one write() and made durable with
// fdatasync() before the caller acts; replayed (torn tail cut off) on start.
#include "daemon/incident_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <string_view>
#include <system_error>

#include <nlohmann/json.hpp>

namespace acis::daemon {

namespace {

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
  if (dfd < 0) throw_errno("journal: open folder of " + path);
  int rc = ::fsync(dfd);
  int saved = errno;
  ::close(dfd);
  if (rc != 0) {
    errno = saved;
    throw_errno("journal: fsync folder of " + path);
  }
}

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("journal: write " + path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void datasync(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) throw_errno("journal: fdatasync " + path);
  }
}

std::string read_all(int fd, const std::string& path) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("journal: read " + path);
    }
    if (n == 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

// One journal line, or nullopt when it is not a readable record.
std::optional<incident> parse_line(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;  // also the "discarded" value of a parse error
  auto it = j.find("incident");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  try {
    return it->get<incident>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

incident_journal::incident_journal(std::string path) : path_(std::move(path)) {}

incident_journal::~incident_journal() {
  if (fd_ >= 0) ::close(fd_);
}

incident_journal::replay_result incident_journal::replay() {
  replay_result res;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  struct stat st{};
  const bool existed = ::stat(path_.c_str(), &st) == 0;
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw_errno("journal: open " + path_);
  fd_ = fd;  // owned from here on (closed by the destructor if we throw)
  if (!existed) fsync_folder(path_);
  const std::string data = read_all(fd_, path_);

  struct last_seen {
    incident snapshot;
    std::string_view line;  // into `data`
    std::uint64_t order = 0;
  };
  std::map<std::string, last_seen> by_id;
  std::uint64_t order = 0;
  std::uint64_t max_seq = 0;
  std::size_t lines = 0;
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
    auto rec = complete ? parse_line(line) : std::nullopt;
    if (rec) {
      ++lines;
      max_seq = std::max(max_seq, id_sequence(rec->id));
      std::string id = rec->id;
      by_id.insert_or_assign(std::move(id), last_seen{std::move(*rec), line, ++order});
    } else if (last) {
      // A crash mid-append: cut it off so that the next append starts on a clean line.
      if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0) throw_errno("journal: truncate " + path_);
      datasync(fd_, path_);
      res.warnings.push_back("journal: dropped a torn last line (" +
                             std::to_string(data.size() - pos) + " bytes)");
    } else {
      res.warnings.push_back("journal line " + std::to_string(line_no) + " unreadable, skipped");
    }
    pos = next;
  }
  res.next_seq = max_seq + 1;

  std::vector<last_seen*> open, resolved;
  for (auto& [id, s] : by_id) (s.snapshot.is_open() ? open : resolved).push_back(&s);
  std::sort(open.begin(), open.end(), [](const last_seen* a, const last_seen* b) {
    return id_sequence(a->snapshot.id) < id_sequence(b->snapshot.id);
  });
  std::sort(resolved.begin(), resolved.end(),
            [](const last_seen* a, const last_seen* b) { return a->order < b->order; });
  if (resolved.size() > resolved_kept)
    resolved.erase(resolved.begin(), resolved.end() - static_cast<std::ptrdiff_t>(resolved_kept));

  if (data.size() > compact_above_) {
    // One line per kept incident, in journal order; the highest id is kept too so that the
    // sequence survives the rewrite.
    std::vector<last_seen*> kept(open.begin(), open.end());
    kept.insert(kept.end(), resolved.begin(), resolved.end());
    for (auto& [id, s] : by_id)
      if (id_sequence(id) == max_seq && std::find(kept.begin(), kept.end(), &s) == kept.end())
        kept.push_back(&s);
    std::sort(kept.begin(), kept.end(),
              [](const last_seen* a, const last_seen* b) { return a->order < b->order; });
    std::string text;
    for (const auto* s : kept) {
      text += s->line;
      text += '\n';
    }
    const std::string tmp = path_ + ".compact";
    try {
      int tfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
      if (tfd < 0) throw_errno("journal: open " + tmp);
      try {
        write_all(tfd, text, tmp);
        if (::fsync(tfd) != 0) throw_errno("journal: fsync " + tmp);
      } catch (...) {
        ::close(tfd);
        throw;
      }
      ::close(tfd);
      if (::rename(tmp.c_str(), path_.c_str()) != 0) throw_errno("journal: rename " + tmp);
      fsync_folder(path_);
      int nfd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
      if (nfd < 0) throw_errno("journal: reopen " + path_);
      ::close(fd_);
      fd_ = nfd;
      res.warnings.push_back("journal: compacted " + std::to_string(lines) + " lines (" +
                             std::to_string(data.size()) + " bytes) into " +
                             std::to_string(kept.size()) + " lines");
    } catch (const std::system_error& e) {
      ::unlink(tmp.c_str());
      // The old journal stays in use: still correct, only larger.
      res.warnings.push_back(std::string("journal: compaction failed: ") + e.what());
    }
  }

  for (auto* s : open) res.open.push_back(std::move(s->snapshot));
  for (auto* s : resolved) res.resolved.push_back(std::move(s->snapshot));
  return res;
}

void incident_journal::append(const incident_event& e, time_point now) {
  if (fd_ < 0)
    throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor),
                            "journal: append before replay " + path_);
  nlohmann::json j{{"ts", format_rfc3339(now)}, {"event", to_string(e.kind)}, {"incident", e.snapshot}};
  // Reasons come from the outside world: never let invalid UTF-8 throw here.
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  struct stat st{};
  if (::fstat(fd_, &st) != 0) throw_errno("journal: fstat " + path_);
  try {
    write_all(fd_, line, path_);
  } catch (...) {
    // Do not leave a partial line for the next record to be glued to.
    if (::ftruncate(fd_, st.st_size) != 0) {
      // Nothing more to do: replay reports the damaged line and skips it.
    }
    throw;
  }
  datasync(fd_, path_);
}

}  // namespace acis::daemon
