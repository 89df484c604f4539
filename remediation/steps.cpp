#include "remediation/steps.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "checks/blocking.hpp"
#include "checks/http_client.hpp"
#include "checks/proc_scan.hpp"
#include "remediation/process_runner.hpp"
#include "checks/text.hpp"
#include "remediation/rollback_model.hpp"

namespace acis::remediation {

namespace asio = boost::asio;

namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

std::optional<int> signal_number(std::string_view name) {
  static const std::pair<std::string_view, int> table[] = {
      {"TERM", SIGTERM}, {"KILL", SIGKILL}, {"HUP", SIGHUP},   {"INT", SIGINT},
      {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"STOP", SIGSTOP},
      {"CONT", SIGCONT}};
  if (name.rfind("SIG", 0) == 0) name.remove_prefix(3);
  for (const auto& [n, s] : table)
    if (n == name) return s;
  return std::nullopt;
}

step_outcome fail(std::string detail, std::string resolved = {}) {
  step_outcome o;
  o.ok = false;
  o.detail = std::move(detail);
  o.resolved = std::move(resolved);
  return o;
}

std::string excerpt(const std::string& s) { return checks::printable_excerpt(s, 2000); }

// What a `verify` step checks: on the incident's own check, the incident's target (a
// model_metadata check without a target, as in a drill without --target: all its folders);
// on another check, every target it reports.
std::optional<verify_spec> verify_spec_for(const config::verify_step& v, const step_context& ctx,
                                           const config::check_config* verified) {
  if (!verified) return std::nullopt;
  verify_spec spec;
  spec.check = verified;
  const bool own = ctx.check && ctx.check->name == v.check;
  const bool multi = std::holds_alternative<config::model_metadata_check>(verified->kind);
  spec.per_target = own && !(multi && ctx.target.empty());
  spec.target = spec.per_target ? ctx.target : std::string();
  spec.rise = verified->rise;
  spec.stable_for = v.stable_for;
  spec.within = v.within;
  return spec;
}

}  // namespace

std::string_view step_kind(const config::step_config& s) {
  static constexpr std::string_view names[] = {"run",  "signal",         "http",   "verify",
                                               "wait", "rollback_model", "manual", "notify"};
  return names[s.action.index()];
}

std::string describe_step(const config::step_config& s, const template_values& values) {
  return std::visit(
      overloaded{
          [&](const config::run_step& r) -> std::string {
            auto argv = expand_all(r.argv, values);
            if (auto* err = std::get_if<template_error>(&argv)) return "refused: " + err->message();
            std::string out = nlohmann::json(std::get<std::vector<std::string>>(argv)).dump();
            if (r.cwd) out += " in " + *r.cwd;
            out += " (timeout " + config::format_duration(r.timeout) + ")";
            return out;
          },
          [&](const config::signal_step& sg) -> std::string {
            if (sg.pidfile) return "SIG" + sg.signal + " to the pid in " + *sg.pidfile;
            return "SIG" + sg.signal + " to processes whose command line contains \"" +
                   sg.cmdline_contains.value_or("") + "\"";
          },
          [&](const config::http_step& h) -> std::string {
            auto url = expand(h.url, values, template_use::url);
            if (auto* err = std::get_if<template_error>(&url)) return "refused: " + err->message();
            return h.method + " " + std::get<std::string>(url);
          },
          [&](const config::verify_step& v) -> std::string {
            return "re-run check \"" + v.check + "\" until it passes, within " +
                   config::format_duration(v.within);
          },
          [&](const config::wait_step& w) -> std::string {
            return "wait " + config::format_duration(w.wait);
          },
          [&](const config::rollback_model_step&) -> std::string {
            auto it = values.values.find("model");
            return "roll back model \"" + (it == values.values.end() ? std::string("?") : it->second) +
                   "\" to its newest healthy backup";
          },
          [&](const config::manual_step& m) -> std::string {
            auto t = expand(m.instruction, values, template_use::text);
            return "manual: " + (std::holds_alternative<std::string>(t) ? std::get<std::string>(t)
                                                                         : m.instruction);
          },
          [&](const config::notify_step& n) -> std::string {
            auto t = expand(n.message, values, template_use::text);
            return "notify: " + (std::holds_alternative<std::string>(t) ? std::get<std::string>(t)
                                                                         : n.message);
          }},
      s.action);
}

