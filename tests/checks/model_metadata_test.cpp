// The model_metadata check and its pure rule evaluation, on real folders in a temp dir.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "checks/kinds.hpp"
#include "checks/metadata_rules.hpp"
#include "checks/text.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using std::chrono::steady_clock;
using std::chrono::system_clock;

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "acis-mm-XXXXXX").string();
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

system_clock::time_point at(const char* rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) throw std::runtime_error(std::string("bad test timestamp ") + rfc3339);
  return *t;
}

const char* good_metadata = R"({
  "trained_at": "2026-11-29T12:00:00Z",
  "status": "production",
  "version": 3,
  "metrics": {"sharpe_ratio": 0.8, "max_drawdown": 0.1}
})";

config::model_metadata_check strict_rules(const fs::path& models_dir) {
  config::model_metadata_check k;
  k.models_dir = models_dir.string();
  k.max_age = 36h;
  k.timestamp_pointer = "/trained_at";
  k.rules = {{"/metrics/sharpe_ratio", 0.5, std::nullopt, std::nullopt},
             {"/metrics/max_drawdown", std::nullopt, 0.25, std::nullopt},
             {"/status", std::nullopt, std::nullopt, nlohmann::json("production")}};
  return k;
}

class MetadataRules : public ::testing::Test {
 protected:
  temp_dir tmp_;
  fs::path dir_ = tmp_.path / "models" / "growth_large";
  fs::path file_ = dir_ / "metadata.json";
  config::model_metadata_check k_ = strict_rules(tmp_.path / "models");
  system_clock::time_point now_ = at("2026-11-29T14:00:00Z");

  std::optional<std::string> eval_text(const std::string& text) {
    write_file(file_, text);
    return evaluate_metadata(dir_, k_, now_);
  }
  std::string prefix() const { return file_.string() + ": "; }
};

// Metadata that is present, valid, fresh and within every rule passes.
TEST_F(MetadataRules, GoodMetadataPasses) {
  EXPECT_EQ(eval_text(good_metadata), std::nullopt);
}

// A model folder without its metadata file fails, naming the file.
TEST_F(MetadataRules, MissingFileFails) {
  fs::create_directories(dir_);
  EXPECT_EQ(evaluate_metadata(dir_, k_, now_), prefix() + "missing");
}

// An empty file is invalid JSON at its first byte.
TEST_F(MetadataRules, EmptyFileIsInvalidJson) {
  EXPECT_EQ(eval_text(""), prefix() + "invalid JSON at byte 1 (unexpected end of input)");
}

// A file cut off mid-write is invalid JSON just past its end (20 bytes -> byte 21).
TEST_F(MetadataRules, TruncatedJsonFails) {
  auto r = eval_text(R"({"metrics": {"sharpe)");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rfind(prefix() + "invalid JSON at byte 21 (", 0), 0u) << *r;
}

// Garbage is invalid JSON at the byte where the parser gave up.
TEST_F(MetadataRules, InvalidJsonFails) {
  EXPECT_EQ(eval_text("{not json}"), prefix() + "invalid JSON at byte 3 (invalid literal)");
}

// A directory in place of the file is reported with the OS error, not crashed on.
TEST_F(MetadataRules, DirectoryInPlaceOfFileIsUnreadable) {
  fs::create_directories(file_);
  EXPECT_EQ(evaluate_metadata(dir_, k_, now_), prefix() + "cannot read: Is a directory");
}

// A file without read permission fails with the OS error (root reads anyway: skipped).
TEST_F(MetadataRules, PermissionDeniedIsUnreadable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  write_file(file_, good_metadata);
  fs::permissions(file_, fs::perms::none);
  EXPECT_EQ(evaluate_metadata(dir_, k_, now_), prefix() + "cannot read: Permission denied");
}

// A metadata file over 1 MiB is refused without being parsed.
TEST_F(MetadataRules, OversizedFileFails) {
  auto r = eval_text(std::string(max_metadata_bytes + 1, ' '));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rfind(prefix() + "too large: 1048577 bytes", 0), 0u) << *r;
}

