// The process runner against real child processes: tests/helpers/step_helper, whose exit code,
// sleep, SIGTERM handling, grandchildren and output are set by flags. Every test runs its
// io_context with a fail-safe deadline, and every test ends by checking that this process has
// no child left, running or zombie.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "remediation/process_runner.hpp"

namespace acis::remediation {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using std::chrono::steady_clock;
using status = process_outcome::status;

const std::string helper = ACIS_BINARY_DIR "/tests/helpers/step_helper";
const std::string helper_dir = ACIS_BINARY_DIR "/tests/helpers";
// Slack for scheduling and sanitizer start-up on a busy 2-core machine.
constexpr auto margin = 1500ms;

class subreaper_environment : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(become_subreaper()); }
};
[[maybe_unused]] const auto* const subreaper_env =
    ::testing::AddGlobalTestEnvironment(new subreaper_environment);

struct child_entry {
  pid_t pid;
  char state;
};

// Every process whose parent is this process, zombies included.
std::vector<child_entry> our_children() {
  std::vector<child_entry> out;
  const pid_t self = ::getpid();
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 1));
    char state = '?';
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) out.push_back({static_cast<pid_t>(std::stol(name)), state});
  }
  return out;
}

std::string describe_children(const std::vector<child_entry>& cs) {
  std::string s;
  for (const auto& c : cs) s += std::to_string(c.pid) + "(" + c.state + ") ";
  return s;
}

bool proc_exists(pid_t pid) { return fs::exists("/proc/" + std::to_string(pid)); }

// State letter and parent of `pid`, from /proc/PID/stat.
std::optional<child_entry> proc_stat_of(pid_t pid, pid_t* ppid = nullptr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  char state = '?';
  int parent = 0;
  if (!(rest >> state >> parent)) return std::nullopt;
  if (ppid) *ppid = parent;
  return child_entry{pid, state};
}

char proc_state(pid_t pid) {
  auto s = proc_stat_of(pid);
  return s ? s->state : '-';
}

pid_t read_pid(const std::string& path) {
  std::ifstream in(path);
  long pid = -1;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// SIGKILLs and reaps a child of ours that a test left running on purpose (bounded wait).
void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  const auto give_up = steady_clock::now() + 10s;
  while (steady_clock::now() < give_up) {
    const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(5ms);
  }
  ADD_FAILURE() << "pid " << pid << " not reaped after SIGKILL";
}

class ProcessRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "acis-proc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    // Nothing may be left running or unreaped by any test.
    const auto left = our_children();
    EXPECT_TRUE(left.empty()) << "children left: " << describe_children(left);
  }

  static process_spec spec(std::vector<std::string> args) {
    process_spec s;
    s.argv.push_back(helper);
    s.argv.insert(s.argv.end(), args.begin(), args.end());
    s.timeout = 10s;
    s.grace = 1s;
    return s;
  }

  // Runs one step on its own io_context, bounded by `failsafe`.
  static process_outcome run(process_spec s, std::chrono::milliseconds failsafe = 20s) {
    asio::io_context io;
    std::optional<process_outcome> out;
    asio::co_spawn(io, run_process(io.get_executor(), std::move(s)),
                   [&](std::exception_ptr e, process_outcome o) {
                     if (e) {
                       ADD_FAILURE() << "run_process threw";
                       return;
                     }
                     out = std::move(o);
                   });
    io.run_for(failsafe);
    if (!out) {
      ADD_FAILURE() << "no outcome within the fail-safe deadline";
      return {};
    }
    return *out;
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

// Exit codes 0 and 3 come back as `exited` with that code.
TEST_F(ProcessRunner, ExitCodesAreReported) {
  auto ok = run(spec({"--exit", "0"}));
  EXPECT_EQ(ok.how, status::exited);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.signal, 0);
  EXPECT_GT(ok.pid, 0);
  EXPECT_EQ(ok.describe(), "exit 0");

  auto three = run(spec({"--exit", "3"}));
  EXPECT_EQ(three.how, status::exited);
  EXPECT_EQ(three.exit_code, 3);
  EXPECT_EQ(three.describe(), "exit 3");
}

