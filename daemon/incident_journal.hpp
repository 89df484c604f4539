// The incident journal: every incident change appended as one JSON line under state_dir and
// flushed (fdatasync) before the daemon acts on it; replayed on start.
//
// Contract: append() returns only when the record is on disk, and throws std::system_error
// when it cannot be written (the caller logs and keeps going: losing the disk must not stop
// monitoring). replay() never throws for content: a torn last line (a crash mid-write) is
// cut off and reported in `warnings`, a corrupt line in the middle is skipped and reported.
#pragma once

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
  // Reads the whole journal (creating it if missing), truncates a torn tail, then opens it for
  // appending. Call once, before append().
  replay_result replay();

  void append(const incident_event& e, time_point now);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace acis::daemon
