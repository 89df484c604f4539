// The process check and the /proc scanner, against real child processes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "checks/kinds.hpp"
#include "checks/proc_scan.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

// A token that appears in no other process's command line on this machine.
std::string unique_marker() {
  static std::atomic<int> n{0};
  std::random_device rd;
  return "acis-proc-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "-" +
         std::to_string(rd());
}

bool has_pid(const std::vector<process_info>& procs, pid_t pid) {
  return std::any_of(procs.begin(), procs.end(), [pid](const auto& p) { return p.pid == pid; });
}

// `/bin/sleep 30` with argv[0] set to a marker, so that its command line is
// "<argv0> 30". Killed and reaped on destruction.
class child_process {
 public:
  explicit child_process(std::string argv0) : argv0_(std::move(argv0)) {
    std::string secs = "30";
    char* argv[] = {argv0_.data(), secs.data(), nullptr};  // built before fork
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execv("/bin/sleep", argv);
      ::_exit(127);
    }
    // Until execv, the child's command line is ours: wait until it shows the marker.
    const auto give_up = steady_clock::now() + 10s;
    while (steady_clock::now() < give_up) {
      auto cmd = read_cmdline(pid_);
      if (cmd && cmd->find(argv0_) != std::string::npos) return;
      std::this_thread::sleep_for(1ms);
    }
    ADD_FAILURE() << "child " << pid_ << " did not exec within 10s";
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  pid_t pid() const { return pid_; }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::string argv0_;
  pid_t pid_ = -1;
};

class ProcessCheck : public ::testing::Test {
 protected:
  asio::io_context io_{1};
  asio::thread_pool pool_{2};
  std::string marker_ = unique_marker();

  std::unique_ptr<check> make(const config::process_check& k) {
    config::check_config c;
    c.name = "trading";
    c.kind = k;
    return make_process_check(c, k, {io_.get_executor(), &pool_});
  }

  // One attempt; the loop has a fail-safe deadline. Returns the single result.
  check_result run(check& c) {
    std::optional<std::vector<check_result>> out;
    asio::co_spawn(io_, c.run(steady_clock::now() + 5s),
                   [&](std::exception_ptr e, acis::checks::attempt_result a) {
                     auto r = std::move(a.targets);
                     EXPECT_FALSE(e) << "run() threw";
                     out = std::move(r);
                   });
    io_.restart();
    io_.run_for(15s);
    if (!out || out->size() != 1) {
      ADD_FAILURE() << "run() did not complete with exactly one result";
      return check_result::failing("test harness: no result");
    }
    return (*out)[0];
  }

  config::process_check want(bool running) {
    config::process_check k;
    k.cmdline_contains = marker_;
    k.running = running;
    return k;
  }
};

// running=true: a live matching process is ok, and its pid is reported.
TEST_F(ProcessCheck, RunningFindsChild) {
  child_process child(marker_);
  auto c = make(want(true));
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason, "1 matching (pids " + std::to_string(child.pid()) + ")");
  EXPECT_GT(r.latency.count(), 0);
}

// running=true: once the process is killed and reaped, the check fails naming the string.
TEST_F(ProcessCheck, RunningFailsAfterChildExits) {
  child_process child(marker_);
  auto c = make(want(true));
  EXPECT_EQ(run(*c).status, health::ok);
  child.stop();
  auto r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, "no process whose command line contains \"" + marker_ + "\"");
}

// running=false: a matching process is a failure listing pids; none is ok.
TEST_F(ProcessCheck, NotRunning) {
  auto c = make(want(false));
  {
    child_process a(marker_ + "-a");
    child_process b(marker_ + "-b");
    auto r = run(*c);
    EXPECT_EQ(r.status, health::failing);
    auto lo = std::min(a.pid(), b.pid()), hi = std::max(a.pid(), b.pid());
    EXPECT_EQ(r.reason, "2 matching processes running (pids " + std::to_string(lo) + ", " +
                            std::to_string(hi) + ")");
  }
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason, "no process whose command line contains \"" + marker_ + "\"");
}

// cmdline_not_contains excludes processes, and argv elements are matched joined by spaces.
TEST_F(ProcessCheck, NotContainsExcludes) {
  child_process worker(marker_ + "-worker");
  child_process supervisor(marker_ + "-supervisor");
  auto k = want(true);
  k.cmdline_not_contains = "supervisor";
  auto c = make(k);
  auto r = run(*c);
  EXPECT_EQ(r.status, health::ok) << r.reason;
  EXPECT_EQ(r.reason, "1 matching (pids " + std::to_string(worker.pid()) + ")");

  k.cmdline_contains = marker_ + "-worker 30";  // "argv0 30": NULs became spaces
  k.cmdline_not_contains = "-worker";
  c = make(k);
  r = run(*c);
  EXPECT_EQ(r.status, health::failing);
  EXPECT_EQ(r.reason, "no process whose command line contains \"" + marker_ +
                          "-worker 30\" and not \"-worker\"");
}

// The scanner never reports its own process unless asked to include it.
TEST(ProcScan, ExcludesOwnPid) {
  auto own = read_cmdline(::getpid());
  ASSERT_TRUE(own);
  EXPECT_TRUE(has_pid(find_processes(*own, std::nullopt, std::nullopt), ::getpid()));
  EXPECT_FALSE(has_pid(find_processes(*own), ::getpid()));
}

// A process that has exited but is not yet reaped (a zombie) has no command line: not matched.
TEST(ProcScan, ZombieIsNotMatched) {
  const std::string marker = unique_marker();
  child_process child(marker);
  EXPECT_TRUE(has_pid(find_processes(marker), child.pid()));
  ::kill(child.pid(), SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(has_pid(find_processes(marker), child.pid()));
  EXPECT_EQ(read_cmdline(child.pid()), std::nullopt);
}

// Long pid lists are cut.
TEST(ProcScan, FormatPidsIsBounded) {
  std::vector<process_info> procs;
  for (pid_t p = 1; p <= 12; ++p) procs.push_back({p, "x"});
  EXPECT_EQ(format_pids(procs, 3), "1, 2, 3, ... (9 more)");
  EXPECT_EQ(format_pids({procs.begin(), procs.begin() + 2}), "1, 2");
}

}  // namespace
}  // namespace acis::checks