// Age by timestamp pointer: 40h after training with max_age 36h is stale, and says so.
TEST_F(MetadataRules, StaleByTimestampPointer) {
  write_file(file_, good_metadata);
  EXPECT_EQ(evaluate_metadata(dir_, k_, at("2026-12-01T04:00:00Z")),
            prefix() + "stale: trained 40h ago, max_age 36h");
  EXPECT_EQ(evaluate_metadata(dir_, k_, at("2026-11-30T23:59:59Z")), std::nullopt);
}

// A timestamp with an offset is converted to UTC (if the +02:00 were ignored the age would be
// 9h and pass max_age 10h).
TEST_F(MetadataRules, TimestampOffsetIsHonoured) {
  k_.max_age = 10h;
  k_.rules.clear();
  write_file(file_, R"({"trained_at": "2026-11-30T01:00:00+02:00"})");
  EXPECT_EQ(evaluate_metadata(dir_, k_, at("2026-11-30T10:00:00Z")),
            prefix() + "stale: trained 11h ago, max_age 10h");
  k_.max_age = 12h;
  EXPECT_EQ(evaluate_metadata(dir_, k_, at("2026-11-30T10:00:00Z")), std::nullopt);
}

// Without a timestamp pointer the file's mtime is the age.
TEST_F(MetadataRules, StaleByMtime) {
  k_.timestamp_pointer.reset();
  write_file(file_, good_metadata);
  const auto now = system_clock::now();
  EXPECT_EQ(evaluate_metadata(dir_, k_, now), std::nullopt);  // just written: fresh
  fs::last_write_time(file_, fs::file_time_type::clock::now() - 40h);
  EXPECT_EQ(evaluate_metadata(dir_, k_, now + 90s),
            prefix() + "stale: last modified 40h1m ago, max_age 36h");
}

// A timestamp pointer that is absent, not a string, or has no offset is a named failure.
TEST_F(MetadataRules, BadTimestampPointerFails) {
  k_.rules.clear();
  EXPECT_EQ(eval_text(R"({"version": 3})"),
            prefix() + "timestamp /trained_at missing (needed for max_age 36h)");
  EXPECT_EQ(eval_text(R"({"trained_at": 1764417600})"),
            prefix() + "timestamp /trained_at = 1764417600 is not an RFC 3339 timestamp");
  EXPECT_EQ(eval_text(R"({"trained_at": "2026-11-29T12:00:00"})"),
            prefix() +
                "timestamp /trained_at = \"2026-11-29T12:00:00\" is not an RFC 3339 timestamp "
                "(no UTC offset: add Z or +hh:mm)");
}

// A value below a rule's min fails, naming file, pointer, value and rule.
TEST_F(MetadataRules, RuleMinFails) {
  write_file(file_, R"({"trained_at": "2026-11-29T12:00:00Z", "status": "production",
                        "metrics": {"sharpe_ratio": 0.31, "max_drawdown": 0.1}})");
  EXPECT_EQ(evaluate_metadata(dir_, k_, now_),
            prefix() + "/metrics/sharpe_ratio = 0.31, rule min 0.5");
}

// A value above a rule's max fails; a value equal to a bound passes (bounds are inclusive).
TEST_F(MetadataRules, RuleMaxFailsAndBoundsAreInclusive) {
  EXPECT_EQ(eval_text(R"({"trained_at": "2026-11-29T12:00:00Z", "status": "production",
                          "metrics": {"sharpe_ratio": 0.5, "max_drawdown": 0.4}})"),
            prefix() + "/metrics/max_drawdown = 0.4, rule max 0.25");
  EXPECT_EQ(eval_text(R"({"trained_at": "2026-11-29T12:00:00Z", "status": "production",
                          "metrics": {"sharpe_ratio": 0.5, "max_drawdown": 0.25}})"),
            std::nullopt);
}

