// End-to-end tests of `acis-healthd drill`: the real binary run as a child process against
// configs, marker files and a loopback HTTP server in a temp dir.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "checks/metadata_rules.hpp"
#include "remediation/drill.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_test_server.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::child_process;
using acis::test::read_file;
using acis::test::wait_until;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string binary = ACIS_BINARY_DIR "/daemon/acis-healthd";
const std::string helper = ACIS_BINARY_DIR "/tests/helpers/step_helper";

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "acis-drill-e2e-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path = t;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct run_result {
  int code = -1;  // exit code; -1 when it did not finish within the deadline
  std::string out;
  std::string err;
};

// Runs the binary to completion with a hard deadline (killed and reported as -1 past it).
run_result run_binary(const fs::path& dir, std::vector<std::string> args,
                      std::chrono::seconds deadline = 60s) {
  const auto out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  fs::remove(out);
  fs::remove(err);
  args.insert(args.begin(), binary);
  run_result r;
  {
    child_process p(std::move(args), out, err);
    auto st = p.wait_for(deadline);
    if (!st) {
      p.stop(1s);
    } else {
      r.code = WIFEXITED(*st) ? WEXITSTATUS(*st) : 128 + WTERMSIG(*st);
    }
  }
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// A config with one check naming runbook "rb" (severity high, response time 15m) and the
// given steps; `extra` is merged in at the top level.
fs::path write_config(const fs::path& dir, const json& steps, json extra = json::object()) {
  json cfg = {
      {"daemon", {{"state_dir", (dir / "state").string()}}},
      {"checks",
       json::array({{{"name", "api"},
                     {"type", "http"},
                     {"url", "http://127.0.0.1:1/health"},
                     {"severity", "high"},
                     {"runbook", "rb"}}})},
      {"runbooks",
       {{"rb", {{"doc", "https://runbooks.example/rb.md"}, {"steps", steps}}},
        {"other", {{"steps", json::array({{{"name", "pause"}, {"wait", "1ms"}}})}}}}}};
  cfg.merge_patch(extra);
  const auto file = dir / "config.json";
  std::ofstream(file) << cfg.dump(2);
  return file;
}

json touch_step(const std::string& name, const fs::path& file) {
  return {{"name", name}, {"run", json::array({"/usr/bin/touch", file.string()})}};
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ext) out.push_back(e.path());
  return out;
}

json read_json(const fs::path& file) { return json::parse(read_file(file.string())); }

// Without --execute every step is printed with its argv resolved, and nothing runs or is saved.
TEST(drill_e2e, dry_run_prints_resolved_argv_and_executes_nothing) {
  temp_dir d;
  const auto marker = d.path / "marker-m1";
  const auto cfg = write_config(
      d.path, json::array({touch_step("touch marker", d.path / "marker-{target}"),
                           {{"name", "announce"},
                            {"run", json::array({helper, "--print", "{check} {severity} {incident}"})}},
                           {{"name", "resume"}, {"manual", "Resume trading for {check}."}}}));

  const auto r = run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--target", "m1"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("dry run — nothing is executed"));
  EXPECT_THAT(r.out, HasSubstr("1. touch marker [run] [\"/usr/bin/touch\",\"" + marker.string() + "\"]"));
  EXPECT_THAT(r.out, HasSubstr("\"api high drill-20"));  // {check} {severity} {incident}
  EXPECT_THAT(r.out, HasSubstr("3. resume [manual] manual: Resume trading for api."));
  EXPECT_THAT(r.out, HasSubstr("check:    api (http check)"));
  EXPECT_THAT(r.out, HasSubstr("high, response time 15m"));
  EXPECT_FALSE(fs::exists(marker)) << "a dry run executed a step";
  EXPECT_FALSE(fs::exists(d.path / "state")) << "a dry run wrote to the state dir";
}

