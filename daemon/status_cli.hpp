// `acis-healthd status [--url URL]` (SPEC.md "Command line"): ask a running daemon for GET
// /status and print its checks and open incidents as tables for a terminal.
//
// The formatting is pure (format_status, status_exit_code): it reads the JSON of GET /status
// (daemon.cpp status_json(): version, now, dry_run, maintenance, remediation, checks with
// targets, incidents) and never throws on a missing or mistyped field; such a field shows as
// "-" or "?". Times are taken against the daemon's `now`, not the local clock. Text from the
// daemon (reasons, names) is kept to one line and bounded, with control characters and
// invalid UTF-8 replaced, so that a hostile check reason cannot drive the terminal.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace acis::daemon {

// The tables: a header (version, daemon clock, dry-run and maintenance lines), one row per
// check target (check, target, state, latency, last run, reason up to 80 characters), a
// summary line, and one row per open incident (id, severity, state, check/target, SLA left or
// "breached", age, remediation state).
std::string format_status(const nlohmann::json& status);

// 1 when any check target is failing or any incident is open, else 0.
int status_exit_code(const nlohmann::json& status);

// What remediation is doing for an open incident, as the status page says it: "running: ...",
// "waiting to run runbook R", "waiting to retry runbook R (last attempt: ...)", "gave up:
// escalated to a person", "none", with "(paused: maintenance)" or "(held: suppressed)".
std::string remediation_summary(const nlohmann::json& incident, const nlohmann::json& status);

// The SLA cell: "4m 12s left", "breached 3m 0s ago", "met (acknowledged)", "breached
// (acknowledged late)", "paused while suppressed", or "?" when the times are missing.
std::string sla_summary(const nlohmann::json& incident, const nlohmann::json& status);

// "http://HOST:PORT" to reach a daemon listening on `listen` ("127.0.0.1:9187"): a wildcard
// address (0.0.0.0, ::, empty) is reached on loopback; IPv6 literals are bracketed.
std::string status_url_for_listen(std::string_view listen);

// The whole command: GET URL's /status (a URL without a path gets "/status"; one whose path
// ends in /status is used as it is) with `timeout` as a hard deadline, print format_status()
// to `out`. Returns status_exit_code(), 3 when the daemon cannot be reached or does not answer
// 200 with a JSON object (a message on `err`), 2 for an unusable URL. Never throws for an
// expected failure.
int run_status_command(const std::string& url, std::ostream& out, std::ostream& err,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace acis::daemon
