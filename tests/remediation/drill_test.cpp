// Drill records and reports: reading back the newest drill per runbook from a real folder, and
// the pure report formatters (markdown for people, JSON for the daemon).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "checks/metadata_rules.hpp"
#include "remediation/drill.hpp"

namespace acis::remediation {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "acis-drill-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::string record(const std::string& runbook, const std::string& started, double seconds,
                   bool ok) {
  return R"({"runbook": ")" + runbook + R"(", "started": ")" + started +
         R"(", "duration_seconds": )" + std::to_string(seconds) +
         R"(, "ok": )" + (ok ? "true" : "false") + R"(, "steps": []})";
}

std::chrono::system_clock::time_point at(const char* rfc3339) {
  return *checks::parse_rfc3339(rfc3339);
}

// The newest drill of each runbook is chosen by its `started` time, not by file name or order.
TEST(latest_drills, newest_per_runbook_by_started) {
  temp_dir d;
  // File names deliberately disagree with the times inside: the content is what counts.
  write_file(d.path / "api-down-20261130T120000Z.json",
             record("api-down", "2026-11-30T12:00:00.000Z", 3.5, true));
  write_file(d.path / "api-down-20261101T120000Z.json",
             record("api-down", "2026-12-01T08:00:00.250Z", 7.25, false));
  write_file(d.path / "api-down-20261001T120000Z.json",
             record("api-down", "2026-10-01T12:00:00.000Z", 1, true));
  write_file(d.path / "db-20261130T120000Z.json",
             record("database-connection-failure", "2026-11-30T09:30:00Z", 42, true));

  const auto latest = latest_drills(d.path);
  ASSERT_EQ(latest.size(), 2u);
  const auto& api = latest.at("api-down");
  EXPECT_EQ(api.started, at("2026-12-01T08:00:00.250Z"));
  EXPECT_DOUBLE_EQ(api.duration_seconds, 7.25);
  EXPECT_FALSE(api.ok);
  EXPECT_EQ(api.file, (d.path / "api-down-20261101T120000Z.json").string());
  const auto& db = latest.at("database-connection-failure");
  EXPECT_EQ(db.started, at("2026-11-30T09:30:00Z"));
  EXPECT_DOUBLE_EQ(db.duration_seconds, 42);
  EXPECT_TRUE(db.ok);
}

// Corrupt, incomplete, unreadable and unrelated files are skipped; the good record still counts.
TEST(latest_drills, skips_corrupt_and_irrelevant_files) {
  temp_dir d;
  write_file(d.path / "api-down-20261130T120000Z.json",
             record("api-down", "2026-11-30T12:00:00Z", 2, true));
  // Newer but corrupt, truncated, or missing fields: none may displace the good one.
  write_file(d.path / "api-down-20261201T000000Z.json", "{\"runbook\": \"api-down\", \"sta");
  write_file(d.path / "api-down-20261202T000000Z.json", "not json at all");
  write_file(d.path / "api-down-20261203T000000Z.json",
             R"({"runbook": "api-down", "started": "yesterday", "duration_seconds": 1, "ok": true})");
  write_file(d.path / "api-down-20261204T000000Z.json",
             R"({"runbook": "api-down", "started": "2026-12-04T00:00:00Z", "ok": true})");
  write_file(d.path / "api-down-20261205T000000Z.json",
             R"({"runbook": "api-down", "started": "2026-12-05T00:00:00Z", "duration_seconds": -1, "ok": true})");
  write_file(d.path / "api-down-20261206T000000Z.json", "[1, 2, 3]");
  write_file(d.path / "empty.json", "");
  // A temp file of a drill being written, a markdown report, and a folder named like a record.
  write_file(d.path / ".api-down-20261207T000000Z.json.tmp",
             record("api-down", "2026-12-07T00:00:00Z", 9, false));
  write_file(d.path / "api-down-20261208T000000Z.md", "# Drill: api-down\n");
  fs::create_directories(d.path / "api-down-20261209T000000Z.json");
  // Not JSON-named at all, but a valid record: only *.json files are read.
  write_file(d.path / "notes.txt", record("other", "2026-12-01T00:00:00Z", 1, true));

  const auto latest = latest_drills(d.path);
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest.at("api-down").started, at("2026-11-30T12:00:00Z"));
  EXPECT_DOUBLE_EQ(latest.at("api-down").duration_seconds, 2);
}

