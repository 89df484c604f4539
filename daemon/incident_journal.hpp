// The incident journal: every incident change appended as one JSON line under state_dir and
// flushed (fdatasync) before the daemon acts on it; replayed on start.
//
// Contract: append() returns only when the record is on disk, and throws std::system_error
// when it cannot be written (the caller logs and keeps going: losing the disk must not stop
// monitoring). replay() never throws for content: a torn last line (a crash mid-write) is
// cut off and reported in `warnings`, a corrupt line in the middle is skipped and reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/incident.hpp"

namespace acis::daemon {

class incident_journal {
 public:
  // `path` is the journal file, e.g. state_dir + "/incidents.jsonl"; its folder must exist.
  explicit incident_journal(std::string path);
  ~incident_journal();
  incident_journal(const incident_journal&) = delete;
  incident_journal& operator=(const incident_journal&) = delete;

  struct replay_result {
    std::vector<incident> open;      // the last snapshot of every incident still open
    std::vector<incident> resolved;  // the last snapshot of resolved ones (newest last)
    std::uint64_t next_seq = 1;      // one past the highest sequence ever used
    std::vector<std::string> warnings;
  };
  // Reads the whole journal (creating it 0640 if missing), truncates a torn tail, then opens
  // it for appending. Call once, before append(). `resolved` holds at most the newest
  // `resolved_kept`. A journal larger than compact_above() bytes is rewritten atomically with
  // one line per incident kept (every open one and the newest `resolved_kept` resolved ones).
  // Throws std::system_error only when the file cannot be opened, read or truncated.
  replay_result replay();

  // Appends {"ts", "event", "incident": snapshot} as one line, then fdatasync. Throws
  // std::system_error (the file is left without a partial line where possible).
  void append(const incident_event& e, time_point now);

  static constexpr std::size_t resolved_kept = 1000;
  static constexpr std::uint64_t default_compact_above = 16u << 20;
  void compact_above(std::uint64_t bytes) { compact_above_ = bytes; }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t compact_above_ = default_compact_above;
};

}  // namespace acis::daemon
