// The incident report (SPEC.md "Incident lifecycle"): the runbooks' report template, rendered
// in markdown from an incident and its timeline.
//
// Pure: no I/O, no clock read. The daemon writes the result to state_dir/reports/ID.md when an
// incident resolves and serves it at GET /incidents/ID/report (also for open incidents, which
// the report says are still open).
//
// Contract: never throws for any incident content; every text taken from the incident or the
// config is put on one line (control characters, including CR/LF and Unicode line separators,
// become spaces), so a check reason cannot forge headings or lines. Connection strings are never
// copied: only host, port and database of a postgres conninfo appear, never a password; URLs
// lose their user info and query.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "daemon/incident.hpp"

namespace acis::daemon {

struct report_context {
  const config::check_config* check = nullptr;      // may be null (check removed)
  const config::runbook_config* runbook = nullptr;  // may be null
  std::optional<config::escalation_contacts> contacts;
  std::chrono::milliseconds response_time{};  // of the incident's severity; 0: use sla_deadline
};

// The runbooks' incident report template, in markdown. Pure: no I/O, no clock.
std::string render_incident_report(const incident& i, const report_context& ctx);

}  // namespace acis::daemon
