#include "daemon/incident_report.hpp"

#include "checks/http_client.hpp"
#include "checks/text.hpp"

#include <algorithm>
#include <string_view>
#include <variant>
#include <vector>

namespace acis::daemon {

namespace {

using checks::one_line;
using std::chrono::milliseconds;


std::string clock_time(time_point t) { return format_rfc3339(t).substr(11, 8); }  // HH:MM:SS
std::string date_of(time_point t) { return format_rfc3339(t).substr(0, 10); }      // YYYY-MM-DD

// Whole seconds (a report reads "4m10s", not "4m10s123ms"); under a second stays exact.
std::string human_duration(milliseconds d) {
  if (d < milliseconds::zero()) d = milliseconds::zero();
  if (d >= std::chrono::seconds(1)) d = std::chrono::floor<std::chrono::seconds>(d);
  return config::format_duration(d);
}

std::string target_name(const incident& i) {
  return i.target.empty() ? i.check : i.check + "/" + i.target;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// ---- what was checked, without secrets -------------------------------------------------------

// http://user:pass@host:port/path?query -> http://host:port/path (user info and query can
// carry credentials).
std::string safe_url(std::string_view url) {
  auto cut = url.find_first_of("?#");
  if (cut != std::string_view::npos) url = url.substr(0, cut);
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto rest = url.substr(scheme + 3);
  auto auth_end = rest.find('/');
  auto authority = rest.substr(0, auth_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    return std::string(url.substr(0, scheme + 3)) + std::string(rest.substr(at + 1));
  }
  return std::string(url);
}

// host, port and database of a libpq conninfo (keyword/value or URI form); nothing else of it
// is ever copied, so a password in it cannot leak into a report.
std::string describe_conninfo(std::string_view ci) {
  std::string host, port, dbname;
  auto trimmed = ci;
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  if (starts_with(trimmed, "postgresql://") || starts_with(trimmed, "postgres://")) {
    auto rest = trimmed.substr(trimmed.find("://") + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) dbname = std::string(rest.substr(slash + 1));
    if (auto at = authority.rfind('@'); at != std::string_view::npos)
      authority = authority.substr(at + 1);
    // [v6]:port or host:port (a list "h1:p1,h2:p2" is shown as written).
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos &&
        authority.find(',') == std::string_view::npos) {
      port = std::string(authority.substr(colon + 1));
      authority = authority.substr(0, colon);
    }
    host = std::string(authority);
  } else {
    // keyword = value pairs; values may be 'single quoted' with backslash escapes.
    std::size_t k = 0;
    auto skip_space = [&] {
      while (k < ci.size() && (ci[k] == ' ' || ci[k] == '\t' || ci[k] == '\n' || ci[k] == '\r'))
        ++k;
    };
    while (true) {
      skip_space();
      if (k >= ci.size()) break;
      std::size_t key_start = k;
      while (k < ci.size() && ci[k] != '=' && ci[k] != ' ' && ci[k] != '\t') ++k;
      std::string key(ci.substr(key_start, k - key_start));
      skip_space();
      if (k >= ci.size() || ci[k] != '=') break;  // malformed: stop, show what we have
      ++k;
      skip_space();
      std::string value;
      if (k < ci.size() && ci[k] == '\'') {
        ++k;
        while (k < ci.size() && ci[k] != '\'') {
          if (ci[k] == '\\' && k + 1 < ci.size()) ++k;
          value.push_back(ci[k++]);
        }
        if (k < ci.size()) ++k;
      } else {
        while (k < ci.size() && ci[k] != ' ' && ci[k] != '\t' && ci[k] != '\n' && ci[k] != '\r') {
          if (ci[k] == '\\' && k + 1 < ci.size()) ++k;
          value.push_back(ci[k++]);
        }
      }
      if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
      else if (key == "port") port = value;
      else if (key == "dbname") dbname = value;
    }
  }
  std::string out = "host " + (host.empty() ? std::string("(local socket)") : host);
  if (!port.empty()) out += " port " + port;
  if (!dbname.empty()) out += " database " + dbname;
  return out;
}

// What the check looks at, e.g. "HTTP GET http://127.0.0.1:8080/health".
std::string what_is_checked(const config::check_config& c, const incident& i) {
  struct visitor {
    const incident& i;
    std::string operator()(const config::http_check& h) const {
      return h.method + " " + safe_url(h.url);
    }
    std::string operator()(const config::postgres_check& p) const {
      return describe_conninfo(p.conninfo);
    }
    std::string operator()(const config::model_metadata_check& m) const {
      std::string dir = m.models_dir;
      if (!i.target.empty()) dir += "/" + i.target;
      return dir + "/" + m.metadata_file;
    }
    std::string operator()(const config::process_check& p) const {
      return std::string(p.running ? "a process" : "no process") + " whose command line contains \"" +
             p.cmdline_contains + "\"";
    }
    std::string operator()(const config::file_age_check& f) const {
      return f.path + " (max age " + config::format_duration(f.max_age) + ")";
    }
    std::string operator()(const config::log_pattern_check& l) const {
      return "lines matching \"" + l.pattern + "\" appended to " + l.path + " (at most " +
             std::to_string(l.max_matches) + " allowed within " + config::format_duration(l.window) + ")";
    }
  };
  return std::visit(visitor{i}, c.kind);
}

// ---- reading the timeline --------------------------------------------------------------------

struct opened_facts {
  std::string health = "failing";
  std::string reason;  // the reason of the result that opened the incident
};

// From the incident_opened entry's fields; falls back to the incident's latest reason.
opened_facts first_failure_facts(const incident& i) {
  opened_facts f;
  f.reason = i.reason;
  for (const auto& e : i.timeline) {
    if (e.kind != event_kind::incident_opened) continue;
    if (e.health) f.health = std::string(checks::to_string(*e.health));
    if (!e.reason.empty()) f.reason = e.reason;
    break;
  }
  return f;
}

// Every root cause the incident was suppressed under, in order, without repeats.
std::vector<std::string> root_causes(const incident& i) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  for (const auto& e : i.timeline)
    if ((e.kind == event_kind::incident_suppressed || e.kind == event_kind::incident_opened) &&
        e.root_cause)
      add(*e.root_cause);
  if (i.suppressed_by) add(*i.suppressed_by);
  return out;
}

bool has_event(const incident& i, event_kind kind) {
  return std::any_of(i.timeline.begin(), i.timeline.end(),
                     [&](const timeline_entry& e) { return e.kind == kind; });
}

struct attempt {
  std::string title;  // e.g. "attempt 1 of 3 of runbook api-down"
  std::optional<time_point> started;
  std::optional<std::string> outcome;  // "success", "failure: ..."
  std::vector<std::string> steps;
};

// "**STEP** — ok in 0.3s — DETAIL"
std::string describe_step(const timeline_entry& e) {
  std::string s = "**" + e.step.value_or("step") + "** — " + (e.ok.value_or(false) ? "ok" : "failed");
  if (e.duration_s)
    s += " in " + checks::format_seconds(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::duration<double>(*e.duration_s)));
  if (!e.reason.empty()) s += " — " + e.reason;
  return s;
}

