// The rollback_model step on real model folders in a temp dir, including a kill of the process
// at every mutating step of the swap.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "checks/metadata_rules.hpp"
#include "remediation/rollback_model.hpp"
#include "remediation/steps.hpp"
#include "checks/text.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace acis::remediation {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::system_clock;
using ::testing::HasSubstr;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "acis-rb-XXXXXX").string();
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

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

system_clock::time_point at(const char* rfc3339) {
  auto t = checks::parse_rfc3339(rfc3339);
  if (!t) throw std::runtime_error(std::string("bad test timestamp ") + rfc3339);
  return *t;
}

const system_clock::time_point now = at("2026-12-01T12:00:00Z");

// One model version as scripts/make-models.sh writes it: metadata.json and a recognisable
// model.bin.
void write_model(const fs::path& folder, const std::string& name, const std::string& version,
                 const std::string& trained_at, double sharpe, double drawdown) {
  std::ostringstream md;
  md << R"({"model":")" << name << R"(","version":")" << version << R"(","trained_at":")"
     << trained_at << R"(","metrics":{"sharpe_ratio":)" << sharpe << R"(,"max_drawdown":)"
     << drawdown << "}}\n";
  write_file(folder / "metadata.json", md.str());
  write_file(folder / "model.bin",
             "ACIS-TOY-MODEL " + name + " " + version + "\n" + std::string(256, '\0'));
}

// The SPEC's example models check.
config::model_metadata_check spec_rules(const fs::path& models_dir) {
  config::model_metadata_check k;
  k.models_dir = models_dir.string();
  k.max_age = 36h;
  k.timestamp_pointer = "/trained_at";
  k.rules = {{"/metrics/sharpe_ratio", 0.5, std::nullopt, std::nullopt},
             {"/metrics/max_drawdown", std::nullopt, 0.25, std::nullopt}};
  return k;
}

// Every entry below `dir` (not following symlinks): kind, mode and content or link text.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (fs::symlink_status(dir).type() != fs::file_type::directory) return {{"", "not a folder"}};
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& p = it->path();
    auto st = fs::symlink_status(p);
    std::ostringstream d;
    d << std::oct << static_cast<unsigned>(st.permissions()) << ' ';
    if (st.type() == fs::file_type::symlink)
      d << "link " << fs::read_symlink(p).string();
    else if (st.type() == fs::file_type::directory)
      d << "dir";
    else if (st.type() == fs::file_type::regular)
      d << "file " << read_file(p);
    else
      d << "other";
    out[fs::relative(p, dir).string()] = d.str();
  }
  return out;
}

// The live files of a model folder (everything but backup_* folders), or one backup's.
std::map<std::string, std::string> live_files(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : snapshot(dir))
    if (k.rfind("backup_", 0) != 0) out[k] = v;
  return out;
}

std::vector<std::string> leftovers(const fs::path& models_dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(models_dir)) {
    auto n = e.path().filename().string();
    if (n.rfind(".rollback-", 0) == 0) out.push_back(n);
  }
  return out;
}

// Waits for a forked child with a hard deadline; kills it on timeout (nullopt then).
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::nullopt;
    }
    struct timespec ts{0, 2 * 1000 * 1000};
    ::nanosleep(&ts, nullptr);
  }
}

