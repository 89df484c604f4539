// model_metadata: one target per model folder (each direct subdirectory of models_dir, minus
// hidden entries and stray backup_* folders); each is judged by evaluate_metadata(). A folder's
// target name is target_name_for(its raw name): valid UTF-8 whatever the file system holds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <variant>

#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/blocking.hpp"
#include "checks/kinds.hpp"
#include "checks/metadata_rules.hpp"
#include "checks/text.hpp"

namespace acis::checks {

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using std::chrono::steady_clock;
using std::chrono::system_clock;

using results = attempt_result;

// The folder could not be listed: which models exist is unknown (incomplete).
results failing_dir(const std::string& what) { return attempt_result::incomplete(what); }

// Which folder a path names right now (the models_dir symlink a deploy swaps resolves to
// another one); nullopt when it is no folder.
struct folder_identity {
  dev_t dev;
  ino_t ino;
  bool operator==(const folder_identity&) const = default;
};
std::optional<folder_identity> identity_of(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return folder_identity{st.st_dev, st.st_ino};
}

}  // namespace

// Lists the model folders and judges each. Blocking; never throws for what it finds.
// The listing and the verdicts must describe one folder: when models_dir was removed, renamed
// or swapped (a deploy's `mv`) while the folders were judged, every verdict after that would
// read "metadata.json: missing" from a folder that is not gone, so the attempt is incomplete
// instead. A single model folder that vanished between the listing and its verdict is gone
// (not reported), exactly as if it had been deleted before the listing.
attempt_result scan_model_folders(const config::model_metadata_check& k,
                                  system_clock::time_point now,
                                  const std::function<void()>& after_listing) {
  const fs::path dir(k.models_dir);
  const std::string name = "models_dir " + k.models_dir;
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found) return failing_dir(name + ": missing");
  if (ec) return failing_dir(name + ": cannot stat: " + ec.message());
  if (st.type() != fs::file_type::directory) return failing_dir(name + ": not a directory");
  const auto listed = identity_of(dir);
  if (!listed) return failing_dir(name + ": removed while being listed");

  std::vector<std::string> models;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string entry = it->path().filename().string();
    if (entry.empty() || entry.front() == '.' || entry.rfind("backup_", 0) == 0) continue;
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;  // stray files are not models
    models.push_back(std::move(entry));
  }
  if (ec) return failing_dir(name + ": cannot list: " + ec.message());
  std::sort(models.begin(), models.end());
  if (after_listing) after_listing();

  results out;
  out.targets.reserve(models.size());
  for (auto& m : models) {
    auto verdict = evaluate_metadata(dir / m, k, now);
    if (verdict) {
      std::error_code gone_ec;
      if (fs::symlink_status(dir / m, gone_ec).type() == fs::file_type::not_found) continue;
    }
    auto name = target_name_for(m);
    // The reason names the folder's path: keep it valid UTF-8 like the name.
    if (verdict && !valid_utf8(*verdict)) verdict = target_name_for(*verdict);
    out.targets.push_back(verdict ? check_result::failing(std::move(*verdict), std::move(name))
                                  : check_result::ok(std::move(name)));
  }
  if (identity_of(dir) != listed)
    return failing_dir(name + ": removed or replaced during the scan");
  // Listed and empty: complete, every model folder is gone (one failing result for the check
  // as a whole says so).
  if (out.targets.empty())
    return attempt_result::single(check_result::failing("no model folders in " + k.models_dir, ""));
  return out;
}

namespace {

class model_metadata_check final : public check {
 public:
  model_metadata_check(const config::model_metadata_check& k, check_context ctx)
      : kind_(std::make_shared<const config::model_metadata_check>(k)), ctx_(ctx) {}

  asio::awaitable<results> run(steady_clock::time_point deadline) override {
    if (busy_->load()) co_return failing_dir("previous attempt still blocked");
    const auto start = steady_clock::now();
    // Owns a copy of the config: after a timeout the pool thread may outlive this check.
    auto work = [kind = kind_]() -> results {
      try {
        return scan_model_folders(*kind, system_clock::now());
      } catch (const std::exception& e) {  // std::bad_alloc; fs errors are taken as codes
        return failing_dir(std::string("internal error: ") + e.what());
      }
    };
    results r;
    try {
      if (auto done = co_await run_blocking_until<results>(ctx_.blocking, work, busy_, deadline))
        r = std::move(*done);
      else
        // Which folders are affected is unknown: one result for the check as a whole.
        r = failing_dir("models_dir " + kind_->models_dir + ": timed out after " +
                        format_age(steady_clock::now() - start) + " (blocked in the file system)");
    } catch (const std::exception& e) {
      r = failing_dir(std::string("internal error: ") + e.what());
    }
    const auto latency = steady_clock::now() - start;
    for (auto& x : r.targets) x.latency = latency;
    co_return r;
  }

 private:
  std::shared_ptr<const config::model_metadata_check> kind_;
  check_context ctx_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::unique_ptr<check> make_model_metadata_check(const config::check_config&,
                                                 const config::model_metadata_check& k,
                                                 check_context ctx) {
  return std::make_unique<model_metadata_check>(k, ctx);
}

}  // namespace acis::checks
