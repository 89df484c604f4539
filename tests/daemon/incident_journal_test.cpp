// The incident journal on real files in a temp dir: round trip, torn tails, corrupt lines,
// append failures and compaction.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
using acis::daemon::time_point;

namespace {

namespace fs = std::filesystem;

const time_point t0 = time_point{} + 1000h;

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

}  // namespace

// Appended events replay to the same open incidents (every field), resolved ones as
// resolved, and the next sequence; invalid UTF-8 in a reason does not stop the append.
TEST_F(journal_test, append_replay_round_trip) {
  scenario s;
  {
    incident_journal j(path_);
    auto r = j.replay();
    EXPECT_TRUE(r.open.empty());
    for (const auto& e : s.events) j.append(e, s.now);
  }
  EXPECT_EQ(lines().size(), s.events.size());
  auto first = nlohmann::json::parse(lines().at(0));
  EXPECT_EQ(first["event"], "incident_opened");
  EXPECT_EQ(first["ts"], acis::daemon::format_rfc3339(s.now));
  EXPECT_EQ(first["incident"]["id"], "INC-000001");

  incident_journal j(path_);
  auto r = j.replay();
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.next_seq, 3u);
  ASSERT_EQ(r.open.size(), 1u);
  const incident* db = s.tracker.find("INC-000002");
  ASSERT_NE(db, nullptr);
  // Equal in every field, once the invalid byte is replaced by U+FFFD as on disk.
  const auto expected = nlohmann::json::parse(
      nlohmann::json(*db).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  EXPECT_EQ(nlohmann::json(r.open[0]), expected);
  EXPECT_EQ(r.open[0].reason, "connection refused \xEF\xBF\xBD");
  EXPECT_EQ(r.open[0].state, incident_state::acknowledged);
  EXPECT_EQ(r.open[0].ack_comment, "DBA paged");
  ASSERT_EQ(r.resolved.size(), 1u);
  EXPECT_EQ(r.resolved[0].id, "INC-000001");
  EXPECT_EQ(r.resolved[0].state, incident_state::resolved);

  // The daemon's restart path: a fresh tracker resumes the incident and the sequence.
  incident_tracker t({policy("api"), policy("db")}, {}, s.now);
  t.restore(r.open, r.next_seq);
  ASSERT_NE(t.find("INC-000002"), nullptr);
  auto opened = t.on_attempt(
      "api", acis::checks::attempt_result::single(check_result::failing("down")), s.now + 1s);
  EXPECT_EQ(opened.events.at(0).snapshot.id, "INC-000003");
}

// A missing journal is created (mode 0640) and replays empty with next_seq 1.
TEST_F(journal_test, replay_of_missing_file_creates_it) {
  incident_journal j(path_);
  auto r = j.replay();
  EXPECT_TRUE(r.open.empty());
  EXPECT_TRUE(r.resolved.empty());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.next_seq, 1u);
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_size, 0);
}

// A journal in a folder that does not exist cannot be opened: std::system_error.
TEST_F(journal_test, replay_in_missing_folder_throws) {
  incident_journal j((dir_ / "nope" / "incidents.jsonl").string());
  EXPECT_THROW(j.replay(), std::system_error);
}

// append() before replay() has no file to write to: std::system_error, not a crash.
TEST_F(journal_test, append_before_replay_throws) {
  scenario s;
  incident_journal j(path_);
  EXPECT_THROW(j.append(s.events.at(0), s.now), std::system_error);
}

// A crash mid-append (a partial line by hand) is cut off and reported with its size; the
// next append makes a clean file that replays without warnings.
TEST_F(journal_test, torn_last_line_truncated_and_reported) {
  scenario s;
  {
    incident_journal j(path_);
    j.replay();
    j.append(s.events.at(0), s.now);
    j.append(s.events.at(1), s.now);
  }
  const auto good_size = fs::file_size(path_);
  const std::string full = nlohmann::json{{"ts", "x"}, {"event", "incident_resolved"},
                                          {"incident", s.events.at(2).snapshot}}
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string partial = full.substr(0, full.size() / 2);
  append_raw(partial);

  incident_journal j(path_);
  auto r = j.replay();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "journal: dropped a torn last line (" + std::to_string(partial.size()) + " bytes)");
  EXPECT_EQ(fs::file_size(path_), good_size);
  EXPECT_EQ(r.open.size(), 2u);  // the resolution never reached the disk
  EXPECT_EQ(r.next_seq, 3u);

  j.append(s.events.at(2), s.now);
  const auto all = lines();
  ASSERT_EQ(all.size(), 3u);
  for (const auto& l : all) EXPECT_TRUE(nlohmann::json::accept(l)) << l;
  incident_journal again(path_);
  auto r2 = again.replay();
  EXPECT_TRUE(r2.warnings.empty());
  EXPECT_EQ(r2.open.size(), 1u);
  EXPECT_EQ(r2.resolved.size(), 1u);
}

// A last line that ends in a newline but does not parse (garbage after a crash) is torn too.
TEST_F(journal_test, unparsable_last_line_with_newline_is_torn) {
  scenario s;
  {
    incident_journal j(path_);
    j.replay();
    j.append(s.events.at(0), s.now);
  }
  const auto good_size = fs::file_size(path_);
  append_raw(std::string("\0\0\0\0\n", 5));
  incident_journal j(path_);
  auto r = j.replay();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "journal: dropped a torn last line (5 bytes)");
  EXPECT_EQ(fs::file_size(path_), good_size);
  EXPECT_EQ(r.open.size(), 1u);
}

