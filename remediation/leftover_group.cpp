// Finding and ending a process group left behind by a crashed daemon (see leftover_group.hpp).
#include "remediation/leftover_group.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

namespace acis::remediation {

namespace {

namespace asio = boost::asio;

}  // namespace

std::optional<proc_stat> read_proc_stat(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  //  cutime cstime priority nice threads itrealvalue starttime ...": comm may hold anything;
  // the last ')' ends it. starttime is field 22, the 20th after comm.
  const char* p = std::strrchr(buf, ')');
  if (!p) return std::nullopt;
  ++p;
  // Fields after comm, space separated: [0] state (field 3), [1] ppid, [2] pgrp, ...,
  // [19] starttime (field 22).
  proc_stat f;
  int index = 0;
  while (*p) {
    while (*p == ' ') ++p;
    if (!*p) break;
    const char* tok = p;
    while (*p && *p != ' ' && *p != '\n') ++p;
    char* end = nullptr;
    if (index == 0) f.state = *tok;
    if (index == 1) f.ppid = static_cast<int>(std::strtol(tok, &end, 10));
    if (index == 2) f.pgrp = static_cast<int>(std::strtol(tok, &end, 10));
    if (index == 19) {
      f.start_ticks = std::strtoull(tok, &end, 10);
      return f;
    }
    ++index;
    if (*p == '\n') break;
  }
  return std::nullopt;
}

namespace {

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace

nlohmann::json group_identity::to_json() const {
  return {{"pgid", pgid}, {"leader_start_ticks", leader_start_ticks}, {"boot_id", boot_id}};
}

std::optional<group_identity> group_identity::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  const auto pg = j.find("pgid");
  const auto st = j.find("leader_start_ticks");
  const auto b = j.find("boot_id");
  if (pg == j.end() || !pg->is_number_integer() || st == j.end() || !st->is_number_unsigned() ||
      b == j.end() || !b->is_string())
    return std::nullopt;
  group_identity g{pg->get<int>(), st->get<std::uint64_t>(), b->get<std::string>()};
  if (g.pgid <= 1) return std::nullopt;
  return g;
}

std::optional<group_identity> identify_group(int pid) {
  auto s = read_proc_stat(pid);
  if (!s || s->pgrp != pid) return std::nullopt;
  return group_identity{pid, s->start_ticks, boot_id()};
}

std::vector<int> group_members(const group_identity& g) {
  std::vector<int> members;
  if (g.pgid <= 1 || g.boot_id.empty() || g.boot_id != boot_id()) return members;
  if (auto leader = read_proc_stat(g.pgid); leader && leader->pgrp == g.pgid && leader->state != 'Z' &&
                                       leader->start_ticks != g.leader_start_ticks)
    return members;  // that id leads another group now
  DIR* dir = ::opendir("/proc");
  if (!dir) return members;
  bool foreign = false;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto s = read_proc_stat(static_cast<int>(pid));
    if (!s || s->pgrp != g.pgid || s->state == 'Z' || s->state == 'X') continue;
    if (s->start_ticks < g.leader_start_ticks) foreign = true;
    members.push_back(static_cast<int>(pid));
  }
  ::closedir(dir);
  if (foreign) members.clear();
  return members;
}

asio::awaitable<std::string> end_group(asio::any_io_executor ex, group_identity g,
                                       std::chrono::milliseconds grace) {
  auto members = group_members(g);
  if (members.empty()) co_return "";
  const auto first = members.size();
  asio::steady_timer t(ex);
  auto wait_gone = [&](std::chrono::milliseconds budget) -> asio::awaitable<bool> {
    const auto end = std::chrono::steady_clock::now() + budget;
    for (;;) {
      if (group_members(g).empty()) co_return true;
      if (std::chrono::steady_clock::now() >= end) co_return false;
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
  ::kill(-g.pgid, SIGTERM);
  if (co_await wait_gone(grace))
    co_return "ended process group " + std::to_string(g.pgid) + " (" + std::to_string(first) +
        " process(es)) left by the previous daemon: SIGTERM";
  if (!group_members(g).empty()) ::kill(-g.pgid, SIGKILL);
  const bool gone = co_await wait_gone(std::chrono::seconds(5));
  co_return "ended process group " + std::to_string(g.pgid) + " (" + std::to_string(first) +
      " process(es)) left by the previous daemon: SIGTERM, then SIGKILL after " +
      std::to_string(grace.count()) + " ms" + (gone ? "" : "; some did not go (uninterruptible?)");
}

}  // namespace acis::remediation