// value_small as in the demo, plus a newer corrupt backup and a newer rule-failing one, a
// nested folder and a symlink in the healthy backup, an older healthy backup, and a
// momentum_large model that must never be touched.
struct demo_models {
  fs::path models;
  fs::path model;
  explicit demo_models(const fs::path& root) : models(root / "models"), model(models / "value_small") {
    write_model(model, "value_small", "v4", "2026-12-01T11:00:00Z", 0.31, 0.18);
    fs::permissions(model / "model.bin", fs::perms(0600));
    write_file(model / "NOTES.txt", "live v4 notes\n");
    write_file(model / "backup_20261130T000000Z" / "metadata.json", "{\"mo");
    write_file(model / "backup_20261130T000000Z" / "model.bin", "truncated");
    write_model(model / "backup_20261129T000000Z", "value_small", "v3", "2026-11-29T00:00:00Z",
                0.2, 0.1);
    write_model(model / "backup_20261128T000000Z", "value_small", "v2", "2026-12-01T00:00:00Z",
                0.9, 0.15);
    fs::permissions(model / "backup_20261128T000000Z" / "model.bin", fs::perms(0640));
    write_file(model / "backup_20261128T000000Z" / "tokenizer" / "vocab.txt", "a b c\n");
    fs::create_symlink("/nonexistent/shared-weights.bin",
                       model / "backup_20261128T000000Z" / "weights");
    write_model(model / "backup_20261001T000000Z", "value_small", "v1", "2026-10-01T00:00:00Z",
                0.8, 0.1);
    write_model(models / "momentum_large", "momentum_large", "v2", "2026-12-01T11:00:00Z", 1.2,
                0.12);
    write_model(models / "momentum_large" / "backup_20261101T000000Z", "momentum_large", "v1",
                "2026-12-01T00:00:00Z", 1.1, 0.14);
  }
};

// The newest healthy backup is chosen over a newer corrupt one and a newer rule-failing one;
// live files become the backup's, the replaced version and all backups are kept.
TEST(RollbackModel, ChoosesNewestHealthyBackupAndKeepsEverything) {
  temp_dir tmp;
  demo_models d(tmp.path);
  const auto before = snapshot(d.model);
  const auto other_before = snapshot(d.models / "momentum_large");
  const auto chosen_files = live_files(d.model / "backup_20261128T000000Z");
  const auto old_live = live_files(d.model);
  const auto md_mtime = fs::last_write_time(d.model / "backup_20261128T000000Z" / "metadata.json");

  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now);

  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.chosen_backup, "backup_20261128T000000Z");
  EXPECT_EQ(r.replaced_kept_as, "backup_20261201T120000Z_replaced");
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_THAT(r.skipped[0], HasSubstr("backup_20261130T000000Z: metadata.json invalid JSON at byte"));
  EXPECT_EQ(r.skipped[1],
            "backup_20261129T000000Z: metadata.json /metrics/sharpe_ratio = 0.2, rule min 0.5");
  EXPECT_THAT(r.reason, HasSubstr("rolled back value_small to backup_20261128T000000Z"));

  // Live files are the chosen backup's (modes, nested folder, symlink as a symlink), and the
  // mtime is kept (max_age may be judged by it).
  EXPECT_EQ(live_files(d.model), chosen_files);
  EXPECT_EQ(read_file(d.model / "model.bin").substr(0, 29), "ACIS-TOY-MODEL value_small v2");
  EXPECT_FALSE(fs::exists(d.model / "NOTES.txt"));
  EXPECT_TRUE(fs::is_symlink(d.model / "weights"));
  EXPECT_EQ(fs::last_write_time(d.model / "metadata.json"), md_mtime);
  // Copies, not links: writing to a live file must never change the backup.
  EXPECT_FALSE(fs::equivalent(d.model / "model.bin", d.model / "backup_20261128T000000Z" / "model.bin"));
  // The replaced version, whole.
  EXPECT_EQ(live_files(d.model / "backup_20261201T120000Z_replaced"), old_live);
  // Every backup as it was, the chosen one too, corrupt ones included.
  auto after = snapshot(d.model);
  for (auto& [path, what] : before)
    if (path.rfind("backup_", 0) == 0) {
      EXPECT_EQ(after[path], what) << path;
    }
  // The model check (with max_age) passes again, as the runbook's verify step will see.
  EXPECT_EQ(checks::evaluate_metadata(d.model, spec_rules(d.models), now), std::nullopt);
  EXPECT_TRUE(leftovers(d.models).empty());
  EXPECT_EQ(snapshot(d.models / "momentum_large"), other_before);
  EXPECT_TRUE(recover_rollbacks(d.models).empty());
}

