// The `rollback_model` runbook step: replace a model folder's live files with its newest
// healthy `backup_*`, atomically, keeping the replaced version as a new backup.
//
// Layout (scripts/make-models.sh): `models_dir/<model>/` holds the live files (metadata.json,
// model.bin, ...) beside `backup_<stamp>/` folders, each a complete earlier copy of the live
// files. The live files are several entries, so no per-file rename can swap them atomically;
// instead the complete new model folder is built as a sibling and exchanged with the live one
// in one renameat2(RENAME_EXCHANGE):
//
//   T = models_dir/.rollback-<model>-<R>   where R = backup_<now %Y%m%dT%H%M%SZ>_replaced[-N]
//   1. mkdir T; copy the chosen backup's entries into T as the live files (full copies: the
//      chosen backup stays an independent backup).
//   2. every backup_* entry of the model into T (hard links per file, copies where linking
//      fails), so that all backups, corrupt ones included, survive.
//   3. T/R: the current live entries (hard links, copies where linking fails); the live
//      version being replaced is kept there.
//   4. every file and folder of T is fsynced as it is made, then T and models_dir.
//   5. renameat2(T, <model>, RENAME_EXCHANGE): the one atomic step. Before it the old model is
//      whole at models_dir/<model>; after it the new one is, and the old folder sits at T.
//   6. fsync models_dir (the exchange is durable before anything is deleted), remove T.
//
// Crash safety, without a marker file: whatever sits at a `.rollback-*` name is disposable.
// Before step 5 it is an unfinished new folder and the live model is the old one, untouched;
// after step 5 it is the old folder whose live files are already kept inside the new model as
// R and whose backups are linked there too. So recovery always deletes it. Which of the two it
// was is told by name alone, for the report: R is chosen so that it does not exist in the old
// model, so "models_dir/<model>/R exists" means the exchange happened. No marker file is
// written, so none can ever end up among the model's live files.
//
// Choices:
// - Backups are the model folder's direct entries named `backup_*`. Newest first: names with
//   a stamp (`backup_` and at least 8 digits, e.g. backup_20261101T000000Z) by name,
//   descending (the stamp sorts lexically); names without one after all stamped ones, by
//   folder mtime (newest first), then by name. Directory names are unique, so no two tie.
// - A backup is judged by checks::evaluate_metadata() with the check's rules but WITHOUT
//   max_age: a backup is older by nature, and SPEC asks only that its "own metadata passes the
//   rules". Staleness is the runbook's `verify` step's business (it re-runs the check with
//   max_age). The first backup that passes is chosen; every newer one is listed in `skipped`
//   with its reason. The copy in T is judged again before the exchange, so a backup changed
//   while being copied is not installed.
// - A backup_* that is a symlink or not a folder is skipped (never followed) but kept.
// - Nested `backup_*` entries inside the chosen backup are not live files and are not copied.
// - Copies keep mode (incl. setuid bits), owner (when permitted) and atime/mtime; keeping the
//   mtime matters because max_age may be judged by the metadata file's mtime. Symlinks inside
//   a model are copied as symlinks with their link text unchanged, never dereferenced.
//   Anything else (FIFO, socket, device) makes the step fail: it is not a model file.
// - The model folder must be a real folder directly inside models_dir on the same file
//   system: a symlinked model folder is refused (exchanging it would swap the link, not the
//   model), and so is a mount point.
// - No fallback to two plain renames when the file system lacks RENAME_EXCHANGE: that would
//   leave an instant with no model; the step fails with the reason instead.
// - Rollbacks and recoveries in one models_dir are serialised by flock() on the models_dir
//   folder; one that finds the lock taken fails at once ("another rollback or recovery is
//   running") rather than wait: the runbook's attempt fails and is retried after its backoff.
//
// Contract: blocking file-system work, for the blocking pool. Never throws; every problem is
// in the result. Not async-signal-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace acis::remediation {

struct rollback_result {
  bool ok = false;
  std::string reason;                // failure reason, or a one-line summary on success
  std::string chosen_backup;         // e.g. "backup_20261101T000000Z"
  std::string replaced_kept_as;      // the new backup folder holding the replaced live version
  std::vector<std::string> skipped;  // "backup_x: metadata.json invalid JSON at byte 3" (newest first)
};

// Rolls `models_dir/<model>` back as described above. `model` is one folder name: empty, `.`,
// `..`, a name with `/` or NUL, a leading `-` or `.`, or a `backup_*` name is refused. First
// removes leftovers of an interrupted rollback of this model (as recover_rollbacks() does).
// Fails with a reason starting "no healthy backup in <model>: " followed by the first five
// skipped backups' reasons ("; and N more"), when no backup passes; then nothing in the model
// folder has changed.
//
// `fault` (tests only) is called with a step name before each mutating step: "create_temp",
// "copy_entry" (before each file, folder or symlink made in the new folder), "exchange",
// "sync_models_dir", "remove_old", "remove_entry" (before each entry deleted from the old
// folder). A test makes it kill the process there.
rollback_result rollback_model(const std::filesystem::path& models_dir, const std::string& model,
                               const config::model_metadata_check& rules,
                               std::chrono::system_clock::time_point now,
                               const std::function<void(std::string_view step)>& fault = {});

// What rollback_model() would choose, changing nothing (for dry runs and drills): the same
// checks and backup judgement; ok with `chosen_backup` set, or the same failure reason. Leftovers
// of an interrupted rollback are not cleaned up.
rollback_result choose_backup(const std::filesystem::path& models_dir, const std::string& model,
                              const config::model_metadata_check& rules,
                              std::chrono::system_clock::time_point now);

// Cleans up after a crash mid-rollback: removes every `.rollback-<model>-<R>` folder in
// models_dir (see above why that is right in every case), except when models_dir/<model> is
// missing (then the leftover may be the only copy and is left for an operator). Idempotent;
// call it at daemon start for every model_metadata check's models_dir. Returns one line per
// thing done or left, e.g. "removed .rollback-value_small-backup_20261201T000000Z_replaced:
// cut off after the swap; value_small is the rolled-back version"; empty when nothing was left.
std::vector<std::string> recover_rollbacks(const std::filesystem::path& models_dir);

}  // namespace acis::remediation
