// The configuration of acis-healthd, as loaded and validated from the JSON file of SPEC.md.
//
// Contract: load_config_file()/parse_config() either return a complete, cross-checked config
// or throw config_error carrying *every* fault found, each with the JSON pointer of its place.
// Nothing else in the daemon re-validates: a config value that reaches a check is sane.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace acis::config {

using duration = std::chrono::milliseconds;

// "500ms", "10s", "5m", "1h", "2d" (also "1h30m"); nullopt when it is not a duration.
std::optional<duration> parse_duration(std::string_view text);
std::string format_duration(duration d);  // the shortest exact form: "1h30m", "500ms"

enum class severity { critical = 0, high = 1, medium = 2, low = 3 };
inline constexpr severity all_severities[] = {severity::critical, severity::high,
                                              severity::medium, severity::low};
std::string_view to_string(severity s);
std::optional<severity> parse_severity(std::string_view text);

struct daemon_config {
  std::string listen = "127.0.0.1:9187";
  std::string state_dir = "/var/lib/acis-healthd";
  std::string log_level = "info";  // debug | info | warn | error
  bool dry_run = false;
  std::optional<std::string> control_token_file;  // null: POST endpoints disabled
  int blocking_threads = 4;  // pool for libpqxx and file-system checks
  bool operator==(const daemon_config&) const = default;
};

// A condition on a value found by JSON pointer in a JSON document.
struct json_condition {
  std::string pointer;
  std::optional<nlohmann::json> equals;
  std::optional<double> min;
  std::optional<double> max;
  bool operator==(const json_condition&) const = default;
};

struct http_expect {
  std::vector<int> status{200};
  std::optional<std::string> body_contains;
  std::optional<json_condition> json;
  std::optional<duration> max_latency;  // slower than this (but otherwise fine): degraded
  bool operator==(const http_expect&) const = default;
};

struct http_check {
  std::string url;  // http://host:port/path (http only)
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  http_expect expect;
  bool operator==(const http_check&) const = default;
};

struct postgres_check {
  std::string conninfo;  // libpq keyword/value string; a password= in it is a config error
  std::optional<std::string> password_env;
  std::optional<std::string> password_file;
  std::string query = "SELECT 1";
  std::optional<std::string> expect;  // expected text of row 0, column 0
  bool operator==(const postgres_check&) const = default;
};

struct metadata_rule {
  std::string path;  // JSON pointer into metadata.json
  std::optional<double> min;
  std::optional<double> max;
  std::optional<nlohmann::json> equals;
  bool operator==(const metadata_rule&) const = default;
};

struct model_metadata_check {
  std::string models_dir;
  std::string metadata_file = "metadata.json";
  std::optional<duration> max_age;
  // JSON pointer to an RFC 3339 timestamp in the metadata used for max_age; without it the
  // file's modification time is used.
  std::optional<std::string> timestamp_pointer;
  std::vector<metadata_rule> rules;
  bool operator==(const model_metadata_check&) const = default;
};

struct process_check {
  std::string cmdline_contains;
  std::optional<std::string> cmdline_not_contains;
  bool running = true;  // false: healthy when no such process exists
  bool operator==(const process_check&) const = default;
};

struct file_age_check {
  std::string path;
  duration max_age{};
  bool operator==(const file_age_check&) const = default;
};

// Lines matching `pattern` (POSIX extended regex) appended to the file at `path` (absolute)
// while the daemon watches it; failing when more than `max_matches` of them were seen within
// the last `window`. The JSON key of `window` is "within": "window" is taken by every check's
// result-count window.
struct log_pattern_check {
  std::string path;
  std::string pattern;
  duration window = std::chrono::minutes(5);
  int max_matches = 0;  // 0: any matching line within the window fails
  bool operator==(const log_pattern_check&) const = default;
};

using check_kind = std::variant<http_check, postgres_check, model_metadata_check, process_check,
                                file_age_check, log_pattern_check>;
std::string_view kind_name(const check_kind& k);  // "http", "postgres", ...

