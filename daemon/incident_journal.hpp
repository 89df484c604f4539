// The incident journal: every incident change, the incident id high-water mark and the
// remediation engine's durable state, as JSON lines under state_dir, made durable by a writer
// thread of its own so that a slow or frozen disk never blocks the event loop.
//
// Records (one JSON object per line, "v": 2):
//   {"v":2,"ts":T,"event":E,"incident":{fields, no timeline},"add":[timeline entries]}
//       a delta: the incident's current fields and the timeline entries added since its last
//       line (never the whole timeline again: a line costs O(1), an incident O(its history));
//   {"v":2,"ts":T,"ids_reserved":N}   every id below N may have been handed out;
//   {"v":2,"ts":T,"state":{...}}      the remediation engine's state (the newest one counts).
// Lines of the first format ({"ts","event","incident": whole snapshot}) are still read: an
// upgraded daemon replays its predecessor's journal.
//
// Contract:
//  - open() (before start(), on the caller's thread) replays the file: a torn last line (a
//    crash mid-write) is cut off and reported, a corrupt line in the middle is skipped and
//    reported. Throws std::system_error only when the file cannot be opened, read or cut.
//  - enqueue() is thread-safe and never blocks on the disk: it hands a record to the writer
//    thread and returns its sequence number. The writer commits whatever is queued as one
//    group (one write, one fdatasync), then reports `committed(up_to)` through `post`, in
//    order. A failed commit is cut back to the last good size, reported through `failed`, and
//    retried with backoff (50 ms doubling to 5 s) with everything queued since behind it: no
//    record is dropped or reordered while the process lives.
//  - The file is compacted on the writer thread while running, atomically (temp file, fsync,
//    rename, fsync of the folder): it keeps the newest ids/state records, every open incident
//    and the newest `resolved_kept` resolved ones, so its size is bounded by those.
//  - write_file() writes a whole file (a report) on the same thread: temp file, fsync, rename;
//    retried with the same backoff on failure; a temp file is never left behind.
//  - stop(deadline) commits what is queued (trying until the deadline) and joins the thread;
//    false when the thread did not end by the deadline (a frozen disk): the caller must then
//    leave the process without destroying the journal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/incident.hpp"

namespace acis::daemon {

// One change to journal. An incident record carries the incident's fields and the timeline
// entries to add (the caller passes only the new ones).
struct journal_record {
  enum class kind { incident, ids_reserved, state };
  kind what = kind::incident;
  time_point at{};
  std::string event;             // incident: the event name (e.g. "incident_opened")
  incident change;               // incident: fields + new timeline entries only
  std::uint64_t ids_reserved = 0;
  nlohmann::json state;          // state: the remediation engine's state

  static journal_record for_event(const incident_event& e, time_point at);
  static journal_record reservation(std::uint64_t next_free, time_point at);
  static journal_record engine_state(nlohmann::json s, time_point at);
};

class incident_journal {
 public:
  // `path` is the journal file, e.g. state_dir + "/incidents.jsonl"; its folder must exist.
  explicit incident_journal(std::string path);
  ~incident_journal();  // stops the writer if still running (without a deadline)
  incident_journal(const incident_journal&) = delete;
  incident_journal& operator=(const incident_journal&) = delete;

  struct replay_result {
    std::vector<incident> open;      // every incident still open, by id
    std::vector<incident> resolved;  // the newest `resolved_kept` resolved ones, newest last
    std::uint64_t next_seq = 1;      // past every id used or reserved
    std::optional<nlohmann::json> state;  // the newest remediation engine state, if any
    std::vector<std::string> warnings;
  };
  replay_result open();

  struct callbacks {
    // Runs `f` on the owner's thread (the event loop); every callback below goes through it.
    std::function<void(std::function<void()>)> post;
    std::function<void(std::uint64_t up_to)> committed;  // records 1..up_to are durable
    std::function<void(const std::string& error)> failed;  // a commit failed; will retry
    std::function<void(const std::string& what)> note;  // compaction done/failed, file written...
    std::function<void(const std::string& path, const std::string& error)> file_failed;
    std::function<void(const std::string& path)> file_written;
  };
  void start(callbacks cb);

  std::uint64_t enqueue(journal_record r);
  void write_file(std::string path, std::string content);
  bool stop(std::chrono::steady_clock::time_point deadline);

  // Figures for metrics and /healthz (any thread).
  struct stats {
    std::uint64_t commits = 0;          // successful fdatasyncs of the journal
    std::uint64_t records = 0;          // records committed
    std::uint64_t failures = 0;         // failed commit attempts
    std::uint64_t compactions = 0;
    std::uint64_t pending = 0;          // records queued or held, not yet durable
    std::uint64_t files_pending = 0;    // reports waiting to be written
    std::uint64_t bytes = 0;            // size of the journal file
    bool healthy = true;                // the last commit attempt succeeded
    // How long the commit in progress has been running (a frozen disk), zero when none.
    std::chrono::steady_clock::duration commit_running_for{};
  };
  stats current() const;

  static constexpr std::size_t resolved_kept = 1000;
  // Compaction runs when the file is larger than this and than twice its live content.
  void compact_above(std::uint64_t bytes) { compact_min_ = bytes; }
  static constexpr std::uint64_t default_compact_above = 4u << 20;
  const std::string& path() const { return path_; }

 private:
  struct queued {
    std::uint64_t seq;
    journal_record rec;
  };
  struct file_task {
    std::string path, content;
  };
  // What compaction keeps, maintained by the writer thread as it writes.
  struct kept_incident {
    std::string lines;
    bool resolved = false;
    std::uint64_t order = 0;
  };

  void writer_main();
  bool commit(std::vector<queued>& batch);  // writer thread
  void track(const std::string& id, const std::string& line, bool resolved, std::uint64_t order_hint);
  void maybe_compact();
  bool write_one_file(const file_task& t, std::string& error);
  std::string encode(const journal_record& r);

  std::string path_;
  int fd_ = -1;
  std::uint64_t compact_min_ = default_compact_above;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<queued> queue_;
  std::deque<file_task> files_;
  std::uint64_t next_record_seq_ = 1;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread thread_;
  callbacks cb_;
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  bool exited_ = false;
  std::atomic<std::chrono::steady_clock::rep> commit_started_ns_{0};

  // Writer-thread state (also set up by open() before the thread starts).
  std::unordered_map<std::string, kept_incident> kept_;
  std::map<std::uint64_t, std::string> kept_order_;  // first appearance -> id
  std::deque<std::string> resolved_order_;
  std::uint64_t next_order_ = 1;
  std::string ids_line_, state_line_;
  std::uint64_t high_water_ = 1;  // past every id seen or reserved
  std::uint64_t live_bytes_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t next_compact_at_ = 0;

  std::atomic<std::uint64_t> commits_{0}, records_{0}, failures_{0}, compactions_{0},
      pending_{0}, files_pending_{0}, bytes_{0};
  std::atomic<bool> healthy_{true};
};

}  // namespace acis::daemon
