// Runbook drills (SPEC.md "Command line", "Incident lifecycle"): `acis-healthd drill RUNBOOK
// [--execute] [--target T]`.
//
// Without --execute a drill prints each step as it would run, placeholders resolved, and runs
// nothing. With --execute it runs the steps against the live system through the same
// run_runbook_steps() an incident uses, times every step, and prints and saves a report under
// `state_dir/drills/`: `<runbook>-<YYYYMMDDTHHMMSSZ>.md` (for people) and `.json` (for the
// daemon, which exposes the newest drill of each runbook as
// acis_runbook_last_drill_timestamp_seconds / acis_runbook_drill_duration_seconds).
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace acis::remediation {

// The newest saved drill of one runbook, as read back from its .json file.
struct drill_record {
  std::string runbook;
  std::chrono::system_clock::time_point started;
  double duration_seconds = 0;  // the whole drill, first step start to last step end
  bool ok = false;              // every step succeeded
  std::string file;             // the .json file it was read from
};

// The newest drill per runbook found in `drills_dir` (by `started`). A missing folder is an
// empty map; an unreadable or corrupt file is skipped (never throws for file contents).
std::map<std::string, drill_record> latest_drills(const std::filesystem::path& drills_dir);

}  // namespace acis::remediation