// A folder that does not exist (no drill ever ran) is an empty map, not an error.
TEST(latest_drills, missing_folder_is_empty) {
  temp_dir d;
  EXPECT_TRUE(latest_drills(d.path / "drills").empty());
  EXPECT_TRUE(latest_drills(d.path).empty());  // exists, holds nothing
  // A file where the folder should be.
  write_file(d.path / "file", "x");
  EXPECT_TRUE(latest_drills(d.path / "file").empty());
}

drill_report sample_report() {
  drill_report r;
  r.runbook = "api-down";
  r.doc = "https://runbooks.example/api-down.md";
  r.check = "api";
  r.check_kind = "http";
  r.severity = config::severity::high;
  r.response_time = std::chrono::minutes(15);
  r.target = "";
  r.incident = "drill-20261130T120000Z";
  r.ran_by = "alice";
  r.host = "trading-01";
  r.executed = true;
  r.started = at("2026-11-30T12:00:00.250Z");
  r.took = std::chrono::milliseconds(3200);
  r.ok = false;
  drill_step restart;
  restart.name = "restart API";
  restart.kind = "run";
  restart.resolved = R"(["/bin/systemctl","restart","acis-api"] (timeout 1m))";
  restart.ran = true;
  restart.ok = true;
  restart.took = std::chrono::milliseconds(1200);
  restart.detail = "exit 0";
  restart.output = "restarted";
  drill_step verify;
  verify.name = "verify";
  verify.kind = "verify";
  verify.resolved = R"(re-run check "api" until it passes, within 2s)";
  verify.ran = true;
  verify.ok = false;
  verify.took = std::chrono::milliseconds(2000);
  verify.detail = "still failing after 2s: HTTP 503";
  drill_step resume;
  resume.name = "resume";
  resume.kind = "manual";
  resume.resolved = "manual: resume trading";
  r.steps = {restart, verify, resume};
  return r;
}

// The total is compared with the response time of the check's severity, both ways, and says
// so when no check names the runbook.
TEST(drill_report, total_against_the_response_time) {
  auto r = sample_report();
  EXPECT_EQ(drill_total_line(r), "total 3.2s, within the high response time of 15m");
  r.took = std::chrono::minutes(15) + std::chrono::milliseconds(1);
  EXPECT_EQ(drill_total_line(r), "total 900.0s, exceeds the high response time of 15m");
  r.severity.reset();
  r.response_time.reset();
  EXPECT_THAT(drill_total_line(r),
              HasSubstr("severity unknown (no check names runbook api-down), nothing to compare with"));
}

// The markdown report has the title, date, who, host, the step table with durations and
// results (a step not reached says so), the total, the doc link and the output.
TEST(drill_report, markdown_has_the_template_parts) {
  const auto md = render_drill_markdown(sample_report());
  EXPECT_THAT(md, HasSubstr("# Drill: api-down\n"));
  EXPECT_THAT(md, HasSubstr("- **Date:** 2026-11-30T12:00:00.250Z (UTC)\n"));
  EXPECT_THAT(md, HasSubstr("- **Run by:** alice on host trading-01\n"));
  EXPECT_THAT(md, HasSubstr("- **Check/target:** api (http check), no target\n"));
  EXPECT_THAT(md, HasSubstr("- **Result:** failed at step 2 (verify): still failing after 2s: HTTP 503\n"));
  EXPECT_THAT(md, HasSubstr("- **Total:** 3.2s, within the high response time of 15m\n"));
  EXPECT_THAT(md, HasSubstr("<https://runbooks.example/api-down.md>"));
  EXPECT_THAT(md, HasSubstr("| 1 | restart API | run | 1.2s | ok | exit 0 |\n"));
  EXPECT_THAT(md, HasSubstr("| 2 | verify | verify | 2.0s | failed | still failing after 2s: HTTP 503 |\n"));
  EXPECT_THAT(md, HasSubstr("| 3 | resume | manual | — | not run |  |\n"));
  EXPECT_THAT(md, HasSubstr("`[\"/bin/systemctl\",\"restart\",\"acis-api\"] (timeout 1m)`"));
  EXPECT_THAT(md, HasSubstr("```text\nrestarted\n```\n"));
}