// A backup is judged by the rules without max_age; the verify step then sees it is stale.
TEST(RollbackModel, StaleBackupPassingTheRulesIsChosen) {
  temp_dir tmp;
  const fs::path models = tmp.path / "models", m = models / "growth_large";
  write_model(m, "growth_large", "v2", "2026-12-01T11:00:00Z", 0.1, 0.1);
  write_model(m / "backup_20260101T000000Z", "growth_large", "v1", "2026-01-01T00:00:00Z", 0.7,
              0.1);

  auto r = rollback_model(models, "growth_large", spec_rules(models), now);

  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.chosen_backup, "backup_20260101T000000Z");
  EXPECT_TRUE(r.skipped.empty());
  auto verdict = checks::evaluate_metadata(m, spec_rules(models), now);
  ASSERT_TRUE(verdict);
  EXPECT_THAT(*verdict, HasSubstr("stale"));
}

// No healthy backup: the step fails with "no healthy backup", names every skipped backup with
// its reason, and nothing in models_dir changes.
TEST(RollbackModel, NoHealthyBackupFailsAndTouchesNothing) {
  temp_dir tmp;
  const fs::path models = tmp.path / "models", m = models / "value_small";
  write_model(m, "value_small", "v4", "2026-12-01T11:00:00Z", 0.31, 0.18);
  write_file(m / "backup_20261130T000000Z" / "metadata.json", "not json");
  write_model(m / "backup_20261129T000000Z", "value_small", "v3", "2026-11-29T00:00:00Z", 0.9,
              0.4);
  fs::create_directories(m / "backup_20261128T000000Z");  // metadata missing
  write_file(m / "backup_20261127T000000Z", "a file, not a folder");
  // A healthy model outside, reachable only by following a symlink: never followed.
  write_model(tmp.path / "outside", "value_small", "evil", "2026-12-01T00:00:00Z", 2.0, 0.01);
  fs::create_directory_symlink(tmp.path / "outside", m / "backup_20261126T000000Z");
  const auto before = snapshot(tmp.path);

  auto r = rollback_model(models, "value_small", spec_rules(models), now);

  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.reason, ::testing::StartsWith("no healthy backup in value_small: "));
  ASSERT_EQ(r.skipped.size(), 5u);
  EXPECT_THAT(r.skipped[0], HasSubstr("backup_20261130T000000Z: metadata.json invalid JSON"));
  EXPECT_EQ(r.skipped[1],
            "backup_20261129T000000Z: metadata.json /metrics/max_drawdown = 0.4, rule max 0.25");
  EXPECT_EQ(r.skipped[2], "backup_20261128T000000Z: metadata.json missing");
  EXPECT_EQ(r.skipped[3], "backup_20261127T000000Z: not a folder");
  EXPECT_EQ(r.skipped[4], "backup_20261126T000000Z: a symlink, not followed");
  for (auto& s : r.skipped) EXPECT_THAT(r.reason, HasSubstr(s));
  EXPECT_TRUE(r.chosen_backup.empty());
  EXPECT_TRUE(r.replaced_kept_as.empty());
  EXPECT_EQ(snapshot(tmp.path), before);

  // The reason names at most five; `skipped` has them all.
  write_file(m / "backup_20261130T120000Z" / "metadata.json", "[");
  auto six = rollback_model(models, "value_small", spec_rules(models), now);
  EXPECT_FALSE(six.ok);
  EXPECT_EQ(six.skipped.size(), 6u);
  EXPECT_THAT(six.reason, HasSubstr("; and 1 more"));

  // No backups at all.
  fs::create_directories(models / "fresh_model");
  write_model(models / "fresh_model", "fresh_model", "v1", "2026-12-01T11:00:00Z", 0.1, 0.1);
  auto none = rollback_model(models, "fresh_model", spec_rules(models), now);
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.reason, "no healthy backup in fresh_model: no backup_* folders");
}