// equals compares JSON values: a different string fails, 3 equals 3.0.
TEST_F(MetadataRules, RuleEquals) {
  k_ = config::model_metadata_check{};
  k_.rules = {{"/status", std::nullopt, std::nullopt, nlohmann::json("production")},
              {"/version", std::nullopt, std::nullopt, nlohmann::json(3.0)}};
  EXPECT_EQ(eval_text(R"({"status": "production", "version": 3})"), std::nullopt);
  EXPECT_EQ(eval_text(R"({"status": "draft", "version": 3})"),
            prefix() + "/status = \"draft\", rule equals \"production\"");
}

// A rule whose pointer is absent, or whose value is not a number, fails naming the rule.
TEST_F(MetadataRules, RulePointerMissingOrNotANumber) {
  k_ = config::model_metadata_check{};
  k_.rules = {{"/metrics/sortino", 1.0, std::nullopt, std::nullopt}};
  EXPECT_EQ(eval_text(R"({"metrics": {}})"), prefix() + "/metrics/sortino missing (rule min 1.0)");
  EXPECT_EQ(eval_text(R"({"metrics": {"sortino": "high"}})"),
            prefix() + "/metrics/sortino = \"high\" is not a number (rule min 1.0)");
  EXPECT_EQ(eval_text(R"([1, 2])"), prefix() + "/metrics/sortino missing (rule min 1.0)");
}

// Several problems are reported in one reason, the first few spelled out, the rest counted.
TEST_F(MetadataRules, ManyProblemsAreBounded) {
  k_ = config::model_metadata_check{};
  for (const char* p : {"/a", "/b", "/c", "/d", "/e"})
    k_.rules.push_back({p, 1.0, std::nullopt, std::nullopt});
  EXPECT_EQ(eval_text(R"({"a": 0, "b": 0, "c": 0, "d": 0, "e": 0})"),
            prefix() + "/a = 0, rule min 1.0; /b = 0, rule min 1.0; /c = 0, rule min 1.0; "
                       "and 2 more");
}

// RFC 3339 parsing accepts the standard forms and refuses near misses.
TEST(Rfc3339, ParsesStandardFormsOnly) {
  const auto base = at("2026-11-29T12:00:00Z");
  EXPECT_EQ(parse_rfc3339("2026-11-29t12:00:00z"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-29 12:00:00Z"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-29T13:30:00+01:30"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-29T10:00:00-02:00"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-29T12:00:00.250Z"), base + 250ms);
  EXPECT_EQ(parse_rfc3339("2026-11-29T12:00:00.123456789123Z"), base + 123456789ns);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), system_clock::time_point{});
  for (const char* bad : {"", "2026-11-29", "2026-11-29T12:00:00", "2026-11-29T12:00Z",
                          "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
                          "2026-11-29T12:00:00.Z", "2026-11-29T12:00:00+0100",
                          "2026-11-29T12:00:00Z ", "x026-11-29T12:00:00Z"})
    EXPECT_EQ(parse_rfc3339(bad), std::nullopt) << bad;
}

// Ages print as at most two units, hours being the largest.
TEST(FormatAge, TwoUnitsAtMost) {
  EXPECT_EQ(format_age(40h), "40h");
  EXPECT_EQ(format_age(40h + 1min + 5s), "40h1m");
  EXPECT_EQ(format_age(5min + 12s), "5m12s");
  EXPECT_EQ(format_age(45s), "45s");
  EXPECT_EQ(format_age(500ms), "500ms");
  EXPECT_EQ(format_age(-3s), "0s");
}

// ---- the check, run on the event loop with the blocking pool --------------------------------

class ModelMetadataCheck : public ::testing::Test {
 protected:
  temp_dir tmp_;
  fs::path models_ = tmp_.path / "models";
  asio::io_context io_{1};
  asio::thread_pool pool_{2};
  bool complete_ = false;  // of the last run()

