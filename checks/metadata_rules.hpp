// Judging one model folder's metadata file against a model_metadata check's rules, as a pure
// function of the folder's contents and an injected `now`.
//
// Shared by the model_metadata check (one call per model folder) and the rollback step (which
// picks the newest backup_* folder whose own metadata passes).
//
// Contract: blocking (reads one file of at most max_metadata_bytes); call it from the blocking
// pool. Never throws for anything found on disk: every problem is the returned reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace acis::checks {

// A metadata file larger than this is refused unread: metadata is a few KiB, and a runaway
// writer must not make the daemon allocate without bound.
inline constexpr std::size_t max_metadata_bytes = 1024 * 1024;

// At most this many problems are spelled out in one reason; the rest are counted.
inline constexpr std::size_t max_metadata_problems = 3;

// Returns nullopt when `<model_dir>/<cfg.metadata_file>` is present, a regular file, valid
// JSON, fresh (when cfg.max_age is set) and satisfies every rule; otherwise the reason, which
// starts with the file's path and names the rule or pointer at fault, e.g.
//   "models/growth_large/metadata.json: /metrics/sharpe_ratio = 0.31, rule min 0.5"
// Age is `now` minus the timestamp at cfg.timestamp_pointer (RFC 3339), or minus the file's
// modification time when there is no pointer. A timestamp in the future is not stale.
std::optional<std::string> evaluate_metadata(const std::filesystem::path& model_dir,
                                             const config::model_metadata_check& cfg,
                                             std::chrono::system_clock::time_point now);

// RFC 3339 date-time: "2026-11-29T12:00:00Z", "2026-11-29T12:00:00.25+02:00" ('t', 'z' and a
// space in place of 'T' accepted). A time without an offset is refused: it is ambiguous.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// A coarse, readable age or bound for reasons: "40h", "36h30m", "5m12s", "45s", "500ms".
// Hours are the largest unit (runbooks speak of "36h"); at most the two most significant
// units, truncated; negative values print as "0s".
std::string format_age(std::chrono::nanoseconds d);

}  // namespace acis::checks
