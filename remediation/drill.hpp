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
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

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

// ---- the drill itself (`acis-healthd drill`) ------------------------------------------------

struct drill_options {
  std::string runbook;
  std::optional<std::string> target;  // --target: {target}, and {model} for model_metadata
  bool execute = false;               // --execute: run the steps against the live system
};

// One step of a drill: as it ran, or as it would run.
struct drill_step {
  std::string name;
  std::string kind;      // step_kind()
  std::string resolved;  // describe_step(): argv, URL, ... with placeholders resolved
  bool ran = false;      // false: not reached (an earlier step failed, or the drill was stopped)
  bool ok = false;
  bool cancelled = false;  // the drill was interrupted (SIGINT/SIGTERM) while this step ran
  std::chrono::nanoseconds took{};
  std::string detail;  // one line: "exit 0", "HTTP 200", "refused: ..."
  std::string output;  // bounded output of a `run` step
  std::optional<std::string> manual_instruction;
};

// Everything a drill report says. Built by run_drill(); pure data for the formatters.
struct drill_report {
  std::string runbook;
  std::optional<std::string> doc;
  std::string check;  // the first check (config order) naming the runbook; "" when none does
  std::string check_kind;                   // "http", ...; "" when no check
  std::optional<config::severity> severity;  // the check's; nullopt when no check
  std::optional<std::chrono::milliseconds> response_time;  // the severity's
  std::string target;    // "" without --target
  std::string incident;  // "drill-<YYYYMMDDTHHMMSSZ>", the {incident} of the steps
  std::string ran_by;    // user name, or "uid N"
  std::string host;
  bool executed = false;  // --execute
  std::chrono::system_clock::time_point started;
  std::chrono::nanoseconds took{};  // first step start to last step end
  bool ok = false;                  // every step ran and succeeded
  bool cancelled = false;           // interrupted by SIGINT/SIGTERM
  std::vector<drill_step> steps;    // every step of the runbook, in order (ran or not)
};

// "total 3.2s, within the high response time of 15m" / "..., exceeds ..." / with no check:
// "total 3.2s; severity unknown (no check names runbook X), nothing to compare with".
std::string drill_total_line(const drill_report& r);

// The saved report, for people: title "Drill: <runbook>", date (UTC), who ran it, host,
// check/target, a table step | kind | duration | result | detail, the total against the
// response time, the runbook's doc link, what each step did, run output, manual action items.
// Pure; every text from the config or a step is put on one line (no forged headings or rows).
std::string render_drill_markdown(const drill_report& r);

// The saved record, for the daemon and scripts: runbook, started (RFC 3339 UTC),
// duration_seconds, ok, steps [{name, kind, duration_seconds, ok, result, detail, ...}], ...
// latest_drills() reads it back. Pure.
std::string render_drill_json(const drill_report& r);

// "20261130T120000Z": the UTC second of `t`, as used in drill file names and incident ids.
std::string drill_stamp(std::chrono::system_clock::time_point t);

// Runs `acis-healthd drill`: prints to `out` (for a person) and `err` (usage and runtime
// errors). Without `execute` nothing is executed, signalled, requested or written. With it the
// steps run through run_runbook_steps() on the drill's own event loop and blocking pool, and
// the report is written to `state_dir/drills/` (atomically; the folder is created with mode
// 0750). SIGINT/SIGTERM during the drill cancel the running step (its process group gets
// SIGTERM, then SIGKILL after its grace) and the report marks it cancelled.
// Returns the exit code: 0 every step succeeded, 1 a step failed (or would fail, or the drill
// was cancelled), 2 unknown runbook (the known ones are listed), 3 state dir unwritable.
// Installs SIGINT/SIGTERM handlers for its duration; never throws for anything a step does.
int run_drill(const config::config& cfg, const drill_options& opt, std::ostream& out,
              std::ostream& err);

}  // namespace acis::remediation