// Text from steps cannot forge markdown lines, table columns or terminal escapes.
TEST(drill_report, untrusted_text_stays_on_its_line) {
  auto r = sample_report();
  r.steps[1].detail = "HTTP 503\n# Forged heading\n| 9 | forged | row |\x1b[31m";
  r.steps[0].output = "line1\n```\n# not a heading";
  r.steps[0].resolved = "a `tick` and ``two``";
  const auto md = render_drill_markdown(r);
  EXPECT_THAT(md, Not(HasSubstr("\n# Forged")));
  EXPECT_THAT(md, Not(HasSubstr("\n| 9 |")));
  EXPECT_THAT(md, Not(HasSubstr("\x1b")));
  EXPECT_THAT(md, Not(HasSubstr("\n# not a heading")));
  EXPECT_THAT(md, HasSubstr(R"(| HTTP 503 # Forged heading \| 9 \| forged \| row \| [31m |)"));
  EXPECT_THAT(md, HasSubstr("````text\nline1 ``` # not a heading\n````"));
  EXPECT_THAT(md, HasSubstr("``` a `tick` and ``two`` ```"));
  // Every table row still has exactly the six cells of the header.
  std::istringstream lines(md);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("| ", 0) != 0) continue;
    std::size_t pipes = 0;
    for (std::size_t k = 0; k < l.size(); ++k)
      if (l[k] == '|' && (k == 0 || l[k - 1] != '\\')) ++pipes;
    EXPECT_EQ(pipes, 7u) << l;
  }
}

// The JSON record carries what the spec names and is what latest_drills() reads back.
TEST(drill_report, json_record_round_trips_through_latest_drills) {
  temp_dir d;
  const auto r = sample_report();
  const auto text = render_drill_json(r);
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["runbook"], "api-down");
  EXPECT_EQ(j["started"], "2026-11-30T12:00:00.250Z");
  EXPECT_DOUBLE_EQ(j["duration_seconds"].get<double>(), 3.2);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["severity"], "high");
  EXPECT_DOUBLE_EQ(j["response_time_seconds"].get<double>(), 900);
  EXPECT_EQ(j["within_response_time"], true);
  ASSERT_EQ(j["steps"].size(), 3u);
  EXPECT_EQ(j["steps"][0]["name"], "restart API");
  EXPECT_EQ(j["steps"][0]["kind"], "run");
  EXPECT_DOUBLE_EQ(j["steps"][0]["duration_seconds"].get<double>(), 1.2);
  EXPECT_EQ(j["steps"][0]["ok"], true);
  EXPECT_EQ(j["steps"][0]["detail"], "exit 0");
  EXPECT_EQ(j["steps"][1]["result"], "failed");
  EXPECT_EQ(j["steps"][2]["result"], "not run");
  EXPECT_TRUE(j["steps"][2]["duration_seconds"].is_null());

  write_file(d.path / ("api-down-" + drill_stamp(r.started) + ".json"), text);
  const auto latest = latest_drills(d.path);
  ASSERT_EQ(latest.count("api-down"), 1u);
  EXPECT_EQ(latest.at("api-down").started, r.started);
  EXPECT_DOUBLE_EQ(latest.at("api-down").duration_seconds, 3.2);
  EXPECT_FALSE(latest.at("api-down").ok);
}

// File names and incident ids use the UTC second: YYYYMMDDTHHMMSSZ.
TEST(drill_report, stamp_is_the_utc_second) {
  EXPECT_EQ(drill_stamp(at("2026-11-30T23:59:59.999Z")), "20261130T235959Z");
  EXPECT_EQ(drill_stamp(at("2027-01-02T03:04:05+02:00")), "20270102T010405Z");
}

}  // namespace
}  // namespace acis::remediation