namespace {

asio::awaitable<step_outcome> run_step_impl(const config::run_step& r, const step_context& ctx) {
  auto argv = expand_all(r.argv, ctx.values);
  if (auto* err = std::get_if<template_error>(&argv)) co_return fail("refused: " + err->message());
  process_spec spec;
  spec.argv = std::get<std::vector<std::string>>(argv);
  spec.cwd = r.cwd;
  spec.env = r.env;
  spec.search_path = r.search_path;
  spec.timeout = r.timeout;
  spec.grace = r.grace;
  spec.on_started = ctx.on_process_started;
  step_outcome o;
  o.resolved = nlohmann::json(spec.argv).dump();
  if (ctx.dry_run) {
    o.ok = true;
    o.detail = "dry run: would run " + o.resolved;
    co_return o;
  }
  auto out = co_await run_process(ctx.io, spec);
  o.output = excerpt(out.output);
  o.detail = out.describe();
  o.ok = out.how == process_outcome::status::exited &&
         std::find(r.expect_exit.begin(), r.expect_exit.end(), out.exit_code) != r.expect_exit.end();
  if (!o.ok && out.how == process_outcome::status::exited) o.detail += " (expected exit " +
      nlohmann::json(r.expect_exit).dump() + ")";
  co_return o;
}

step_outcome signal_step_impl(const config::signal_step& sg, const step_context& ctx) {
  step_outcome o;
  const auto sig = signal_number(sg.signal);
  if (!sig) return fail("unknown signal \"" + sg.signal + "\"");
  std::vector<pid_t> pids;
  if (sg.pidfile) {
    std::ifstream in(*sg.pidfile);
    long pid = 0;
    if (!(in >> pid) || pid <= 1) return fail("no usable pid in " + *sg.pidfile);
    if (::kill(static_cast<pid_t>(pid), 0) != 0)
      return fail("pid " + std::to_string(pid) + " from " + *sg.pidfile + " is not running");
    pids.push_back(static_cast<pid_t>(pid));
  } else {
    for (const auto& p : checks::find_processes(sg.cmdline_contains.value_or("")))
      pids.push_back(p.pid);
  }
  o.resolved = describe_step(config::step_config{"", sg}, ctx.values);
  if (pids.empty()) {
    // Nothing to stop is the state the step wants (e.g. "stop trading" when nothing trades).
    o.ok = true;
    o.detail = "no matching process";
    return o;
  }
  std::string list;
  for (auto p : pids) list += (list.empty() ? "" : ", ") + std::to_string(p);
  if (ctx.dry_run) {
    o.ok = true;
    o.detail = "dry run: would send SIG" + sg.signal + " to " + list;
    return o;
  }
  int sent = 0;
  std::string errors;
  for (auto p : pids) {
    if (::kill(p, *sig) == 0 || errno == ESRCH) ++sent;
    else errors += " " + std::to_string(p) + ": " + std::strerror(errno);
  }
  o.ok = errors.empty();
  o.detail = "SIG" + sg.signal + " sent to " + list + (errors.empty() ? "" : "; failed:" + errors);
  return o;
}

asio::awaitable<step_outcome> http_step_impl(const config::http_step& h, const step_context& ctx) {
  auto url = expand(h.url, ctx.values, template_use::url);
  if (auto* err = std::get_if<template_error>(&url)) co_return fail("refused: " + err->message());
  std::string error;
  auto parts = checks::parse_http_url(std::get<std::string>(url), error);
  if (!parts) co_return fail("bad URL: " + error);
  step_outcome o;
  o.resolved = h.method + " " + parts->display();
  if (ctx.dry_run) {
    o.ok = true;
    o.detail = "dry run: would request " + o.resolved;
    co_return o;
  }
  checks::http_request_spec spec;
  spec.method = h.method;
  auto r = co_await checks::http_request(ctx.io, *parts, spec,
                                         std::chrono::steady_clock::now() + h.timeout);
  if (!r) co_return fail(r.error.message, o.resolved);
  const int st = r.response->status;
  o.ok = std::find(h.expect_status.begin(), h.expect_status.end(), st) != h.expect_status.end();
  o.detail = "HTTP " + std::to_string(st) + (o.ok ? "" : " (expected " + nlohmann::json(h.expect_status).dump() + ")");
  co_return o;
}

asio::awaitable<step_outcome> rollback_step_impl(const step_context& ctx) {
  const auto* mm = ctx.check ? std::get_if<config::model_metadata_check>(&ctx.check->kind) : nullptr;
  if (!mm) co_return fail("rollback_model needs an incident of a model_metadata check");
  if (ctx.target.empty()) co_return fail("rollback_model needs the failing model's folder (the incident has no target)");
  // The target is the folder's target name (checks::target_name_for): act on the real folder,
  // whose raw name may hold bytes that are not UTF-8. A name that is not one target_name_for
  // gives is refused; a plain name keeps the placeholder rule of the other steps.
  const auto raw = checks::raw_name_of(ctx.target);
  if (!raw)
    co_return fail("refused: model \"" + shown_value(ctx.target) +
                   "\": not a model folder's target name (a bad \\ escape)");
  if (*raw == ctx.target)
    if (auto problem = value_problem("model", ctx.target, template_use::argument))
      co_return fail("refused: model \"" + shown_value(ctx.target) + "\": " + *problem);
  step_outcome o;
  o.resolved = "roll back " + mm->models_dir + "/" + ctx.target;
  const std::filesystem::path models_dir = mm->models_dir;
  const auto model = *raw;  // rollback_model() refuses /, NUL, . and .. itself
  const auto rules = *mm;
  const bool dry = ctx.dry_run;
  // A dry run judges the backups as the real step would (read-only), so that it shows which one
  // would go live and later steps see that `{backup}`.
  auto work = [models_dir, model, rules, dry]() {
    if (dry) return choose_backup(models_dir, model, rules, std::chrono::system_clock::now());
    recover_rollbacks(models_dir);
    return rollback_model(models_dir, model, rules, std::chrono::system_clock::now());
  };
  std::optional<rollback_result> r;
  if (ctx.blocking)
    r = co_await checks::run_blocking<rollback_result>(*ctx.blocking, std::move(work));
  else
    r = work();
  if (!r) co_return fail("rollback cancelled", o.resolved);
  o.ok = r->ok;
  o.detail = (dry ? "dry run: " : "") + r->reason;
  if (!checks::valid_utf8(o.detail)) o.detail = checks::target_name_for(o.detail);  // raw name
  if (r->ok && !r->chosen_backup.empty()) o.produced["backup"] = r->chosen_backup;
  if (!r->skipped.empty()) {
    std::string s;
    for (const auto& k : r->skipped) s += (s.empty() ? "" : "; ") + k;
    o.detail += " (skipped: " + s + ")";
  }
  co_return o;
}

}  // namespace