// Model names that are not one plain folder name are refused before anything is touched.
TEST(RollbackModel, RefusesBadModelNames) {
  temp_dir tmp;
  demo_models d(tmp.path);
  write_model(tmp.path / "escape", "escape", "v2", "2026-12-01T11:00:00Z", 0.1, 0.1);
  write_model(tmp.path / "escape" / "backup_20261128T000000Z", "escape", "v1",
              "2026-12-01T00:00:00Z", 0.9, 0.1);
  const auto before = snapshot(tmp.path);
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "../escape", "value_small/backup_20261128T000000Z",
                          "/etc", "-rf", ".rollback-value_small", "backup_20261128T000000Z",
                          std::string("value_small\0x", 13), std::string(201, 'a')}) {
    auto r = rollback_model(d.models, bad, spec_rules(d.models), now);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_THAT(r.reason, HasSubstr("refused model name")) << bad;
  }
  EXPECT_EQ(snapshot(tmp.path), before);
}

// A model folder that is a symlink (outside models_dir, or even inside) is refused; so is a
// missing one.
TEST(RollbackModel, RefusesSymlinkedOrMissingModelFolder) {
  temp_dir tmp;
  demo_models d(tmp.path);
  write_model(tmp.path / "outside", "outside", "v2", "2026-12-01T11:00:00Z", 0.1, 0.1);
  write_model(tmp.path / "outside" / "backup_20261128T000000Z", "outside", "v1",
              "2026-12-01T00:00:00Z", 0.9, 0.1);
  fs::create_directory_symlink(tmp.path / "outside", d.models / "evil");
  fs::create_directory_symlink("value_small", d.models / "alias");
  const auto before = snapshot(tmp.path);

  auto evil = rollback_model(d.models, "evil", spec_rules(d.models), now);
  EXPECT_FALSE(evil.ok);
  EXPECT_THAT(evil.reason, HasSubstr("model folder evil is a symlink; refused"));
  auto alias = rollback_model(d.models, "alias", spec_rules(d.models), now);
  EXPECT_FALSE(alias.ok);
  EXPECT_THAT(alias.reason, HasSubstr("is a symlink"));
  auto missing = rollback_model(d.models, "no_such_model", spec_rules(d.models), now);
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.reason, "model folder no_such_model: No such file or directory");
  EXPECT_EQ(snapshot(tmp.path), before);
  EXPECT_TRUE(leftovers(d.models).empty());
}

// Stamped backup names order by name; names without a stamp come after them, by mtime.
TEST(RollbackModel, OrdersUnstampedBackupsByMtimeAfterStampedOnes) {
  temp_dir tmp;
  const fs::path models = tmp.path / "models", m = models / "mixed";
  write_model(m, "mixed", "live", "2026-12-01T11:00:00Z", 0.1, 0.1);
  write_model(m / "backup_old", "mixed", "old", "2026-12-01T00:00:00Z", 0.9, 0.1);
  write_model(m / "backup_manual", "mixed", "manual", "2026-12-01T00:00:00Z", 0.9, 0.1);
  fs::last_write_time(m / "backup_old", fs::file_time_type::clock::now() - 48h);
  fs::last_write_time(m / "backup_manual", fs::file_time_type::clock::now() - 24h);

  auto r = rollback_model(models, "mixed", spec_rules(models), now);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.chosen_backup, "backup_manual");
  EXPECT_THAT(read_file(m / "model.bin"), HasSubstr("mixed manual"));

  // A stamped backup beats an unstamped one even when the unstamped folder is newer on disk.
  write_model(m / "backup_20261101T000000Z", "mixed", "stamped", "2026-12-01T00:00:00Z", 0.9, 0.1);
  fs::last_write_time(m / "backup_20261101T000000Z", fs::file_time_type::clock::now() - 72h);
  auto r2 = rollback_model(models, "mixed", spec_rules(models), now + 1h);
  ASSERT_TRUE(r2.ok) << r2.reason;
  // backup_20261201T120000Z_replaced (the "live" version, failing) is the newest; skipped.
  EXPECT_EQ(r2.chosen_backup, "backup_20261101T000000Z");
  ASSERT_EQ(r2.skipped.size(), 1u);
  EXPECT_THAT(r2.skipped[0], HasSubstr("backup_20261201T120000Z_replaced: metadata.json"));
}

