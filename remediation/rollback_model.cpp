#include "remediation/rollback_model.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>  // renameat2, RENAME_EXCHANGE (glibc >= 2.28, _GNU_SOURCE)
#include <ctime>
#include <optional>
#include <system_error>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/metadata_rules.hpp"

namespace acis::remediation {

namespace {

namespace fs = std::filesystem;
using sys_clock = std::chrono::system_clock;
using fault_hook = std::function<void(std::string_view)>;

// nullopt: success; otherwise what went wrong, naming the path.
using error = std::optional<std::string>;

constexpr std::string_view temp_prefix = ".rollback-";
constexpr std::string_view backup_prefix = "backup_";
constexpr std::size_t max_model_name = 200;  // leaves room for the temp name within NAME_MAX
constexpr std::size_t max_skipped_in_reason = 5;  // the full list is in rollback_result::skipped

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool is_backup_name(std::string_view name) { return starts_with(name, backup_prefix); }
bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

void step(const fault_hook& fault, std::string_view name) {
  if (fault) fault(name);
}

// Opens a folder relative to `dir` without following a symlink in its last component.
unique_fd open_dir_at(int dir, const std::string& name) {
  return unique_fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

error fsync_fd(int fd, const std::string& shown) {
  if (::fsync(fd) != 0) return "cannot fsync " + shown + ": " + os_error(errno);
  return std::nullopt;
}

// The entry names of an open folder (without "." and ".."), sorted so that every walk, and so
// every fault-hook sequence, is deterministic.
error list_dir(int dir, const std::string& shown, std::vector<std::string>& out) {
  out.clear();
  int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return "cannot list " + shown + ": " + os_error(errno);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int err = errno;
    ::close(dup);
    return "cannot list " + shown + ": " + os_error(err);
  }
  ::rewinddir(d);  // the duplicate shares the file offset with `dir`
  error result;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (!e) {
      if (errno != 0) result = "cannot list " + shown + ": " + os_error(errno);
      break;
    }
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return result;
}

// Owner (when permitted: not root, the chown is skipped with EPERM), then mode (after the
// chown, which clears setuid bits).
error apply_owner_mode(int fd, const struct stat& st, const std::string& shown) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
    return "cannot set owner of " + shown + ": " + os_error(errno);
  if (::fchmod(fd, st.st_mode & 07777) != 0)
    return "cannot set mode of " + shown + ": " + os_error(errno);
  return std::nullopt;
}

// Owner, mode, then times (last: nothing after it may touch the file).
error apply_metadata(int fd, const struct stat& st, const std::string& shown) {
  if (auto e = apply_owner_mode(fd, st, shown)) return e;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(fd, times) != 0) return "cannot set times of " + shown + ": " + os_error(errno);
  return std::nullopt;
}

// Copies entries between open folders: regular files, folders (recursively) and symlinks (as
// symlinks). In link mode non-folders are hard-linked where the file system allows it.
class tree_copier {
 public:
  tree_copier(const fault_hook& fault, bool link) : fault_(fault), link_(link) {}

  // `src_dir/name` -> `dst_dir/name`; `shown` names the source in messages.
  error entry(int src_dir, const std::string& name, int dst_dir, const std::string& shown) {
    step(fault_, "copy_entry");
    struct stat st {};
    if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return "cannot stat " + shown + ": " + os_error(errno);
    if (S_ISDIR(st.st_mode)) return dir(src_dir, name, dst_dir, shown);
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      return shown + ": not a regular file, folder or symlink; refused";
    if (link_ && ::linkat(src_dir, name.c_str(), dst_dir, name.c_str(), 0) == 0)
      return std::nullopt;  // the inode is already on disk; the parent folder is fsynced later
    if (S_ISLNK(st.st_mode)) return symlink(src_dir, name, dst_dir, st, shown);
    return file(src_dir, name, dst_dir, shown);
  }

  // Every entry of `src` for which keep(name) holds.
  template <typename Keep>
  error children(int src, int dst, const std::string& shown, Keep keep) {
    std::vector<std::string> names;
    if (auto e = list_dir(src, shown, names)) return e;
    for (const auto& n : names) {
      if (!keep(n)) continue;
      if (auto e = entry(src, n, dst, shown + "/" + n)) return e;
    }
    return std::nullopt;
  }

