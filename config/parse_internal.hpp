// The readers of parse_config(), one per config section, per check kind and per step kind, and
// the cross-checks that run after them. Internal to config/ (not included by config.hpp).
//
// Where each one lives:
//   parse_config.cpp      JSON text (comments, duplicate keys), the top-level walk, files
//   json_walker.*         pointers, "did you mean", typed readers (no meaning)
//   value_rules.*         what a valid name, URL, address, placeholder looks like
//   read_sections.cpp     daemon, severities, remediation, escalation, notify
//   read_checks.cpp       the keys every check has, the kind table, dispatch to:
//   check_<kind>.cpp      http, postgres, model_metadata, process, file_age, log_pattern
//   read_runbooks.cpp     runbooks, their steps list, the step table, dispatch to:
//   read_steps.cpp        run, signal, http, verify, wait, rollback_model, manual, notify
//   cross_checks.cpp      duplicate names, dependencies and cycles, dangling references
//
// A reader takes the walker (where faults go), the JSON value, its pointer and the struct it
// fills; readers that see names other parts refer to also fill `references`, which the
// cross-checks read once the whole document has been walked.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/json_walker.hpp"

namespace acis::config::detail {

// Where a check was found, for the cross-checks that run after the walk.
struct check_site {
  std::string ptr;
  bool named = false;
  std::vector<std::pair<std::string, std::string>> depends;  // (name, pointer)
};

struct name_ref {
  std::string name;
  std::string ptr;
};

// What the walk saw that the cross-checks need: where checks are, which names refer to what.
struct references {
  std::vector<check_site> check_sites;  // parallel to config::checks
  std::vector<name_ref> check_runbook_refs;
  std::vector<name_ref> check_issue_refs;
  std::vector<name_ref> verify_refs;

  // A reference to a name is only called dangling when the list of names could be read: a
  // malformed /checks would otherwise bury its own fault under one fault per reference.
  // Names seen but refused (an invalid name) also count as defined: their fault comes first.
  bool check_names_complete = true;
  std::set<std::string> check_names_seen;
  bool runbook_names_complete = true;
  std::set<std::string> runbook_names_seen;
  bool escalation_complete = true;
  std::set<std::string> malformed_escalation;
};

// ---- sections (read_sections.cpp) ----------------------------------------------------------

duration default_response_time(severity s);
void read_daemon(json_walker& w, const json& j, const std::string& ptr, daemon_config& d);
void read_severities(json_walker& w, const json& j, const std::string& ptr,
                     std::map<severity, duration>& out);
void read_remediation(json_walker& w, const json& j, const std::string& ptr,
                      remediation_config& r);
void read_escalation(json_walker& w, references& refs, const json& j, const std::string& ptr,
                     std::map<std::string, escalation_contacts>& out);
void read_notify(json_walker& w, const json& j, const std::string& ptr, notify_config& n);

// ---- checks (read_checks.cpp, check_<kind>.cpp) --------------------------------------------

void read_checks(json_walker& w, references& refs, const json& j, const std::string& ptr,
                 std::vector<check_config>& out);
// One reader per kind: `j` is the check object (its common keys are read by read_checks).
http_check read_http_check(json_walker& w, const json& j, const std::string& ptr);
postgres_check read_postgres_check(json_walker& w, const json& j, const std::string& ptr);
model_metadata_check read_model_metadata_check(json_walker& w, const json& j,
                                               const std::string& ptr);
process_check read_process_check(json_walker& w, const json& j, const std::string& ptr);
file_age_check read_file_age_check(json_walker& w, const json& j, const std::string& ptr);
log_pattern_check read_log_pattern_check(json_walker& w, const json& j, const std::string& ptr);

// ---- runbooks (read_runbooks.cpp, read_steps.cpp) ------------------------------------------

void read_runbooks(json_walker& w, references& refs, const json& j, const std::string& ptr,
                   std::map<std::string, runbook_config>& out);

// One reader per step kind. `step`/`step_ptr` are the step object (for sibling keys such as
// run's "timeout" or verify's "within"), `v`/`p` the value of the action key itself.
struct step_input {
  const json& step;
  const std::string& step_ptr;
  const json& v;
  const std::string& p;
};
run_step read_run_step(json_walker& w, const step_input& in);
signal_step read_signal_step(json_walker& w, const step_input& in);
http_step read_http_step(json_walker& w, const step_input& in);
verify_step read_verify_step(json_walker& w, references& refs, const step_input& in);
wait_step read_wait_step(json_walker& w, const step_input& in);
rollback_model_step read_rollback_model_step(json_walker& w, const step_input& in);
manual_step read_manual_step(json_walker& w, const step_input& in);
notify_step read_notify_step(json_walker& w, const step_input& in);

// ---- after the walk (cross_checks.cpp) -----------------------------------------------------

// Duplicate check names, unknown / self / cyclic dependencies, runbook, issue type and verify
// references that name nothing.
void cross_check(json_walker& w, const references& refs, const config& cfg);

}  // namespace acis::config::detail
