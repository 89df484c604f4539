#include "daemon/status_cli.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "checks/http_client.hpp"
#include "daemon/incident.hpp"

namespace acis::daemon {

namespace {

using json = nlohmann::json;
namespace asio = boost::asio;

constexpr std::size_t reason_chars = 80;
constexpr std::size_t remediation_chars = 70;
constexpr std::size_t name_chars = 32;

// ---- untrusted text for a terminal ------------------------------------------------------------

// The code point at s[i] and its length; nullopt for an invalid or overlong sequence.
std::optional<std::pair<std::uint32_t, std::size_t>> decode_utf8(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return std::pair<std::uint32_t, std::size_t>{b0, 1};
  std::size_t len = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > s.size()) return std::nullopt;
  std::uint32_t cp = len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return std::nullopt;
  return std::pair<std::uint32_t, std::size_t>{cp, len};
}

// One line of at most `max_chars` code points: whitespace controls become spaces, other
// control characters (C0, DEL, C1: terminal escapes) and invalid UTF-8 become '?', and "..."
// ends a cut text. Empty text becomes "-".
std::string one_line(std::string_view text, std::size_t max_chars) {
  std::vector<std::string> chars;
  for (std::size_t i = 0; i < text.size();) {
    auto d = decode_utf8(text, i);
    if (!d) {
      chars.emplace_back("?");
      ++i;
      continue;
    }
    const auto [cp, len] = *d;
    if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\v' || cp == '\f') {
      if (chars.empty() || chars.back() != " ") chars.emplace_back(" ");
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
      chars.emplace_back("?");
    } else {
      chars.emplace_back(text.substr(i, len));
    }
    i += len;
  }
  while (!chars.empty() && chars.back() == " ") chars.pop_back();
  if (chars.empty()) return "-";
  std::string out;
  const bool cut = chars.size() > max_chars;
  const std::size_t keep = cut ? (max_chars > 3 ? max_chars - 3 : 0) : chars.size();
  for (std::size_t k = 0; k < keep; ++k) out += chars[k];
  if (cut) out += "...";
  return out;
}

// Display width in code points (each a column: good enough for names, reasons and symbols).
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// ---- reading /status defensively --------------------------------------------------------------

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return {};
}

