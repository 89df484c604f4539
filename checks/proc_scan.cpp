#include "checks/proc_scan.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>

#include <dirent.h>
#include <fcntl.h>

namespace acis::checks {

std::optional<std::string> read_cmdline(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // gone (ENOENT/ESRCH) or hidden: not a match either way
  std::string buf;
  char chunk[4096];
  while (buf.size() < max_cmdline_bytes) {
    ssize_t n = ::read(fd, chunk, std::min(sizeof chunk, max_cmdline_bytes - buf.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // exited mid-read (ESRCH): keep what was read
    }
    if (n == 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  while (!buf.empty() && buf.back() == '\0') buf.pop_back();
  if (buf.empty()) return std::nullopt;
  std::replace(buf.begin(), buf.end(), '\0', ' ');
  return buf;
}

std::vector<process_info> find_processes(std::string_view contains,
                                         std::optional<std::string_view> not_contains,
                                         std::optional<pid_t> exclude_pid) {
  std::vector<process_info> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), &::closedir);
  if (!dir) return out;
  while (dirent* e = ::readdir(dir.get())) {
    const char* name = e->d_name;
    if (*name < '0' || *name > '9') continue;
    pid_t pid = 0;
    bool numeric = true;
    for (const char* c = name; *c; ++c) {
      if (*c < '0' || *c > '9') {
        numeric = false;
        break;
      }
      pid = pid * 10 + (*c - '0');
    }
    if (!numeric || (exclude_pid && pid == *exclude_pid)) continue;
    auto cmd = read_cmdline(pid);
    if (!cmd || cmd->find(contains) == std::string::npos) continue;
    if (not_contains && cmd->find(*not_contains) != std::string::npos) continue;
    out.push_back({pid, std::move(*cmd)});
  }
  std::sort(out.begin(), out.end(),
            [](const process_info& a, const process_info& b) { return a.pid < b.pid; });
  return out;
}

std::string format_pids(const std::vector<process_info>& procs, std::size_t max) {
  std::string s;
  for (std::size_t i = 0; i < procs.size() && i < max; ++i) {
    if (i) s += ", ";
    s += std::to_string(procs[i].pid);
  }
  if (procs.size() > max) s += ", ... (" + std::to_string(procs.size() - max) + " more)";
  return s;
}

}  // namespace acis::checks