// A child that dies of a signal is `signaled`, with that signal.
TEST_F(ProcessRunner, DeathBySignalIsReported) {
  auto out = run(spec({"--raise", std::to_string(SIGUSR1)}));
  EXPECT_EQ(out.how, status::signaled);
  EXPECT_EQ(out.signal, SIGUSR1);
  EXPECT_EQ(out.describe(), "killed by SIGUSR1");
}

// stdout and stderr share one pipe: both are captured, in the order written.
TEST_F(ProcessRunner, StdoutAndStderrAreCapturedInOrder) {
  auto out = run(spec({"--print", "out", "--stderr", "err", "--print", "more"}));
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.output, "out\nerr\nmore\n");
  EXPECT_EQ(out.output_bytes, out.output.size());
  EXPECT_FALSE(out.output_truncated);
}

// argv elements reach the program verbatim: no shell splits, quotes, expands or runs them.
TEST_F(ProcessRunner, ArgvIsPassedLiterally) {
  const std::string pwned = path("pwned");
  const std::vector<std::string> args = {"a b  c", "'single'", "\"double\"", "$(touch " + pwned + ")",
                                         "`touch " + pwned + "`", "; touch " + pwned, "*", "",
                                         "$HOME", "two\nlines", "|| true"};
  std::vector<std::string> argv = {"--args"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run(spec(argv));
  std::string expected;
  for (const auto& a : args) expected += "<" + a + ">\n";
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.output, expected);
  EXPECT_FALSE(fs::exists(pwned));
}

// Without search_path a relative argv[0] is refused; with it, the spec's PATH finds it.
TEST_F(ProcessRunner, RelativeProgramNeedsSearchPath) {
  auto s = spec({"--print", "found"});
  s.argv[0] = "step_helper";
  auto refused = run(s);
  EXPECT_EQ(refused.how, status::spawn_failed);
  EXPECT_NE(refused.error.find("absolute"), std::string::npos) << refused.error;
  EXPECT_EQ(refused.pid, -1);

  s.search_path = true;
  s.env["PATH"] = "/nonexistent:relative/dir:" + helper_dir;
  auto found = run(s);
  EXPECT_EQ(found.how, status::exited) << found.describe();
  EXPECT_EQ(found.output, "found\n");

  // The daemon's PATH plays no part: the default PATH does not hold the helper.
  s.env.erase("PATH");
  auto missing = run(s);
  EXPECT_EQ(missing.how, status::spawn_failed);
  EXPECT_NE(missing.error.find("not found in PATH"), std::string::npos) << missing.error;
}

// A missing or non-executable program is spawn_failed with the reason.
TEST_F(ProcessRunner, UnstartableProgramFailsWithReason) {
  process_spec s;
  s.argv = {"/nope/missing", "x"};
  auto missing = run(s);
  EXPECT_EQ(missing.how, status::spawn_failed);
  EXPECT_EQ(missing.error, "/nope/missing: No such file or directory");
  EXPECT_EQ(missing.describe(), "spawn failed: /nope/missing: No such file or directory");

  const std::string plain = path("not-executable");
  std::ofstream(plain) << "#!/bin/sh\nexit 0\n";
  ::chmod(plain.c_str(), 0644);
  s.argv = {plain};
  auto denied = run(s);
  EXPECT_EQ(denied.how, status::spawn_failed);
  EXPECT_EQ(denied.error, plain + ": Permission denied");

  s.argv = {};
  EXPECT_EQ(run(s).how, status::spawn_failed);
}

// The working directory is the spec's; a missing one fails to spawn, naming the cwd.
TEST_F(ProcessRunner, WorkingDirectoryIsExplicit) {
  auto s = spec({"--cwd"});
  s.cwd = dir_;
  auto out = run(s);
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.output, fs::canonical(dir_).string() + "\n");

  s.cwd = dir_ + "/missing";
  auto bad = run(s);
  EXPECT_EQ(bad.how, status::spawn_failed);
  EXPECT_EQ(bad.error, "cwd " + dir_ + "/missing: No such file or directory");
}