bool flag(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const json& list(const json& j, const char* key) {
  static const json empty = json::array();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

std::optional<time_point> when(const json& j, const char* key) { return parse_rfc3339(str(j, key)); }

// "45s", "4m 12s", "3h 5m", "2d 4h" (as the status page writes them).
std::string human(std::chrono::milliseconds d) {
  long long s = std::max<long long>(0, (d.count() + 500) / 1000);
  if (s < 60) return std::to_string(s) + "s";
  const long long m = s / 60;
  if (m < 60) return std::to_string(m) + "m " + std::to_string(s % 60) + "s";
  const long long h = m / 60;
  if (h < 48) return std::to_string(h) + "h " + std::to_string(m % 60) + "m";
  return std::to_string(h / 24) + "d " + std::to_string(h % 24) + "h";
}

std::chrono::milliseconds between(time_point from, time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

// ---- tables -----------------------------------------------------------------------------------

struct table {
  std::vector<std::string> header;
  std::vector<bool> right;  // right-aligned columns
  std::vector<std::vector<std::string>> rows;

  std::string render() const {
    std::vector<std::size_t> w(header.size(), 0);
    for (std::size_t c = 0; c < header.size(); ++c) w[c] = width(header[c]);
    for (const auto& r : rows)
      for (std::size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], width(r[c]));
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
      std::string l;
      for (std::size_t c = 0; c < header.size(); ++c) {
        const std::string cell = c < r.size() ? r[c] : std::string();
        const std::string pad(w[c] - std::min(w[c], width(cell)), ' ');
        const bool last = c + 1 == header.size();
        if (right[c]) l += pad + cell;
        else l += last ? cell : cell + pad;
        if (!last) l += "  ";
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l + "\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
    return out;
  }
};

bool is_remediation_event(const std::string& e) {
  return e == "remediation_started" || e == "step_finished" || e == "manual_action" ||
         e == "remediation_finished" || e == "remediation_reset";
}

}  // namespace

// ---- public -----------------------------------------------------------------------------------

std::string remediation_summary(const json& incident, const json& status) {
  const json* last = nullptr;
  const auto& tl = list(incident, "timeline");
  for (auto it = tl.rbegin(); it != tl.rend(); ++it)
    if (is_remediation_event(str(*it, "event"))) {
      last = &*it;
      break;
    }
  const std::string ev = last ? str(*last, "event") : "";
  const std::string detail = last ? str(*last, "detail") : "";
  const std::string id = str(incident, "id");
  std::optional<std::string> runbook;
  for (const auto& r : list(status, "remediation"))
    if (str(r, "incident") == id) runbook = str(r, "runbook");
  const std::string state = str(incident, "state");
  if (state == "escalated") return "gave up: escalated to a person";
  if (ev == "remediation_started" || ev == "step_finished" || ev == "manual_action")
    return "running" + (!detail.empty() ? ": " + detail : runbook ? " runbook " + *runbook : "");
  if (runbook) {
    const std::string held = flag(status, "maintenance") ? " (paused: maintenance)"
                             : state == "suppressed"     ? " (held: suppressed)"
                                                         : "";
    if (ev == "remediation_finished")
      return (detail.rfind("success", 0) == 0
                  ? "attempt succeeded, waiting for the check to recover"
                  : "waiting to retry runbook " + *runbook + " (last attempt: " + detail + ")") +
             held;
    return "waiting to run runbook " + *runbook + held;
  }
  if (ev == "remediation_finished") return "finished: " + detail;
  return "none";
}

std::string sla_summary(const json& incident, const json& status) {
  const auto now = when(status, "now");
  const auto deadline = when(incident, "sla_deadline");
  const std::string state = str(incident, "state");
  if (state == "acknowledged") {
    const auto acked = when(incident, "acknowledged_at");
    const bool late = flag(incident, "sla_breached") || (acked && deadline && *acked > *deadline);
    return late ? "breached (acknowledged late)" : "met (acknowledged)";
  }
  if (flag(incident, "sla_breached"))
    return now && deadline ? "breached " + human(between(*deadline, *now)) + " ago" : "breached";
  if (state == "suppressed") return "paused while suppressed";
  if (!now || !deadline) return "?";
  if (*now >= *deadline) return "breached " + human(between(*deadline, *now)) + " ago";
  return human(between(*now, *deadline)) + " left";
}

std::string format_status(const json& status) {
  std::string out;
  const std::string version = str(status, "version");
  const std::string now_text = str(status, "now");
  const auto now = when(status, "now");
  out += "acis-healthd " + one_line(version.empty() ? "?" : version, name_chars) +
         ", daemon clock " + one_line(now_text.empty() ? "?" : now_text, name_chars) + "\n";
  if (flag(status, "dry_run")) out += "DRY RUN: remediation is logged, nothing is executed\n";
  if (flag(status, "maintenance")) out += "MAINTENANCE: remediation is paused\n";
  if (const auto j = status.find("journal"); j != status.end() && j->is_object() &&
                                              j->value("healthy", true) == false)
    out += "JOURNAL DEGRADED: changes are held, not acted on: " +
           one_line(str(*j, "problem"), reason_chars) + "\n";
  out += "\n";

  table checks{{"CHECK", "TARGET", "STATE", "LATENCY", "LAST RUN", "INCIDENT", "REASON"},
               {false, false, false, true, true, false, false},
               {}};
  int ok = 0, degraded = 0, failing = 0, unknown = 0;
  for (const auto& c : list(status, "checks")) {
    const std::string name = one_line(str(c, "name"), name_chars);
    std::vector<json> targets(list(c, "targets").begin(), list(c, "targets").end());
    if (targets.empty()) targets.push_back({{"state", "unknown"}, {"reason", "not run yet"}});
    for (const auto& t : targets) {
      std::string state = str(t, "state");
      if (state == "ok") {
        ++ok;
      } else if (state == "degraded") {
        ++degraded;
      } else if (state == "failing") {
        ++failing;
      } else {
        ++unknown;
        if (state.empty()) state = "unknown";
      }
      std::string latency = "-";
      if (t.is_object() && t.contains("latency_ms") && t["latency_ms"].is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1fms", t["latency_ms"].get<double>());
        latency = buf;
      }
      const auto at = when(t, "last_at");
      checks.rows.push_back({name, one_line(str(t, "target"), name_chars), one_line(state, 16), latency,
                             at && now ? human(between(*at, *now)) + " ago" : "never",
                             one_line(str(t, "incident"), name_chars),
                             one_line(str(t, "reason"), reason_chars)});
    }
  }
  out += checks.rows.empty() ? "no checks configured\n" : checks.render();
  const auto& incidents = list(status, "incidents");
  out += "\n" + std::to_string(ok + degraded + failing + unknown) + " check targets: " +
         std::to_string(ok) + " ok, " + std::to_string(degraded) + " degraded, " +
         std::to_string(failing) + " failing, " + std::to_string(unknown) + " unknown; " +
         std::to_string(incidents.size()) + " open incident" + (incidents.size() == 1 ? "" : "s") + "\n";

  if (incidents.empty()) {
    out += "\nOPEN INCIDENTS: none\n";
    return out;
  }
  table incs{{"INCIDENT", "SEVERITY", "STATE", "CHECK/TARGET", "SLA", "AGE", "REMEDIATION"},
             {false, false, false, false, false, true, false},
             {}};
  for (const auto& i : incidents) {
    std::string state = str(i, "state");
    if (const auto by = str(i, "suppressed_by"); !by.empty()) state += " by " + by;
    std::string where = str(i, "check");
    if (const auto t = str(i, "target"); !t.empty()) where += "/" + t;
    const auto opened = when(i, "opened_at");
    incs.rows.push_back({one_line(str(i, "id"), name_chars), one_line(str(i, "severity"), 16),
                         one_line(state, 48), one_line(where, 2 * name_chars),
                         sla_summary(i, status), opened && now ? human(between(*opened, *now)) : "?",
                         one_line(remediation_summary(i, status), remediation_chars)});
  }
  out += "\nOPEN INCIDENTS: " + std::to_string(incidents.size()) + "\n" + incs.render();
  for (const auto& i : incidents)
    if (const auto reason = str(i, "reason"); !reason.empty())
      out += "  " + one_line(str(i, "id"), name_chars) + ": " + one_line(reason, reason_chars) + "\n";
  return out;
}

int status_exit_code(const json& status) {
  if (!list(status, "incidents").empty()) return 1;
  if (const auto j = status.find("journal"); j != status.end() && j->is_object() &&
                                              j->value("healthy", true) == false)
    return 1;  // changes are held: something needs an operator
  for (const auto& c : list(status, "checks"))
    for (const auto& t : list(c, "targets"))
      if (str(t, "state") == "failing") return 1;
  return 0;
}

std::string status_url_for_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  std::string host(colon == std::string_view::npos ? listen : listen.substr(0, colon));
  const std::string port(colon == std::string_view::npos ? "9187" : listen.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + port;
}

int run_status_command(const std::string& url, std::ostream& out, std::ostream& err,
                       std::chrono::milliseconds timeout) {
  std::string why;
  auto parts = checks::parse_http_url(url, why);
  if (!parts) {
    err << "acis-healthd: --url " << one_line(url, 200) << ": " << why << "\n";
    return 2;
  }
  // The daemon's base URL, or its /status itself; a query string is not ours to keep.
  std::string path = parts->target.substr(0, parts->target.find('?'));
  const std::string suffix = "/status";
  if (path.size() < suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    path += suffix;
  }
  parts->target = path;
  const std::string where = parts->display();

  asio::io_context ioc{1};
  std::optional<checks::http_result> result;
  std::string crashed;
  checks::http_request_spec spec;
  spec.headers = {{"Accept", "application/json"}};
  spec.max_body_bytes = 64 * 1024 * 1024;  // a daemon with many targets and long timelines
  asio::co_spawn(ioc,
                 checks::http_request(ioc.get_executor(), *parts, spec,
                                      std::chrono::steady_clock::now() + timeout),
                 [&](std::exception_ptr e, checks::http_result r) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       crashed = ex.what();
                     }
                     return;
                   }
                   result = std::move(r);
                 });
  ioc.run();
  if (!result || !*result) {
    err << "acis-healthd: cannot reach the daemon at " << where << ": "
        << (result ? result->error.message : crashed.empty() ? "no answer" : crashed)
        << " (is acis-healthd running there? --url URL or --config FILE names another)\n";
    return 3;
  }
  const auto& resp = *result->response;
  if (resp.status != 200) {
    err << "acis-healthd: the daemon at " << where << " answered HTTP " << resp.status
        << " (expected 200 with the status JSON)\n";
    return 3;
  }
  const auto status = json::parse(resp.body, nullptr, false);
  if (!status.is_object()) {
    err << "acis-healthd: the answer from " << where << " is not a JSON object (is it acis-healthd?)\n";
    return 3;
  }
  out << format_status(status);
  return status_exit_code(status);
}

}  // namespace acis::daemon
