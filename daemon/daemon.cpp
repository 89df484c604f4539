#include "daemon/daemon.hpp"

#include <unistd.h>

#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <deque>
#include <fstream>
#include <future>
#include <thread>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "checks/attempt.hpp"
#include "checks/blocking.hpp"
#include "checks/check.hpp"
#include "checks/http_client.hpp"
#include "daemon/alertmanager.hpp"
#include "daemon/event_log.hpp"
#include "daemon/http_server.hpp"
#include "daemon/incident.hpp"
#include "daemon/incident_journal.hpp"
#include "daemon/incident_report.hpp"
#include "daemon/metrics.hpp"
#include "daemon/status_page.hpp"
#include "daemon/schedule.hpp"
#include "remediation/drill.hpp"
#include "remediation/leftover_group.hpp"
#include "remediation/policy.hpp"
#include "remediation/process_runner.hpp"
#include "remediation/rollback_model.hpp"
#include "remediation/runbook_runner.hpp"
#include "remediation/steps.hpp"
#include "remediation/verify.hpp"

#ifndef ACIS_VERSION
#define ACIS_VERSION "0.0.0"
#endif

namespace acis::daemon {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using steady = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string pct_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "path?a=b&c=d" -> (path, {a: b, c: d})
std::pair<std::string, std::map<std::string, std::string>> split_target(const std::string& target) {
  std::map<std::string, std::string> q;
  const auto qm = target.find('?');
  std::string path = target.substr(0, qm);
  if (qm != std::string::npos) {
    std::string_view rest(target);
    rest.remove_prefix(qm + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto part = rest.substr(0, amp);
      auto eq = part.find('=');
      try {
        if (eq == std::string_view::npos)
          q[pct_decode(part)] = "";
        else
          q[pct_decode(part.substr(0, eq))] = pct_decode(part.substr(eq + 1));
      } catch (const std::exception&) {
        // a malformed %-escape: ignore that parameter
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  return {path, q};
}

http_reply json_reply(const json& j, int status = 200) {
  return {status, "application/json",
          j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"};
}

// The first line of the token file, trailing white space cut; nullopt when unreadable or
// shorter than 16 characters (a guessable token is worse than none).
std::optional<std::string> read_control_token(const std::string& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::string token;
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.size() < 16) return std::nullopt;
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// Joins the pool's threads, giving up after `budget` (the threads are then left running: the
// caller must leave the process).
bool join_within(asio::thread_pool& pool, std::chrono::seconds budget) {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  std::thread joiner([&pool, done] {
    pool.join();
    done->set_value();
  });
  if (f.wait_for(budget) != std::future_status::ready) {
    joiner.detach();
    return false;
  }
  joiner.join();
  return true;
}

// One scheduled check. A reload may keep the slot (the check is unchanged: its instance keeps
// its state, e.g. a log_pattern check's position) or retire it (removed or changed: the runner
// ends after its attempt in flight, whose results are then dropped).
struct check_slot {
  std::shared_ptr<const config::config> gen;  // keeps *cfg alive
  const config::check_config* cfg;
  std::unique_ptr<checks::check> check;
  asio::steady_timer timer;
  schedule_policy policy;
  std::uint64_t runs = 0;
  bool retired = false;
  // Scheduler progress, for the systemd watchdog: when the next run is due, and since when
  // the current attempt runs (none: waiting for `due`).
  std::chrono::steady_clock::time_point due{};
  std::optional<std::chrono::steady_clock::time_point> running_since;
};

class healthd {
 public:
  healthd(const config::config& cfg, std::string config_path)
      : gen_(std::make_shared<const config::config>(cfg)),
        config_path_(std::move(config_path)),
        pool_(static_cast<std::size_t>(std::max(1, cfg.daemon.blocking_threads))),
        log_(stdout, parse_log_level(cfg.daemon.log_level)),
        metrics_(ACIS_VERSION),
        signals_(ioc_, SIGINT, SIGTERM, SIGHUP),
        sla_timer_(ioc_),
        rng_(std::random_device{}()),
        remediation_timer_(ioc_),
        policy_(cfg.runbooks, remediation::limits_from(cfg.remediation)) {}

  const config::config& cfg() const { return *gen_; }

  ~healthd() {
    pool_.stop();
    pool_.join();
  }

  int run() {
    const auto started = wall_clock::now();
    log_.info("daemon_started", {{"version", ACIS_VERSION}, {"pid", ::getpid()}});

    // State dir and journal: without them no incident could be kept, so refuse to run.
    std::error_code ec;
    std::filesystem::create_directories(cfg().daemon.state_dir, ec);
    if (ec) {
      log_.error("daemon_failed", {{"reason", "cannot create state_dir " + cfg().daemon.state_dir +
                                                  ": " + ec.message()}});
      return 3;
    }
    if (cfg().daemon.control_token_file) {
      control_token_ = read_control_token(*cfg().daemon.control_token_file);
      if (!control_token_) {
        log_.error("daemon_failed", {{"reason", "cannot use control_token_file " +
                                                    *cfg().daemon.control_token_file +
                                                    ": unreadable, or the token has fewer than 16 characters"}});
        return 3;
      }
    }
    // Grandchildren that a runbook script leaves behind are re-parented to us, to be killed
    // and reaped rather than left to PID 1.
    remediation::become_subreaper();
    std::vector<check_policy> policies;
    for (const auto& c : cfg().checks) policies.push_back(check_policy::from_config(c));
    tracker_.emplace(std::move(policies), cfg().response_times, started);
    try {
      journal_.emplace(cfg().daemon.state_dir + "/incidents.jsonl");
      if (const char* v = std::getenv("ACIS_HEALTHD_JOURNAL_COMPACT_ABOVE")) {
        // Tests only: compact a small journal, to see compaction while running.
        journal_->compact_above(std::strtoull(v, nullptr, 10));
        log_.warn("test_hook_enabled", {{"hook", "ACIS_HEALTHD_JOURNAL_COMPACT_ABOVE"}, {"value", v}});
      }
      auto replay = journal_->open();
      for (const auto& w : replay.warnings)
        log_.warn("journal_recovered", {{"reason", w}, {"path", journal_->path()}});
      tracker_->restore(replay.open, replay.next_seq);
      start_journal();
      // Ids are handed out only from a journaled block: no restart can give an id twice.
      reserve_ids(true);
      // Incidents of checks no longer configured are resolved ("check removed") and journaled.
      std::vector<check_policy> again;
      for (const auto& c : cfg().checks) again.push_back(check_policy::from_config(c));
      pending_restore_events_ = tracker_->reconfigure(std::move(again), started);
      for (auto& r : replay.resolved) remember_resolved(std::move(r));
      const bool have_state = replay.state && restore_engine_state(*replay.state, started);
      for (const auto* inc : tracker_->open_incidents()) {
        log_.info("incident_restored", incident_fields(*inc));
        restore_remediation(*inc, started, have_state);
      }
      if (have_state) end_cut_off_runs(started);
    } catch (const std::exception& e) {
      log_.error("daemon_failed", {{"reason", std::string("incident journal: ") + e.what()}});
      return 3;
    }
    // Delivered (log, metrics, Alertmanager, reports, remediation) once committed, like any
    // other change: the notifier below is running by then.
    apply(std::move(pending_restore_events_));
    update_open_gauge();

    try {
      server_ = std::make_unique<http_server>(
          ioc_.get_executor(), cfg().daemon.listen,
          [this](const http_request_view& r) { return route(r); },
          [this](const std::string& what) { log_.error("internal_error", {{"reason", "http: " + what}}); });
    } catch (const std::exception& e) {
      log_.error("daemon_failed", {{"reason", e.what()}});
      return 3;
    }
    server_->start();

    for (const auto& c : cfg().checks) slots_.push_back(make_slot(gen_, c));
    for (const auto& [name, _] : cfg().runbooks) metrics_.declare_runbook(name);
    start_notifier();
    log_.info("config_loaded",
              {{"checks", cfg().checks.size()}, {"runbooks", cfg().runbooks.size()},
               {"listen", cfg().daemon.listen}, {"port", server_->port()},
               {"state_dir", cfg().daemon.state_dir}, {"dry_run", cfg().daemon.dry_run},
               {"open_incidents", tracker_->open_incidents().size()}});

    // A rollback cut off by a crash leaves a temp folder beside the model (the model itself is
    // whole); clean those up, off the loop (the models folder may be on a slow disk).
    for (const auto& c : cfg().checks) {
      const auto* mm = std::get_if<config::model_metadata_check>(&c.kind);
      if (!mm) continue;
      asio::post(pool_, [this, dir = mm->models_dir] {
        std::vector<std::string> notes;
        try {
          notes = remediation::recover_rollbacks(dir);
        } catch (const std::exception& e) {
          notes.push_back(std::string("recovery failed: ") + e.what());
        }
        asio::post(ioc_, [this, dir, notes] {
          for (const auto& n : notes) log_.warn("rollback_recovered", {{"models_dir", dir}, {"reason", n}});
        });
      });
    }
    for (auto& s : slots_) spawn(run_check(s), "check " + s->cfg->name);
    spawn(sla_loop(), "sla clock");
    spawn(remediation_loop(), "remediation");
    spawn(drill_loop(), "drill reports");
    wait_signal();

    start_watchdog();
    sd_notify(0, "READY=1");
    ioc_.run();
    // A pool thread stuck in the file system (a frozen disk under a check) must not keep the
    // process past the stop budget.
    pool_.stop();
    if (hard_exit_ || !join_within(pool_, std::chrono::seconds(5))) {
      if (!hard_exit_) log_.error("daemon_stop_forced", {{"reason", "a blocking check is stuck; leaving without it"}});
      std::fflush(stdout);
      std::_Exit(exit_code_);
    }
    return exit_code_;
  }

 private:
  // ---- coroutines ----------------------------------------------------------------------------

  template <typename Awaitable>
  void spawn(Awaitable a, std::string what) {
    asio::co_spawn(ioc_, std::move(a), [this, what](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_.error("internal_error", {{"reason", what + ": " + ex.what()}});
      }
    });
  }

  std::shared_ptr<check_slot> make_slot(const std::shared_ptr<const config::config>& gen,
                                        const config::check_config& c) {
    checks::check_context ctx{ioc_.get_executor(), &pool_};
    return std::make_shared<check_slot>(check_slot{
        gen, &c, checks::make_check(c, ctx), asio::steady_timer(ioc_),
        schedule_policy{c.interval, c.effective_pending_interval(), c.jitter}, 0, false, {}, {}});
  }

  // The runner owns a reference to its slot: a reload that retires the slot lets the runner
  // finish its attempt in flight before both go.
  asio::awaitable<void> run_check(std::shared_ptr<check_slot> slot) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto st = schedule_state<steady::time_point>::first(steady::now(), slot->policy, u(rng_));
    while (!stopping_ && !slot->retired) {
      slot->due = st.due;
      if (test_stall_at_ && steady::now() >= *test_stall_at_) {
        slot->timer.expires_at(steady::time_point::max());  // the test hook: a stuck scheduler
        co_await slot->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
      slot->timer.expires_at(st.due);
      co_await slot->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping_ || slot->retired) co_return;
      metrics_.schedule_lag(steady::now() - st.due);
      slot->running_since = steady::now();
      const auto gen = slot->gen;  // the definition this attempt runs with
      ++attempts_in_flight_;
      auto results = co_await checks::attempt_check(*slot->check, *slot->cfg);
      --attempts_in_flight_;
      slot->running_since.reset();
      if (stopping_) {
        maybe_finish_stop();
        co_return;
      }
      if (slot->retired) co_return;
      ++slot->runs;
      ++attempts_in_flight_;  // its results are being handled across a few loop turns
      co_await handle_attempt(*slot->cfg, std::move(results));
      --attempts_in_flight_;
      if (stopping_) {
        maybe_finish_stop();
        co_return;
      }
      if (slot->retired) co_return;
      st = st.next(steady::now(), slot->policy, tracker_->transition_pending(slot->cfg->name),
                   u(rng_));
    }
  }

  // Drills run as their own process (`acis-healthd drill --execute`) and leave their report in
  // state_dir/drills/: read the newest per runbook at start and once a minute, off the loop.
  asio::awaitable<void> drill_loop() {
    // The job is a named variable, not a lambda temporary inside the co_await expression: g++ 12
    // destroys such temporaries twice in a coroutine (seen here as a double free).
    const std::string dir = cfg().daemon.state_dir + "/drills";
    const std::function<std::map<std::string, remediation::drill_record>()> scan = [dir] {
      return remediation::latest_drills(dir);
    };
    asio::steady_timer timer(ioc_);
    while (!stopping_) {
      auto found = co_await checks::run_blocking<std::map<std::string, remediation::drill_record>>(pool_, scan);
      if (stopping_) co_return;
      if (found) {
        for (const auto& [name, _] : cfg().runbooks) {
          auto it = found->find(name);
          if (it == found->end()) metrics_.never_drilled(name);
          else metrics_.drill(name, it->second.started, it->second.duration_seconds);
        }
      }
      timer.expires_after(std::chrono::minutes(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::awaitable<void> sla_loop() {
    while (!stopping_) {
      auto next = tracker_->next_deadline();
      if (next) {
        auto wait = std::max<wall_clock::duration>(wall_clock::duration::zero(),
                                                   *next - wall_clock::now());
        sla_timer_.expires_after(std::chrono::duration_cast<steady::duration>(wait));
      } else {
        sla_timer_.expires_after(std::chrono::hours(24));
      }
      co_await sla_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping_) co_return;
      apply(tracker_->tick(wall_clock::now()));
    }
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    });
  }

  // ---- Alertmanager -----------------------------------------------------------------------------

  // (Re)starts the notifier for notify.alertmanager_url (none when unset) and hands it every
  // open incident, so that a restart or a changed URL re-sends what is firing.
  void start_notifier() {
    if (notifier_) notifier_->stop();
    notifier_.reset();
    if (!cfg().notify.alertmanager_url) return;
    alertmanager_options o;
    o.url = *cfg().notify.alertmanager_url;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
    const auto listen = cfg().daemon.listen;
    const auto colon = listen.rfind(':');
    const auto addr = listen.substr(0, colon) + ":" + std::to_string(server_->port());
    o.instance = std::string(host) + " " + addr;
    o.external_url = "http://" + addr;
    try {
      notifier_ = std::make_unique<alertmanager_notifier>(
          ioc_.get_executor(), o,
          [this](log_level l, std::string_view event, json fields) { log_.write(l, event, std::move(fields)); });
    } catch (const std::exception& e) {
      log_.error("notify_failed", {{"reason", std::string("cannot start the Alertmanager notifier: ") + e.what()}});
      return;
    }
    for (const auto* i : tracker_->open_incidents()) notify(*i);
  }

  void notify(const incident& i) {
    if (!notifier_) return;
    alert_context ctx;
    if (const auto* c = cfg().find_check(i.check)) {
      if (c->runbook) {
        ctx.runbook = *c->runbook;
        if (auto rb = cfg().runbooks.find(*c->runbook); rb != cfg().runbooks.end()) ctx.runbook_doc = rb->second.doc;
      }
      if (c->issue_type)
        if (auto e = cfg().escalation.find(*c->issue_type); e != cfg().escalation.end()) ctx.contacts = e->second;
    }
    notifier_->update(i, ctx);
  }

  // ---- systemd watchdog -----------------------------------------------------------------------

  // WatchdogSec= is fed only while the scheduler makes progress: the ping is sent from the event
  // loop (a wedged loop sends none) and withheld while a check is overdue or an attempt outlives
  // its timeout (a scheduler that stopped running checks lets the watchdog fire). A free-running
  // timer on its own thread would hide both.
  void start_watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_period_ = std::chrono::microseconds(usec / 2);
    if (const char* v = std::getenv("ACIS_HEALTHD_TEST_STALL_SCHEDULER_AFTER_MS")) {
      // Tests only: the runners stop rescheduling after this many ms, to prove that the
      // watchdog then fires. Never set in production (logged loudly if it is).
      test_stall_at_ = steady::now() + std::chrono::milliseconds(std::atoll(v));
      log_.warn("test_hook_enabled", {{"hook", "ACIS_HEALTHD_TEST_STALL_SCHEDULER_AFTER_MS"}, {"value", v}});
    }
    log_.info("watchdog_enabled", {{"period_ms", ms(watchdog_period_)}});
    spawn(watchdog_loop(), "watchdog");
  }

  // Why the scheduler is not making progress, or nothing when it is.
  std::optional<std::string> scheduler_stall(steady::time_point now) const {
    constexpr auto slack = std::chrono::seconds(5);
    for (const auto& s : slots_) {
      if (s->retired) continue;
      if (s->running_since) {
        if (now - *s->running_since > s->cfg->timeout + slack)
          return "check " + s->cfg->name + ": an attempt has run for " +
                 checks::format_seconds(now - *s->running_since) + " (timeout " +
                 config::format_duration(s->cfg->timeout) + ")";
      } else if (s->due != steady::time_point{} && now - s->due > slack) {
        return "check " + s->cfg->name + ": overdue by " + checks::format_seconds(now - s->due);
      }
    }
    return std::nullopt;
  }

  asio::awaitable<void> watchdog_loop() {
    asio::steady_timer timer(ioc_);
    bool withheld = false;
    while (!stopping_) {
      if (auto why = scheduler_stall(steady::now())) {
        if (!withheld) log_.error("watchdog_withheld", {{"reason", *why}});
        withheld = true;
      } else {
        if (withheld) log_.info("watchdog_resumed", {});
        withheld = false;
        sd_notify(0, "WATCHDOG=1");
      }
      timer.expires_after(watchdog_period_);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // ---- reload (SIGHUP) ------------------------------------------------------------------------

  void reload_failed(const std::string& reason, const json& errors = json::array()) {
    json f{{"reason", reason}, {"path", config_path_}};
    if (!errors.empty()) f["errors"] = errors;
    log_.error("config_reload_failed", f);
    metrics_.config_reload(false);
    sd_notify(0, "READY=1");
  }

  // Validate the new config completely, then swap it in. Incidents, streaks, SLA clocks,
  // cooldowns and attempt counters stay (the tracker and the policy are reconfigured, not
  // rebuilt); an unchanged check keeps its slot, schedule and instance; a runbook already
  // running finishes with the definition it started with. A bad config changes nothing.
  void reload() {
    if (stopping_) return;
    const auto mono = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", static_cast<unsigned long long>(mono.count()));
    if (config_path_.empty()) return reload_failed("the daemon was not started from a config file");
    config::config next;
    try {
      next = config::load_config_file(config_path_);
    } catch (const config::config_error& e) {
      json errors = json::array();
      for (const auto& f : e.faults()) errors.push_back(f.to_string());
      return reload_failed(std::to_string(e.faults().size()) + " error(s) in the new config; the old one stays: " +
                               e.faults().front().to_string(),
                           errors);
    } catch (const std::exception& e) {
      return reload_failed(std::string("cannot read the new config; the old one stays: ") + e.what());
    }
    // What is bound at start cannot change under a running daemon.
    const auto& old_d = cfg().daemon;
    std::vector<std::string> restart;
    if (next.daemon.listen != old_d.listen) restart.push_back("/daemon/listen");
    if (next.daemon.state_dir != old_d.state_dir) restart.push_back("/daemon/state_dir");
    if (next.daemon.blocking_threads != old_d.blocking_threads) restart.push_back("/daemon/blocking_threads");
    if (next.daemon.log_level != old_d.log_level) restart.push_back("/daemon/log_level");
    if (next.response_times != cfg().response_times) restart.push_back("/severities");
    if (!restart.empty()) {
      std::string keys;
      for (const auto& k : restart) keys += (keys.empty() ? "" : ", ") + k;
      return reload_failed("changed settings need a restart (" + keys + "); the old config stays");
    }
    std::optional<std::string> token;
    if (next.daemon.control_token_file) {
      token = read_control_token(*next.daemon.control_token_file);
      if (!token) return reload_failed("cannot use control_token_file " + *next.daemon.control_token_file +
                                       " (unreadable or shorter than 16 characters); the old config stays");
    }

    // Everything is valid: swap.
    const auto now = wall_clock::now();
    auto ng = std::make_shared<const config::config>(std::move(next));
    std::vector<std::string> added, removed, changed;
    std::vector<std::shared_ptr<check_slot>> slots, to_start;
    std::set<std::string> kept_names;
    for (auto& old_slot : slots_) {
      const auto* nc = ng->find_check(old_slot->cfg->name);
      if (nc && *nc == *old_slot->cfg) {
        old_slot->gen = ng;  // same definition, now owned by the new generation
        old_slot->cfg = nc;
        slots.push_back(old_slot);
        kept_names.insert(nc->name);
      } else {
        (nc ? changed : removed).push_back(old_slot->cfg->name);
        old_slot->retired = true;
        old_slot->timer.cancel();
      }
    }
    for (const auto& c : ng->checks) {
      if (kept_names.count(c.name)) continue;
      if (std::find(changed.begin(), changed.end(), c.name) == changed.end()) added.push_back(c.name);
      slots.push_back(make_slot(ng, c));
      to_start.push_back(slots.back());
    }
    // Targets of removed checks leave the metrics.
    for (const auto* t : tracker_->targets())
      if (std::find(removed.begin(), removed.end(), t->check) != removed.end())
        metrics_.forget_target(t->check, t->target);
    const bool notify_changed = ng->notify.alertmanager_url != cfg().notify.alertmanager_url;
    gen_ = ng;
    slots_ = std::move(slots);
    if (notify_changed) start_notifier();
    control_token_ = token;
    policy_.reconfigure(cfg().runbooks, remediation::limits_from(cfg().remediation));
    for (const auto& [name, _] : cfg().runbooks) metrics_.declare_runbook(name);
    std::vector<check_policy> policies;
    for (const auto& c : cfg().checks) policies.push_back(check_policy::from_config(c));
    auto events = tracker_->reconfigure(std::move(policies), now);
    // Incidents that want a runbook follow the new config (a runbook removed or renamed).
    for (auto it = wanting_.begin(); it != wanting_.end();) {
      const auto* c = cfg().find_check(it->second.check);
      if (!c || !c->runbook) {
        it = wanting_.erase(it);
        continue;
      }
      it->second.runbook = *c->runbook;
      ++it;
    }
    for (auto& s : to_start) spawn(run_check(s), "check " + s->cfg->name);
    apply(std::move(events));
    log_.info("config_loaded",
              {{"reload", true}, {"path", config_path_}, {"checks", cfg().checks.size()},
               {"runbooks", cfg().runbooks.size()}, {"added", added}, {"removed", removed},
               {"changed", changed}, {"dry_run", cfg().daemon.dry_run},
               {"open_incidents", tracker_->open_incidents().size()}});
    metrics_.config_reload(true);
    sd_notify(0, "READY=1");
    poke_remediation();
  }

  void stop(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    sd_notify(0, "STOPPING=1");
    log_.info("daemon_stopping", {{"signal", why}, {"open_incidents", tracker_->open_incidents().size()},
                                  {"running_runbooks", run_cancel_.size()}});
    // Every incident change is already on disk (appended and fdatasync'ed before it was acted
    // on), so stopping loses nothing.
    server_->stop();
    if (notifier_) notifier_->stop();  // firing alerts end by themselves at their endsAt
    for (auto& s : slots_) s->timer.cancel();
    sla_timer_.cancel();
    remediation_timer_.cancel();
    signals_.cancel();
    if (run_cancel_.empty() && attempts_in_flight_ == 0) {
      finish_stop();
      return;
    }
    // Running steps get SIGTERM now and SIGKILL after their grace (process_runner); their
    // attempts are journaled as cut off. Check attempts in flight end within their timeout
    // (their backstop timer): the loop stops when both are done, so that no operation is
    // abandoned mid-flight (an abandoned `||` group is a reference cycle that leaks). A
    // backstop bounds the wait whatever a step does.
    std::chrono::milliseconds longest{0};
    for (const auto& [_, rb] : cfg().runbooks)
      for (const auto& st : rb.steps)
        if (const auto* r = std::get_if<config::run_step>(&st.action)) longest = std::max(longest, r->grace);
    for (const auto& c : cfg().checks) longest = std::max(longest, c.timeout);
    stop_backstop_.expires_after(longest + std::chrono::seconds(10));
    stop_backstop_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      log_.warn("daemon_stop_forced", {{"reason", "runbook steps or check attempts did not end in time"},
                                       {"running_runbooks", run_cancel_.size()}});
      finish_stop();
    });
    auto signals = run_cancel_;  // emit() completes handlers that erase from run_cancel_
    for (auto& [_, sig] : signals) sig->emit(asio::cancellation_type::terminal);
  }

  void maybe_finish_stop() {
    if (stopping_ && run_cancel_.empty() && attempts_in_flight_ == 0) finish_stop();
  }

  // The journal is flushed before the process goes: what is queued is committed (tried for a
  // few seconds if the disk refuses). A writer stuck in a frozen file system does not keep the
  // process: run() leaves without waiting for it.
  void finish_stop() {
    stop_backstop_.cancel();
    if (journal_) {
      const bool ended = journal_->stop(steady::now() + std::chrono::seconds(5));
      const auto st = journal_->current();
      if (!ended) {
        log_.error("daemon_stop_forced", {{"reason", "the journal writer is stuck in the file system"},
                                         {"uncommitted", st.pending}, {"reports_unwritten", st.files_pending}});
        hard_exit_ = true;
      } else if (st.pending > 0 || st.files_pending > 0) {
        log_.error("journal_write_failed", {{"reason", "stopping with changes the disk did not take"},
                                            {"uncommitted", st.pending}, {"reports_unwritten", st.files_pending}});
      }
    }
    ioc_.stop();
  }

  // ---- results and incidents ------------------------------------------------------------------

  // One attempt's results: the tracker first (one call: a complete attempt also says which
  // targets are gone) and its changes to the journal, then metrics, the policy's health clocks
  // and the log per target. handle_attempt() does the per-target part a slice per loop turn
  // (20 000 model folders must not stall /healthz); verify's results, few, go through
  // handle_results() at once.
  void handle_results(const config::check_config& c, const checks::attempt_result& results) {
    auto out = track(c, results);
    record_targets(c, results, 0, results.targets.size());
    log_changes(c, out.changes, 0, out.changes.size());
    for (const auto& t : out.gone_targets) metrics_.forget_target(c.name, t);
  }

  asio::awaitable<void> handle_attempt(const config::check_config& c, checks::attempt_result results) {
    constexpr std::size_t slice = 512;
    auto out = track(c, results);
    for (std::size_t k = 0; k < results.targets.size(); k += slice) {
      if (k > 0) co_await asio::post(ioc_, asio::use_awaitable);
      record_targets(c, results, k, std::min(results.targets.size(), k + slice));
    }
    for (std::size_t k = 0; k < out.changes.size(); k += slice) {
      co_await asio::post(ioc_, asio::use_awaitable);
      log_changes(c, out.changes, k, std::min(out.changes.size(), k + slice));
    }
    for (const auto& t : out.gone_targets) metrics_.forget_target(c.name, t);
  }

  attempt_outcome track(const config::check_config& c, const checks::attempt_result& results) {
    auto out = tracker_->on_attempt(c.name, results, wall_clock::now());
    apply(std::move(out.events));
    out.events.clear();
    return out;
  }

  void record_targets(const config::check_config& c, const checks::attempt_result& results,
                      std::size_t begin, std::size_t end) {
    const auto now = wall_clock::now();
    for (std::size_t k = begin; k < end; ++k) {
      const auto& r = results.targets[k];
      metrics_.check_result(c.name, r.target, r.status, r.latency);
      if (r.status == checks::health::failing)
        policy_.target_unhealthy(c.name, r.target, now);
      else
        policy_.target_healthy(c.name, r.target, now);
    }
  }

  void log_changes(const config::check_config& c, const std::vector<target_change>& changes,
                   std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      const auto& ch = changes[k];
      const auto& r = ch.result;
      if (ch.kind == target_change_kind::check_failed) {
        log_.warn("check_failed", {{"check", c.name}, {"target", r.target},
                                   {"result", checks::to_string(r.status)}, {"reason", r.reason},
                                   {"duration_ms", ms(r.latency)}});
      } else {
        log_.info("check_recovered", {{"check", c.name}, {"target", r.target},
                                      {"result", checks::to_string(r.status)},
                                      {"duration_ms", ms(r.latency)}});
      }
    }
  }

  json incident_fields(const incident& i) const {
    json f{{"incident", i.id}, {"check", i.check}, {"target", i.target},
           {"severity", config::to_string(i.level)}, {"state", to_string(i.state)},
           {"reason", i.reason}, {"sla_deadline", format_rfc3339(i.sla_deadline)}};
    if (i.suppressed_by) f["suppressed_by"] = *i.suppressed_by;
    if (const auto* c = cfg().find_check(i.check)) {
      if (c->runbook) f["runbook"] = *c->runbook;
      if (c->issue_type) f["issue_type"] = *c->issue_type;
    }
    return f;
  }

  // ---- the pipeline: journal, then everything that acts on a change ----------------------

  // Every change goes to the journal first; its subscribers (log, metrics, Alertmanager,
  // reports, remediation) see it, in order, only once it is durable (deliver()). While the
  // disk refuses, changes wait in memory and nothing acts on them; checks go on.
  void apply(std::vector<incident_event> events) {
    if (events.empty()) return;
    reserve_ids(false);
    const auto now = wall_clock::now();
    for (auto& ev : events) publish(std::move(ev), true, now);
  }

  std::uint64_t publish(incident_event ev, bool deliver, wall_clock::time_point now) {
    const auto seq = journal_->enqueue(journal_record::for_event(ev, now));
    pending_.push_back({seq, std::move(ev), deliver});
    return seq;
  }

  // Incident ids come from a block whose end is journaled before any id of it is used (the
  // reservation is queued ahead of the incidents that use it), so that ids seen by anyone
  // survive a crash; a restart starts past the block.
  void reserve_ids(bool at_start) {
    constexpr std::uint64_t block = 100;
    const auto next = tracker_->next_seq();
    if (!at_start && next + block / 2 <= reserved_ids_) return;
    reserved_ids_ = next + block;
    journal_->enqueue(journal_record::reservation(reserved_ids_, wall_clock::now()));
  }

  void start_journal() {
    incident_journal::callbacks cb;
    cb.post = [this](std::function<void()> f) { asio::post(ioc_, std::move(f)); };
    cb.committed = [this](std::uint64_t up_to) { on_committed(up_to); };
    cb.failed = [this](const std::string& why) {
      journal_error_ = why;
      if (journal_degraded_since_) return;  // once per episode
      journal_degraded_since_ = wall_clock::now();
      log_.error("journal_write_failed",
                 {{"reason", why}, {"path", journal_->path()}, {"held", journal_->current().pending},
                  {"effect", "changes are kept in memory and not acted on until the journal takes them"}});
    };
    cb.note = [this](const std::string& what) {
      log_.info("journal_compacted", {{"reason", what}, {"path", journal_->path()}});
    };
    cb.file_written = [this](const std::string& path) {
      report_failures_.erase(path);
      log_.info("incident_report_written", {{"path", path}});
    };
    cb.file_failed = [this](const std::string& path, const std::string& why) {
      if (report_failures_.insert(path).second)
        log_.error("incident_report_failed", {{"path", path}, {"reason", why}, {"retry", true}});
    };
    journal_->start(std::move(cb));
  }

  void on_committed(std::uint64_t up_to) {
    committed_up_to_ = std::max(committed_up_to_, up_to);
    if (journal_degraded_since_) {
      log_.info("journal_write_recovered",
                {{"path", journal_->path()}, {"degraded_ms", ms(wall_clock::now() - *journal_degraded_since_)},
                 {"pending", journal_->current().pending}});
      journal_degraded_since_.reset();
      journal_error_.clear();
    }
    drain();
  }

  // Hands committed changes to the subscribers, in order, a slice per turn of the loop: a
  // burst of 20 000 incidents must not keep /healthz, /metrics or the checks waiting.
  void drain() {
    if (draining_) return;
    constexpr int slice = 256;
    int n = 0;
    bool delivered = false;
    while (!pending_.empty() && pending_.front().seq <= committed_up_to_ && n < slice) {
      auto p = std::move(pending_.front());
      pending_.pop_front();
      delivered_up_to_ = p.seq;
      if (p.deliver) {
        deliver(p.ev);
        delivered = true;
        ++n;
      }
    }
    // Whoever waits for a record (a runbook's first step) goes on once everything before it
    // was delivered.
    while (!commit_waiters_.empty() && commit_waiters_.begin()->first <= delivered_up_to_) {
      auto waiters = std::move(commit_waiters_.begin()->second);
      commit_waiters_.erase(commit_waiters_.begin());
      for (auto& w : waiters) w->cancel();
    }
    if (delivered) {
      poke_remediation();
      update_open_gauge();
      sla_timer_.cancel();  // re-arm for the earliest deadline
    }
    if (!pending_.empty() && pending_.front().seq <= committed_up_to_) {
      draining_ = true;
      asio::post(ioc_, [this] {
        draining_ = false;
        drain();
      });
    }
  }

  // Resumes once record `seq` is durable and every change before it delivered (or when the
  // daemon stops: check stopping_).
  asio::awaitable<void> committed(std::uint64_t seq) {
    if (seq <= delivered_up_to_) co_return;
    auto t = std::make_shared<asio::steady_timer>(ioc_, steady::time_point::max());
    commit_waiters_[seq].push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
  }

  void deliver(const incident_event& ev) {
    const auto now = wall_clock::now();
    const auto& i = ev.snapshot;
    notify(i);
    auto fields = incident_fields(i);
    if (ev.kind == event_kind::incident_opened) {
      metrics_.incident_opened(i.check, i.level);
      log_.warn(to_string(ev.kind), fields);
      // Opened under a failing dependency: also say so with the event operators grep for.
      if (i.state == incident_state::suppressed) log_.info("incident_suppressed", fields);
    } else if (ev.kind == event_kind::incident_suppressed) {
      log_.info(to_string(ev.kind), fields);
    } else if (ev.kind == event_kind::sla_breached) {
      metrics_.sla_breached(i.level);
      log_.error(to_string(ev.kind), fields);
      if (i.state == incident_state::escalated) {
        // The response time passed with the incident escalated: the backup contact too.
        auto esc = fields;
        add_contacts(esc, i, now);
        esc["reason"] = "response time passed while escalated";
        log_.error("incident_escalated", esc);
      }
    } else if (ev.kind == event_kind::incident_escalated) {
      add_contacts(fields, i, now);
      log_.error(to_string(ev.kind), fields);
    } else if (ev.kind == event_kind::incident_resolved) {
      fields["duration_ms"] = ms(i.resolved_at.value_or(now) - i.opened_at);
      // Why it resolved ("target gone", "2 passing result(s) in a row: ...", "check removed");
      // `reason` stays the last failure.
      if (!i.timeline.empty() && i.timeline.back().kind == event_kind::incident_resolved)
        fields["resolution"] = i.timeline.back().reason;
      fields["sla_met"] = !i.sla_breached;
      log_.info(to_string(ev.kind), fields);
      remember_resolved(i);
      // A runbook still running for it (its verify step saw the recovery) finishes first, so
      // that the report carries the whole attempt, remediation_finished included.
      if (running_.count(i.id)) report_after_run_.insert(i.id);
      else write_report(i);
    } else {
      log_.info(to_string(ev.kind), fields);
    }
    // An open incident whose check names a runbook asks for it; the policy decides when
    // (a suppressed one waits for its root cause, an escalated one for an operator).
    if (i.state == incident_state::resolved) {
      last_refusal_.erase(i.id);
      if (wanting_.erase(i.id)) {
        policy_.incident_closed(i.id, now);
        journal_engine_state();
      }
    } else if (const auto* c = cfg().find_check(i.check); c && c->runbook) {
      wanting_.try_emplace(i.id, remediation::incident_ref{i.id, *c->runbook, i.check, i.target});
    }
  }

  std::string report_for(const incident& i) const {
    report_context ctx;
    ctx.check = cfg().find_check(i.check);
    if (ctx.check && ctx.check->runbook) {
      auto rb = cfg().runbooks.find(*ctx.check->runbook);
      if (rb != cfg().runbooks.end()) ctx.runbook = &rb->second;
    }
    if (ctx.check && ctx.check->issue_type) {
      auto e = cfg().escalation.find(*ctx.check->issue_type);
      if (e != cfg().escalation.end()) ctx.contacts = e->second;
    }
    auto rt = cfg().response_times.find(i.level);
    if (rt != cfg().response_times.end()) ctx.response_time = rt->second;
    return render_incident_report(i, ctx);
  }

  // state_dir/reports/ID.md, written whole by the journal's writer thread (temp file, fsync,
  // rename; retried while the disk refuses; no temp file left behind).
  void write_report(const incident& i) {
    const auto path = std::filesystem::path(cfg().daemon.state_dir) / "reports" / (i.id + ".md");
    journal_->write_file(path.string(), report_for(i));
  }

  void remember_resolved(incident i) {
    resolved_.push_back(std::move(i));
    while (resolved_.size() > 1000) resolved_.pop_front();
  }

  void update_open_gauge() {
    std::map<config::severity, int> open;
    for (const auto* i : tracker_->open_incidents()) ++open[i->level];
    metrics_.set_open_incidents(open);
  }

  // ---- remediation ----------------------------------------------------------------------------

  void add_contacts(json& fields, const incident& i, wall_clock::time_point now) const {
    const auto* c = cfg().find_check(i.check);
    if (!c || !c->issue_type) return;
    auto it = cfg().escalation.find(*c->issue_type);
    if (it == cfg().escalation.end()) return;
    fields["contact"] = it->second.primary;
    // The backup contact too once the severity's response time has passed (SPEC.md).
    if (now >= i.sla_deadline) fields["backup_contact"] = it->second.backup;
  }

  // A timeline entry on the incident, journaled (flushed) but not logged: the caller logs a
  // richer event of its own.
  // An incident that resolved while its runbook ran is no longer in the tracker: the entry goes
  // on its resolved copy (the journal keeps the newest snapshot, so it stays resolved).
  // Returns the journal sequence of the entry (0: no such incident), for committed().
  std::uint64_t annotate(const std::string& id, timeline_entry entry) {
    const auto now = wall_clock::now();
    entry.at = now;
    auto ev = tracker_->annotate(id, entry, now);
    if (!ev) {
      for (auto it = resolved_.rbegin(); it != resolved_.rend(); ++it) {
        if (it->id != id) continue;
        it->timeline.push_back(entry);
        ev = incident_event{entry.kind, *it};
        break;
      }
    }
    if (!ev) return 0;
    return publish(std::move(*ev), false, now);
  }

  const incident* find_resolved(const std::string& id) const {
    for (auto it = resolved_.rbegin(); it != resolved_.rend(); ++it)
      if (it->id == id) return &*it;
    return nullptr;
  }

  // After a restart: the attempts an open incident already had count (SPEC.md: an attempt cut
  // off by the crash counts as failed), so that a crash loop cannot reset max_attempts. With
  // the engine's journaled state (cooldowns, hourly windows, holds, attempts) the policy has
  // them already; a journal of an older version has only the incidents' timelines.
  void restore_remediation(const incident& i, wall_clock::time_point now, bool have_state) {
    const auto* c = cfg().find_check(i.check);
    if (!c || !c->runbook || !cfg().runbooks.count(*c->runbook)) return;
    remediation::incident_ref ref{i.id, *c->runbook, i.check, i.target};
    if (!have_state) {
      bool running = false;
      for (const auto& t : i.timeline) {
        if (t.kind == event_kind::remediation_started) {
          policy_.started(ref, t.at);
          running = true;
        } else if (t.kind == event_kind::remediation_finished && running) {
          policy_.finished(i.id, t.outcome && *t.outcome != "failure", t.at);
          running = false;
        }
      }
      if (running) {
        policy_.finished(i.id, false, now);
        annotate(i.id, {.kind = event_kind::remediation_finished,
                        .reason = "cut off by a daemon restart",
                        .outcome = "failure"});
        log_.warn("remediation_finished", {{"incident", i.id}, {"runbook", ref.runbook},
                                           {"outcome", "failure"},
                                           {"reason", "cut off by a daemon restart"}});
      }
    }
    if (i.state != incident_state::resolved) wanting_.try_emplace(i.id, ref);
  }

  // The engine's durable state: the policy's counters and clocks, and the process group of a
  // `run` step in progress per incident.
  void journal_engine_state() {
    json procs = json::object();
    for (const auto& [id, p] : processes_) procs[id] = p.to_json();
    json st{{"policy", policy_.save()}, {"processes", std::move(procs)}};
    std::string text = st.dump();
    if (text == last_engine_state_) return;
    last_engine_state_ = std::move(text);
    journal_->enqueue(journal_record::engine_state(std::move(st), wall_clock::now()));
  }

  bool restore_engine_state(const json& st, wall_clock::time_point now) {
    if (!st.is_object() || !st.contains("policy") || !policy_.restore(st["policy"])) {
      log_.warn("journal_recovered", {{"reason", "remediation state unreadable; rebuilt from the incidents"}});
      return false;
    }
    if (auto p = st.find("processes"); p != st.end() && p->is_object())
      for (const auto& [id, g] : p->items())
        if (auto ident = remediation::group_identity::from_json(g)) processes_[id] = *ident;
    // Incidents that closed while the state was older than their resolution.
    auto saved = policy_.save();
    for (const auto& [id, _] : saved["incidents"].items())
      if (!tracker_->find(id) && !processes_.count(id)) {
        bool running = false;
        for (const auto& r : policy_.running()) running |= r.id == id;
        if (!running) policy_.incident_closed(id, now);
      }
    return true;
  }

  // Runs that were in progress when the previous daemon died: what is left of their process
  // group is ended (TERM, grace, KILL) before the runbook may run again (the policy holds the
  // runbook as running until then), and the attempt counts as failed.
  void end_cut_off_runs(wall_clock::time_point) {
    for (const auto& ref : policy_.running()) {
      std::optional<remediation::group_identity> group;
      if (auto it = processes_.find(ref.id); it != processes_.end()) group = it->second;
      spawn(end_cut_off_run(ref, group), "cut-off run of " + ref.runbook);
    }
  }

  asio::awaitable<void> end_cut_off_run(remediation::incident_ref ref,
                                        std::optional<remediation::group_identity> group) {
    std::string ended;
    if (group) {
      std::chrono::milliseconds grace{5000};
      if (auto rb = cfg().runbooks.find(ref.runbook); rb != cfg().runbooks.end())
        for (const auto& st : rb->second.steps)
          if (const auto* r = std::get_if<config::run_step>(&st.action)) grace = std::max(grace, r->grace);
      ended = co_await remediation::end_group(ioc_.get_executor(), *group, grace);
    }
    processes_.erase(ref.id);
    const std::string why = "cut off by a daemon restart" + (ended.empty() ? std::string() : "; " + ended);
    policy_.finished(ref.id, false, wall_clock::now());
    annotate(ref.id, {.kind = event_kind::remediation_finished, .reason = why, .outcome = "failure"});
    log_.warn("remediation_finished", {{"incident", ref.id}, {"runbook", ref.runbook},
                                       {"outcome", "failure"}, {"reason", why}});
    journal_engine_state();
    poke_remediation();
  }

  // Wakes the remediation loop. A runbook that finishes without ever suspending (a refused
  // step, a dry run) finishes inside the loop's own pass, before the loop waits: the flag makes
  // that pass go round again instead of sleeping until a wakeup nobody scheduled.
  void poke_remediation() {
    remediation_poked_ = true;
    remediation_timer_.cancel();
  }

  asio::awaitable<void> remediation_loop() {
    while (!stopping_) {
      remediation_poked_ = false;
      const auto now = wall_clock::now();
      if (maintenance_ && maintenance_until_ && now >= *maintenance_until_) end_maintenance("the maintenance window ended");
      for (auto it = wanting_.begin(); it != wanting_.end();) {
        const auto ref = it->second;
        ++it;  // run/give_up below may change wanting_
        const auto* inc = tracker_->find(ref.id);
        if (!inc) continue;
        remediation::incident_conditions cond;
        if (inc->state == incident_state::suppressed)
          cond.suppressed_by = inc->suppressed_by.value_or("a dependency");
        cond.escalated = inc->state == incident_state::escalated;
        cond.maintenance = maintenance_;
        if (auto root = root_cause_running(inc->check); root && inc->state == incident_state::open) {
          // The root cause is being repaired: its own verify says whether this one still fails.
          refused(ref, remediation::decision{remediation::decision::kind::wait, std::nullopt,
                                             "runbook of the root cause " + *root + " is running", 0});
          continue;
        }
        auto d = policy_.decide(ref, cond, now);
        switch (d.what) {
          case remediation::decision::kind::run:
            if (policy_.started(ref, now)) spawn_runbook(ref, d.attempt);
            break;
          case remediation::decision::kind::give_up: {
            log_.warn("remediation_gave_up", {{"incident", ref.id}, {"runbook", ref.runbook},
                                              {"check", ref.check}, {"target", ref.target},
                                              {"reason", d.reason}});
            metrics_.remediation_run(ref.runbook, "gave_up");
            if (auto ev = tracker_->escalate(ref.id, d.reason, now)) apply({*ev});
            break;
          }
          case remediation::decision::kind::skip:
          case remediation::decision::kind::wait:
            refused(ref, d);
            break;
        }
        if (d.what != remediation::decision::kind::skip && d.what != remediation::decision::kind::wait)
          last_refusal_.erase(ref.id);
      }
      journal_engine_state();
      if (remediation_poked_) {
        // Something changed during this pass: go round again, after letting the loop's other
        // work run (so that even a pass that always pokes cannot starve the checks).
        co_await asio::post(ioc_, asio::use_awaitable);
        continue;
      }
      auto next = policy_.next_wakeup();
      if (maintenance_until_ && (!next || *maintenance_until_ < *next)) next = maintenance_until_;
      const auto wait = next ? std::max<wall_clock::duration>(wall_clock::duration::zero(), *next - wall_clock::now())
                             : wall_clock::duration(std::chrono::hours(1));
      remediation_timer_.expires_after(std::chrono::duration_cast<steady::duration>(wait) +
                                       std::chrono::milliseconds(1));
      co_await remediation_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // The incident (and check) of a running runbook that `check` depends on, transitively.
  std::optional<std::string> root_cause_running(const std::string& check) const {
    for (const auto& id : running_) {
      const incident* other = tracker_->find(id);
      if (!other) other = find_resolved(id);
      if (!other || other->check == check) continue;
      std::set<std::string> seen;
      std::vector<std::string> todo{check};
      while (!todo.empty()) {
        const auto name = todo.back();
        todo.pop_back();
        const auto* c = cfg().find_check(name);
        if (!c) continue;
        for (const auto& d : c->depends_on) {
          if (d == other->check) return other->id + " (" + other->check + ")";
          if (seen.insert(d).second) todo.push_back(d);
        }
      }
    }
    return std::nullopt;
  }

  // A run the policy refuses (cooldown, an hourly cap, backoff, maintenance, a hold, another
  // incident's run of the runbook, suppression) is never silent: `remediation_skipped` names the
  // reason and when a run would next be allowed, once per reason, on the log and the incident's
  // timeline; /status shows the current one. Waiting for its own attempt to end is no refusal.
  void refused(const remediation::incident_ref& ref, const remediation::decision& d) {
    if (d.what == remediation::decision::kind::wait && d.reason.find(" is running") != std::string::npos &&
        d.reason.rfind("attempt ", 0) == 0)
      return;
    // Once per kind of refusal: "runbook X is running for INC-1", then "... for INC-2" is one
    // kind (busy); so is a cooldown whose end moved.
    const std::string kind = d.reason.rfind("runbook ", 0) == 0 && d.reason.find(" is running for ") != std::string::npos
                                 ? "busy"
                                 : d.reason.substr(0, d.reason.find(' '));
    auto& last = last_refusal_[ref.id];
    last.reason = d.reason;
    last.not_before = d.not_before;
    if (last.kind == kind) return;
    last.kind = kind;
    json f{{"incident", ref.id}, {"runbook", ref.runbook}, {"check", ref.check}, {"target", ref.target},
           {"reason", d.reason}, {"decision", std::string(remediation::to_string(d.what))}};
    f["next_allowed"] = d.not_before ? json(format_rfc3339(*d.not_before)) : json(nullptr);
    log_.info("remediation_skipped", f);
    annotate(ref.id, {.kind = event_kind::remediation_skipped, .reason = d.reason,
                      .runbook = ref.runbook, .not_before = d.not_before});
  }

  // A runbook attempt runs as its own coroutine with a cancellation signal, so that a stopping
  // daemon can give the running step its grace (SPEC.md "systemd": a running step is given its
  // grace, then killed) instead of abandoning its process group.
  void spawn_runbook(const remediation::incident_ref& ref, int attempt_no) {
    auto sig = std::make_shared<asio::cancellation_signal>();
    run_cancel_[ref.id] = sig;
    asio::co_spawn(ioc_, run_runbook(ref, attempt_no),
                   asio::bind_cancellation_slot(sig->slot(), [this, id = ref.id, rb = ref.runbook,
                                                             sig](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         log_.error("internal_error", {{"reason", "runbook " + rb + ": " + ex.what()}});
                       }
                     }
                     run_cancel_.erase(id);
                     maybe_finish_stop();
                   }));
  }

  asio::awaitable<void> run_runbook(remediation::incident_ref ref, int attempt_no) {
    // Cancellation (the daemon stopping) must reach the running step and come back as its
    // outcome, not as an exception that would skip the journal entry below.
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto gen = gen_;  // rb and c below stay valid across a reload
    const auto rb_it = gen->runbooks.find(ref.runbook);
    const auto* c = gen->find_check(ref.check);
    if (rb_it == gen->runbooks.end() || !c) {
      // A reload between the decision and this start removed the runbook or the check.
      log_.warn("remediation_finished", {{"incident", ref.id}, {"runbook", ref.runbook},
                                         {"outcome", "failure"},
                                         {"reason", "the runbook or its check was removed by a reload"}});
      policy_.finished(ref.id, false, wall_clock::now());
      poke_remediation();
      co_return;
    }
    const auto& rb = rb_it->second;
    const auto* inc = tracker_->find(ref.id);
    const bool dry = gen->daemon.dry_run;
    remediation::step_context ctx;
    ctx.io = ioc_.get_executor();
    ctx.blocking = &pool_;
    ctx.dry_run = dry;
    ctx.check = c;
    ctx.target = ref.target;
    ctx.values.values = {{"check", ref.check},
                         {"incident", ref.id},
                         {"severity", std::string(config::to_string(inc ? inc->level : c->level))}};
    if (!ref.target.empty()) ctx.values.values["target"] = ref.target;
    if (c && std::holds_alternative<config::model_metadata_check>(c->kind) && !ref.target.empty())
      ctx.values.values["model"] = ref.target;
    ctx.find_check = [gen](const std::string& name) { return gen->find_check(name); };
    ctx.verify = [this](const remediation::verify_spec& spec) { return verify(spec); };

    ctx.on_process_started = [this, id = ref.id](int pid) {
      if (auto g = remediation::identify_group(pid)) {
        processes_[id] = *g;
        journal_engine_state();
      }
    };

    const auto run_start = steady::now();
    running_.insert(ref.id);
    const auto started_seq = annotate(ref.id, {.kind = event_kind::remediation_started,
                                               .attempt = attempt_no,
                                               .max_attempts = rb.max_attempts,
                                               .runbook = ref.runbook,
                                               .dry_run = dry});
    // Flushed before acting: no step runs for an attempt the journal does not have.
    co_await committed(started_seq);
    log_.warn("remediation_started", {{"incident", ref.id}, {"check", ref.check}, {"target", ref.target},
                                      {"runbook", ref.runbook}, {"attempt", attempt_no},
                                      {"max_attempts", rb.max_attempts}, {"dry_run", dry},
                                      {"steps", rb.steps.size()}});
    remediation::runbook_observer obs;
    obs.stop_requested = [this] { return stopping_; };
    obs.step_started = [&](const config::step_config& step, const std::string& resolved) {
      log_.info("step_started", {{"incident", ref.id}, {"runbook", ref.runbook}, {"step", step.name},
                                 {"kind", remediation::step_kind(step)}, {"attempt", attempt_no},
                                 {"dry_run", dry}, {"resolved", resolved}});
    };
    obs.step_finished = [&](const config::step_config& step, const remediation::step_record& rec) {
      const auto& out = rec.outcome;
      if (processes_.erase(ref.id)) journal_engine_state();
      metrics_.remediation_step(ref.runbook, step.name, std::chrono::duration<double>(rec.took).count());
      json f{{"incident", ref.id}, {"runbook", ref.runbook}, {"step", step.name},
             {"kind", rec.kind}, {"attempt", attempt_no}, {"ok", out.ok},
             {"duration_ms", ms(rec.took)}, {"reason", out.detail}};
      if (!out.output.empty()) f["output"] = out.output;
      if (out.ok) log_.info("step_finished", f); else log_.warn("step_finished", f);
      annotate(ref.id, {.kind = event_kind::step_finished,
                        .reason = out.detail,
                        .attempt = attempt_no,
                        .step = step.name,
                        .ok = out.ok,
                        .duration_s = std::chrono::duration<double>(rec.took).count()});
      if (out.manual_instruction) {
        annotate(ref.id, {.kind = event_kind::manual_action,
                          .reason = *out.manual_instruction,
                          .step = step.name});
        log_.warn("manual_action", {{"incident", ref.id}, {"runbook", ref.runbook},
                                    {"step", step.name}, {"instruction", *out.manual_instruction}});
      }
    };
    auto result = co_await remediation::run_runbook_steps(rb, ctx, obs);
    const bool ok = result.ok;
    // A step cancelled by the stop comes back as an ordinary failed step: say why it failed.
    std::string failure = result.stopped || stopping_
                              ? "cut off by the daemon stopping" +
                                    (result.failure.empty() ? std::string() : " (" + result.failure + ")")
                              : result.failure;
    const std::string outcome = dry ? "dry_run" : ok ? "success" : "failure";
    metrics_.remediation_run(ref.runbook, outcome);
    annotate(ref.id, {.kind = event_kind::remediation_finished,
                      .reason = ok ? std::string() : failure,
                      .attempt = attempt_no,
                      .outcome = ok ? outcome : "failure"});
    json f{{"incident", ref.id}, {"check", ref.check}, {"target", ref.target}, {"runbook", ref.runbook},
           {"attempt", attempt_no}, {"outcome", outcome},
           {"duration_ms", ms(steady::now() - run_start)}};
    if (!ok) f["reason"] = failure;
    if (ok) log_.info("remediation_finished", f); else log_.warn("remediation_finished", f);
    policy_.finished(ref.id, ok, wall_clock::now());
    processes_.erase(ref.id);
    journal_engine_state();
    running_.erase(ref.id);
    if (report_after_run_.erase(ref.id))
      if (const auto* done = find_resolved(ref.id)) write_report(*done);
    poke_remediation();
  }

  // The `verify` step (remediation/verify.hpp); every result it sees feeds the tracker.
  asio::awaitable<std::string> verify(remediation::verify_spec spec) {
    const auto gen = gen_;  // spec.check (of the attempt's generation) stays valid across a reload
    const auto* c = spec.check;
    try {
      co_return co_await remediation::verify_until(
          checks::check_context{ioc_.get_executor(), &pool_}, std::move(spec),
          [this, c](const checks::attempt_result& r) { handle_results(*c, r); },
          [this] { return stopping_; });
    } catch (const boost::system::system_error&) {  // operation_aborted: the daemon stops
      co_return "daemon stopping";
    }
  }

  void end_maintenance(const std::string& why) {
    if (!maintenance_) return;
    maintenance_ = false;
    maintenance_until_.reset();
    log_.info("maintenance_ended", {{"reason", why}});
    poke_remediation();
  }

  // ---- control endpoints (bearer token) -------------------------------------------------------

  std::optional<http_reply> authorize(const http_request_view& r) const {
    if (!control_token_)
      return http_reply{403, "text/plain", "control endpoints are disabled (daemon.control_token_file is null)\n"};
    // The scheme is case-insensitive (RFC 9110 11.1); the token is not.
    const std::string prefix = "bearer ";
    const bool bearer = r.authorization.size() > prefix.size() &&
                        std::equal(prefix.begin(), prefix.end(), r.authorization.begin(),
                                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
    if (!bearer) return http_reply{401, "text/plain", "a bearer token is required\n"};
    if (!constant_time_equal(std::string_view(r.authorization).substr(prefix.size()), *control_token_))
      return http_reply{403, "text/plain", "wrong token\n"};
    return std::nullopt;
  }

  http_reply control(const std::string& path, const http_request_view& r) {
    if (auto denied = authorize(r)) {
      log_.warn("control_denied", {{"path", path}, {"method", r.method}, {"status", denied->status}});
      return *denied;
    }
    json body = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return {400, "text/plain", "the body must be a JSON object\n"};
    for (const char* field : {"reason", "comment", "until"})
      if (body.contains(field) && !body[field].is_string())
        return {400, "text/plain", std::string(field) + " must be a string\n"};
    const auto now = wall_clock::now();
    if (path == "/maintenance") {
      if (r.method == "DELETE") {
        const bool was = maintenance_;
        end_maintenance("ended by an operator");
        return json_reply({{"maintenance", false}, {"changed", was}});
      }
      maintenance_ = true;
      maintenance_reason_ = body.value("reason", "");
      maintenance_until_.reset();
      if (body.contains("until")) {
        auto until = body["until"].is_string() ? parse_rfc3339(body["until"].get<std::string>()) : std::nullopt;
        if (!until) return {400, "text/plain", "until must be an RFC 3339 time\n"};
        maintenance_until_ = *until;
      }
      json f{{"reason", maintenance_reason_}};
      if (maintenance_until_) f["until"] = format_rfc3339(*maintenance_until_);
      log_.info("maintenance_started", f);
      poke_remediation();
      f["maintenance"] = true;
      return json_reply(f);
    }
    // /incidents/ID/ack and /incidents/ID/retry
    const auto rest = path.substr(std::strlen("/incidents/"));
    const auto slash = rest.find('/');
    const auto id = rest.substr(0, slash);
    const auto action = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (!tracker_->find(id)) return {404, "text/plain", "no open incident " + id + "\n"};
    if (action == "ack") {
      auto ev = tracker_->acknowledge(id, body.value("comment", ""), now);
      if (!ev) return {409, "text/plain", "already acknowledged\n"};
      apply({*ev});
      return json_reply(json(*tracker_->find(id)));
    }
    if (action == "retry") {
      policy_.operator_reset(id);
      log_.info("remediation_reset", {{"incident", id}, {"reason", "operator asked for a retry"}});
      poke_remediation();
      return json_reply({{"incident", id}, {"retry", true}});
    }
    return {404, "text/plain", "not found\n"};
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  http_reply route(const http_request_view& r) {
    auto [path, query] = split_target(r.target);
    const bool get = r.method == "GET" || r.method == "HEAD";
    if (r.method == "POST" || r.method == "DELETE") {
      if (path == "/maintenance" ||
          (r.method == "POST" && path.rfind("/incidents/", 0) == 0 && path.find('/', 11) != std::string::npos))
        return control(path, r);
      return {405, "text/plain", "method not allowed\n"};
    }
    if (path == "/" || path == "/index.html") {
      if (!get) return {405, "text/plain", "method not allowed\n"};
      // One self-contained page: nothing may load from elsewhere, and its script may only
      // fetch /status from this origin.
      return {200, "text/html; charset=utf-8", std::string(status_page_html()),
              {{"Content-Security-Policy",
                std::string(status_page_csp())},
               {"Referrer-Policy", "no-referrer"}}};
    }
    if (path == "/healthz") {
      if (!get) return {405, "text/plain", "method not allowed\n"};
      // 200 while the loop turns (it answers); the body says when the journal is degraded.
      std::string body = "ok\n";
      if (auto j = journal_status()) body += "journal: degraded: " + *j + "\n";
      return {200, "text/plain; charset=utf-8", std::move(body)};
    }
    if (path == "/metrics") {
      if (!get) return {405, "text/plain", "method not allowed\n"};
      const auto st = journal_->current();
      metrics_.journal(st.commits, st.records, st.failures, st.pending, journal_status() == std::nullopt);
      return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize()};
    }
    if (path == "/status") {
      if (!get) return {405, "text/plain", "method not allowed\n"};
      return json_reply(status_json());
    }
    if (path == "/incidents") {
      if (!get) return {405, "text/plain", "method not allowed\n"};
      const auto state = query.count("state") ? query["state"] : "open";
      if (state != "open" && state != "all")
        return {400, "text/plain", "state must be open or all\n"};
      json list = json::array();
      for (const auto* i : tracker_->open_incidents()) list.push_back(*i);
      if (state == "all")
        for (auto it = resolved_.rbegin(); it != resolved_.rend(); ++it) list.push_back(*it);
      return json_reply(list);
    }
    if (path.rfind("/incidents/", 0) == 0 && path.size() > 7 &&
        path.compare(path.size() - 7, 7, "/report") == 0) {
      const auto id = path.substr(std::strlen("/incidents/"), path.size() - std::strlen("/incidents/") - 7);
      const incident* found = tracker_->find(id);
      for (const auto& i : resolved_)
        if (!found && i.id == id) found = &i;
      if (!found) return {404, "text/plain", "no such incident\n"};
      return {200, "text/markdown; charset=utf-8", report_for(*found)};
    }
    if (path.rfind("/incidents/", 0) == 0) {
      const auto id = path.substr(std::strlen("/incidents/"));
      if (const auto* i = tracker_->find(id)) return json_reply(json(*i));
      for (const auto& i : resolved_)
        if (i.id == id) return json_reply(json(i));
      return {404, "text/plain", "no such incident\n"};
    }
    return {404, "text/plain", "not found\n"};
  }

  json journal_json() const {
    const auto st = journal_->current();
    auto why = journal_status();
    json j{{"healthy", !why}, {"pending", st.pending}, {"reports_pending", st.files_pending},
           {"commits", st.commits}, {"records", st.records}, {"failures", st.failures}};
    j["problem"] = why ? json(*why) : json(nullptr);
    return j;
  }

  // Why the journal is degraded (a commit failing, or one stuck for over a second), or nothing.
  std::optional<std::string> journal_status() const {
    const auto st = journal_->current();
    if (journal_degraded_since_)
      return journal_error_ + " (since " + format_rfc3339(*journal_degraded_since_) + "; " +
             std::to_string(st.pending) + " change(s) held, not acted on; retrying)";
    if (st.commit_running_for > std::chrono::seconds(1))
      return "a commit has been waiting for the disk for " + checks::format_seconds(st.commit_running_for) +
             " (" + std::to_string(st.pending) + " change(s) held)";
    return std::nullopt;
  }

  json status_json() const {
    json checks_json = json::array();
    std::map<std::string, std::vector<const target_state*>> by_check;
    for (const auto* t : tracker_->targets()) by_check[t->check].push_back(t);
    for (const auto& s : slots_) {
      const auto& c = *s->cfg;
      json targets = json::array();
      for (const auto* t : by_check[c.name]) {
        json tj{{"target", t->target},
                {"state", t->last ? std::string(checks::to_string(t->last->status)) : "unknown"},
                {"consecutive_failures", t->consecutive_bad},
                {"consecutive_successes", t->consecutive_good},
                {"ever_passed", t->ever_passed}};
        if (t->last) {
          tj["reason"] = t->last->reason;
          tj["latency_ms"] = ms(t->last->latency);
        }
        if (t->last_at) tj["last_at"] = format_rfc3339(*t->last_at);
        tj["incident"] = t->incident_id ? json(*t->incident_id) : json(nullptr);
        targets.push_back(std::move(tj));
      }
      json cj{{"name", c.name},
              {"type", config::kind_name(c.kind)},
              {"severity", config::to_string(c.level)},
              {"interval_ms", c.interval.count()},
              {"timeout_ms", c.timeout.count()},
              {"runs", s->runs},
              {"depends_on", c.depends_on},
              {"targets", std::move(targets)}};
      cj["runbook"] = c.runbook ? json(*c.runbook) : json(nullptr);
      checks_json.push_back(std::move(cj));
    }
    json incidents = json::array();
    for (const auto* i : tracker_->open_incidents()) incidents.push_back(*i);
    json remediation_json = json::array();
    for (const auto& [id, ref] : wanting_) {
      json r{{"incident", id}, {"runbook", ref.runbook}, {"running", running_.count(id) > 0}};
      if (auto it = last_refusal_.find(id); it != last_refusal_.end()) {
        r["skipped"] = it->second.reason;
        r["next_allowed"] = it->second.not_before ? json(format_rfc3339(*it->second.not_before)) : json(nullptr);
      }
      remediation_json.push_back(std::move(r));
    }
    return {{"version", ACIS_VERSION},
            {"now", format_rfc3339(wall_clock::now())},
            {"dry_run", cfg().daemon.dry_run},
            {"maintenance", maintenance_},
            {"journal", journal_json()},
            {"remediation", std::move(remediation_json)},
            {"checks", std::move(checks_json)},
            {"incidents", std::move(incidents)}};
  }

  // The configuration in force. A reload swaps in a new generation; whatever runs across a
  // suspension point (a check attempt, a runbook, a verify) holds the generation it started
  // with, so that a reload never pulls a check or runbook definition out from under it.
  std::shared_ptr<const config::config> gen_;
  std::string config_path_;  // re-read on SIGHUP; empty: reload unavailable
  asio::io_context ioc_{1};
  asio::thread_pool pool_;
  event_log log_;
  metrics metrics_;
  asio::signal_set signals_;
  asio::steady_timer sla_timer_;
  std::mt19937_64 rng_;
  std::optional<incident_tracker> tracker_;
  std::optional<incident_journal> journal_;
  // The pipeline: changes queued for the journal, delivered once durable.
  struct pending_change {
    std::uint64_t seq;
    incident_event ev;
    bool deliver;  // false: a timeline entry its author acts on itself (annotate())
  };
  std::deque<pending_change> pending_;
  std::map<std::uint64_t, std::vector<std::shared_ptr<asio::steady_timer>>> commit_waiters_;
  std::uint64_t committed_up_to_ = 0;   // durable
  std::uint64_t delivered_up_to_ = 0;   // durable and handed to the subscribers
  bool draining_ = false;
  std::uint64_t reserved_ids_ = 0;
  std::optional<wall_clock::time_point> journal_degraded_since_;
  std::string journal_error_;
  std::set<std::string> report_failures_;
  std::map<std::string, remediation::group_identity> processes_;  // incident -> its step's group
  std::string last_engine_state_;
  struct refusal {
    std::string kind;
    std::string reason;
    std::optional<wall_clock::time_point> not_before;
  };
  std::map<std::string, refusal> last_refusal_;  // incident -> the policy's current refusal
  std::unique_ptr<http_server> server_;
  std::unique_ptr<alertmanager_notifier> notifier_;
  std::vector<std::shared_ptr<check_slot>> slots_;
  std::deque<incident> resolved_;
  std::set<std::string> running_;           // incidents whose runbook is running now
  std::map<std::string, std::shared_ptr<asio::cancellation_signal>> run_cancel_;
  asio::steady_timer stop_backstop_{ioc_};
  std::set<std::string> report_after_run_;  // resolved while running: report when it ends
  std::vector<incident_event> pending_restore_events_;
  // Remediation: incidents that want their runbook, the policy that says when, the mode.
  asio::steady_timer remediation_timer_;
  remediation::remediation_policy policy_;
  std::map<std::string, remediation::incident_ref> wanting_;
  bool remediation_poked_ = false;
  int attempts_in_flight_ = 0;  // scheduled check attempts running now (stop waits for them)
  bool maintenance_ = false;
  std::string maintenance_reason_;
  std::optional<wall_clock::time_point> maintenance_until_;
  std::optional<std::string> control_token_;
  bool stopping_ = false;
  bool hard_exit_ = false;  // the journal writer is stuck: leave without destroying it
  int exit_code_ = 0;
  steady::duration watchdog_period_{};
  std::optional<steady::time_point> test_stall_at_;
};

}  // namespace

int run_daemon(const config::config& cfg, const std::string& config_path) {
  // A write to a closed stdout (the log pipe) must not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  healthd d(cfg, config_path);
  return d.run();
}

int run_once(const config::config& cfg, bool as_json) {
  asio::io_context ioc{1};
  asio::thread_pool pool(static_cast<std::size_t>(std::max(1, cfg.daemon.blocking_threads)));
  checks::check_context ctx{ioc.get_executor(), &pool};
  struct row {
    std::string check;
    checks::check_result result;
  };
  std::vector<row> rows;
  std::vector<std::unique_ptr<checks::check>> built;
  for (const auto& c : cfg.checks) built.push_back(checks::make_check(c, ctx));
  for (std::size_t i = 0; i < cfg.checks.size(); ++i) {
    const auto& c = cfg.checks[i];
    auto* chk = built[i].get();
    asio::co_spawn(
        ioc,
        [&c, chk, &rows]() -> asio::awaitable<void> {
          auto attempt = co_await checks::attempt_check(*chk, c);
          for (auto& r : attempt.targets) rows.push_back({c.name, std::move(r)});
        },
        asio::detached);
  }
  ioc.run();
  pool.join();
  std::stable_sort(rows.begin(), rows.end(), [&](const row& a, const row& b) {
    auto idx = [&](const std::string& n) {
      for (std::size_t i = 0; i < cfg.checks.size(); ++i)
        if (cfg.checks[i].name == n) return i;
      return cfg.checks.size();
    };
    return std::make_pair(idx(a.check), a.result.target) < std::make_pair(idx(b.check), b.result.target);
  });
  bool any_failing = false;
  for (const auto& r : rows) any_failing |= r.result.status == checks::health::failing;
  if (as_json) {
    json out = json::array();
    for (const auto& r : rows)
      out.push_back({{"check", r.check}, {"target", r.result.target},
                     {"result", checks::to_string(r.result.status)},
                     {"latency_ms", ms(r.result.latency)}, {"reason", r.result.reason}});
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::printf("%-24s %-20s %-9s %10s  %s\n", "CHECK", "TARGET", "RESULT", "LATENCY", "REASON");
    for (const auto& r : rows) {
      std::printf("%-24s %-20s %-9s %8.1fms  %s\n", r.check.c_str(),
                  r.result.target.empty() ? "-" : r.result.target.c_str(),
                  std::string(checks::to_string(r.result.status)).c_str(), ms(r.result.latency),
                  r.result.reason.c_str());
    }
  }
  return any_failing ? 1 : 0;
}

}  // namespace acis::daemon