// The child sees exactly the spec's environment (plus a default PATH), nothing of ours.
TEST_F(ProcessRunner, EnvironmentIsExplicit) {
  ASSERT_EQ(::setenv("ACIS_RUNNER_MARKER", "leaked", 1), 0);
  auto s = spec({"--env", "FOO", "--env", "ACIS_RUNNER_MARKER", "--env", "PATH", "--env", "HOME"});
  s.env = {{"FOO", "bar baz"}};
  auto out = run(s);
  ::unsetenv("ACIS_RUNNER_MARKER");
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.output,
            "FOO=bar baz\nACIS_RUNNER_MARKER unset\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\nHOME unset\n");

  s = spec({"--env", "PATH"});
  s.env = {{"PATH", "/opt/x/bin"}};
  EXPECT_EQ(run(s).output, "PATH=/opt/x/bin\n");

  s.env = {{"BAD=NAME", "x"}};
  auto bad = run(s);
  EXPECT_EQ(bad.how, status::spawn_failed);
  EXPECT_NE(bad.error.find("BAD=NAME"), std::string::npos);
}

// 10 MB of output: the first 64 KiB are kept, all bytes counted, the child is never blocked.
TEST_F(ProcessRunner, OutputIsBounded) {
  auto s = spec({"--spam", "10000000"});
  s.output_limit = 64 * 1024;
  const auto start = steady_clock::now();
  auto out = run(s);
  EXPECT_EQ(out.how, status::exited) << out.describe();
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.output.size(), s.output_limit);
  EXPECT_EQ(out.output, std::string(s.output_limit, 'x'));
  EXPECT_TRUE(out.output_truncated);
  EXPECT_EQ(out.output_bytes, 10000000u);
  EXPECT_LT(steady_clock::now() - start, 5s);
}

// Output closed early: the step still lasts until the program exits.
TEST_F(ProcessRunner, ClosedOutputStillWaitsForExit) {
  auto out = run(spec({"--print", "early", "--close-and-sleep", "--sleep-ms", "300", "--exit", "4"}));
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.exit_code, 4);
  EXPECT_EQ(out.output, "early\n");
  EXPECT_GE(out.duration, 300ms);
}

// At the timeout the group gets SIGTERM; a child that obeys it ends before the grace is over.
TEST_F(ProcessRunner, TimeoutEndsTheChildWithSigterm) {
  auto s = spec({"--print", "started", "--sleep-ms", "60000"});
  s.timeout = 500ms;
  s.grace = 2s;
  auto out = run(s);
  EXPECT_EQ(out.how, status::timed_out);
  EXPECT_EQ(out.signal, SIGTERM);
  EXPECT_EQ(out.output, "started\n");
  EXPECT_GE(out.duration, s.timeout);
  EXPECT_LT(out.duration, s.timeout + s.grace);
  EXPECT_EQ(out.describe(), "killed by SIGTERM after timeout 500ms");
}

// A child that ignores SIGTERM gets SIGKILL once the grace is over, not later.
TEST_F(ProcessRunner, IgnoredSigtermGetsSigkillAfterGrace) {
  auto s = spec({"--ignore-term", "--sleep-ms", "60000"});
  s.timeout = 500ms;
  s.grace = 500ms;
  auto out = run(s);
  EXPECT_EQ(out.how, status::timed_out);
  EXPECT_EQ(out.signal, SIGKILL);
  EXPECT_GE(out.duration, s.timeout + s.grace);
  EXPECT_LT(out.duration, s.timeout + s.grace + margin);
  EXPECT_EQ(out.describe(), "killed by SIGKILL after timeout 500ms");
}

class GrandchildLeftBehind : public ProcessRunner, public ::testing::WithParamInterface<bool> {};

