// The incident journal on real files in a temp dir, with its real writer thread: round trip,
// group commit, delta lines, the first format still read, torn tails, corrupt lines, commits
// held and retried while the disk refuses, compaction while running, the id high-water mark,
// reports written whole, a bounded stop.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/incident.hpp"
#include "daemon/incident_journal.hpp"

using namespace std::chrono_literals;
using acis::checks::check_result;
using acis::daemon::check_policy;
using acis::daemon::incident;
using acis::daemon::incident_event;
using acis::daemon::incident_journal;
using acis::daemon::incident_state;
using acis::daemon::incident_tracker;
using acis::daemon::journal_record;
using acis::daemon::time_point;

namespace {

namespace fs = std::filesystem;

const time_point t0 = time_point{} + 1000h;

// The callbacks of a running journal, collected across threads.
struct observer {
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t up_to = 0;
  std::vector<std::string> failures, notes, written, file_failures;

  incident_journal::callbacks callbacks() {
    incident_journal::callbacks cb;
    cb.post = [this](std::function<void()> f) {
      std::lock_guard lk(m);
      f();
      cv.notify_all();
    };
    cb.committed = [this](std::uint64_t n) { up_to = n; };
    cb.failed = [this](const std::string& e) { failures.push_back(e); };
    cb.note = [this](const std::string& e) { notes.push_back(e); };
    cb.file_written = [this](const std::string& p) { written.push_back(p); };
    cb.file_failed = [this](const std::string& p, const std::string&) { file_failures.push_back(p); };
    return cb;
  }
  // Fail-safe: a commit that does not come within 10 s fails the test instead of hanging it.
  bool wait_committed(std::uint64_t seq) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, 10s, [&] { return up_to >= seq; });
  }
  template <typename Pred>
  bool wait_for(Pred p) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, 10s, p);
  }
};

class journal_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "acis-journal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "incidents.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read_file() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void append_raw(const std::string& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::app);
    out << bytes;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(read_file());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  // Opens a fresh journal on the file, writes `events`, stops it.
  void write_events(const std::vector<incident_event>& events, time_point now) {
    incident_journal j(path_);
    j.open();
    observer o;
    j.start(o.callbacks());
    std::uint64_t last = 0;
    for (const auto& e : events) last = j.enqueue(journal_record::for_event(e, now));
    ASSERT_TRUE(o.wait_committed(last));
    ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
  }

  fs::path dir_;
  std::string path_;
};

check_policy policy(std::string name) {
  check_policy p;
  p.name = std::move(name);
  p.fall = 1;
  p.rise = 1;
  p.window = 1;
  return p;
}

// Real events from a tracker: api opened then resolved, db opened and acknowledged.
struct scenario {
  incident_tracker tracker{{policy("api"), policy("db")}, {}, t0};
  std::vector<incident_event> events;
  time_point now = t0;

  void feed(const std::string& check, bool ok) {
    now += 10s;
    auto r = ok ? check_result::ok() : check_result::failing("connection refused \xff");
    for (auto& e : tracker.on_attempt(check, acis::checks::attempt_result::single(r), now).events)
      events.push_back(std::move(e));
  }
  scenario() {
    feed("api", false);
    feed("db", false);
    feed("api", true);
    now += 1s;
    events.push_back(*tracker.acknowledge("INC-000002", "DBA paged", now));
  }
};

nlohmann::json as_json(const incident& i) { return i; }

}  // namespace

// Committed events replay to the same open incidents (every field) and resolved ones, and the
// next sequence; invalid UTF-8 in a reason does not stop the commit.
TEST_F(journal_test, commit_replay_round_trip) {
  scenario s;
  write_events(s.events, s.now);
  incident_journal j(path_);
  auto r = j.open();
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.open.size(), 1u);
  const auto* db = s.tracker.find("INC-000002");
  ASSERT_NE(db, nullptr);
  // The reason's invalid byte was replaced on the way to disk; everything else is identical.
  auto want = as_json(*db).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  EXPECT_EQ(as_json(r.open[0]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), want);
  ASSERT_EQ(r.resolved.size(), 1u);
  EXPECT_EQ(r.resolved[0].id, "INC-000001");
  EXPECT_EQ(r.resolved[0].state, incident_state::resolved);
  EXPECT_EQ(r.resolved[0].timeline.size(), 2u);
  EXPECT_EQ(r.next_seq, 3u);
}

