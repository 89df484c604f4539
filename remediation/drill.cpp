#include "remediation/drill.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "checks/metadata_rules.hpp"

namespace acis::remediation {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A drill record is a few KiB; anything much larger in the folder is not ours and is not read.
constexpr std::uintmax_t max_record_bytes = 4 * 1024 * 1024;

// The record in one .json file, or nullopt when the file is unreadable, not JSON, or lacks a
// field the daemon needs (runbook, started, duration_seconds, ok).
std::optional<drill_record> read_record(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec || size > max_record_bytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return std::nullopt;
  const auto j = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto rb = j.find("runbook");
  const auto started = j.find("started");
  const auto took = j.find("duration_seconds");
  const auto ok = j.find("ok");
  if (rb == j.end() || !rb->is_string() || rb->get_ref<const std::string&>().empty() ||
      started == j.end() || !started->is_string() || took == j.end() || !took->is_number() ||
      ok == j.end() || !ok->is_boolean())
    return std::nullopt;
  const auto when = checks::parse_rfc3339(started->get_ref<const std::string&>());
  const double seconds = took->get<double>();
  if (!when || !(seconds >= 0)) return std::nullopt;  // also refuses NaN
  drill_record r;
  r.runbook = rb->get<std::string>();
  r.started = *when;
  r.duration_seconds = seconds;
  r.ok = ok->get<bool>();
  r.file = file.string();
  return r;
}

}  // namespace

std::map<std::string, drill_record> latest_drills(const fs::path& drills_dir) {
  std::map<std::string, drill_record> out;
  std::error_code ec;
  fs::directory_iterator it(drills_dir, ec);
  if (ec) return out;  // missing or unreadable folder: no drills known
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    const auto& entry = *it;
    const auto& p = entry.path();
    // Only finished records: the temp files of a drill being written start with '.'.
    if (p.extension() != ".json" || p.filename().string().front() == '.') continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    auto r = read_record(p);
    if (!r) continue;
    auto [slot, inserted] = out.try_emplace(r->runbook, *r);
    // Newest by `started`; on a tie the later file name wins, so the choice does not depend on
    // the order the folder is listed in.
    if (!inserted && (r->started > slot->second.started ||
                      (r->started == slot->second.started && r->file > slot->second.file)))
      slot->second = std::move(*r);
  }
  return out;
}

}  // namespace acis::remediation