// A grandchild left in the group after the main child exits is killed (SIGTERM, or SIGKILL
// after the grace when it ignores SIGTERM) and reaped: its /proc entry is gone, not a zombie.
TEST_P(GrandchildLeftBehind, IsKilledAndReaped) {
  const bool ignore_term = GetParam();
  std::vector<std::string> args = {"--grandchild", "--pid-file", path("gc.pid"), "--exit", "0"};
  if (ignore_term) args.push_back("--ignore-term");
  auto s = spec(args);
  s.grace = 500ms;
  auto out = run(s);
  EXPECT_EQ(out.how, status::exited) << out.describe();
  EXPECT_EQ(out.exit_code, 0);
  const pid_t gc = read_pid(path("gc.pid"));
  ASSERT_GT(gc, 0);
  EXPECT_FALSE(proc_exists(gc)) << "grandchild " << gc << " state " << proc_state(gc);
  if (ignore_term) {
    EXPECT_GE(out.duration, s.grace);
    EXPECT_LT(out.duration, s.grace + margin);
  } else {
    EXPECT_LT(out.duration, s.grace);
  }
}
INSTANTIATE_TEST_SUITE_P(Sigterm, GrandchildLeftBehind, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ignored" : "Obeyed"; });

// On timeout the whole group is killed, the grandchild with the main child.
TEST_F(ProcessRunner, TimeoutKillsTheWholeGroup) {
  auto s = spec({"--grandchild", "--pid-file", path("gc.pid"), "--ignore-term", "--sleep-ms", "60000"});
  s.timeout = 500ms;
  s.grace = 500ms;
  auto out = run(s);
  EXPECT_EQ(out.how, status::timed_out);
  EXPECT_EQ(out.signal, SIGKILL);
  EXPECT_LT(out.duration, s.timeout + s.grace + margin);
  const pid_t gc = read_pid(path("gc.pid"));
  ASSERT_GT(gc, 0);
  EXPECT_FALSE(proc_exists(gc));
}

// A process that left the group with setsid (a daemonised service) is not touched: it
// outlives the step (and, as we are a subreaper, becomes our child, which we reap here).
TEST_F(ProcessRunner, EscapedDaemonIsLeftRunning) {
  auto s = spec({"--daemonize", "--pid-file", path("d.pid"), "--exit", "0"});
  s.grace = 500ms;
  auto out = run(s);
  EXPECT_EQ(out.how, status::exited);
  const pid_t d = read_pid(path("d.pid"));
  ASSERT_GT(d, 0);
  std::this_thread::sleep_for(100ms);  // a stray SIGTERM would have ended it by now
  pid_t ppid = 0;
  const auto st = proc_stat_of(d, &ppid);
  ASSERT_TRUE(st.has_value());
  EXPECT_NE(st->state, 'Z');
  EXPECT_NE(::getpgid(d), out.pid);
  EXPECT_EQ(ppid, ::getpid());  // re-parented to us, the subreaper, when its parent exited
  kill_and_reap(d);
}

// A daemonised process that keeps the output pipe open does not hold the step open.
TEST_F(ProcessRunner, EscapedDaemonHoldingThePipeDoesNotHoldTheStep) {
  auto s = spec({"--daemonize", "--keep-output", "--pid-file", path("d.pid"), "--print", "hi"});
  s.grace = 500ms;
  const auto start = steady_clock::now();
  auto out = run(s);
  EXPECT_LT(steady_clock::now() - start, 2s);
  EXPECT_EQ(out.how, status::exited);
  EXPECT_EQ(out.output, "hi\n");
  const pid_t d = read_pid(path("d.pid"));
  ASSERT_GT(d, 0);
  EXPECT_TRUE(proc_exists(d));
  kill_and_reap(d);
}

// Cancelling the awaiting coroutine (losing a race with `||`) kills the group, reaps it and
// completes promptly with `cancelled`.
TEST_F(ProcessRunner, CancellationKillsTheGroup) {
  asio::io_context io;
  auto s = spec({"--grandchild", "--pid-file", path("gc.pid"), "--sleep-ms", "60000"});
  s.timeout = 60s;
  s.grace = 2s;
  std::optional<process_outcome> out;
  std::optional<steady_clock::duration> elapsed;
  auto step = [&]() -> asio::awaitable<void> {
    out = co_await run_process(io.get_executor(), s);
  };
  auto race = [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, 300ms);
    const auto start = steady_clock::now();
    co_await (step() || timer.async_wait(asio::use_awaitable));
    elapsed = steady_clock::now() - start;
  };
  asio::co_spawn(io, race(), asio::detached);
  io.run_for(20s);
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(elapsed.has_value());
  EXPECT_EQ(out->how, status::cancelled);
  EXPECT_EQ(out->signal, SIGTERM);
  EXPECT_EQ(out->describe(), "cancelled (killed by SIGTERM)");
  EXPECT_GE(*elapsed, 300ms);
  EXPECT_LT(*elapsed, 300ms + s.grace);  // SIGTERM was obeyed: no need to wait for the grace
  const pid_t gc = read_pid(path("gc.pid"));
  ASSERT_GT(gc, 0);
  EXPECT_FALSE(proc_exists(gc));
}