// A corrupt line in the middle is skipped and reported by number; the lines around it count
// and the file is left as it is.
TEST_F(journal_test, corrupt_middle_line_skipped) {
  scenario s;
  {
    incident_journal j(path_);
    j.replay();
    j.append(s.events.at(0), s.now);
  }
  append_raw("{\"ts\": \"2026-11-30T07:55:11.123Z\", \"event\": \"incident_opened\", \"incid\n");
  append_raw("{\"ts\": 1, \"event\": \"x\", \"incident\": {\"id\": \"INC-000009\"}}\n");
  append_raw(nlohmann::json{{"ts", "x"}, {"event", "incident_opened"},
                            {"incident", s.events.at(1).snapshot}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n");
  const auto size = fs::file_size(path_);
  incident_journal j(path_);
  auto r = j.replay();
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0], "journal line 2 unreadable, skipped");
  EXPECT_EQ(r.warnings[1], "journal line 3 unreadable, skipped");
  EXPECT_EQ(r.open.size(), 2u);
  EXPECT_EQ(r.next_seq, 3u);  // INC-000009 was not a readable record
  EXPECT_EQ(fs::file_size(path_), size);
}

// Appending after a replay adds to the existing history; the last snapshot of an id wins.
TEST_F(journal_test, append_after_replay_last_snapshot_wins) {
  scenario s;
  {
    incident_journal j(path_);
    j.replay();
    j.append(s.events.at(0), s.now);  // INC-000001 opened
  }
  {
    incident_journal j(path_);
    auto r = j.replay();
    ASSERT_EQ(r.open.size(), 1u);
    j.append(s.events.at(1), s.now);  // INC-000002 opened
    j.append(s.events.at(2), s.now);  // INC-000001 resolved
  }
  incident_journal j(path_);
  auto r = j.replay();
  ASSERT_EQ(r.open.size(), 1u);
  EXPECT_EQ(r.open[0].id, "INC-000002");
  ASSERT_EQ(r.resolved.size(), 1u);
  EXPECT_EQ(r.resolved[0].id, "INC-000001");
  EXPECT_EQ(lines().size(), 3u);
}

// A write that fails half way (file size limit) throws std::system_error and leaves no
// partial line behind: the journal still replays clean.
TEST_F(journal_test, failed_append_throws_and_leaves_no_partial_line) {
  scenario s;
  incident_journal j(path_);
  j.replay();
  j.append(s.events.at(0), s.now);
  const auto size = fs::file_size(path_);

  struct rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size + 100;  // room for part of the next line only
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  try {
    j.append(s.events.at(1), s.now);
  } catch (const std::system_error& e) {
    threw = true;
    EXPECT_EQ(e.code().value(), EFBIG);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_EQ(fs::file_size(path_), size);

  j.append(s.events.at(1), s.now);  // the disk is back
  incident_journal again(path_);
  auto r = again.replay();
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.open.size(), 2u);
}

// Resolved history is bounded (newest 1000 kept); a journal over the compaction threshold is
// rewritten with one line per kept incident and replays to the same result.
TEST_F(journal_test, resolved_bounded_and_compaction) {
  const int n = 1100;
  {
    std::ofstream out(path_, std::ios::binary);
    auto line = [&](const incident& i, const char* event) {
      out << nlohmann::json{{"ts", acis::daemon::format_rfc3339(t0)}, {"event", event},
                            {"incident", i}}
                 .dump()
          << '\n';
    };
    incident inc;
    inc.check = "api";
    inc.first_failure = inc.opened_at = inc.sla_deadline = t0;
    for (int i = 1; i <= n + 2; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "INC-%06d", i);
      inc.id = id;
      inc.state = incident_state::open;
      inc.resolved_at.reset();
      line(inc, "incident_opened");
      if (i <= n) {
        inc.state = incident_state::resolved;
        inc.resolved_at = t0 + std::chrono::seconds(i);
        line(inc, "incident_resolved");
      }
    }
  }
  const auto big = fs::file_size(path_);
  {
    incident_journal j(path_);
    auto r = j.replay();
    EXPECT_TRUE(r.warnings.empty());  // under the default 16 MiB: left alone
    ASSERT_EQ(r.resolved.size(), incident_journal::resolved_kept);
    EXPECT_EQ(r.resolved.front().id, "INC-000101");
    EXPECT_EQ(r.resolved.back().id, "INC-001100");
    ASSERT_EQ(r.open.size(), 2u);
    EXPECT_EQ(r.next_seq, 1103u);
    EXPECT_EQ(fs::file_size(path_), big);
  }
  incident_journal j(path_);
  j.compact_above(big - 1);
  auto r = j.replay();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("compacted"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(lines().size(), 1002u);
  EXPECT_LT(fs::file_size(path_), big);
  EXPECT_FALSE(fs::exists(path_ + ".compact"));
  scenario s;
  j.append(s.events.at(0), s.now);  // appends go to the new file

  incident_journal again(path_);
  auto r2 = again.replay();
  EXPECT_TRUE(r2.warnings.empty());
  EXPECT_EQ(r2.resolved.size(), incident_journal::resolved_kept);
  EXPECT_EQ(r2.open.size(), 3u);  // the two kept open ones + INC-000001 from the scenario
  EXPECT_EQ(r2.next_seq, 1103u);
  EXPECT_EQ(lines().size(), 1003u);
}
