// acis-healthd command line (SPEC.md "Command line").
// Exit codes: 0 success, 1 checks failing (`once`, `status`) or a drill step failed, 2 bad
// usage or bad config, 3 runtime failure (for `status`: the daemon cannot be reached).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/status_cli.hpp"
#include "remediation/drill.hpp"

#ifndef ACIS_VERSION
#define ACIS_VERSION "0.0.0"
#endif

namespace {

constexpr const char* usage_text =
    "usage: acis-healthd [run] --config FILE\n"
    "       acis-healthd check-config --config FILE\n"
    "       acis-healthd once --config FILE [--json]\n"
    "       acis-healthd drill RUNBOOK --config FILE [--execute] [--target T]\n"
    "           without --execute: print each step as it would run, execute nothing\n"
    "           with --execute: run the steps against the live system, time them, and\n"
    "           save a report under STATE_DIR/drills/\n"
    "       acis-healthd status [--url URL] [--config FILE]\n"
    "           ask a running daemon (URL, else FILE's daemon.listen, else\n"
    "           http://127.0.0.1:9187) for its checks and open incidents; exit 0 all ok,\n"
    "           1 a check failing or an incident open, 3 the daemon cannot be reached\n"
    "       acis-healthd --version\n";

int usage(const std::string& why) {
  std::fprintf(stderr, "acis-healthd: %s\n%s", why.c_str(), usage_text);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "run";
  std::string config_path;
  bool as_json = false;
  acis::remediation::drill_options drill;
  std::string status_url;
  std::size_t i = 0;
  if (!args.empty() && args[0].rfind("-", 0) != 0) command = args[i++];
  if (command == "drill") {
    if (i >= args.size() || args[i].rfind("-", 0) == 0) return usage("drill needs a RUNBOOK");
    drill.runbook = args[i++];
  }
  for (; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--version" || a == "-V") {
      std::printf("acis-healthd %s\n", ACIS_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(usage_text, stdout);
      return 0;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) return usage("--config needs a file");
      config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(std::strlen("--config="));
    } else if (a == "--json" && command == "once") {
      as_json = true;
    } else if ((a == "--url" || a.rfind("--url=", 0) == 0) && command == "status") {
      if (a == "--url") {
        if (i + 1 >= args.size()) return usage("--url needs a URL");
        status_url = args[++i];
      } else {
        status_url = a.substr(std::strlen("--url="));
      }
      if (status_url.empty()) return usage("--url needs a URL");
    } else if (a == "--execute" && command == "drill") {
      drill.execute = true;
    } else if ((a == "--target" || a.rfind("--target=", 0) == 0) && command == "drill") {
      std::string t;
      if (a == "--target") {
        if (i + 1 >= args.size()) return usage("--target needs a value");
        t = args[++i];
      } else {
        t = a.substr(std::strlen("--target="));
      }
      if (t.empty()) return usage("--target needs a value");
      drill.target = t;
    } else {
      return usage("unknown argument \"" + a + "\"");
    }
  }
  if (command != "run" && command != "check-config" && command != "once" && command != "drill" &&
      command != "status")
    return usage("unknown command \"" + command + "\"");
  // `status` asks a daemon; a config is only where it may learn the daemon's address.
  if (command == "status" && (!status_url.empty() || config_path.empty())) {
    std::signal(SIGPIPE, SIG_IGN);
    return acis::daemon::run_status_command(status_url.empty() ? "http://127.0.0.1:9187" : status_url,
                                            std::cout, std::cerr);
  }
  if (config_path.empty()) return usage("--config FILE is required");

  acis::config::config cfg;
  try {
    cfg = acis::config::load_config_file(config_path);
  } catch (const acis::config::config_error& e) {
    std::fprintf(stderr, "%s: %zu error(s):\n", config_path.c_str(), e.faults().size());
    for (const auto& f : e.faults()) std::fprintf(stderr, "  %s\n", f.to_string().c_str());
    return 2;
  }
  if (command == "check-config") {
    std::printf("%s: OK (%zu checks, %zu runbooks; at most %d runs of a runbook and %d in total "
                "per hour)\n",
                config_path.c_str(), cfg.checks.size(), cfg.runbooks.size(),
                cfg.remediation.max_runs_per_hour, cfg.remediation.max_runs_per_hour_total);
    return 0;
  }
  if (command == "status") {
    std::signal(SIGPIPE, SIG_IGN);
    return acis::daemon::run_status_command(acis::daemon::status_url_for_listen(cfg.daemon.listen),
                                            std::cout, std::cerr);
  }
  try {
    if (command == "drill") {
      // A report printed to a closed pipe must not kill the drill halfway through its steps.
      std::signal(SIGPIPE, SIG_IGN);
      return acis::remediation::run_drill(cfg, drill, std::cout, std::cerr);
    }
    if (command == "once") return acis::daemon::run_once(cfg, as_json);
    return acis::daemon::run_daemon(cfg, std::filesystem::absolute(config_path).string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acis-healthd: %s\n", e.what());
    return 3;
  }
}