// A burst queued before the writer looks costs one write and one fdatasync; a burst queued
// while it runs costs a small fraction of one per record.
TEST_F(journal_test, group_commit) {
  scenario s;
  {
    incident_journal j(path_);
    j.open();
    std::uint64_t last = 0;
    for (int k = 0; k < 1000; ++k) last = j.enqueue(journal_record::for_event(s.events[k % 4], s.now));
    observer o;
    j.start(o.callbacks());
    ASSERT_TRUE(o.wait_committed(last));
    auto st = j.current();
    EXPECT_EQ(st.commits, 1u);
    EXPECT_EQ(st.records, 1000u);
    EXPECT_EQ(st.pending, 0u);
    ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
  }
  incident_journal j(path_);
  j.open();
  observer o;
  j.start(o.callbacks());
  std::uint64_t last = 0;
  for (int k = 0; k < 20000; ++k) last = j.enqueue(journal_record::for_event(s.events[k % 4], s.now));
  ASSERT_TRUE(o.wait_committed(last));
  auto st = j.current();
  EXPECT_EQ(st.records, 20000u);
  EXPECT_LT(st.commits * 20, st.records) << st.commits << " commits";
  ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
}

// A line carries the incident's fields and only the timeline entry it adds: 300 annotations
// cost 300 lines of about the same size, not a growing snapshot each.
TEST_F(journal_test, lines_are_deltas) {
  incident_tracker t({policy("api")}, {}, t0);
  std::vector<incident_event> events =
      t.on_attempt("api", acis::checks::attempt_result::single(check_result::failing("down")), t0).events;
  for (int k = 0; k < 300; ++k)
    events.push_back(*t.annotate("INC-000001",
                                 {.kind = acis::daemon::event_kind::step_finished, .reason = "exit 0",
                                  .step = "restart", .ok = true, .duration_s = 1.0},
                                 t0 + 1s * k));
  write_events(events, t0);
  auto ls = lines();
  ASSERT_EQ(ls.size(), 301u);  // the opened record, then one line per annotation
  std::size_t smallest = SIZE_MAX, largest = 0;
  for (std::size_t k = 1; k < ls.size(); ++k) {
    auto j = nlohmann::json::parse(ls[k]);
    ASSERT_EQ(j.at("v"), 2);
    EXPECT_EQ(j.at("add").size(), 1u);
    EXPECT_FALSE(j.at("incident").contains("timeline"));
    smallest = std::min(smallest, ls[k].size());
    largest = std::max(largest, ls[k].size());
  }
  EXPECT_LT(largest, smallest + 16);
  incident_journal j(path_);
  auto r = j.open();
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.open[0].timeline.size(), 301u);
  EXPECT_EQ(r.open[0].timeline.back().at, t0 + 299s);
}