// Two rollbacks with the same stamp keep both replaced versions (the second gets "-2").
TEST(RollbackModel, ReplacedNameNeverOverwritesABackup) {
  temp_dir tmp;
  demo_models d(tmp.path);
  auto r1 = rollback_model(d.models, "value_small", spec_rules(d.models), now);
  ASSERT_TRUE(r1.ok) << r1.reason;
  auto r2 = rollback_model(d.models, "value_small", spec_rules(d.models), now);
  ASSERT_TRUE(r2.ok) << r2.reason;
  EXPECT_EQ(r2.replaced_kept_as, "backup_20261201T120000Z_replaced-2");
  EXPECT_THAT(read_file(d.model / "backup_20261201T120000Z_replaced" / "model.bin"),
              HasSubstr("value_small v4"));
  EXPECT_THAT(read_file(d.model / "backup_20261201T120000Z_replaced-2" / "model.bin"),
              HasSubstr("value_small v2"));
}

// Something in the model that is not a file, folder or symlink (a FIFO) fails the step
// before the swap; the model is unchanged and no temp folder is left.
TEST(RollbackModel, SpecialFileFailsBeforeTheSwap) {
  temp_dir tmp;
  demo_models d(tmp.path);
  ASSERT_EQ(::mkfifo((d.model / "control.fifo").c_str(), 0600), 0);
  const auto before = snapshot(d.models);
  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.reason, HasSubstr("value_small/control.fifo: not a regular file, folder or symlink"));
  EXPECT_EQ(snapshot(d.models), before);
  EXPECT_TRUE(leftovers(d.models).empty());
}

// A held lock (another rollback or recovery in this models_dir) fails at once, touching nothing.
TEST(RollbackModel, ConcurrentRollbackIsRefused) {
  temp_dir tmp;
  demo_models d(tmp.path);
  const auto before = snapshot(d.models);
  int fd = ::open(d.models.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now);
  auto rec = recover_rollbacks(d.models);
  ::close(fd);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.reason, HasSubstr("another rollback or recovery is running"));
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_THAT(rec[0], HasSubstr("skipped recovery"));
  EXPECT_EQ(snapshot(d.models), before);
  EXPECT_TRUE(rollback_model(d.models, "value_small", spec_rules(d.models), now).ok);
}

// Recovery leaves alone what is not its own and a leftover whose model folder is missing (it
// may be the only copy); it is idempotent.
TEST(RecoverRollbacks, LeavesForeignAndOrphanedFoldersAlone) {
  temp_dir tmp;
  demo_models d(tmp.path);
  write_file(d.models / ".rollback-ghost-backup_20261201T120000Z_replaced" / "model.bin", "x");
  write_file(d.models / ".rollback-notours" / "f", "x");
  write_file(d.models / ".cache" / "f", "x");
  const auto before = snapshot(d.models);
  auto notes = recover_rollbacks(d.models);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("left .rollback-ghost-backup_20261201T120000Z_replaced alone"));
  EXPECT_EQ(snapshot(d.models), before);
  EXPECT_EQ(recover_rollbacks(d.models), notes);
  EXPECT_TRUE(recover_rollbacks(tmp.path / "no_such_dir").empty());
}

// The sequence of mutating steps one rollback of the demo fixture goes through.
std::vector<std::string> reference_steps(std::map<std::string, std::string>& new_model) {
  temp_dir tmp;
  demo_models d(tmp.path);
  std::vector<std::string> steps;
  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now,
                          [&](std::string_view s) { steps.emplace_back(s); });
  if (!r.ok) throw std::runtime_error("reference rollback failed: " + r.reason);
  new_model = snapshot(d.model);
  return steps;
}