  std::unique_ptr<check> make(const config::model_metadata_check& k,
                              asio::thread_pool* pool = nullptr) {
    config::check_config c;
    c.name = "models";
    c.kind = k;
    return make_model_metadata_check(c, k, {io_.get_executor(), pool ? pool : &pool_});
  }

  // Runs one attempt with the given deadline; the loop itself has a fail-safe deadline.
  std::vector<check_result> run(check& c, steady_clock::duration timeout = 5s) {
    std::optional<std::vector<check_result>> out;
    asio::co_spawn(io_, c.run(steady_clock::now() + timeout),
                   [&](std::exception_ptr e, acis::checks::attempt_result a) {
                     auto r = std::move(a.targets);
                     complete_ = a.complete;
                     EXPECT_FALSE(e) << "run() threw";
                     out = std::move(r);
                   });
    io_.restart();
    io_.run_for(timeout + 10s);
    EXPECT_TRUE(out) << "run() did not complete before the fail-safe deadline";
    return out.value_or(std::vector<check_result>{});
  }

  config::model_metadata_check fresh_rules() {
    auto k = strict_rules(models_);
    k.timestamp_pointer.reset();  // judge by mtime: files written now are fresh
    return k;
  }
};

// Several model folders give one result each, named by folder and sorted; top-level
// backup_* folders, hidden entries, plain files and backups inside a model are not targets.
TEST_F(ModelMetadataCheck, OneResultPerModelFolder) {
  write_file(models_ / "growth_large" / "metadata.json", good_metadata);
  write_file(models_ / "growth_large" / "backup_20261101" / "metadata.json", good_metadata);
  fs::create_directories(models_ / "value_small");  // no metadata
  write_file(models_ / "momentum_mid" / "metadata.json",
             R"({"status": "production", "metrics": {"sharpe_ratio": 0.31, "max_drawdown": 0.1}})");
  write_file(models_ / "backup_20261001" / "metadata.json", "broken");
  write_file(models_ / ".staging" / "metadata.json", "broken");
  write_file(models_ / "README.txt", "not a model");

  auto c = make(fresh_rules());
  auto r = run(*c);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].target, "growth_large");
  EXPECT_EQ(r[0].status, health::ok) << r[0].reason;
  EXPECT_EQ(r[1].target, "momentum_mid");
  EXPECT_EQ(r[1].status, health::failing);
  EXPECT_EQ(r[1].reason, (models_ / "momentum_mid" / "metadata.json").string() +
                             ": /metrics/sharpe_ratio = 0.31, rule min 0.5");
  EXPECT_EQ(r[2].target, "value_small");
  EXPECT_EQ(r[2].status, health::failing);
  EXPECT_EQ(r[2].reason, (models_ / "value_small" / "metadata.json").string() + ": missing");
  for (const auto& x : r) EXPECT_GT(x.latency.count(), 0) << x.target;
  EXPECT_TRUE(complete_);  // listed, every folder judged
}

// A missing models_dir is one failing result with target "" naming it.
TEST_F(ModelMetadataCheck, MissingModelsDir) {
  auto c = make(fresh_rules());
  auto r = run(*c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "");
  EXPECT_EQ(r[0].status, health::failing);
  EXPECT_EQ(r[0].reason, "models_dir " + models_.string() + ": missing");
  EXPECT_FALSE(complete_);  // which models exist is unknown
}

// A models_dir that is a file is one failing result with target "".
TEST_F(ModelMetadataCheck, ModelsDirIsAFile) {
  write_file(models_, "not a folder");
  auto c = make(fresh_rules());
  auto r = run(*c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "");
  EXPECT_EQ(r[0].reason, "models_dir " + models_.string() + ": not a directory");
  EXPECT_FALSE(complete_);
}