// Journals of the first format (one whole snapshot per line) still replay, also with lines of
// the new format after them: an upgraded daemon keeps its predecessor's incidents.
TEST_F(journal_test, first_format_still_read) {
  scenario s;
  for (const auto& e : s.events)
    append_raw(nlohmann::json{{"ts", acis::daemon::format_rfc3339(s.now)}, {"event", to_string(e.kind)},
                              {"incident", e.snapshot}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  auto more = *s.tracker.annotate("INC-000002",
                                  {.kind = acis::daemon::event_kind::remediation_started, .attempt = 1},
                                  s.now + 1s);
  write_events({more}, s.now);
  incident_journal j(path_);
  auto r = j.open();
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.open[0].id, "INC-000002");
  EXPECT_EQ(r.open[0].state, incident_state::acknowledged);
  ASSERT_EQ(r.open[0].timeline.size(), 3u);
  EXPECT_EQ(r.open[0].timeline.back().kind, acis::daemon::event_kind::remediation_started);
  EXPECT_EQ(r.resolved.size(), 1u);
  EXPECT_EQ(r.next_seq, 3u);
}

// A missing journal is created (mode 0640) and replays empty with next_seq 1.
TEST_F(journal_test, open_of_missing_file_creates_it) {
  incident_journal j(path_);
  auto r = j.open();
  EXPECT_TRUE(r.open.empty());
  EXPECT_TRUE(r.resolved.empty());
  EXPECT_EQ(r.next_seq, 1u);
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// A journal in a folder that does not exist cannot be opened: std::system_error.
TEST_F(journal_test, open_in_missing_folder_throws) {
  incident_journal j((dir_ / "nope" / "incidents.jsonl").string());
  EXPECT_THROW(j.open(), std::system_error);
}

// A crash mid-write (a partial line by hand) is cut off and reported with its size; the next
// commit makes a clean file that replays without warnings.
TEST_F(journal_test, torn_last_line_truncated_and_reported) {
  scenario s;
  write_events({s.events.at(0), s.events.at(1)}, s.now);
  const auto good = read_file();
  const std::string partial = "{\"v\":2,\"ts\":\"2026-11-30T07:55:11.123Z\",\"event\":\"incident_res";
  append_raw(partial);
  {
    incident_journal j(path_);
    auto r = j.open();
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find(std::to_string(partial.size()) + " bytes"), std::string::npos) << r.warnings[0];
    EXPECT_EQ(read_file(), good);
    EXPECT_EQ(r.open.size(), 2u);
  }
  write_events({s.events.at(2)}, s.now);
  incident_journal again(path_);
  auto r2 = again.open();
  EXPECT_TRUE(r2.warnings.empty());
  EXPECT_EQ(r2.open.size(), 1u);
  EXPECT_EQ(r2.resolved.size(), 1u);
}

// A corrupt line in the middle is skipped and reported; the records around it count.
TEST_F(journal_test, corrupt_middle_line_skipped) {
  scenario s;
  write_events({s.events.at(0)}, s.now);
  append_raw("{\"v\":2,\"ts\": \"2026-11-30T07:55:11.123Z\", \"event\": \"incident_opened\", \"incid\n");
  append_raw("[1,2,3]\n");
  // (a journal opened now would cut the last unreadable line off as a torn tail)
  append_raw(nlohmann::json{{"ts", acis::daemon::format_rfc3339(s.now)}, {"event", "incident_opened"},
                            {"incident", s.events.at(1).snapshot}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  incident_journal j(path_);
  auto r = j.open();
  EXPECT_EQ(r.warnings.size(), 2u) << testing::PrintToString(r.warnings);
  EXPECT_EQ(r.open.size(), 2u);
}

// While the disk refuses (a file size limit stops the write half way), the commit fails, is
// reported, leaves no partial line, and is held: records queued meanwhile wait behind it, and
// everything is committed, in order, once the disk takes writes again.
TEST_F(journal_test, failing_commit_held_and_retried) {
  scenario s;
  incident_journal j(path_);
  j.open();
  observer o;
  j.start(o.callbacks());
  ASSERT_TRUE(o.wait_committed(j.enqueue(journal_record::for_event(s.events.at(0), s.now))));
  const auto size = fs::file_size(path_);

  struct rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size + 100;  // room for part of the next line only
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  j.enqueue(journal_record::for_event(s.events.at(1), s.now));
  EXPECT_TRUE(o.wait_for([&] { return o.failures.size() >= 2; }));  // the first and a retry
  std::uint64_t last = 0;
  for (std::size_t k = 2; k < s.events.size(); ++k)
    last = j.enqueue(journal_record::for_event(s.events.at(k), s.now));
  EXPECT_FALSE(j.current().healthy);
  EXPECT_EQ(j.current().pending, s.events.size() - 1);
  EXPECT_EQ(fs::file_size(path_), size);
  {
    std::lock_guard lk(o.m);
    EXPECT_EQ(o.up_to, 1u);
    EXPECT_NE(o.failures.at(0).find("File too large"), std::string::npos) << o.failures.at(0);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);  // the disk is back
  EXPECT_TRUE(o.wait_committed(last));
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(j.current().healthy);
  EXPECT_EQ(j.current().pending, 0u);
  ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));

  incident_journal again(path_);
  auto r = again.open();
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.resolved.size(), 1u);
  EXPECT_EQ(r.open.at(0).state, incident_state::acknowledged);
}