asio::awaitable<step_outcome> execute_step(const config::step_config& step, const step_context& ctx) {
  try {
    if (const auto* r = std::get_if<config::run_step>(&step.action)) co_return co_await run_step_impl(*r, ctx);
    if (const auto* s = std::get_if<config::signal_step>(&step.action)) co_return signal_step_impl(*s, ctx);
    if (const auto* h = std::get_if<config::http_step>(&step.action)) co_return co_await http_step_impl(*h, ctx);
    if (const auto* v = std::get_if<config::verify_step>(&step.action)) {
      step_outcome o;
      o.resolved = describe_step(step, ctx.values);
      if (ctx.dry_run) {
        o.ok = true;
        o.detail = "dry run: would " + o.resolved;
        co_return o;
      }
      if (!ctx.verify) co_return fail("no verifier available", o.resolved);
      if (!ctx.find_check) co_return fail("no check lookup available", o.resolved);
      auto spec = verify_spec_for(*v, ctx, ctx.find_check(v->check));
      if (!spec) co_return fail("no check named " + v->check, o.resolved);
      auto why = co_await ctx.verify(*spec);
      o.ok = why.empty();
      o.detail = o.ok ? "verified: " + v->check + " passes" : "still failing after " +
                 config::format_duration(v->within) + ": " + why;
      co_return o;
    }
    if (const auto* w = std::get_if<config::wait_step>(&step.action)) {
      step_outcome o;
      o.resolved = describe_step(step, ctx.values);
      if (!ctx.dry_run) {
        asio::steady_timer t(ctx.io);
        t.expires_after(w->wait);
        // Cancelled (the daemon stopping, a drill interrupted): a failed step, not an
        // exception that would skip the attempt's end in the journal.
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return fail("cancelled during the wait", o.resolved);
      }
      o.ok = true;
      o.detail = ctx.dry_run ? "dry run: would " + o.resolved : "waited " + config::format_duration(w->wait);
      co_return o;
    }
    if (std::holds_alternative<config::rollback_model_step>(step.action))
      co_return co_await rollback_step_impl(ctx);
    if (const auto* m = std::get_if<config::manual_step>(&step.action)) {
      auto t = expand(m->instruction, ctx.values, template_use::text);
      if (auto* err = std::get_if<template_error>(&t)) co_return fail("refused: " + err->message());
      step_outcome o;
      o.ok = true;
      o.manual_instruction = std::get<std::string>(t);
      o.detail = "action item recorded";
      o.resolved = "manual: " + *o.manual_instruction;
      co_return o;
    }
    if (const auto* n = std::get_if<config::notify_step>(&step.action)) {
      auto t = expand(n->message, ctx.values, template_use::text);
      if (auto* err = std::get_if<template_error>(&t)) co_return fail("refused: " + err->message());
      step_outcome o;
      o.ok = true;
      o.detail = std::get<std::string>(t);
      o.resolved = "notify: " + o.detail;
      co_return o;
    }
    co_return fail("unknown step kind");
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::operation_aborted) throw;  // cancellation: the caller stops
    co_return fail(std::string("step error: ") + e.what());
  }
}

}  // namespace acis::remediation