// Kill the process (SIGKILL) at every mutating step of a rollback, one fresh fixture per
// step: the model folder is always whole, exactly the old model before the exchange and
// exactly the new one from it on; recovery removes every leftover without changing the model;
// a rollback afterwards succeeds.
TEST(RollbackModel, SurvivesAKillAtEveryStep) {
  std::map<std::string, std::string> new_model;
  const auto steps = reference_steps(new_model);
  std::size_t exchange_at = steps.size();
  std::map<std::string, int> kinds;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    ++kinds[steps[i]];
    if (steps[i] == "exchange") exchange_at = i;
  }
  ASSERT_LT(exchange_at, steps.size());
  for (const char* k : {"create_temp", "copy_entry", "exchange", "sync_models_dir", "remove_old",
                        "remove_entry"})
    EXPECT_GT(kinds[k], 0) << k;

  int before_swap = 0, after_swap = 0;
  // Index steps.size(): killed right after the last step (the function then only returns).
  for (std::size_t kill_at = 0; kill_at <= steps.size(); ++kill_at) {
    SCOPED_TRACE("killed before step " + std::to_string(kill_at) + " " +
                 (kill_at < steps.size() ? steps[kill_at] : "(after the last)"));
    temp_dir tmp;
    demo_models d(tmp.path);
    const auto old_model = snapshot(d.model);
    const auto other = snapshot(d.models / "momentum_large");

    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::size_t calls = 0;
      auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now,
                              [&](std::string_view) {
                                if (calls++ == kill_at) ::raise(SIGKILL);
                              });
      if (kill_at == steps.size() && r.ok) ::raise(SIGKILL);
      ::_exit(r.ok ? 0 : 1);
    }
    auto status = wait_child(pid);
    ASSERT_TRUE(status) << "child hung";
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "status " << *status;

    const auto seen = snapshot(d.model);
    const bool swapped = kill_at > exchange_at;
    EXPECT_EQ(seen, swapped ? new_model : old_model);
    (swapped ? after_swap : before_swap)++;

    auto notes = recover_rollbacks(d.models);
    EXPECT_TRUE(leftovers(d.models).empty());
    EXPECT_EQ(snapshot(d.model), seen);
    const bool left_temp = kill_at > 0 && kill_at < steps.size();
    ASSERT_EQ(notes.size(), left_temp ? 1u : 0u);
    if (left_temp) {
      EXPECT_THAT(notes[0], HasSubstr(swapped ? "cut off after the swap" : "cut off before the swap"));
    }
    EXPECT_TRUE(recover_rollbacks(d.models).empty());

    auto again = rollback_model(d.models, "value_small", spec_rules(d.models), now + 1h);
    ASSERT_TRUE(again.ok) << again.reason;
    EXPECT_EQ(again.chosen_backup, "backup_20261128T000000Z");
    EXPECT_EQ(checks::evaluate_metadata(d.model, spec_rules(d.models), now + 1h), std::nullopt);
    EXPECT_EQ(live_files(d.model), live_files(d.model / "backup_20261128T000000Z"));
    EXPECT_TRUE(leftovers(d.models).empty());
    EXPECT_EQ(snapshot(d.models / "momentum_large"), other);
  }
  EXPECT_GT(before_swap, 10);
  EXPECT_GT(after_swap, 10);
  std::cout << "[ info     ] killed at " << steps.size() + 1 << " points: " << before_swap
            << " before the exchange, " << after_swap << " after\n";
}

// rollback_model itself first cleans up what an interrupted rollback of the same model left.
TEST(RollbackModel, CleansUpAnInterruptedRollbackFirst) {
  temp_dir tmp;
  demo_models d(tmp.path);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    rollback_model(d.models, "value_small", spec_rules(d.models), now, [](std::string_view s) {
      if (s == "sync_models_dir") ::raise(SIGKILL);
    });
    ::_exit(1);
  }
  auto status = wait_child(pid);
  ASSERT_TRUE(status && WIFSIGNALED(*status));
  ASSERT_EQ(leftovers(d.models).size(), 1u);

  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now + 1h);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_THAT(r.reason, HasSubstr("removed .rollback-value_small-backup_20261201T120000Z_replaced: "
                                  "cut off after the swap"));
  EXPECT_TRUE(leftovers(d.models).empty());
}