// --execute runs the steps, prints results and the total against the response time, and saves
// both report files (0750 folder) that latest_drills() reads back; daemon.dry_run only warns.
TEST(drill_e2e, execute_runs_steps_and_saves_the_report) {
  temp_dir d;
  const auto marker = d.path / "marker-m1";
  const auto cfg = write_config(
      d.path,
      json::array({touch_step("touch marker", d.path / "marker-{target}"),
                   {{"name", "announce"}, {"run", json::array({helper, "--print", "hello {target}"})}},
                   {{"name", "pause"}, {"wait", "50ms"}}}),
      {{"daemon", {{"dry_run", true}}}});

  const auto r =
      run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--target", "m1", "--execute"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(marker)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("EXECUTING against the live system"));
  EXPECT_THAT(r.out, HasSubstr("warning: the daemon's config is in dry-run mode"));
  EXPECT_THAT(r.out, HasSubstr("ok in "));
  EXPECT_THAT(r.out, HasSubstr("hello m1"));  // the run step's output
  EXPECT_THAT(r.out, HasSubstr(", within the high response time of 15m"));
  EXPECT_THAT(r.out, HasSubstr("result: passed"));

  const auto drills = d.path / "state" / "drills";
  struct stat st{};
  ASSERT_EQ(::stat(drills.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  const auto mds = files_in(drills, ".md");
  const auto jsons = files_in(drills, ".json");
  ASSERT_EQ(mds.size(), 1u);
  ASSERT_EQ(jsons.size(), 1u);
  EXPECT_EQ(mds[0].stem(), jsons[0].stem());
  EXPECT_THAT(mds[0].filename().string(), ::testing::MatchesRegex("rb-[0-9]{8}T[0-9]{6}Z\\.md"));
  EXPECT_THAT(r.out, HasSubstr(mds[0].string()));
  EXPECT_THAT(r.out, HasSubstr(jsons[0].string()));

  const auto j = read_json(jsons[0]);
  EXPECT_EQ(j["runbook"], "rb");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["check"], "api");
  EXPECT_EQ(j["severity"], "high");
  EXPECT_EQ(j["target"], "m1");
  EXPECT_EQ(j["within_response_time"], true);
  ASSERT_TRUE(acis::checks::parse_rfc3339(j["started"].get<std::string>()));
  ASSERT_EQ(j["steps"].size(), 3u);
  double sum = 0;
  for (const auto& s : j["steps"]) {
    EXPECT_EQ(s["ok"], true) << s.dump();
    ASSERT_TRUE(s["duration_seconds"].is_number()) << s.dump();
    sum += s["duration_seconds"].get<double>();
  }
  EXPECT_GE(j["steps"][2]["duration_seconds"].get<double>(), 0.05);  // the wait really waited
  EXPECT_GE(j["duration_seconds"].get<double>(), sum - 0.001);
  EXPECT_EQ(j["steps"][0]["kind"], "run");
  EXPECT_EQ(j["steps"][0]["detail"], "exit 0");

  const auto md = read_file(mds[0].string());
  EXPECT_THAT(md, HasSubstr("# Drill: rb\n"));
  EXPECT_THAT(md, HasSubstr("| # | step | kind | duration | result | detail |"));
  EXPECT_THAT(md, HasSubstr("| 1 | touch marker | run | "));
  EXPECT_THAT(md, HasSubstr("| ok | exit 0 |"));
  EXPECT_THAT(md, HasSubstr("within the high response time of 15m"));
  EXPECT_THAT(md, HasSubstr("<https://runbooks.example/rb.md>"));
  EXPECT_THAT(md, HasSubstr("- **Run by:** "));

  // The daemon's view of the same folder.
  const auto latest = acis::remediation::latest_drills(drills);
  ASSERT_EQ(latest.count("rb"), 1u);
  EXPECT_TRUE(latest.at("rb").ok);
  EXPECT_DOUBLE_EQ(latest.at("rb").duration_seconds, j["duration_seconds"].get<double>());
}

// A step that fails (exit 3) fails the drill with exit 1; later steps do not run; the report
// says which step failed and why.
TEST(drill_e2e, failing_step_stops_the_drill) {
  temp_dir d;
  const auto marker = d.path / "after";
  const auto cfg = write_config(
      d.path, json::array({{{"name", "break"}, {"run", json::array({helper, "--exit", "3"})}},
                           touch_step("after", marker)}));

  const auto r = run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--execute"});
  ASSERT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_FALSE(fs::exists(marker)) << "a step after the failed one ran";
  EXPECT_THAT(r.out, HasSubstr("FAILED in "));
  EXPECT_THAT(r.out, HasSubstr("exit 3"));
  EXPECT_THAT(r.out, HasSubstr("result: failed at step 1 (break)"));

  const auto jsons = files_in(d.path / "state" / "drills", ".json");
  ASSERT_EQ(jsons.size(), 1u);
  const auto j = read_json(jsons[0]);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["steps"][0]["result"], "failed");
  EXPECT_THAT(j["steps"][0]["detail"].get<std::string>(), HasSubstr("exit 3"));
  EXPECT_EQ(j["steps"][1]["result"], "not run");
  const auto md = read_file(files_in(d.path / "state" / "drills", ".md").at(0).string());
  EXPECT_THAT(md, HasSubstr("| 1 | break | run | "));
  EXPECT_THAT(md, HasSubstr("| failed | exit 3"));
  EXPECT_THAT(md, HasSubstr("| 2 | after | run | — | not run |"));
}