std::vector<attempt> attempts_of(const incident& i) {
  std::vector<attempt> out;
  for (const auto& e : i.timeline) {
    if (e.kind == event_kind::remediation_started) {
      out.push_back({describe(e), e.at, std::nullopt, {}});
    } else if (e.kind == event_kind::step_finished) {
      if (out.empty() || out.back().outcome) out.push_back({"steps outside a recorded attempt", {}, {}, {}});
      out.back().steps.push_back(describe_step(e));
    } else if (e.kind == event_kind::remediation_finished) {
      if (out.empty() || out.back().outcome) out.push_back({"attempt", {}, {}, {}});
      out.back().outcome = describe(e);
    }
  }
  return out;
}

// The fence of a code block must be longer than any backtick run inside it.
std::string fence_for(const std::vector<std::string>& lines) {
  std::size_t longest = 0;
  for (const auto& l : lines) {
    std::size_t run = 0;
    for (char c : l) {
      run = c == '`' ? run + 1 : 0;
      longest = std::max(longest, run);
    }
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

// A link when the target is a plain URL, else the text as is.
std::string link(const std::string& url) {
  if (url.empty() || url.find_first_of(" <>") != std::string::npos) return url;
  return "<" + url + ">";
}

}  // namespace

std::string render_incident_report(const incident& i, const report_context& ctx) {
  const std::string name = one_line(target_name(i));
  const std::string level(config::to_string(i.level));
  const auto first = first_failure_facts(i);
  const auto causes = root_causes(i);
  const bool was_suppressed = !causes.empty();
  const bool suppressed_throughout = was_suppressed && !has_event(i, event_kind::incident_unsuppressed);
  const std::string kind = ctx.check ? std::string(config::kind_name(ctx.check->kind)) : "";

  std::string out;
  auto line = [&](const std::string& s) {
    out += s;
    out += '\n';
  };

  line("# Incident report: " + one_line(i.id) + " — " + name + " (" + level + ")");
  line("");

  // ---- facts ----
  const milliseconds response =
      ctx.response_time > milliseconds::zero()
          ? ctx.response_time
          : std::chrono::duration_cast<milliseconds>(i.sla_deadline - i.first_failure);
  const time_point deadline = i.first_failure + response;

  line("- **Date:** " + format_rfc3339(i.opened_at) + " (opened, UTC)");
  if (i.resolved_at) {
    line("- **Duration:** " +
         human_duration(std::chrono::duration_cast<milliseconds>(*i.resolved_at - i.opened_at)) +
         " (opened " + format_rfc3339(i.opened_at) + ", resolved " +
         format_rfc3339(*i.resolved_at) + ")");
  } else {
    line("- **Duration:** still open (opened " + format_rfc3339(i.opened_at) + ")");
  }
  line("- **Severity:** " + level);
  line("- **State:** " + std::string(to_string(i.state)));
  line("- **Check/target:** " + name + (kind.empty() ? "" : " (" + kind + " check)") +
       (ctx.check ? "" : " (check no longer configured)"));
  if (ctx.runbook) {
    std::string rb = "- **Runbook used:** " + one_line(ctx.runbook->name);
    if (ctx.runbook->doc) rb += " — doc: " + link(one_line(*ctx.runbook->doc));
    line(rb);
  } else if (ctx.check && ctx.check->runbook) {
    line("- **Runbook used:** " + one_line(*ctx.check->runbook) + " (no longer configured)");
  } else {
    line("- **Runbook used:** none");
  }
  if (i.acknowledged_at) {
    line("- **Acknowledged:** " + format_rfc3339(*i.acknowledged_at) +
         (i.ack_comment && !i.ack_comment->empty() ? " — " + one_line(*i.ack_comment) : ""));
  }
  line("");

  // ---- summary ----
  line("## Summary");
  line("");
  {
    std::string s = "The " + (kind.empty() ? std::string() : kind + " ") + "check " + name +
                    " was " + first.health + " at " + level + " severity: " +
                    one_line(first.reason);
    if (was_suppressed) s += " (a consequence of " + one_line(causes.front()) + ")";
    s += i.resolved_at ? "; resolved." : "; still open.";
    line(s);
  }
  line("");

  // ---- impact ----
  line("## Impact");
  line("");
  {
    std::string s;
    if (ctx.check) {
      s = kind + " check " + one_line(what_is_checked(*ctx.check, i)) + " " + first.health;
    } else {
      s = "check " + name + " (no longer configured) " + first.health;
    }
    s += ": " + one_line(first.reason) + ".";
    if (was_suppressed)
      s += " This was a consequence of the root cause " + one_line(causes.front()) +
           " (the incident was suppressed under it).";
    line(s);
  }
  line("");

  // ---- timeline ----
  line("## Timeline (UTC)");
  line("");
  {
    std::vector<std::string> lines;
    std::string day = date_of(i.opened_at);
    lines.push_back("on " + day);
    for (const auto& e : i.timeline) {
      if (auto d = date_of(e.at); d != day) {
        day = d;
        lines.push_back("on " + day);
      }
      std::string l = clock_time(e.at) + " — " + std::string(to_string(e.kind));
      if (auto d = describe(e); !d.empty()) l += ": " + one_line(d);
      lines.push_back(std::move(l));
    }
    const auto fence = fence_for(lines);
    line(fence + "text");
    for (const auto& l : lines) line(l);
    line(fence);
  }
  line("");

  // ---- root cause ----
  line("## Root cause");
  line("");
  line("As far as known:");
  line("");
  line("- **Failing check:** " + name + " — " + first.health + ": " + one_line(first.reason));
  if (i.reason != first.reason) line("- **Latest reason:** " + one_line(i.reason));
  if (was_suppressed) {
    std::string s = "- **Suppressing dependency (root cause):** ";
    for (std::size_t k = 0; k < causes.size(); ++k) s += (k ? ", " : "") + one_line(causes[k]);
    line(s);
  } else {
    line("- **Suppressing dependency:** none");
  }
  line("");

  // ---- actions ----
  line("## Actions taken");
  line("");
  {
    const auto attempts = attempts_of(i);
    if (attempts.empty()) line("No remediation ran.");
    for (const auto& a : attempts) {
      std::string head = "- " + one_line(a.title);
      if (a.started) head += ", started " + clock_time(*a.started);
      head += ": " + (a.outcome ? one_line(*a.outcome) : std::string("no outcome recorded"));
      line(head);
      if (a.steps.empty()) line("  - no step finished");
      for (const auto& s : a.steps) line("  - " + one_line(s));
    }
  }
  line("");

  // ---- SLA ----
  line("## SLA");
  line("");
  {
    std::optional<time_point> responded;
    std::string how;
    if (i.acknowledged_at) {
      responded = i.acknowledged_at;
      how = "acknowledged";
    }
    if (i.resolved_at && (!responded || *i.resolved_at < *responded)) {
      responded = i.resolved_at;
      how = "resolved";
    }
    const std::string rt = "response time " + human_duration(response);
    const bool breached =
        i.sla_breached || (responded && *responded >= deadline && !suppressed_throughout);
    std::string s;
    if (breached) {
      s = "**SLA breached** — " + rt + " (deadline " + format_rfc3339(deadline) + ")";
      s += responded ? "; " + how + " after " +
                           human_duration(std::chrono::duration_cast<milliseconds>(
                               *responded - i.first_failure))
                     : "; not yet acknowledged or resolved";
    } else if (responded) {
      s = "**SLA met** — " + rt + "; " + how + " after " +
          human_duration(std::chrono::duration_cast<milliseconds>(*responded - i.first_failure));
      if (suppressed_throughout) s += " (suppressed under its root cause: no SLA clock ran)";
    } else {
      s = "**SLA pending** — " + rt + "; respond by " + format_rfc3339(deadline);
    }
    line(s + ", counted from the first failure at " + format_rfc3339(i.first_failure) + ".");
  }
  line("");

  // ---- contacts ----
  line("## Contacts escalated to");
  line("");
  {
    bool any = false;
    for (const auto& e : i.timeline) {
      if (e.kind != event_kind::incident_escalated) continue;
      line("- escalated at " + clock_time(e.at) + (e.reason.empty() ? "" : ": " + one_line(e.reason)));
      any = true;
    }
    if (i.sla_breached && !any) line("- SLA breached");
    const bool escalated = any || i.sla_breached;
    if (!escalated) {
      line("None (not escalated).");
    } else if (!ctx.contacts) {
      line("- no escalation contacts configured for this check's issue_type");
    } else {
      line("- **Primary:** " + one_line(ctx.contacts->primary));
      if (i.sla_breached)
        line("- **Backup:** " + one_line(ctx.contacts->backup) + " (SLA breached)");
    }
  }
  line("");

  // ---- manual actions ----
  line("## Manual action items");
  line("");
  {
    bool any = false;
    for (const auto& e : i.timeline) {
      if (e.kind != event_kind::manual_action) continue;
      line("- [ ] " + one_line(e.reason));
      any = true;
    }
    if (!any) line("None.");
  }
  line("");

  // ---- post-mortem ----
  line("## Post-mortem");
  line("");
  if (i.resolved_at) {
    line("Due " + format_rfc3339(*i.resolved_at + std::chrono::hours(48)) +
         " (48 h after resolution).");
  } else {
    line("Due 48 h after resolution (the incident is still open).");
  }
  return out;
}

}  // namespace acis::daemon