// choose_backup() (dry runs, drills) judges the backups exactly as rollback_model() does and
// changes nothing; rollback_model() then swaps in the backup it named.
TEST(ChooseBackup, NamesWhatRollbackWouldChooseAndTouchesNothing) {
  temp_dir tmp;
  demo_models d(tmp.path);
  const auto before = snapshot(d.models);

  auto c = choose_backup(d.models, "value_small", spec_rules(d.models), now);

  ASSERT_TRUE(c.ok) << c.reason;
  EXPECT_EQ(c.chosen_backup, "backup_20261128T000000Z");
  EXPECT_EQ(c.skipped.size(), 2u);
  EXPECT_EQ(c.reason, "would roll back value_small to backup_20261128T000000Z");
  EXPECT_TRUE(c.replaced_kept_as.empty());
  EXPECT_EQ(snapshot(d.models), before);

  auto r = rollback_model(d.models, "value_small", spec_rules(d.models), now);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.chosen_backup, c.chosen_backup);
  EXPECT_EQ(r.skipped, c.skipped);
}

// With no healthy backup choose_backup() fails with rollback_model()'s reason; bad names are
// refused the same way.
TEST(ChooseBackup, FailsLikeRollbackWhenNothingIsHealthy) {
  temp_dir tmp;
  const fs::path models = tmp.path / "models", m = models / "value_small";
  write_model(m, "value_small", "v4", "2026-12-01T11:00:00Z", 0.31, 0.18);
  write_file(m / "backup_20261130T000000Z" / "metadata.json", "not json");
  const auto before = snapshot(tmp.path);
  auto c = choose_backup(models, "value_small", spec_rules(models), now);
  EXPECT_FALSE(c.ok);
  EXPECT_THAT(c.reason, ::testing::StartsWith("no healthy backup in value_small: "));
  EXPECT_FALSE(choose_backup(models, "../value_small", spec_rules(models), now).ok);
  EXPECT_EQ(snapshot(tmp.path), before);
}

// The rollback_model step decodes its target name (checks::target_name_for) to the real
// folder, whose name is not UTF-8, and refuses a name that is not a canonical target name.
TEST(RollbackStep, ActsOnTheRawFolderOrRefusesClearly) {
  temp_dir tmp;
  const auto models = tmp.path / "models";
  const std::string raw = "value_\xff";
  write_model(models / raw, "value_x", "v2", "2026-12-01T11:00:00Z", 0.31, 0.18);
  config::check_config check;
  check.name = "models";
  check.kind = spec_rules(models);
  auto run = [&](std::string target) {
    boost::asio::io_context io{1};
    step_context ctx;
    ctx.io = io.get_executor();
    ctx.check = &check;
    ctx.target = std::move(target);
    config::step_config step{"roll back", config::rollback_model_step{}};
    std::optional<step_outcome> out;
    boost::asio::co_spawn(io, execute_step(step, ctx), [&](std::exception_ptr e, step_outcome o) {
      EXPECT_FALSE(e);
      out = std::move(o);
    });
    io.run_for(10s);
    EXPECT_TRUE(out);
    return out.value_or(step_outcome{});
  };
  const auto acted = run(checks::target_name_for(raw));
  EXPECT_FALSE(acted.ok);  // no backup at all: but the folder itself was found
  EXPECT_THAT(acted.detail, HasSubstr("no healthy backup in value_\\xff")) << acted.detail;
  EXPECT_TRUE(checks::valid_utf8(acted.detail)) << acted.detail;
  const auto refused = run("value_\\q");
  EXPECT_FALSE(refused.ok);
  EXPECT_THAT(refused.detail, HasSubstr("refused: model")) << refused.detail;
  EXPECT_THAT(refused.detail, HasSubstr("not a model folder's target name")) << refused.detail;
}

}  // namespace
}  // namespace acis::remediation