// An unknown runbook is bad usage (exit 2) and the known runbooks are listed.
TEST(drill_e2e, unknown_runbook_lists_the_known_ones) {
  temp_dir d;
  const auto cfg = write_config(d.path, json::array({touch_step("t", d.path / "x")}));
  const auto r = run_binary(d.path, {"drill", "no-such-runbook", "--config", cfg.string(), "--execute"});
  ASSERT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no runbook named \"no-such-runbook\""));
  EXPECT_THAT(r.err, HasSubstr("  other\n"));
  EXPECT_THAT(r.err, HasSubstr("  rb\n"));
  EXPECT_FALSE(fs::exists(d.path / "x"));

  // And a drill without a runbook, or with an option of another command, is bad usage too.
  EXPECT_EQ(run_binary(d.path, {"drill", "--config", cfg.string()}).code, 2);
  EXPECT_EQ(run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--json"}).code, 2);
}

// A target the templating refuses is printed as refused; nothing is executed, in a dry run or
// with --execute (where the step fails as it would in an incident).
TEST(drill_e2e, refused_placeholder_executes_nothing) {
  temp_dir d;
  const auto cfg = write_config(
      d.path, json::array({touch_step("touch marker", d.path / "marker-{target}"),
                           touch_step("after", d.path / "marker-after")}));
  auto no_marker = [&] {
    for (const auto& e : fs::directory_iterator(d.path))
      if (e.path().filename().string().rfind("marker", 0) == 0) return false;
    return true;
  };

  const auto dry = run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--target", "a;b"});
  EXPECT_EQ(dry.code, 1) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("1. touch marker [run] refused: argv[1]: {target} refused"));
  EXPECT_THAT(dry.out, HasSubstr("REFUSED: nothing is executed"));
  EXPECT_TRUE(no_marker());

  const auto exec =
      run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--target", "a;b", "--execute"});
  EXPECT_EQ(exec.code, 1) << exec.out << exec.err;
  EXPECT_THAT(exec.out, HasSubstr("refused: argv[1]: {target} refused"));
  EXPECT_TRUE(no_marker());
  const auto jsons = files_in(d.path / "state" / "drills", ".json");
  ASSERT_EQ(jsons.size(), 1u);
  const auto j = read_json(jsons[0]);
  EXPECT_EQ(j["ok"], false);
  EXPECT_THAT(j["steps"][0]["detail"].get<std::string>(), HasSubstr("refused"));
  EXPECT_EQ(j["steps"][1]["result"], "not run");
}

// A `verify` step re-runs the named http check against a real loopback server until it passes
// (here: after two 503 answers).
TEST(drill_e2e, verify_step_passes_against_a_real_http_check) {
  temp_dir d;
  std::atomic<int> calls{0};
  acis::test::http_test_server server([&](const acis::test::http_test_request&) {
    acis::test::http_test_reply reply;
    if (++calls <= 2) {
      reply.status = 503;
      reply.body = "starting";
    }
    return reply;
  });
  const auto cfg = write_config(
      d.path, json::array({{{"name", "verify api"}, {"verify", "api"}, {"within", "30s"}}}),
      {{"checks", json::array({{{"name", "api"},
                                {"type", "http"},
                                {"url", server.url("/health")},
                                {"interval", "4s"},
                                {"timeout", "2s"},
                                {"severity", "critical"},
                                {"runbook", "rb"}}})}});

  const auto r = run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--execute"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("verified: api passes"));
  EXPECT_THAT(r.out, HasSubstr("within the critical response time of 5m"));
  EXPECT_GE(calls.load(), 3);
  for (const auto& req : server.requests()) EXPECT_EQ(req.target, "/health");
}

