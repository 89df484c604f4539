#include "daemon/metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace acis::daemon {

namespace {

// process_* metrics as the Go and Python clients name them, read from /proc/self at scrape.
class process_collector : public prometheus::Collectable {
 public:
  process_collector() : start_time_(read_start_time()) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const long ticks = sysconf(_SC_CLK_TCK);
    const long page = sysconf(_SC_PAGESIZE);
    double cpu = 0, rss = 0, vsz = 0;
    std::ifstream stat("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), {});
    // Fields after the ")" that closes comm: state(3) ... utime(14) stime(15) ... vsize(23) rss(24)
    if (auto p = content.rfind(')'); p != std::string::npos) {
      std::istringstream in(content.substr(p + 2));
      std::vector<std::string> f;
      for (std::string s; in >> s;) f.push_back(s);
      if (f.size() > 22) {
        cpu = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
        vsz = std::stod(f[20]);
        rss = std::stod(f[21]) * static_cast<double>(page);
      }
    }
    auto gauge = [&](const char* name, const char* help, prometheus::MetricType type, double v) {
      prometheus::MetricFamily fam;
      fam.name = name;
      fam.help = help;
      fam.type = type;
      prometheus::ClientMetric m;
      if (type == prometheus::MetricType::Counter)
        m.counter.value = v;
      else
        m.gauge.value = v;
      fam.metric.push_back(m);
      out.push_back(std::move(fam));
    };
    gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          prometheus::MetricType::Counter, cpu);
    gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
          prometheus::MetricType::Gauge, rss);
    gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
          prometheus::MetricType::Gauge, vsz);
    gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          prometheus::MetricType::Gauge, start_time_);
    return out;
  }

 private:
  static double read_start_time() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  double start_time_;
};

}  // namespace

struct metrics::impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<process_collector> process = std::make_shared<process_collector>();

  prometheus::Family<prometheus::Gauge>& check_up =
      prometheus::BuildGauge().Name("acis_check_up")
          .Help("1 when the last result of the check target was ok or degraded, 0 when failing.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& check_duration =
      prometheus::BuildHistogram().Name("acis_check_duration_seconds")
          .Help("Duration of check attempts.").Register(*registry);
  prometheus::Family<prometheus::Counter>& check_runs =
      prometheus::BuildCounter().Name("acis_check_runs_total")
          .Help("Check results by outcome (ok, degraded, failing).").Register(*registry);
  prometheus::Family<prometheus::Histogram>& schedule_lag_family =
      prometheus::BuildHistogram().Name("acis_check_schedule_lag_seconds")
          .Help("How late check attempts started against their schedule.").Register(*registry);
  prometheus::Histogram& schedule_lag = schedule_lag_family.Add(
      {}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005,
                                                  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5});
  prometheus::Family<prometheus::Gauge>& incidents_open =
      prometheus::BuildGauge().Name("acis_incidents_open")
          .Help("Incidents currently open, by severity.").Register(*registry);
  prometheus::Family<prometheus::Counter>& incidents_total =
      prometheus::BuildCounter().Name("acis_incidents_total")
          .Help("Incidents opened, by check and severity.").Register(*registry);
  prometheus::Family<prometheus::Counter>& sla_breaches =
      prometheus::BuildCounter().Name("acis_incident_sla_breaches_total")
          .Help("Incidents still open when their severity's response time passed.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& remediation_runs =
      prometheus::BuildCounter().Name("acis_remediation_runs_total")
          .Help("Runbook runs by outcome.").Register(*registry);
  prometheus::Family<prometheus::Histogram>& step_duration =
      prometheus::BuildHistogram().Name("acis_remediation_step_duration_seconds")
          .Help("Duration of runbook steps.").Register(*registry);
  prometheus::Family<prometheus::Gauge>& build_info =
      prometheus::BuildGauge().Name("acis_healthd_build_info")
          .Help("Always 1; the version is a label.").Register(*registry);
  prometheus::Family<prometheus::Counter>& reloads =
      prometheus::BuildCounter().Name("acis_healthd_config_reloads_total")
          .Help("Configuration reloads by result.").Register(*registry);
  prometheus::Family<prometheus::Gauge>& last_drill =
      prometheus::BuildGauge().Name("acis_runbook_last_drill_timestamp_seconds")
          .Help("When the runbook was last drilled (unix seconds; 0: never).").Register(*registry);
  prometheus::Family<prometheus::Gauge>& drill_duration =
      prometheus::BuildGauge().Name("acis_runbook_drill_duration_seconds")
          .Help("How long the last drill of the runbook took.").Register(*registry);

  prometheus::Counter& journal_commits =
      prometheus::BuildCounter().Name("acis_journal_commits_total")
          .Help("Successful commits (fdatasync) of the incident journal; a group of changes costs one.")
          .Register(*registry).Add({});
  prometheus::Counter& journal_records =
      prometheus::BuildCounter().Name("acis_journal_records_total")
          .Help("Records (incident changes, id reservations, engine state) committed to the journal.")
          .Register(*registry).Add({});
  prometheus::Counter& journal_failures =
      prometheus::BuildCounter().Name("acis_journal_write_failures_total")
          .Help("Failed commit attempts of the journal (each is retried with backoff).")
          .Register(*registry).Add({});
  prometheus::Gauge& journal_pending =
      prometheus::BuildGauge().Name("acis_journal_pending_records")
          .Help("Changes waiting for the journal: not yet durable, not yet acted on.")
          .Register(*registry).Add({});
  prometheus::Gauge& journal_healthy =
      prometheus::BuildGauge().Name("acis_journal_healthy")
          .Help("1 while the journal takes changes, 0 while commits fail or hang.")
          .Register(*registry).Add({});
  std::uint64_t journal_seen[3] = {0, 0, 0};

  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> up_by_target;

  static prometheus::Histogram::BucketBoundaries check_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  }
};