// A models_dir holding no model folders (only backups, hidden entries) is a failure, not
// silence.
TEST_F(ModelMetadataCheck, NoModelFolders) {
  fs::create_directories(models_ / "backup_1");
  fs::create_directories(models_ / ".git");
  auto c = make(fresh_rules());
  auto r = run(*c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "");
  EXPECT_EQ(r[0].status, health::failing);
  EXPECT_EQ(r[0].reason, "no model folders in " + models_.string());
  EXPECT_TRUE(complete_);  // listed: every model folder is gone
}

// An attempt stuck on the pool fails at its deadline; the next attempt is refused while the
// first is still blocked, and runs again normally once the pool thread is free.
TEST_F(ModelMetadataCheck, BlockedAttemptTimesOutThenRecovers) {
  write_file(models_ / "growth_large" / "metadata.json", good_metadata);
  asio::thread_pool one(1);
  std::promise<void> release;
  auto released = release.get_future().share();
  asio::post(one, [released] { released.wait_for(30s); });  // a stand-in for a hung NFS read

  auto c = make(fresh_rules(), &one);
  const auto t0 = steady_clock::now();
  auto r = run(*c, 100ms);
  EXPECT_LT(steady_clock::now() - t0, 5s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "");
  EXPECT_EQ(r[0].status, health::failing);
  EXPECT_NE(r[0].reason.find("timed out after"), std::string::npos) << r[0].reason;
  EXPECT_FALSE(complete_);

  r = run(*c, 100ms);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reason, "previous attempt still blocked");
  EXPECT_FALSE(complete_);

  release.set_value();
  std::promise<void> drained;  // the pool is FIFO on one thread: this runs after the stuck work
  asio::post(one, [&drained] { drained.set_value(); });
  ASSERT_EQ(drained.get_future().wait_for(10s), std::future_status::ready);
  r = run(*c);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "growth_large");
  EXPECT_EQ(r[0].status, health::ok) << r[0].reason;
  EXPECT_TRUE(complete_);
}

// A models_dir the daemon may not list (mode 000) is incomplete, not "every model gone".
TEST_F(ModelMetadataCheck, UnreadableModelsDirIsIncomplete) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads a mode 000 folder";
  write_file(models_ / "growth_large" / "metadata.json", good_metadata);
  fs::permissions(models_, fs::perms::none);
  auto c = make(fresh_rules());
  auto r = run(*c);
  fs::permissions(models_, fs::perms::owner_all);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].target, "");
  EXPECT_EQ(r[0].status, health::failing);
  EXPECT_NE(r[0].reason.find("cannot list"), std::string::npos) << r[0].reason;
  EXPECT_FALSE(complete_);
}

// A folder whose name is not valid UTF-8 gets a valid UTF-8 target name with the bad byte
// escaped, which raw_name_of turns back into the folder's real name; its reason is UTF-8 too.
TEST_F(ModelMetadataCheck, InvalidUtf8FolderNameIsEscapedAndRoundTrips) {
  const std::string raw = std::string("growth_\xff_") + "caf\xc3\xa9";
  write_file(models_ / "growth_large" / "metadata.json", good_metadata);
  fs::create_directories(models_ / raw);  // no metadata.json: failing
  auto c = make(fresh_rules());
  auto r = run(*c);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(complete_);
  const auto& odd = r[0].target == "growth_large" ? r[1] : r[0];
  EXPECT_EQ(odd.target, "growth_\\xff_caf\xc3\xa9");
  EXPECT_TRUE(acis::checks::valid_utf8(odd.target));
  EXPECT_TRUE(acis::checks::valid_utf8(odd.reason)) << odd.reason;
  EXPECT_EQ(odd.status, health::failing);
  EXPECT_EQ(acis::checks::raw_name_of(odd.target), raw);
  EXPECT_TRUE(fs::is_directory(models_ / *acis::checks::raw_name_of(odd.target)));
  // Deterministic: the next attempt names it the same.
  auto again = run(*c);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_TRUE(again[0].target == odd.target || again[1].target == odd.target);
}

}  // namespace
}  // namespace acis::checks

