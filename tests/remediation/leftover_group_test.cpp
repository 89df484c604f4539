// Ending a process group that a crashed daemon left behind, against real processes
// (tests/helpers/step_helper in a group of its own, with a grandchild in the group): it is
// found by its journaled identity and ended (TERM, then KILL after the grace); a group whose
// identity does not match (a reused id, another boot) is never signalled.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "remediation/leftover_group.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using acis::remediation::group_identity;

const std::string helper = ACIS_BINARY_DIR "/tests/helpers/step_helper";

// The helper as leader of its own group, with a grandchild in the group.
pid_t spawn_group(std::vector<std::string> extra) {
  std::vector<std::string> args{helper, "--grandchild", "--sleep-ms", "60000"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, helper.c_str(), nullptr, &attr, argv.data(), environ), 0);
  posix_spawnattr_destroy(&attr);
  return pid;
}

// Waits (bounded) until the group has `n` live members.
bool wait_members(const group_identity& g, std::size_t n) {
  for (int k = 0; k < 200; ++k) {
    if (acis::remediation::group_members(g).size() == n) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::string end(const group_identity& g, std::chrono::milliseconds grace) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, acis::remediation::end_group(ioc.get_executor(), g, grace), asio::use_future);
  ioc.run_for(20s);  // fail-safe
  return f.get();
}

// Reaps the helper, and the grandchildren that end up ours when this test process is a
// subreaper (other tests in the binary make it one), so that no zombie outlives the test.
void reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  for (int k = 0; k < 100; ++k) {
    const pid_t r = ::waitpid(-1, &status, WNOHANG);
    if (r < 0) break;  // ECHILD: no children left
    if (r == 0) std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

// A group that honours SIGTERM ends on it, leader and grandchild; the identity round-trips
// through its journal form.
TEST(leftover_group, ended_by_term) {
  const pid_t pid = spawn_group({});
  auto g = acis::remediation::identify_group(pid);
  ASSERT_TRUE(g.has_value());
  auto again = group_identity::from_json(g->to_json());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->pgid, pid);
  EXPECT_EQ(again->leader_start_ticks, g->leader_start_ticks);
  ASSERT_TRUE(wait_members(*again, 2));
  const auto what = end(*again, 2s);
  EXPECT_NE(what.find("SIGTERM"), std::string::npos) << what;
  EXPECT_EQ(what.find("SIGKILL"), std::string::npos) << what;
  EXPECT_TRUE(acis::remediation::group_members(*g).empty());
  reap(pid);
}

// A group that ignores SIGTERM gets SIGKILL after the grace.
TEST(leftover_group, killed_after_grace) {
  const pid_t pid = spawn_group({"--ignore-term"});
  auto g = acis::remediation::identify_group(pid);
  ASSERT_TRUE(g.has_value());
  ASSERT_TRUE(wait_members(*g, 2));
  const auto t = std::chrono::steady_clock::now();
  const auto what = end(*g, 300ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t, 300ms);
  EXPECT_NE(what.find("SIGKILL"), std::string::npos) << what;
  EXPECT_TRUE(acis::remediation::group_members(*g).empty());
  reap(pid);
}

// The leader alive with another start time (its id now leads another group), or another boot:
// not ours, nothing is signalled.
TEST(leftover_group, foreign_group_never_signalled) {
  const pid_t pid = spawn_group({});
  auto g = acis::remediation::identify_group(pid);
  ASSERT_TRUE(g.has_value());
  ASSERT_TRUE(wait_members(*g, 2));
  auto reused = *g;
  reused.leader_start_ticks -= 1;
  EXPECT_TRUE(acis::remediation::group_members(reused).empty());
  EXPECT_EQ(end(reused, 100ms), "");
  auto other_boot = *g;
  other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_EQ(end(other_boot, 100ms), "");
  EXPECT_EQ(acis::remediation::group_members(*g).size(), 2u);  // still running, untouched
  ::kill(-pid, SIGKILL);
  reap(pid);
}

// A journaled identity that is not one (hand-edited, truncated) is refused, pgid 0/1 too.
TEST(leftover_group, bad_identity_refused) {
  EXPECT_FALSE(group_identity::from_json(nlohmann::json::array()).has_value());
  EXPECT_FALSE(group_identity::from_json({{"pgid", 1}, {"leader_start_ticks", 5}, {"boot_id", "x"}}).has_value());
  EXPECT_FALSE(group_identity::from_json({{"pgid", "12"}, {"leader_start_ticks", 5}, {"boot_id", "x"}}).has_value());
  EXPECT_FALSE(acis::remediation::identify_group(999999999).has_value());
}