struct check_config {
  std::string name;
  check_kind kind;
  duration interval = std::chrono::seconds(10);
  duration timeout = std::chrono::seconds(3);
  duration jitter{0};
  // Interval used while a transition is pending (some failures but not yet `fall`, or an
  // open incident seeing passes but not yet `rise`). Default: interval / 4, at least 100ms.
  std::optional<duration> pending_interval;
  // A check that never passed is not counted down during this long after start.
  // Default: interval * fall.
  std::optional<duration> start_grace;
  int fall = 2;
  int rise = 1;
  std::optional<int> window;  // open on `fall` failures within the last `window` results
  severity level = severity::high;
  std::optional<severity> degraded_severity;  // degraded results count only when set
  std::optional<std::string> runbook;
  std::optional<std::string> issue_type;
  std::vector<std::string> depends_on;

  duration effective_pending_interval() const;
  duration effective_start_grace() const;
  int effective_window() const { return window.value_or(fall); }
  bool operator==(const check_config&) const = default;
};

// ---- runbooks (executed by remediation/; parsed and validated here) -------------------------

struct run_step {
  std::vector<std::string> argv;
  std::optional<std::string> cwd;
  std::map<std::string, std::string> env;
  bool search_path = false;  // argv[0] looked up in PATH only when asked
  duration timeout = std::chrono::seconds(60);
  duration grace = std::chrono::seconds(5);  // SIGTERM -> SIGKILL
  std::vector<int> expect_exit{0};
  bool operator==(const run_step&) const = default;
};
struct signal_step {
  std::optional<std::string> cmdline_contains;
  std::optional<std::string> pidfile;
  std::string signal = "TERM";
  bool operator==(const signal_step&) const = default;
};
struct http_step {
  std::string url;
  std::string method = "GET";
  std::vector<int> expect_status{200};
  duration timeout = std::chrono::seconds(10);
  bool operator==(const http_step&) const = default;
};
struct verify_step {
  std::string check;
  duration within = std::chrono::seconds(30);
  // Set: the check must be seen passing and stay passing this long (0 < stable_for <= within).
  std::optional<duration> stable_for;
  bool operator==(const verify_step&) const = default;
};
struct wait_step {
  duration wait{};
  bool operator==(const wait_step&) const = default;
};
struct rollback_model_step {
  bool operator==(const rollback_model_step&) const = default;
};
struct manual_step {
  std::string instruction;
  bool operator==(const manual_step&) const = default;
};
struct notify_step {
  std::string message;
  bool operator==(const notify_step&) const = default;
};
using step_action = std::variant<run_step, signal_step, http_step, verify_step, wait_step,
                                 rollback_model_step, manual_step, notify_step>;

struct step_config {
  std::string name;
  step_action action;
  bool operator==(const step_config&) const = default;
};

struct runbook_config {
  std::string name;
  std::optional<std::string> doc;
  int max_attempts = 3;
  duration backoff = std::chrono::seconds(30);
  duration backoff_max = std::chrono::minutes(10);
  duration cooldown = std::chrono::minutes(10);
  std::vector<step_config> steps;
  bool operator==(const runbook_config&) const = default;
};

struct escalation_contacts {
  std::string primary;
  std::string backup;
  bool operator==(const escalation_contacts&) const = default;
};

// The hourly caps of the remediation policy (remediation::policy_limits): at most this many
// runs may start within any rolling hour, of one runbook / over all runbooks. Both >= 1.
struct remediation_config {
  int max_runs_per_hour = 6;         // per runbook
  int max_runs_per_hour_total = 20;  // over all runbooks
  bool operator==(const remediation_config&) const = default;
};

struct notify_config {
  std::optional<std::string> alertmanager_url;
  bool operator==(const notify_config&) const = default;
};

struct config {
  daemon_config daemon;
  std::map<severity, duration> response_times;  // always has all four levels
  std::vector<check_config> checks;
  std::map<std::string, runbook_config> runbooks;
  remediation_config remediation;
  std::map<std::string, escalation_contacts> escalation;  // by issue_type
  notify_config notify;

  const check_config* find_check(std::string_view name) const;
};

struct config_fault {
  std::string pointer;  // RFC 6901 JSON pointer ("" for the whole document)
  std::string message;
  std::string to_string() const { return pointer + ": " + message; }
};

class config_error : public std::runtime_error {
 public:
  explicit config_error(std::vector<config_fault> faults);
  const std::vector<config_fault>& faults() const { return faults_; }

 private:
  std::vector<config_fault> faults_;
};

// Parse and validate; `//` and `/* */` comments are allowed. Throws config_error.
config parse_config(std::string_view text);
// Reads the file (an unreadable file is a config_error with pointer "") and parses it.
config load_config_file(const std::string& path);

}  // namespace acis::config