 private:
  error dir(int src_dir, const std::string& name, int dst_dir, const std::string& shown) {
    unique_fd in = open_dir_at(src_dir, name);
    if (!in) return "cannot open " + shown + ": " + os_error(errno);
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return "cannot stat " + shown + ": " + os_error(errno);
    if (::mkdirat(dst_dir, name.c_str(), 0700) != 0)
      return "cannot create a copy of " + shown + ": " + os_error(errno);
    unique_fd out = open_dir_at(dst_dir, name);
    if (!out) return "cannot open the copy of " + shown + ": " + os_error(errno);
    if (auto e = children(in.get(), out.get(), shown, [](const std::string&) { return true; }))
      return e;
    // Times after the children: creating them changed the folder's mtime.
    if (auto e = apply_metadata(out.get(), st, "the copy of " + shown)) return e;
    return fsync_fd(out.get(), "the copy of " + shown);
  }

  error file(int src_dir, const std::string& name, int dst_dir, const std::string& shown) {
    unique_fd in(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!in) return "cannot open " + shown + ": " + os_error(errno);
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return "cannot stat " + shown + ": " + os_error(errno);
    if (!S_ISREG(st.st_mode)) return shown + ": not a regular file; refused";
    unique_fd out(::openat(dst_dir, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return "cannot create a copy of " + shown + ": " + os_error(errno);

    bool kernel_copy = true;
    for (;;) {
      if (kernel_copy) {
        ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
        if (n > 0) continue;
        if (n == 0) break;
        if (errno == EINTR) continue;
        if ((errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) &&
            ::lseek(out.get(), 0, SEEK_CUR) == 0) {
          kernel_copy = false;  // not supported here: fall back to read/write from the start
          continue;
        }
        return "cannot copy " + shown + ": " + os_error(errno);
      }
      char buf[64 * 1024];
      ssize_t n = ::read(in.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return "cannot read " + shown + ": " + os_error(errno);
      if (n == 0) break;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(out.get(), buf + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return "cannot write the copy of " + shown + ": " + os_error(errno);
        done += w;
      }
    }
    if (auto e = apply_metadata(out.get(), st, "the copy of " + shown)) return e;
    return fsync_fd(out.get(), "the copy of " + shown);
  }

  error symlink(int src_dir, const std::string& name, int dst_dir, const struct stat& st,
                const std::string& shown) {
    std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
    if (n < 0) return "cannot read symlink " + shown + ": " + os_error(errno);
    if (static_cast<std::size_t>(n) >= target.size())
      return "symlink " + shown + " changed while being copied";
    target.resize(static_cast<std::size_t>(n));
    if (::symlinkat(target.c_str(), dst_dir, name.c_str()) != 0)
      return "cannot create a copy of symlink " + shown + ": " + os_error(errno);
    if (::fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno != EPERM)
      return "cannot set owner of the copy of " + shown + ": " + os_error(errno);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return "cannot set times of the copy of " + shown + ": " + os_error(errno);
    return std::nullopt;
  }

  const fault_hook& fault_;
  bool link_;
};

// Removes `dir/name` and everything below it, never following symlinks; a missing entry is
// success (so that a removal cut off half-way can simply be repeated).
error remove_tree(int dir, const std::string& name, const std::string& shown,
                  const fault_hook& fault) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return std::nullopt;
    return "cannot stat " + shown + ": " + os_error(errno);
  }
  if (S_ISDIR(st.st_mode)) {
    unique_fd sub = open_dir_at(dir, name);
    if (!sub) return "cannot open " + shown + ": " + os_error(errno);
    // A read-only folder (a backup someone protected) must still be emptied; it is going away.
    if ((st.st_mode & 0700) != 0700) (void)::fchmod(sub.get(), 0700);
    std::vector<std::string> names;
    if (auto e = list_dir(sub.get(), shown, names)) return e;
    for (const auto& n : names)
      if (auto e = remove_tree(sub.get(), n, shown + "/" + n, fault)) return e;
  }
  step(fault, "remove_entry");
  if (::unlinkat(dir, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
      errno != ENOENT)
    return "cannot remove " + shown + ": " + os_error(errno);
  return std::nullopt;
}

error validate_model_name(const std::string& m) {
  auto refuse = [&](const char* why) -> error {
    return "refused model name \"" + m + "\": " + why;
  };
  if (m.empty()) return refuse("empty");
  if (m.size() > max_model_name) return refuse("longer than 200 bytes");
  if (m == "." || m == "..") return refuse("not a folder name");
  if (m.find('/') != std::string::npos || m.find('\0') != std::string::npos)
    return refuse("must be one folder name (no '/')");
  if (m.front() == '-') return refuse("leading '-'");
  if (m.front() == '.') return refuse("hidden names are not model folders");
  if (is_backup_name(m)) return refuse("a backup_* folder is not a model");
  return std::nullopt;
}

// "backup_20261201T120000Z_replaced" or with "-N" appended; only names this file makes.
bool is_replaced_name(std::string_view r) {
  constexpr std::string_view tail = "Z_replaced";
  if (!starts_with(r, backup_prefix)) return false;
  r.remove_prefix(backup_prefix.size());
  if (r.size() < 15 + tail.size() || !all_digits(r.substr(0, 8)) || r[8] != 'T' ||
      !all_digits(r.substr(9, 6)) || r.substr(15, tail.size()) != tail)
    return false;
  r.remove_prefix(15 + tail.size());
  if (r.empty()) return true;
  return r.size() >= 2 && r.front() == '-' && all_digits(r.substr(1));
}

std::string temp_name(const std::string& model, const std::string& replaced) {
  return std::string(temp_prefix) + model + "-" + replaced;
}

struct leftover {
  std::string model;
  std::string replaced;
};

// ".rollback-<model>-<replaced>" -> its parts; nullopt for any name this file does not make.
std::optional<leftover> parse_temp_name(std::string_view name) {
  if (!starts_with(name, temp_prefix)) return std::nullopt;
  auto dash = name.rfind("-backup_");
  if (dash == std::string_view::npos || dash <= temp_prefix.size()) return std::nullopt;
  leftover l{std::string(name.substr(temp_prefix.size(), dash - temp_prefix.size())),
             std::string(name.substr(dash + 1))};
  if (validate_model_name(l.model) || !is_replaced_name(l.replaced)) return std::nullopt;
  return l;
}

bool exists_at(int dir, const std::string& path) {
  struct stat st {};
  return ::fstatat(dir, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// Takes the models_dir lock (see the header); nullopt when taken.
error lock_models_dir(int fd, const std::string& shown) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return std::nullopt;
  if (errno == EWOULDBLOCK) return "another rollback or recovery is running in " + shown;
  return "cannot lock " + shown + ": " + os_error(errno);
}

// Recovery with the lock held: every leftover in models_dir, or only those of `only_model`.
std::vector<std::string> recover_locked(int models_fd, const std::string& shown,
                                        const std::string* only_model) {
  std::vector<std::string> notes;
  std::vector<std::string> names;
  if (auto e = list_dir(models_fd, shown, names)) {
    notes.push_back(*e);
    return notes;
  }
  bool removed_any = false;
  for (const auto& name : names) {
    auto l = parse_temp_name(name);
    if (!l || (only_model && l->model != *only_model)) continue;
    struct stat st {};
    if (::fstatat(models_fd, l->model.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      notes.push_back("left " + name + " alone: model folder " + l->model +
                      " is missing, so it may be the only copy");
      continue;
    }
    // The replaced-version folder is named so that only the new model can contain it.
    const bool swapped = exists_at(models_fd, l->model + "/" + l->replaced);
    if (auto e = remove_tree(models_fd, name, name, {})) {
      notes.push_back("could not remove " + name + ": " + *e);
      continue;
    }
    removed_any = true;
    notes.push_back("removed " + name + ": " +
                    (swapped ? "cut off after the swap; " + l->model + " is the rolled-back version"
                             : "cut off before the swap; " + l->model + " is unchanged"));
  }
  if (removed_any) (void)::fsync(models_fd);
  return notes;
}

struct backup_entry {
  std::string name;
  bool stamped = false;
  struct stat st {};
};

// Newest first: stamped names by name, descending; then the others by mtime, then name.
void sort_newest_first(std::vector<backup_entry>& b) {
  std::sort(b.begin(), b.end(), [](const backup_entry& x, const backup_entry& y) {
    if (x.stamped != y.stamped) return x.stamped;
    if (!x.stamped) {
      const auto &tx = x.st.st_mtim, &ty = y.st.st_mtim;
      if (tx.tv_sec != ty.tv_sec) return tx.tv_sec > ty.tv_sec;
      if (tx.tv_nsec != ty.tv_nsec) return tx.tv_nsec > ty.tv_nsec;
    }
    return x.name > y.name;
  });
}

std::string utc_stamp(sys_clock::time_point now) {
  std::time_t t = sys_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// evaluate_metadata()'s reason starts with the file's full path; in a list of backups the
// backup's name says more: "backup_x: metadata.json invalid JSON at byte 3".
std::string backup_verdict(const std::string& backup, const fs::path& dir,
                           const config::model_metadata_check& rules, const std::string& reason) {
  const std::string prefix = (dir / rules.metadata_file).string() + ": ";
  if (starts_with(reason, prefix))
    return backup + ": " + rules.metadata_file + " " + reason.substr(prefix.size());
  return backup + ": " + reason;
}

rollback_result rollback_locked(int models_fd, const fs::path& models_dir,
                                const std::string& model,
                                const config::model_metadata_check& check_rules,
                                sys_clock::time_point now, const fault_hook& fault,
                                bool choose_only = false) {
  rollback_result r;
  struct stat model_st {};
  if (::fstatat(models_fd, model.c_str(), &model_st, AT_SYMLINK_NOFOLLOW) != 0) {
    r.reason = "model folder " + model + ": " + os_error(errno);
    return r;
  }
  if (S_ISLNK(model_st.st_mode)) {
    r.reason = "model folder " + model + " is a symlink; refused (only a real folder inside " +
               models_dir.string() + " is rolled back)";
    return r;
  }
  if (!S_ISDIR(model_st.st_mode)) {
    r.reason = "model folder " + model + " is not a folder";
    return r;
  }
  struct stat models_st {};
  if (::fstat(models_fd, &models_st) != 0 || models_st.st_dev != model_st.st_dev) {
    r.reason = "model folder " + model + " is on another file system than " +
               models_dir.string() + " (a mount point); refused";
    return r;
  }
  unique_fd model_fd = open_dir_at(models_fd, model);
  if (!model_fd) {
    r.reason = "cannot open model folder " + model + ": " + os_error(errno);
    return r;
  }

  std::vector<std::string> notes;
  if (!choose_only) notes = recover_locked(models_fd, models_dir.string(), &model);

  std::vector<std::string> names;
  if (auto e = list_dir(model_fd.get(), model, names)) {
    r.reason = *e;
    return r;
  }
  std::vector<backup_entry> backups;
  for (const auto& n : names) {
    if (!is_backup_name(n)) continue;  // a live file
    backup_entry b;
    b.name = n;
    std::string_view rest = std::string_view(n).substr(backup_prefix.size());
    b.stamped = rest.size() >= 8 && all_digits(rest.substr(0, 8));
    if (::fstatat(model_fd.get(), n.c_str(), &b.st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    backups.push_back(std::move(b));
  }
  sort_newest_first(backups);

  // Judge newest first with the rules but without max_age (see the header).
  config::model_metadata_check rules = check_rules;
  rules.max_age.reset();
  const fs::path model_path = models_dir / model;
  for (const auto& b : backups) {
    if (S_ISLNK(b.st.st_mode)) {
      r.skipped.push_back(b.name + ": a symlink, not followed");
      continue;
    }
    if (!S_ISDIR(b.st.st_mode)) {
      r.skipped.push_back(b.name + ": not a folder");
      continue;
    }
    auto verdict = checks::evaluate_metadata(model_path / b.name, rules, now);
    if (!verdict) {
      r.chosen_backup = b.name;
      break;
    }
    r.skipped.push_back(backup_verdict(b.name, model_path / b.name, rules, *verdict));
  }
  if (r.chosen_backup.empty()) {
    r.reason = "no healthy backup in " + model + ": ";
    if (r.skipped.empty()) r.reason += "no backup_* folders";
    for (std::size_t i = 0; i < r.skipped.size() && i < max_skipped_in_reason; ++i)
      r.reason += (i ? "; " : "") + r.skipped[i];
    if (r.skipped.size() > max_skipped_in_reason)
      r.reason += "; and " + std::to_string(r.skipped.size() - max_skipped_in_reason) + " more";
    return r;
  }
  if (choose_only) {
    r.ok = true;
    r.reason = "would roll back " + model + " to " + r.chosen_backup;
    return r;
  }

  // The replaced version's name must not exist in the old model: recovery relies on that.
  std::string replaced = std::string(backup_prefix) + utc_stamp(now) + "_replaced";
  for (int n = 2; std::find(names.begin(), names.end(), replaced) != names.end(); ++n)
    replaced = std::string(backup_prefix) + utc_stamp(now) + "_replaced-" + std::to_string(n);
  const std::string temp = temp_name(model, replaced);

  // Before the exchange a failure leaves the old model untouched; the temp folder goes.
  auto fail = [&](std::string why) {
    if (auto e = remove_tree(models_fd, temp, temp, {}))
      why += "; " + *e + " (recover_rollbacks() removes it later)";
    r.ok = false;
    r.replaced_kept_as.clear();
    r.reason = std::move(why);
    return r;
  };

  step(fault, "create_temp");
  if (::mkdirat(models_fd, temp.c_str(), 0700) != 0) {
    r.reason = "cannot create " + temp + ": " + os_error(errno);
    return r;
  }
  unique_fd temp_fd = open_dir_at(models_fd, temp);
  if (!temp_fd) return fail("cannot open " + temp + ": " + os_error(errno));

  // 1. The chosen backup's files become the live files: full copies.
  {
    unique_fd chosen_fd = open_dir_at(model_fd.get(), r.chosen_backup);
    if (!chosen_fd) return fail("cannot open " + model + "/" + r.chosen_backup + ": " + os_error(errno));
    tree_copier copy(fault, /*link=*/false);
    if (auto e = copy.children(chosen_fd.get(), temp_fd.get(), model + "/" + r.chosen_backup,
                               [](const std::string& n) { return !is_backup_name(n); }))
      return fail(*e);
  }
  if (auto verdict = checks::evaluate_metadata(models_dir / temp, rules, now))
    return fail(r.chosen_backup + " changed while it was copied: " +
                backup_verdict(temp, models_dir / temp, rules, *verdict));

  // 2. Every backup, healthy or not.
  tree_copier keep(fault, /*link=*/true);
  if (auto e = keep.children(model_fd.get(), temp_fd.get(), model, is_backup_name)) return fail(*e);

  // 3. The live version being replaced.
  step(fault, "copy_entry");
  if (::mkdirat(temp_fd.get(), replaced.c_str(), 0700) != 0)
    return fail("cannot create " + temp + "/" + replaced + ": " + os_error(errno));
  {
    unique_fd replaced_fd = open_dir_at(temp_fd.get(), replaced);
    if (!replaced_fd) return fail("cannot open " + temp + "/" + replaced + ": " + os_error(errno));
    if (auto e = keep.children(model_fd.get(), replaced_fd.get(), model,
                               [](const std::string& n) { return !is_backup_name(n); }))
      return fail(*e);
    if (auto e = apply_owner_mode(replaced_fd.get(), model_st, temp + "/" + replaced))
      return fail(*e);
    if (auto e = fsync_fd(replaced_fd.get(), temp + "/" + replaced)) return fail(*e);
  }

  // 4. The new model folder takes the old one's owner and mode; all of it is on disk before
  // the exchange can be.
  if (auto e = apply_owner_mode(temp_fd.get(), model_st, temp)) return fail(*e);
  if (auto e = fsync_fd(temp_fd.get(), temp)) return fail(*e);
  if (auto e = fsync_fd(models_fd, models_dir.string())) return fail(*e);
  temp_fd = unique_fd();
  model_fd = unique_fd();

  // 5. The one atomic step.
  step(fault, "exchange");
  if (::renameat2(models_fd, temp.c_str(), models_fd, model.c_str(), RENAME_EXCHANGE) != 0) {
    int err = errno;
    if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP)
      return fail("the file system of " + models_dir.string() +
                  " cannot exchange folders atomically (renameat2 RENAME_EXCHANGE: " +
                  os_error(err) + "); nothing changed");
    return fail("cannot exchange " + temp + " with " + model + ": " + os_error(err));
  }
  r.ok = true;
  r.replaced_kept_as = replaced;
  r.reason = "rolled back " + model + " to " + r.chosen_backup + "; replaced version kept as " +
             replaced;
  if (!r.skipped.empty())
    r.reason += "; skipped " + std::to_string(r.skipped.size()) + " newer backup" +
                (r.skipped.size() == 1 ? "" : "s");

  // 6. The exchange is durable before the old folder is deleted. Should the fsync fail, the
  // old folder stays: after a power loss that undid the exchange it would be the live model
  // again, and recovery decides by name which of the two folders to delete.
  step(fault, "sync_models_dir");
  if (auto e = fsync_fd(models_fd, models_dir.string())) {
    notes.push_back(*e + "; left the old folder at " + temp + " for recover_rollbacks()");
  } else {
    step(fault, "remove_old");
    if (auto e = remove_tree(models_fd, temp, temp, fault))
      notes.push_back("could not remove the old folder: " + *e +
                      " (recover_rollbacks() removes it later)");
  }
  for (const auto& n : notes) r.reason += "; " + n;
  return r;
}

}  // namespace

namespace {

rollback_result rollback_entry(const std::filesystem::path& models_dir, const std::string& model,
                               const config::model_metadata_check& rules,
                               std::chrono::system_clock::time_point now,
                               const std::function<void(std::string_view step)>& fault,
                               bool choose_only) {
  try {
    if (auto e = validate_model_name(model)) {
      rollback_result r;
      r.reason = *e;
      return r;
    }
    unique_fd models_fd(::open(models_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!models_fd) {
      rollback_result r;
      r.reason = "cannot open models_dir " + models_dir.string() + ": " + os_error(errno);
      return r;
    }
    if (auto e = lock_models_dir(models_fd.get(), models_dir.string())) {
      rollback_result r;
      r.reason = *e;
      return r;
    }
    return rollback_locked(models_fd.get(), models_dir, model, rules, now, fault, choose_only);
  } catch (const std::exception& e) {
    // Only allocation failure is expected; a half-built temp folder is left to recovery.
    rollback_result r;
    r.reason = std::string("internal error: ") + e.what();
    return r;
  }
}

}  // namespace

rollback_result rollback_model(const std::filesystem::path& models_dir, const std::string& model,
                               const config::model_metadata_check& rules,
                               std::chrono::system_clock::time_point now,
                               const std::function<void(std::string_view step)>& fault) {
  return rollback_entry(models_dir, model, rules, now, fault, false);
}

rollback_result choose_backup(const std::filesystem::path& models_dir, const std::string& model,
                              const config::model_metadata_check& rules,
                              std::chrono::system_clock::time_point now) {
  return rollback_entry(models_dir, model, rules, now, {}, true);
}

std::vector<std::string> recover_rollbacks(const std::filesystem::path& models_dir) {
  try {
    unique_fd models_fd(::open(models_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!models_fd) {
      if (errno == ENOENT) return {};
      return {"cannot open models_dir " + models_dir.string() + ": " + os_error(errno)};
    }
    if (auto e = lock_models_dir(models_fd.get(), models_dir.string()))
      return {"skipped recovery: " + *e};
    return recover_locked(models_fd.get(), models_dir.string(), nullptr);
  } catch (const std::exception& e) {
    return {std::string("recovery of ") + models_dir.string() + ": internal error: " + e.what()};
  }
}

}  // namespace acis::remediation