// A stop while the disk refuses ends the writer by the deadline and says what stayed behind.
TEST_F(journal_test, stop_is_bounded_while_failing) {
  scenario s;
  incident_journal j(path_);
  j.open();
  observer o;
  j.start(o.callbacks());
  ASSERT_TRUE(o.wait_committed(j.enqueue(journal_record::for_event(s.events.at(0), s.now))));
  struct rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = fs::file_size(path_) + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  j.enqueue(journal_record::for_event(s.events.at(1), s.now));
  EXPECT_TRUE(o.wait_for([&] { return !o.failures.empty(); }));
  const auto t = std::chrono::steady_clock::now();
  EXPECT_TRUE(j.stop(t + 300ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t, 2s);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(j.current().pending, 1u);
}

// The id high-water mark: a reservation makes the next sequence start past it, even with no
// incident of that id; it survives compaction.
TEST_F(journal_test, id_reservation_survives) {
  {
    incident_journal j(path_);
    j.open();
    observer o;
    j.start(o.callbacks());
    ASSERT_TRUE(o.wait_committed(j.enqueue(journal_record::reservation(4711, t0))));
    ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
  }
  incident_journal j(path_);
  EXPECT_EQ(j.open().next_seq, 4711u);
}

// The newest engine state wins.
TEST_F(journal_test, newest_engine_state_wins) {
  {
    incident_journal j(path_);
    j.open();
    observer o;
    j.start(o.callbacks());
    j.enqueue(journal_record::engine_state({{"n", 1}}, t0));
    ASSERT_TRUE(o.wait_committed(j.enqueue(journal_record::engine_state({{"n", 2}}, t0))));
    ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
  }
  incident_journal j(path_);
  auto r = j.open();
  ASSERT_TRUE(r.state.has_value());
  EXPECT_EQ((*r.state)["n"], 2);
}

// While running, the file is compacted atomically once it outgrows its live content: it keeps
// every open incident, the newest 1000 resolved ones, the id mark and the engine state, and
// replays to the same result.
TEST_F(journal_test, compaction_while_running) {
  const int n = 3000;
  incident_tracker t({policy("api")}, {}, t0);
  {
    incident_journal j(path_);
    j.open();
    j.compact_above(64 * 1024);
    observer o;
    j.start(o.callbacks());
    j.enqueue(journal_record::engine_state({{"n", 7}}, t0));
    std::uint64_t last = 0;
    time_point now = t0;
    for (int k = 0; k < n; ++k) {
      for (bool ok : {false, true}) {
        now += 1s;
        for (auto& e : t.on_attempt("api", acis::checks::attempt_result::single(ok ? check_result::ok() : check_result::failing("down")), now).events)
          last = j.enqueue(journal_record::for_event(e, now));
      }
    }
    now += 1s;
    for (auto& e : t.on_attempt("api", acis::checks::attempt_result::single(check_result::failing("down again")), now).events)
      last = j.enqueue(journal_record::for_event(e, now));
    ASSERT_TRUE(o.wait_committed(last));
    EXPECT_TRUE(o.wait_for([&] { return !o.notes.empty(); }));  // compaction follows a commit
    EXPECT_GT(j.current().compactions, 0u);
    EXPECT_LT(fs::file_size(path_), 2 * 1000 * 1200u);
    EXPECT_FALSE(fs::exists(path_ + ".compact"));
    ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
  }
  incident_journal j(path_);
  auto r = j.open();
  EXPECT_TRUE(r.warnings.empty());
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.open[0].id, "INC-003001");
  ASSERT_EQ(r.resolved.size(), incident_journal::resolved_kept);
  EXPECT_EQ(r.resolved.front().id, "INC-002001");
  EXPECT_EQ(r.resolved.back().id, "INC-003000");
  EXPECT_EQ(r.next_seq, 3002u);
  ASSERT_TRUE(r.state.has_value());
  EXPECT_EQ((*r.state)["n"], 7);
}

// A report is written whole (no temp file left), also after the folder refused it for a while.
TEST_F(journal_test, files_written_whole_and_retried) {
  incident_journal j(path_);
  j.open();
  observer o;
  j.start(o.callbacks());
  const auto reports = dir_ / "reports";
  { std::ofstream(reports) << "not a folder"; }  // mkdir fails until this goes
  j.write_file((reports / "INC-000001.md").string(), "# report\n");
  EXPECT_TRUE(o.wait_for([&] { return !o.file_failures.empty(); }));
  EXPECT_EQ(j.current().files_pending, 1u);
  fs::remove(reports);
  EXPECT_TRUE(o.wait_for([&] { return !o.written.empty(); }));
  std::ifstream in(reports / "INC-000001.md");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "# report\n");
  for (const auto& e : fs::directory_iterator(reports))
    EXPECT_EQ(e.path().extension(), ".md") << e.path();
  EXPECT_EQ(j.current().files_pending, 0u);
  ASSERT_TRUE(j.stop(std::chrono::steady_clock::now() + 5s));
}