// A child that ignores SIGTERM still ends on cancellation, by SIGKILL after the grace.
TEST_F(ProcessRunner, CancellationOfAStubbornChildEndsWithSigkill) {
  asio::io_context io;
  auto s = spec({"--ignore-term", "--sleep-ms", "60000"});
  s.grace = 500ms;
  std::optional<process_outcome> out;
  auto step = [&]() -> asio::awaitable<void> { out = co_await run_process(io.get_executor(), s); };
  auto race = [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(io, 100ms);
    co_await (step() || timer.async_wait(asio::use_awaitable));
  };
  asio::co_spawn(io, race(), asio::detached);
  io.run_for(20s);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->how, status::cancelled);
  EXPECT_EQ(out->signal, SIGKILL);
  EXPECT_LT(out->duration, 100ms + s.grace + margin);
}

// The event loop keeps turning while a child runs: a 10 ms timer ticks throughout a 1 s step.
TEST_F(ProcessRunner, EventLoopIsNotStalled) {
  asio::io_context io;
  std::optional<process_outcome> out;
  int ticks = 0;
  auto ticker = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io);
    while (!out) {
      t.expires_after(10ms);
      co_await t.async_wait(asio::use_awaitable);
      ++ticks;
    }
  };
  const auto s = spec({"--sleep-ms", "1000"});  // outside the coroutine: g++ 12 chokes on
                                                // an initializer list inside one
  auto step = [&]() -> asio::awaitable<void> { out = co_await run_process(io.get_executor(), s); };
  asio::co_spawn(io, ticker(), asio::detached);
  asio::co_spawn(io, step(), asio::detached);
  io.run_for(20s);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->how, status::exited);
  EXPECT_GE(out->duration, 1s);
  EXPECT_GE(ticks, 50);  // ~100 when idle; half of that on a loaded machine
}

// 20 steps at once (half with a grandchild left behind): every status right, nothing left.
TEST_F(ProcessRunner, TwentyChildrenInParallelAreAllReaped) {
  asio::io_context io;
  constexpr int n = 20;
  std::vector<std::optional<process_outcome>> outs(n);
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args = {"--sleep-ms", std::to_string(50 * (i % 4)), "--exit",
                                     std::to_string(i % 5)};
    if (i % 2 == 0) args.push_back("--grandchild");
    auto s = spec(args);
    s.grace = 500ms;
    asio::co_spawn(io, run_process(io.get_executor(), s),
                   [&outs, i](std::exception_ptr, process_outcome o) { outs[i] = std::move(o); });
  }
  io.run_for(30s);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(outs[i].has_value()) << i;
    EXPECT_EQ(outs[i]->how, status::exited) << i << ": " << outs[i]->describe();
    EXPECT_EQ(outs[i]->exit_code, i % 5) << i;
  }
  const auto left = our_children();
  EXPECT_TRUE(left.empty()) << describe_children(left);
}

// Destroying the loop with a step running (a daemon that stops without cancelling) still
// kills and reaps the whole group.
TEST_F(ProcessRunner, DestroyedLoopLeavesNothingBehind) {
  pid_t gc = -1;
  {
    asio::io_context io;
    asio::co_spawn(io, run_process(io.get_executor(),
                                   spec({"--grandchild", "--pid-file", path("gc.pid"), "--ignore-term",
                                         "--sleep-ms", "60000"})),
                   asio::detached);
    io.run_for(300ms);
    gc = read_pid(path("gc.pid"));
  }
  ASSERT_GT(gc, 0);
  EXPECT_FALSE(proc_exists(gc));
}

// describe() for the statuses a report shows.
TEST(ProcessOutcome, Describe) {
  process_outcome o;
  o.how = status::timed_out;
  o.signal = SIGKILL;
  o.timeout = 2s;
  EXPECT_EQ(o.describe(), "killed by SIGKILL after timeout 2s");
  o.signal = 0;
  o.exit_code = 143;
  o.timeout = 1500ms;
  EXPECT_EQ(o.describe(), "exit 143 after timeout 1500ms");
  o.how = status::cancelled;
  o.exit_code = -1;
  o.signal = SIGTERM;
  o.error = "processes of group 12 still present 5s after SIGKILL";
  EXPECT_EQ(o.describe(), "cancelled (killed by SIGTERM); processes of group 12 still present 5s after SIGKILL");
  EXPECT_EQ(to_string(status::spawn_failed), "spawn_failed");
}

}  // namespace
}  // namespace acis::remediation
