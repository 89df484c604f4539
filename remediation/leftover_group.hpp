// A runbook step's process group that outlived the daemon (SIGKILL, OOM kill, a crash): found
// again after a restart from what the journal recorded, and ended before the runbook may run
// again, so that two attempts of one runbook never run at once.
//
// Identity: a process group id alone could name somebody else's group after the old one died
// and its id was reused, and a signal to the wrong process is worse than none. So the journal
// records, with the pgid, the boot id and the start time (clock ticks since boot, /proc/PID/stat
// field 22) of the group's leader. A group is ours when it is the same boot and either its
// leader is alive with that start time, or the leader is gone and every member started no
// earlier than it (a reused id would need the whole old group gone and a new leader with that
// id, whose own members would then carry it).
//
// Contract: identify() and members() only read /proc; end_group() signals only a group that is
// still ours (checked again before each signal), SIGTERM first, SIGKILL after `grace`, and
// returns what it did; it never throws. Blocking work is a few /proc scans (fast, no I/O wait).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

namespace acis::remediation {

// The fields of /proc/PID/stat this project reads (the process runner reaps its groups with
// them too). nullopt when the process is gone or the file is not readable.
struct proc_stat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
  std::uint64_t start_ticks = 0;  // field 22: clock ticks since boot
};
std::optional<proc_stat> read_proc_stat(int pid);

struct group_identity {
  int pgid = 0;
  std::uint64_t leader_start_ticks = 0;
  std::string boot_id;

  nlohmann::json to_json() const;
  static std::optional<group_identity> from_json(const nlohmann::json& j);
};

// The identity of the group led by `pid` now (nullopt when it is gone).
std::optional<group_identity> identify_group(int pid);

// The live (not zombie) members of the group if it is still the one identified, else none.
std::vector<int> group_members(const group_identity& g);

// TERM the group, wait up to `grace` for it to go, then KILL it and wait up to 5 s more.
// "" when nothing of it was left; otherwise a sentence saying what was ended.
boost::asio::awaitable<std::string> end_group(boost::asio::any_io_executor ex, group_identity g,
                                              std::chrono::milliseconds grace);

}  // namespace acis::remediation