metrics::metrics(const std::string& version) : impl_(std::make_unique<impl>()) {
  impl_->build_info.Add({{"version", version}}).Set(1);
  for (auto s : config::all_severities) {
    impl_->incidents_open.Add({{"severity", std::string(config::to_string(s))}}).Set(0);
    impl_->sla_breaches.Add({{"severity", std::string(config::to_string(s))}});
  }
  impl_->journal_healthy.Set(1);
  impl_->reloads.Add({{"result", "success"}});
  impl_->reloads.Add({{"result", "failure"}});
}

metrics::~metrics() = default;

void metrics::check_result(const std::string& check, const std::string& target,
                           checks::health result, std::chrono::nanoseconds latency) {
  auto& up = impl_->up_by_target[{check, target}];
  if (!up) up = &impl_->check_up.Add({{"check", check}, {"target", target}});
  up->Set(result == checks::health::failing ? 0 : 1);
  impl_->check_duration.Add({{"check", check}}, impl::check_buckets())
      .Observe(std::chrono::duration<double>(latency).count());
  impl_->check_runs.Add({{"check", check}, {"result", std::string(checks::to_string(result))}})
      .Increment();
}

void metrics::schedule_lag(std::chrono::nanoseconds lag) {
  impl_->schedule_lag.Observe(std::max(0.0, std::chrono::duration<double>(lag).count()));
}

void metrics::forget_target(const std::string& check, const std::string& target) {
  auto it = impl_->up_by_target.find({check, target});
  if (it == impl_->up_by_target.end()) return;
  impl_->check_up.Remove(it->second);
  impl_->up_by_target.erase(it);
}

void metrics::incident_opened(const std::string& check, config::severity level) {
  impl_->incidents_total.Add({{"check", check}, {"severity", std::string(config::to_string(level))}})
      .Increment();
}

void metrics::set_open_incidents(const std::map<config::severity, int>& open) {
  for (auto s : config::all_severities) {
    auto it = open.find(s);
    impl_->incidents_open.Add({{"severity", std::string(config::to_string(s))}})
        .Set(it == open.end() ? 0 : it->second);
  }
}

void metrics::sla_breached(config::severity level) {
  impl_->sla_breaches.Add({{"severity", std::string(config::to_string(level))}}).Increment();
}

void metrics::config_reload(bool ok) {
  impl_->reloads.Add({{"result", ok ? "success" : "failure"}}).Increment();
}

void metrics::remediation_run(const std::string& runbook, const std::string& outcome) {
  impl_->remediation_runs.Add({{"runbook", runbook}, {"outcome", outcome}}).Increment();
}

void metrics::declare_runbook(const std::string& runbook) {
  for (const char* outcome : {"success", "failure", "dry_run", "gave_up"})
    impl_->remediation_runs.Add({{"runbook", runbook}, {"outcome", outcome}});
}

void metrics::remediation_step(const std::string& runbook, const std::string& step,
                               double seconds) {
  impl_->step_duration
      .Add({{"runbook", runbook}, {"step", step}},
           prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300})
      .Observe(seconds);
}

void metrics::drill(const std::string& runbook, std::chrono::system_clock::time_point when,
                    double seconds) {
  impl_->last_drill.Add({{"runbook", runbook}})
      .Set(std::chrono::duration<double>(when.time_since_epoch()).count());
  impl_->drill_duration.Add({{"runbook", runbook}}).Set(seconds);
}

void metrics::never_drilled(const std::string& runbook) {
  impl_->last_drill.Add({{"runbook", runbook}}).Set(0);
}

void metrics::journal(std::uint64_t commits, std::uint64_t records, std::uint64_t failures,
                      std::uint64_t pending, bool healthy) {
  auto follow = [](prometheus::Counter& c, std::uint64_t& seen, std::uint64_t now) {
    if (now > seen) c.Increment(static_cast<double>(now - seen));
    seen = std::max(seen, now);
  };
  follow(impl_->journal_commits, impl_->journal_seen[0], commits);
  follow(impl_->journal_records, impl_->journal_seen[1], records);
  follow(impl_->journal_failures, impl_->journal_seen[2], failures);
  impl_->journal_pending.Set(static_cast<double>(pending));
  impl_->journal_healthy.Set(healthy ? 1 : 0);
}

std::string metrics::serialize() const {
  auto families = impl_->registry->Collect();
  auto proc = impl_->process->Collect();
  families.insert(families.end(), proc.begin(), proc.end());
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, families);
  return out.str();
}

}  // namespace acis::daemon
