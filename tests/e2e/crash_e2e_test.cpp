// The real daemon SIGKILLed at random instants, again and again, while a flapping "service"
// (a file its runbook recreates) opens, resolves and remediates incidents: every incident ever
// logged as opened is listed after the last restart, none twice; the runbook never runs twice
// at once (its script takes a lock that its whole process group holds, so a run cut off by a
// crash and not ended by the next daemon would be seen); its runs stay within the cooldown and
// the configured hourly cap (remediation.max_runs_per_hour).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_harness.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::event_with;
using acis::test::find_events;
using acis::test::read_file;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr int kills = 30;  // the sanitized build is 3-5 times slower: a bounded budget
#else
constexpr int kills = 100;
#endif
constexpr int cap = 12;          // remediation.max_runs_per_hour
constexpr auto cooldown = 3s;    // the runbook's cooldown

class crash_e2e : public acis::test::daemon_fixture {
 protected:
  crash_e2e() : daemon_fixture(acis::test::build_paths(), "acis-crash") {}
};

struct run_line {
  std::string what;      // start, end, overlap
  std::string incident;
  long long ns = 0;
};

std::vector<run_line> read_runs(const std::string& file) {
  std::vector<run_line> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    run_line r;
    if (l >> r.what >> r.incident >> r.ns) out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_F(crash_e2e, random_sigkills_lose_nothing_and_never_overlap_a_runbook) {
  const std::string flag = dir_ + "/service-up", runs = dir_ + "/runs.log", lock = dir_ + "/run.lock";
  const std::string script = dir_ + "/repair.sh";
  // The whole group holds the lock (the sleep inherits fd 9): a second run while any part of
  // the first is alive records an overlap.
  std::ofstream(script) << "exec 9>>'" << lock << "'\n"
                        << "if ! /usr/bin/flock -n 9; then echo \"overlap $1 $(date +%s%N)\" >> '" << runs << "'; fi\n"
                        << "echo \"start $1 $(date +%s%N)\" >> '" << runs << "'\n"
                        << "trap 'echo \"end $1 $(date +%s%N)\" >> \"" << runs << "\"; exit 1' TERM\n"
                        << "sleep 0.6 & wait\n"
                        << ": > '" << flag << "'\n"
                        << "echo \"end $1 $(date +%s%N)\" >> '" << runs << "'\n";
  std::ofstream(flag) << "";
  cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)}, {"state_dir", dir_ + "/state"}}},
          {"remediation", {{"max_runs_per_hour", cap}}},
          {"checks", json::array({{{"name", "service"}, {"type", "file_age"}, {"path", flag},
                                   {"max_age", "1h"}, {"interval", "200ms"}, {"timeout", "100ms"},
                                   {"fall", 1}, {"rise", 1}, {"severity", "high"},
                                   {"start_grace", "0s"}, {"runbook", "repair"}}})},
          {"runbooks", {{"repair", {{"max_attempts", 2}, {"backoff", "300ms"},
                                    {"cooldown", std::to_string(cooldown.count()) + "s"},
                                    {"steps", json::array({{{"name", "repair"},
                                                            {"run", {"/bin/sh", script, "{incident}"}},
                                                            {"timeout", "5s"}, {"grace", "300ms"}}})}}}}}};

  // The service fails every 1.2 s and half the time comes back by itself 500 ms later,
  // whatever the daemon is doing: incidents open, resolve on their own or by the runbook.
  std::atomic<bool> done{false};
  std::thread flapper([&] {
    for (int n = 0; !done; ++n) {
      std::this_thread::sleep_for(700ms);
      std::error_code ec;
      fs::remove(flag, ec);
      std::this_thread::sleep_for(500ms);
      if (n % 2 == 0) std::ofstream(flag) << "";
    }
  });

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> life_ms(0, 1500);
  std::vector<std::string> logs;
  for (int k = 0; k <= kills; ++k) {
    const std::string log = "daemon" + std::to_string(k) + ".log";
    start_daemon(log);
    if (HasFatalFailure()) break;
    logs.push_back(dir_ + "/" + log);
    if (k == kills) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(life_ms(rng)));
    daemon_->signal(SIGKILL);
    ASSERT_TRUE(daemon_->wait_for(10s));
  }
  std::this_thread::sleep_for(2s);  // the last daemon settles (a cut-off run is ended)
  done = true;
  flapper.join();

  // Every incident_opened ever logged is listed, and none twice.
  std::set<std::string> opened;
  for (const auto& l : logs) {
    for (const auto& e : find_events(l, event_with("incident_opened"))) opened.insert(e["incident"]);
    EXPECT_TRUE(find_events(l, event_with("internal_error")).empty()) << l;
  }
  auto all = get_json("/incidents?state=all");
  std::set<std::string> listed;
  for (const auto& i : all) EXPECT_TRUE(listed.insert(i["id"]).second) << "listed twice: " << i["id"];
  for (const auto& id : opened) EXPECT_TRUE(listed.count(id)) << id << " was opened and is lost";
  EXPECT_GE(opened.size(), 3u) << "the flapping service should have opened incidents";

  // The runbook never ran twice at once, within its cap, and runs for different incidents
  // are at least the cooldown apart.
  auto lines = read_runs(runs);
  int starts = 0;
  const run_line* prev = nullptr;
  for (const auto& r : lines) {
    EXPECT_NE(r.what, "overlap") << "two runs at once: " << r.incident;
    if (r.what != "start") continue;
    ++starts;
    if (prev && prev->incident != r.incident) {
      EXPECT_GE(r.ns - prev->ns, std::chrono::nanoseconds(cooldown).count())
          << prev->incident << " then " << r.incident;
    }
    prev = &r;
  }
  EXPECT_GE(starts, 1);
  EXPECT_LE(starts, cap) << read_file(runs);
  std::cout << kills << " SIGKILLs: " << opened.size() << " incidents opened, " << starts
            << " runbook runs\n";
}