// SIGTERM to the drill cancels the running step: its process (which ignores SIGTERM) is killed
// after the step's grace, later steps do not run, exit 1, and the report marks it cancelled.
TEST(drill_e2e, sigterm_cancels_the_running_step) {
  temp_dir d;
  const auto pid_file = d.path / "step.pid";
  const auto after = d.path / "after";
  const auto cfg = write_config(
      d.path, json::array({{{"name", "hang"},
                            {"run", json::array({helper, "--ignore-term", "--pid-file",
                                                 pid_file.string(), "--sleep-ms", "60000"})},
                            {"grace", "500ms"}},
                           touch_step("after", after)}));

  const auto out = (d.path / "stdout.txt").string(), err = (d.path / "stderr.txt").string();
  child_process p({binary, "drill", "rb", "--config", cfg.string(), "--execute"}, out, err);
  ASSERT_TRUE(wait_until([&] { return fs::exists(pid_file); }, 30s)) << read_file(out);
  const pid_t step_pid = std::stoi(read_file(pid_file.string()));
  p.signal(SIGTERM);
  const auto st = p.wait_for(30s);
  ASSERT_TRUE(st) << "the drill did not end after SIGTERM\n" << read_file(out);
  ASSERT_TRUE(WIFEXITED(*st)) << read_file(out);
  EXPECT_EQ(WEXITSTATUS(*st), 1) << read_file(out) << read_file(err);
  // The step's process is gone (killed and reaped, not left running).
  EXPECT_NE(::kill(step_pid, 0), 0);
  EXPECT_FALSE(fs::exists(after));
  const auto text = read_file(out);
  EXPECT_THAT(text, HasSubstr("CANCELLED after "));
  EXPECT_THAT(text, HasSubstr("SIGKILL"));
  EXPECT_THAT(read_file(err), HasSubstr("SIGTERM: cancelling the drill"));

  const auto jsons = files_in(d.path / "state" / "drills", ".json");
  ASSERT_EQ(jsons.size(), 1u);
  const auto j = read_json(jsons[0]);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["cancelled"], true);
  EXPECT_EQ(j["steps"][0]["result"], "cancelled");
  EXPECT_EQ(j["steps"][1]["result"], "not run");
}

// SIGINT during a step that is not a process (a `wait`) cancels it too: exit 1 at once, not
// after the wait, and the report marks the step cancelled.
TEST(drill_e2e, sigint_cancels_a_wait_step) {
  temp_dir d;
  const auto started = d.path / "started";
  const auto after = d.path / "after";
  const auto cfg = write_config(d.path, json::array({touch_step("mark", started),
                                                     {{"name", "long wait"}, {"wait", "10m"}},
                                                     touch_step("after", after)}));
  const auto out = (d.path / "stdout.txt").string(), err = (d.path / "stderr.txt").string();
  child_process p({binary, "drill", "rb", "--config", cfg.string(), "--execute"}, out, err);
  ASSERT_TRUE(wait_until([&] { return fs::exists(started); }, 30s)) << read_file(out);
  // The wait starts right after the first step; SIGINT is handled whenever it lands.
  ASSERT_TRUE(wait_until([&] { return read_file(out).find("long wait [wait]") != std::string::npos; }, 30s))
      << read_file(out);
  p.signal(SIGINT);
  const auto st = p.wait_for(30s);
  ASSERT_TRUE(st) << "the drill did not end after SIGINT\n" << read_file(out);
  ASSERT_TRUE(WIFEXITED(*st)) << read_file(out);
  EXPECT_EQ(WEXITSTATUS(*st), 1) << read_file(out) << read_file(err);
  EXPECT_FALSE(fs::exists(after));
  EXPECT_THAT(read_file(out), HasSubstr("CANCELLED after "));
  const auto j = read_json(files_in(d.path / "state" / "drills", ".json").at(0));
  EXPECT_EQ(j["cancelled"], true);
  EXPECT_EQ(j["steps"][0]["result"], "ok");
  EXPECT_EQ(j["steps"][1]["result"], "cancelled");
  EXPECT_THAT(j["steps"][1]["detail"].get<std::string>(), HasSubstr("SIGINT"));
  EXPECT_EQ(j["steps"][2]["result"], "not run");
}

// A state dir where no drill report can be written is a runtime failure (exit 3) found before
// anything is executed.
TEST(drill_e2e, unwritable_state_dir_fails_before_executing) {
  temp_dir d;
  std::ofstream(d.path / "not-a-folder") << "x";
  const auto marker = d.path / "marker";
  const auto cfg = write_config(d.path, json::array({touch_step("t", marker)}),
                                {{"daemon", {{"state_dir", (d.path / "not-a-folder").string()}}}});
  const auto r = run_binary(d.path, {"drill", "rb", "--config", cfg.string(), "--execute"});
  ASSERT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot save drill reports"));
  EXPECT_FALSE(fs::exists(marker));
}

// A runbook that no check names runs with its severity unknown and compares with nothing.
TEST(drill_e2e, runbook_without_a_check_has_no_response_time) {
  temp_dir d;
  const auto cfg = write_config(d.path, json::array({touch_step("t", d.path / "x")}));
  const auto r = run_binary(d.path, {"drill", "other", "--config", cfg.string(), "--execute"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("check:    none: no check names this runbook"));
  EXPECT_THAT(r.out, HasSubstr("severity unknown (no check names runbook other), nothing to compare with"));
  const auto j = read_json(files_in(d.path / "state" / "drills", ".json").at(0));
  EXPECT_TRUE(j["severity"].is_null());
  EXPECT_TRUE(j["within_response_time"].is_null());
  EXPECT_EQ(j["ok"], true);
}

}  // namespace
