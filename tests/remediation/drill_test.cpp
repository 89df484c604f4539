// Drill records and reports: reading back the newest drill per runbook from a real folder, and
// the pure report formatters.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace acis::remediation