namespace acis::checks {
namespace {

class ModelScanRace : public ::testing::Test {
 protected:
  temp_dir tmp_;
  fs::path models_ = tmp_.path / "models";

  config::model_metadata_check rules() {
    auto k = strict_rules(models_);
    k.timestamp_pointer.reset();  // judge by mtime: files written now are fresh
    return k;
  }
  void two_good_models() {
    write_file(models_ / "growth_large" / "metadata.json", good_metadata);
    write_file(models_ / "value_small" / "metadata.json", good_metadata);
  }
};

// models_dir renamed away between the listing and the verdicts: not "every model failing"
// (which would open an incident per healthy model) but an incomplete attempt.
TEST_F(ModelScanRace, ModelsDirRenamedDuringTheScanIsIncomplete) {
  two_good_models();
  auto a = scan_model_folders(rules(), system_clock::now(),
                              [&] { fs::rename(models_, tmp_.path / "models.away"); });
  EXPECT_FALSE(a.complete);
  ASSERT_EQ(a.targets.size(), 1u);
  EXPECT_EQ(a.targets[0].target, "");
  EXPECT_EQ(a.targets[0].status, health::failing);
  EXPECT_NE(a.targets[0].reason.find("during the scan"), std::string::npos) << a.targets[0].reason;
}

// models_dir swapped for another folder (a deploy's rename over it) during the scan: the
// verdicts mix two folders, so the attempt is incomplete.
TEST_F(ModelScanRace, ModelsDirReplacedDuringTheScanIsIncomplete) {
  two_good_models();
  write_file(tmp_.path / "next" / "growth_large" / "metadata.json", good_metadata);
  auto a = scan_model_folders(rules(), system_clock::now(), [&] {
    fs::rename(models_, tmp_.path / "models.old");
    fs::rename(tmp_.path / "next", models_);
  });
  EXPECT_FALSE(a.complete);
  ASSERT_EQ(a.targets.size(), 1u);
  EXPECT_EQ(a.targets[0].target, "");
}

// One model folder deleted between the listing and its verdict is gone (not reported), like a
// folder deleted before the listing; the others are judged as usual.
TEST_F(ModelScanRace, ModelFolderDeletedDuringTheScanIsNotReported) {
  two_good_models();
  auto a = scan_model_folders(rules(), system_clock::now(),
                              [&] { fs::remove_all(models_ / "value_small"); });
  EXPECT_TRUE(a.complete);
  ASSERT_EQ(a.targets.size(), 1u);
  EXPECT_EQ(a.targets[0].target, "growth_large");
  EXPECT_EQ(a.targets[0].status, health::ok) << a.targets[0].reason;
}

// Every model folder deleted during the scan: listed and empty, as "no model folders" says.
TEST_F(ModelScanRace, AllModelFoldersDeletedDuringTheScan) {
  two_good_models();
  auto a = scan_model_folders(rules(), system_clock::now(), [&] {
    fs::remove_all(models_ / "growth_large");
    fs::remove_all(models_ / "value_small");
  });
  EXPECT_TRUE(a.complete);
  ASSERT_EQ(a.targets.size(), 1u);
  EXPECT_EQ(a.targets[0].target, "");
  EXPECT_EQ(a.targets[0].reason, "no model folders in " + models_.string());
}

// A folder that stays but whose metadata is missing is still failing (only a vanished folder
// is skipped).
TEST_F(ModelScanRace, FolderWithoutMetadataStillFails) {
  two_good_models();
  auto a = scan_model_folders(rules(), system_clock::now(),
                              [&] { fs::remove(models_ / "value_small" / "metadata.json"); });
  EXPECT_TRUE(a.complete);
  ASSERT_EQ(a.targets.size(), 2u);
  EXPECT_EQ(a.targets[1].target, "value_small");
  EXPECT_EQ(a.targets[1].status, health::failing);
}

}  // namespace
}  // namespace acis::checks
