// The Alertmanager notifier: the pure queue in simulated time, the sender against a loopback
// HTTP server and a black hole, and a real Alertmanager (Debian's prometheus-alertmanager)
// started on loopback, also after being down for a while.
#include "daemon/alertmanager.hpp"

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/black_hole.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/http_test_server.hpp"

namespace acis::daemon {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using json = nlohmann::json;
using mono = alert_queue::mono_time;
using steady = std::chrono::steady_clock;

// ---- fixtures ---------------------------------------------------------------------------------

const time_point t0 = wall_clock::from_time_t(1'800'000'000);  // 2027-01-15T08:00:00Z
const mono m0 = mono{} + std::chrono::hours(1000);

incident make_incident(std::string id, std::string check, std::string target,
                       severity level = severity::critical, time_point opened = t0) {
  incident i;
  i.id = std::move(id);
  i.check = std::move(check);
  i.target = std::move(target);
  i.level = level;
  i.state = incident_state::open;
  i.reason = "sharpe_ratio 0.31 below 0.5";
  i.first_failure = opened - 20s;
  i.opened_at = opened;
  i.sla_deadline = i.first_failure + 5min;
  i.timeline.push_back({.at = opened, .kind = acis::daemon::event_kind::incident_opened,
                        .reason = "opened"});
  return i;
}

// The incident after an event at `at`.
incident after(incident i, incident_state s, time_point at, std::string event) {
  i.state = s;
  if (s == incident_state::resolved) i.resolved_at = at;
  i.timeline.push_back({.at = at, .kind = *acis::daemon::parse_event_kind(event)});
  return i;
}

alert_context model_context() {
  alert_context ctx;
  ctx.runbook = "emergency-model-rollback";
  ctx.runbook_doc = "https://runbooks.example/model-rollback.md";
  ctx.contacts = config::escalation_contacts{"ML Team Lead", "Platform Owner"};
  return ctx;
}

alertmanager_options test_options() {
  alertmanager_options o;
  o.url = "http://127.0.0.1:9093";
  o.instance = "host1 127.0.0.1:9187";
  o.external_url = "http://127.0.0.1:9187/";
  return o;
}

// ---- the pure queue ---------------------------------------------------------------------------

// Labels are exactly the stable identity plus severity; annotations carry the state and links;
// the posted alert has startsAt, a future endsAt while firing, and the report as generatorURL.
TEST(alert_queue, labels_annotations_and_alert_body_exact) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000007", "models", "value_small");
  i.state = incident_state::escalated;
  i.sla_breached = true;
  q.update(i, model_context());

  auto b = q.take(m0, t0 + 10min);
  ASSERT_EQ(b.items.size(), 1u);
  ASSERT_EQ(b.alerts.size(), 1u);
  const auto& a = b.alerts[0];
  EXPECT_EQ(a["labels"], (json{{"alertname", "AcisIncident"},
                               {"severity", "critical"},
                               {"check", "models"},
                               {"target", "value_small"},
                               {"runbook", "emergency-model-rollback"},
                               {"instance", "host1 127.0.0.1:9187"},
                               {"incident", "INC-000007"}}));
  const auto& an = a["annotations"];
  EXPECT_EQ(an["summary"],
            "critical: models/value_small failing (escalated): sharpe_ratio 0.31 below 0.5");
  EXPECT_EQ(an["state"], "escalated");
  EXPECT_EQ(an["escalated"], "true");
  EXPECT_EQ(an["sla_breached"], "true");
  EXPECT_EQ(an["sla_deadline"], format_rfc3339(i.sla_deadline));
  EXPECT_EQ(an["report_url"], "http://127.0.0.1:9187/incidents/INC-000007/report");
  EXPECT_EQ(an["runbook_url"], "https://runbooks.example/model-rollback.md");
  EXPECT_EQ(an["contact"], "ML Team Lead");
  EXPECT_EQ(an["backup_contact"], "Platform Owner");  // SLA breached: the backup too
  EXPECT_NE(an["description"].get<std::string>().find("Incident INC-000007 (escalated)"),
            std::string::npos);
  EXPECT_FALSE(an.contains("suppressed_by"));
  EXPECT_EQ(a["startsAt"], format_rfc3339(t0));
  EXPECT_EQ(a["endsAt"], format_rfc3339(t0 + 10min + 4min));  // 4 x resend_interval
  EXPECT_EQ(a["generatorURL"], "http://127.0.0.1:9187/incidents/INC-000007/report");
}

// A targetless check without runbook, doc or contacts: no empty labels, no dangling links, no
// backup contact before the SLA passes; an open incident's summary has no state suffix.
TEST(alert_queue, optional_labels_and_annotations_omitted) {
  alert_queue q(test_options());
  const auto i = make_incident("INC-000001", "api", "", severity::high);
  const auto labels = q.labels_for(i, {});
  EXPECT_EQ(labels.count("target"), 0u);
  EXPECT_EQ(labels.count("runbook"), 0u);
  EXPECT_EQ(labels.at("severity"), "high");
  const auto an = q.annotations_for(i, {});
  EXPECT_EQ(an.at("summary"), "high: api failing: sharpe_ratio 0.31 below 0.5");
  EXPECT_EQ(an.count("runbook_url"), 0u);
  EXPECT_EQ(an.count("contact"), 0u);
  alert_context ctx;
  ctx.contacts = config::escalation_contacts{"Backend Lead", "DevOps"};
  const auto an2 = q.annotations_for(i, ctx);
  EXPECT_EQ(an2.at("contact"), "Backend Lead");
  EXPECT_EQ(an2.count("backup_contact"), 0u);
}

// A hostile reason stays one bounded line and serialises even when it is not valid UTF-8.
TEST(alert_queue, hostile_reason_is_one_bounded_line) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000002", "logs", "");
  i.reason = "line1\nline2\r\x01" + std::string(5000, 'x') + "\xff\xfe";
  q.update(i, {});
  auto b = q.take(m0, t0);
  const std::string summary = b.alerts[0]["annotations"]["summary"];
  EXPECT_LE(summary.size(), 203u);
  EXPECT_EQ(summary.find('\n'), std::string::npos);
  EXPECT_EQ(summary.find('\r'), std::string::npos);
  const std::string body = b.alerts.dump(-1, ' ', false, json::error_handler_t::replace);
  json parsed;
  EXPECT_NO_THROW(parsed = json::parse(body));
  EXPECT_EQ(parsed.size(), 1u);
  EXPECT_LT(body.size(), 4000u);
}

// Ten updates of one incident before the sender runs are one alert with the latest state; an
// update that changes nothing visible (a remediation annotation) sends nothing.
TEST(alert_queue, updates_coalesce_latest_state_wins) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000003", "models", "value_small");
  for (int k = 0; k < 9; ++k) {
    i.reason = "attempt " + std::to_string(k);
    q.update(i, model_context());
  }
  i = after(i, incident_state::escalated, t0 + 3min, "incident_escalated");
  q.update(i, model_context());
  auto b = q.take(m0, t0 + 3min);
  ASSERT_EQ(b.alerts.size(), 1u);
  EXPECT_EQ(b.alerts[0]["annotations"]["state"], "escalated");
  q.delivered(b, m0);
  EXPECT_TRUE(q.take(m0 + 1s, t0).empty());

  i.timeline.push_back({.at = t0 + 4min, .kind = acis::daemon::event_kind::step_started,
                        .step = "restart"});
  EXPECT_FALSE(q.update(i, model_context()).changed);
  EXPECT_TRUE(q.take(m0 + 2s, t0).empty());
}

// A firing alert is re-sent every resend_interval while open, and next_due says when.
TEST(alert_queue, firing_alert_is_resent_every_interval) {
  auto o = test_options();
  o.resend_interval = 1min;
  alert_queue q(o);
  EXPECT_FALSE(q.next_due(m0).has_value());
  q.update(make_incident("INC-000004", "api", ""), {});
  EXPECT_EQ(q.next_due(m0), m0);
  auto b = q.take(m0, t0);
  ASSERT_EQ(b.items.size(), 1u);
  EXPECT_FALSE(b.items[0].resend);
  q.delivered(b, m0);
  EXPECT_EQ(q.next_due(m0 + 1s), m0 + 1min);
  EXPECT_TRUE(q.take(m0 + 59s, t0 + 59s).empty());
  auto again = q.take(m0 + 1min, t0 + 1min);
  ASSERT_EQ(again.items.size(), 1u);
  EXPECT_TRUE(again.items[0].resend);
  EXPECT_EQ(again.alerts[0]["endsAt"], format_rfc3339(t0 + 1min + 4min));
}

// Resolution is sent once with endsAt = the resolution time, then the alert is forgotten.
TEST(alert_queue, resolved_carries_ends_at_then_is_forgotten) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000005", "api", "");
  q.update(i, {});
  q.delivered(q.take(m0, t0), m0);
  q.update(after(i, incident_state::resolved, t0 + 7min, "incident_resolved"), {});
  auto b = q.take(m0 + 1s, t0 + 7min);
  ASSERT_EQ(b.alerts.size(), 1u);
  EXPECT_FALSE(b.items[0].firing);
  EXPECT_EQ(b.alerts[0]["endsAt"], format_rfc3339(t0 + 7min));
  EXPECT_EQ(b.alerts[0]["annotations"]["state"], "resolved");
  q.delivered(b, m0 + 1s);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next_due(m0 + 1h).has_value());
}

// An end not yet delivered survives failed attempts: take() offers it again until delivered().
TEST(alert_queue, undelivered_resolve_is_offered_again) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000006", "api", "");
  q.update(i, {});
  q.update(after(i, incident_state::resolved, t0 + 1min, "incident_resolved"), {});
  for (int attempt = 0; attempt < 3; ++attempt) {  // the POSTs failed: no delivered()
    auto b = q.take(m0 + attempt * 1s, t0);
    ASSERT_EQ(b.items.size(), 1u);
    EXPECT_FALSE(b.items[0].firing);
  }
  EXPECT_EQ(q.pending(m0), 1u);
}

// Suppressed: never fired if it opened suppressed; ended (at the suppression time) if it had
// been sent; firing again once unsuppressed.
TEST(alert_queue, suppressed_does_not_fire_and_ends_a_sent_alert) {
  alert_queue q(test_options());
  auto s = make_incident("INC-000010", "frontend", "");
  s.state = incident_state::suppressed;
  s.suppressed_by = "api";
  q.update(s, {});
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.take(m0, t0).empty());

  auto i = make_incident("INC-000011", "frontend", "");
  q.update(i, {});
  q.delivered(q.take(m0, t0), m0);
  auto sup = after(i, incident_state::suppressed, t0 + 2min, "incident_suppressed");
  sup.suppressed_by = "api";
  q.update(sup, {});
  auto b = q.take(m0 + 1s, t0 + 2min);
  ASSERT_EQ(b.alerts.size(), 1u);
  EXPECT_EQ(b.alerts[0]["endsAt"], format_rfc3339(t0 + 2min));
  EXPECT_EQ(b.alerts[0]["annotations"]["suppressed_by"], "api");
  q.delivered(b, m0 + 1s);
  EXPECT_EQ(q.size(), 0u);

  auto back = after(sup, incident_state::open, t0 + 5min, "incident_unsuppressed");
  q.update(back, {});
  auto fire = q.take(m0 + 2s, t0 + 5min);
  ASSERT_EQ(fire.items.size(), 1u);
  EXPECT_TRUE(fire.items[0].firing);

  // Opened, then suppressed before it was ever put in a batch: nothing to send.
  auto quick = make_incident("INC-000012", "frontend", "x");
  q.update(quick, {});
  q.update(after(quick, incident_state::suppressed, t0 + 1s, "incident_suppressed"), {});
  auto none = q.take(m0 + 3s, t0);
  for (const auto& it : none.items) EXPECT_NE(it.id, "INC-000012");
}

// A severity change is a new alert identity: the alert under the old labels is ended in the
// same batch, so it does not linger in Alertmanager.
TEST(alert_queue, severity_change_ends_the_old_label_set) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000020", "api", "", severity::low);
  q.update(i, {});
  q.delivered(q.take(m0, t0), m0);
  i.level = severity::high;
  i.timeline.push_back({.at = t0 + 3min,
                        .kind = acis::daemon::event_kind::incident_severity_changed,
                        .from_level = severity::low,
                        .level = severity::high});
  q.update(i, {});
  auto b = q.take(m0 + 1s, t0 + 3min);
  ASSERT_EQ(b.alerts.size(), 2u);
  EXPECT_EQ(b.alerts[0]["labels"]["severity"], "low");
  EXPECT_EQ(b.alerts[0]["endsAt"], format_rfc3339(t0 + 3min));
  EXPECT_EQ(b.alerts[1]["labels"]["severity"], "high");
  q.delivered(b, m0 + 1s);
  auto later = q.take(m0 + 2min, t0 + 5min);
  ASSERT_EQ(later.alerts.size(), 1u);  // the old one is not re-sent
  EXPECT_EQ(later.alerts[0]["labels"]["severity"], "high");
}

// A change made while a batch is in flight is not lost when that batch is acknowledged.
TEST(alert_queue, change_during_flight_stays_due) {
  alert_queue q(test_options());
  auto i = make_incident("INC-000030", "api", "");
  q.update(i, {});
  auto in_flight = q.take(m0, t0);
  q.update(after(i, incident_state::escalated, t0 + 1min, "incident_escalated"), {});
  q.delivered(in_flight, m0 + 1s);
  auto b = q.take(m0 + 1s, t0);
  ASSERT_EQ(b.alerts.size(), 1u);
  EXPECT_EQ(b.alerts[0]["annotations"]["state"], "escalated");
  EXPECT_FALSE(b.items[0].resend);
}

// Full queue: firing alerts that only wait for a re-send go first, then the lowest severity,
// the oldest first; a pending end is never dropped, even for a new firing alert.
TEST(alert_queue, full_queue_drops_resends_first_never_an_end) {
  auto o = test_options();
  o.queue_capacity = 3;
  alert_queue q(o);
  auto a = make_incident("INC-000001", "c", "a", severity::critical);
  auto b = make_incident("INC-000002", "c", "b", severity::critical);
  q.update(a, {});
  q.update(b, {});
  q.delivered(q.take(m0, t0), m0);  // a and b delivered: only re-sends pending
  auto c = make_incident("INC-000003", "c", "c", severity::low);
  q.update(c, {});  // not delivered
  ASSERT_EQ(q.size(), 3u);

  // A resolution of an incident we hold nothing for evicts the oldest re-send-only alert.
  auto x = make_incident("INC-000009", "c", "x");
  auto r = q.update(after(x, incident_state::resolved, t0 + 1min, "incident_resolved"), {});
  ASSERT_EQ(r.dropped, std::vector<std::string>{"INC-000001"});
  // A new critical alert evicts the other re-send-only one.
  auto d = make_incident("INC-000004", "c", "d", severity::critical);
  r = q.update(d, {});
  ASSERT_EQ(r.dropped, std::vector<std::string>{"INC-000002"});
  // Now: c (low, undelivered), x (end), d (critical, undelivered). A new high one beats low c.
  auto e = make_incident("INC-000005", "c", "e", severity::high);
  r = q.update(e, {});
  ASSERT_EQ(r.dropped, std::vector<std::string>{"INC-000003"});
  // A new low one loses against critical d and high e: it is the one dropped.
  auto f = make_incident("INC-000006", "c", "f", severity::low);
  r = q.update(f, {});
  ASSERT_EQ(r.dropped, std::vector<std::string>{"INC-000006"});
  EXPECT_EQ(q.dropped(), 4u);

  // Resolving d and e makes three ends: no firing alert can displace them.
  q.update(after(d, incident_state::resolved, t0 + 2min, "incident_resolved"), {});
  q.update(after(e, incident_state::resolved, t0 + 2min, "incident_resolved"), {});
  r = q.update(make_incident("INC-000007", "c", "g", severity::critical), {});
  ASSERT_EQ(r.dropped, std::vector<std::string>{"INC-000007"});
  auto batch = q.take(m0 + 1s, t0 + 3min);
  ASSERT_EQ(batch.items.size(), 3u);
  for (const auto& it : batch.items) EXPECT_FALSE(it.firing) << it.id;
}

// Ends go out first when more alerts are due than a batch holds.
TEST(alert_queue, batches_are_bounded_and_ends_go_first) {
  auto o = test_options();
  o.batch_max = 2;
  alert_queue q(o);
  for (int k = 1; k <= 4; ++k) q.update(make_incident("INC-00010" + std::to_string(k), "c", std::to_string(k)), {});
  auto last = make_incident("INC-000199", "c", "z");
  q.update(after(last, incident_state::resolved, t0 + 1min, "incident_resolved"), {});
  auto b = q.take(m0, t0);
  ASSERT_EQ(b.items.size(), 2u);
  EXPECT_EQ(b.items[0].id, "INC-000199");
  EXPECT_FALSE(b.items[0].firing);
  q.delivered(b, m0);
  EXPECT_EQ(q.take(m0, t0).items.size(), 2u);
}

// Backoff doubles from the initial delay to the cap; jitter keeps it within [half, full].
TEST(notify_backoff, doubles_to_the_cap_with_bounded_jitter) {
  EXPECT_EQ(notify_backoff(1, 1s, 60s, 1.0), 1s);
  EXPECT_EQ(notify_backoff(2, 1s, 60s, 1.0), 2s);
  EXPECT_EQ(notify_backoff(6, 1s, 60s, 1.0), 32s);
  EXPECT_EQ(notify_backoff(7, 1s, 60s, 1.0), 60s);
  EXPECT_EQ(notify_backoff(1000, 1s, 60s, 1.0), 60s);
  EXPECT_EQ(notify_backoff(1000, 1s, 60s, 0.0), 30s);
  EXPECT_EQ(notify_backoff(1, 1s, 60s, 0.0), 500ms);
  EXPECT_EQ(notify_backoff(3, 1s, 60s, 0.5), 3s);
}

// ---- the notifier against loopback servers ------------------------------------------------------

// Runs the loop on this thread until `pred` holds or the fail-safe deadline passes.
template <typename Pred>
bool run_until(asio::io_context& ioc, Pred pred, std::chrono::milliseconds timeout) {
  const auto end = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() >= end) return false;
    ioc.restart();
    ioc.run_for(10ms);
  }
  return true;
}

struct log_record {
  log_level level;
  std::string event;
  json fields;
};

struct captured_log {
  std::vector<log_record> records;
  alertmanager_notifier::logger logger() {
    return [this](log_level l, std::string_view e, json f) {
      records.push_back({l, std::string(e), std::move(f)});
    };
  }
  std::vector<log_record> of(const std::string& event) const {
    std::vector<log_record> out;
    for (const auto& r : records)
      if (r.event == event) out.push_back(r);
    return out;
  }
};

// Bodies posted to a test server, recorded before the handler answers.
struct recorder {
  std::mutex mutex;
  std::vector<acis::test::http_test_request> requests;
  std::size_t count() {
    std::lock_guard lock(mutex);
    return requests.size();
  }
  acis::test::http_test_request at(std::size_t k) {
    std::lock_guard lock(mutex);
    return requests.at(k);
  }
};

// Firing then resolved reach the server as POST /api/v2/alerts (JSON, under a path prefix),
// and the counters and log say so.
TEST(alertmanager_notifier, posts_firing_then_resolved) {
  recorder rec;
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    std::lock_guard lock(rec.mutex);
    rec.requests.push_back(r);
    return acis::test::http_test_reply{};
  });
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = server.url("/am/");
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());
  auto i = make_incident("INC-000100", "models", "value_small", severity::critical,
                         wall_clock::now());
  n.update(i, model_context());
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().delivered == 1; }, 20s));
  auto first = rec.at(0);
  EXPECT_EQ(first.method, "POST");
  EXPECT_EQ(first.target, "/am/api/v2/alerts");
  EXPECT_EQ(first.header("Content-Type"), "application/json");
  auto alerts = json::parse(first.body);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["labels"]["incident"], "INC-000100");
  EXPECT_EQ(alerts[0]["annotations"]["state"], "open");

  const auto resolved_at = wall_clock::now();
  n.update(after(i, incident_state::resolved, resolved_at, "incident_resolved"), model_context());
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().delivered == 2; }, 20s));
  auto second = json::parse(rec.at(1).body);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]["endsAt"], format_rfc3339(resolved_at));
  EXPECT_EQ(second[0]["annotations"]["state"], "resolved");
  EXPECT_EQ(n.stats().held, 0u);
  EXPECT_EQ(n.stats().failed, 0u);
  ASSERT_EQ(log.of("notify_delivered").size(), 2u);
  EXPECT_EQ(log.of("notify_delivered")[1].fields["ended"], json::array({"INC-000100"}));
  n.stop();
}

// Ten updates of one incident while a POST is in flight become exactly one more POST, carrying
// the latest state.
TEST(alertmanager_notifier, updates_during_a_post_coalesce) {
  recorder rec;
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool open_gate = false;
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    bool first;
    {
      std::lock_guard lock(rec.mutex);
      rec.requests.push_back(r);
      first = rec.requests.size() == 1;
    }
    if (first) {  // hold the first answer until the test has sent its updates
      std::unique_lock lock(gate_mutex);
      gate_cv.wait_for(lock, 20s, [&] { return open_gate; });
    }
    return acis::test::http_test_reply{};
  });
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = server.url();
  o.request_timeout = 60s;
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());
  auto i = make_incident("INC-000200", "api", "", severity::high, wall_clock::now());
  n.update(i, {});
  ASSERT_TRUE(run_until(ioc, [&] { return rec.count() == 1; }, 20s));
  for (int k = 0; k < 9; ++k) {
    i.reason = "still down " + std::to_string(k);
    if (k == 8) i = after(i, incident_state::escalated, wall_clock::now(), "incident_escalated");
    n.update(i, {});
    ioc.restart();
    ioc.run_for(5ms);
  }
  {
    std::lock_guard lock(gate_mutex);
    open_gate = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().delivered == 2; }, 20s));
  // Give a stray third POST the chance to show up.
  run_until(ioc, [] { return false; }, 300ms);
  ASSERT_EQ(rec.count(), 2u);
  auto last = json::parse(rec.at(1).body);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0]["annotations"]["state"], "escalated");
  EXPECT_EQ(last[0]["annotations"]["summary"], "high: api failing (escalated): still down 8");
  n.stop();
}

// 500 answers are retried with growing delays until Alertmanager accepts; the first failure
// is a warning, the recovery names the streak.
TEST(alertmanager_notifier, retries_after_500_with_backoff_until_delivered) {
  recorder rec;
  std::vector<steady::time_point> arrivals;
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    std::lock_guard lock(rec.mutex);
    rec.requests.push_back(r);
    arrivals.push_back(steady::now());
    acis::test::http_test_reply reply;
    if (rec.requests.size() <= 3) {
      reply.status = 500;
      reply.body = "internal";
    }
    return reply;
  });
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = server.url();
  o.backoff_initial = 100ms;
  o.backoff_max = 400ms;
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());
  n.update(make_incident("INC-000300", "api", "", severity::high, wall_clock::now()), {});
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().delivered == 1; }, 30s));
  EXPECT_EQ(n.stats().failed, 3u);
  ASSERT_EQ(rec.count(), 4u);
  {
    std::lock_guard lock(rec.mutex);
    // Backoff lower bounds (half of 100, 200, 400 ms): retries wait, they do not spin.
    EXPECT_GE(arrivals[1] - arrivals[0], 50ms);
    EXPECT_GE(arrivals[2] - arrivals[1], 100ms);
    EXPECT_GE(arrivals[3] - arrivals[2], 200ms);
    EXPECT_EQ(json::parse(rec.requests[3].body)[0]["labels"]["incident"], "INC-000300");
  }
  auto failed = log.of("notify_failed");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].level, log_level::warn);
  EXPECT_EQ(failed[1].level, log_level::debug);
  EXPECT_EQ(failed[0].fields["reason"], "HTTP 500: internal");
  auto delivered = log.of("notify_delivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].fields["after_failures"], 3);
  n.stop();
}

// With nothing listening, the alert is kept and retried (refused each time), nothing is lost.
TEST(alertmanager_notifier, refused_connection_keeps_the_alert_and_retries) {
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = "http://127.0.0.1:" + std::to_string(acis::test::unused_loopback_port());
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());
  n.update(make_incident("INC-000400", "api", "", severity::high, wall_clock::now()), {});
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().failed >= 4; }, 30s));
  EXPECT_EQ(n.stats().delivered, 0u);
  EXPECT_EQ(n.stats().held, 1u);
  ASSERT_FALSE(log.of("notify_failed").empty());
  EXPECT_NE(log.of("notify_failed")[0].fields["reason"].get<std::string>().find("refused"),
            std::string::npos);
  n.stop();
}

// 400 is a final answer about the content: not retried, counted as rejected, logged as error.
TEST(alertmanager_notifier, bad_request_is_not_retried) {
  recorder rec;
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    std::lock_guard lock(rec.mutex);
    rec.requests.push_back(r);
    acis::test::http_test_reply reply;
    reply.status = 400;
    reply.body = "\"start time must be before end time\"";
    return reply;
  });
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = server.url();
  o.backoff_initial = 10ms;
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());
  n.update(make_incident("INC-000500", "api", "", severity::high, wall_clock::now()), {});
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().rejected == 1; }, 20s));
  run_until(ioc, [] { return false; }, 300ms);
  EXPECT_EQ(rec.count(), 1u);
  EXPECT_EQ(n.stats().failed, 0u);
  ASSERT_EQ(log.of("notify_rejected").size(), 1u);
  EXPECT_EQ(log.of("notify_rejected")[0].level, log_level::error);
  n.stop();
}

// While Alertmanager hangs (a black hole), update() returns at once, the loop keeps turning,
// the queue stays bounded (drops logged), and stop() ends the sender promptly although the
// request deadline is a minute away.
TEST(alertmanager_notifier, hung_alertmanager_never_blocks_the_loop) {
  acis::test::black_hole_listener hole;
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = "http://127.0.0.1:" + std::to_string(hole.port());
  o.request_timeout = 60s;
  o.queue_capacity = 50;
  auto n = std::make_unique<alertmanager_notifier>(ioc.get_executor(), o, log.logger());
  n->update(make_incident("INC-000600", "api", "", severity::high, wall_clock::now()), {});
  run_until(ioc, [] { return false; }, 200ms);  // the POST is now stuck in the hole

  const auto start = steady::now();
  for (int k = 0; k < 100; ++k)
    n->update(make_incident("INC-00" + std::to_string(1000 + k), "models", std::to_string(k)),
              {});
  EXPECT_LT(steady::now() - start, 1s);
  EXPECT_EQ(n->stats().held, 50u);
  EXPECT_EQ(n->stats().dropped, 51u);
  EXPECT_EQ(log.of("notify_dropped").size(), 51u);

  bool fired = false;
  asio::steady_timer timer(ioc, 50ms);
  timer.async_wait([&](boost::system::error_code) { fired = true; });
  EXPECT_TRUE(run_until(ioc, [&] { return fired; }, 5s));
  EXPECT_EQ(n->stats().failed, 0u);  // still waiting for the answer, not failed yet

  const auto before_stop = log.records.size();
  n->stop();
  const auto stop_start = steady::now();
  ioc.restart();
  ioc.run_for(10s);  // returns when no work is left: the sender has ended
  EXPECT_LT(steady::now() - stop_start, 5s);
  EXPECT_EQ(log.records.size(), before_stop);  // nothing is logged after stop()
  n.reset();
}

// ---- against a real Alertmanager ------------------------------------------------------------------

const char* const alertmanager_bin = "/usr/bin/prometheus-alertmanager";

class real_alertmanager : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st{};
    if (::stat(alertmanager_bin, &st) != 0) {
      GTEST_FAIL() << alertmanager_bin
                   << " is missing: install Debian's prometheus-alertmanager "
                      "(scripts/install-deps.sh does)";
    }
    dir_ = acis::test::make_temp_dir("acis-am");
    std::ofstream(dir_ + "/alertmanager.yml") << "route:\n  receiver: 'null'\n"
                                                 "receivers:\n  - name: 'null'\n";
  }
  void TearDown() override {
    if (am_) am_->stop(2s);
    am_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Starts Alertmanager on 127.0.0.1:port and waits until it is ready.
  void start(unsigned short port) {
    port_ = port;
    am_ = std::make_unique<acis::test::child_process>(
        std::vector<std::string>{alertmanager_bin, "--config.file=" + dir_ + "/alertmanager.yml",
                                 "--storage.path=" + dir_ + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                 "--cluster.listen-address=", "--log.level=warn"},
        dir_ + "/alertmanager.log", dir_ + "/alertmanager.log");
    const bool ready = acis::test::wait_until(
        [&] { return acis::test::http_get(port, "/-/ready", 1s).status == 200 || !am_->running(); },
        60s);
    ASSERT_TRUE(ready && am_->running())
        << "Alertmanager did not become ready:\n" << acis::test::read_file(dir_ + "/alertmanager.log");
  }

  // The active alerts Alertmanager holds (GET /api/v2/alerts).
  json active_alerts() {
    auto r = acis::test::http_get(port_, "/api/v2/alerts", 2s);
    if (r.status != 200) return json::array();
    return json::parse(r.body, nullptr, false);
  }
  std::optional<json> find_alert(const std::string& incident) {
    for (const auto& a : active_alerts())
      if (a.contains("labels") && a["labels"].value("incident", "") == incident) return a;
    return std::nullopt;
  }
  // alertmanager_alerts_received_total{status=...,version="v2"}
  double received(const std::string& status) {
    auto r = acis::test::http_get(port_, "/metrics", 2s);
    const std::string key =
        "alertmanager_alerts_received_total{status=\"" + status + "\",version=\"v2\"} ";
    const auto at = r.body.find(key);
    return at == std::string::npos ? -1 : std::stod(r.body.substr(at + key.size()));
  }
  // Turns the notifier's loop between polls of Alertmanager.
  template <typename Pred>
  bool poll(asio::io_context& ioc, Pred pred, std::chrono::milliseconds timeout) {
    const auto end = steady::now() + timeout;
    while (steady::now() < end) {
      ioc.restart();
      ioc.run_for(100ms);
      if (pred()) return true;
    }
    return false;
  }

  std::string dir_;
  unsigned short port_ = 0;
  std::unique_ptr<acis::test::child_process> am_;
};

// A real Alertmanager receives the firing alert with our labels and annotations, sees it
// escalate, and ends it when the incident resolves.
TEST_F(real_alertmanager, receives_firing_then_resolved) {
  start(acis::test::unused_loopback_port());
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = "http://127.0.0.1:" + std::to_string(port_);
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());

  auto i = make_incident("INC-000700", "models", "value_small", severity::critical,
                         wall_clock::now());
  n.update(i, model_context());
  ASSERT_TRUE(poll(ioc, [&] { return find_alert("INC-000700").has_value(); }, 30s))
      << acis::test::read_file(dir_ + "/alertmanager.log");
  auto a = *find_alert("INC-000700");
  EXPECT_EQ(a["labels"], (json{{"alertname", "AcisIncident"},
                               {"severity", "critical"},
                               {"check", "models"},
                               {"target", "value_small"},
                               {"runbook", "emergency-model-rollback"},
                               {"instance", "host1 127.0.0.1:9187"},
                               {"incident", "INC-000700"}}));
  EXPECT_EQ(a["status"]["state"], "active");
  EXPECT_EQ(a["annotations"]["runbook_url"], "https://runbooks.example/model-rollback.md");
  EXPECT_EQ(a["annotations"]["report_url"], "http://127.0.0.1:9187/incidents/INC-000700/report");
  EXPECT_EQ(a["generatorURL"], "http://127.0.0.1:9187/incidents/INC-000700/report");

  i = after(i, incident_state::escalated, wall_clock::now(), "incident_escalated");
  n.update(i, model_context());
  ASSERT_TRUE(poll(ioc, [&] {
    auto e = find_alert("INC-000700");
    return e && (*e)["annotations"].value("state", "") == "escalated";
  }, 30s));
  EXPECT_EQ(active_alerts().size(), 1u);  // the same alert, updated: identity labels held

  n.update(after(i, incident_state::resolved, wall_clock::now(), "incident_resolved"),
           model_context());
  ASSERT_TRUE(poll(ioc, [&] { return received("resolved") >= 1; }, 30s));
  ASSERT_TRUE(poll(ioc, [&] { return !find_alert("INC-000700").has_value(); }, 30s));
  EXPECT_EQ(n.stats().failed, 0u);
  EXPECT_EQ(n.stats().rejected, 0u);
  EXPECT_EQ(n.stats().held, 0u);
  n.stop();
}

// Alertmanager down when the incidents happen: the notifier keeps retrying, and once
// Alertmanager is started the firing alerts (in their latest state) and the resolution arrive;
// then a resolution removes the remaining alert.
TEST_F(real_alertmanager, alerts_arrive_after_being_down_for_a_while) {
  const auto port = acis::test::unused_loopback_port();
  port_ = port;
  asio::io_context ioc;
  captured_log log;
  auto o = test_options();
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.backoff_initial = 200ms;
  o.backoff_max = 1s;
  alertmanager_notifier n(ioc.get_executor(), o, log.logger());

  auto a = make_incident("INC-000801", "api", "", severity::high, wall_clock::now());
  auto b = make_incident("INC-000802", "models", "value_small", severity::critical,
                         wall_clock::now());
  auto c = make_incident("INC-000803", "frontend", "", severity::high, wall_clock::now());
  n.update(a, {});
  n.update(b, model_context());
  n.update(c, {});
  ASSERT_TRUE(run_until(ioc, [&] { return n.stats().failed >= 3; }, 30s));
  b = after(b, incident_state::escalated, wall_clock::now(), "incident_escalated");
  n.update(b, model_context());
  n.update(after(c, incident_state::resolved, wall_clock::now(), "incident_resolved"), {});
  run_until(ioc, [] { return false; }, 1500ms);  // down for a while longer
  EXPECT_EQ(n.stats().delivered, 0u);
  EXPECT_EQ(n.stats().held, 3u);

  start(port);
  ASSERT_TRUE(poll(ioc, [&] {
    auto eb = find_alert("INC-000802");
    return find_alert("INC-000801") && eb && (*eb)["annotations"].value("state", "") == "escalated";
  }, 60s)) << acis::test::read_file(dir_ + "/alertmanager.log");
  ASSERT_TRUE(poll(ioc, [&] { return received("resolved") >= 1; }, 30s));
  EXPECT_FALSE(find_alert("INC-000803").has_value());
  ASSERT_GE(log.of("notify_failed").size(), 3u);
  EXPECT_EQ(log.of("notify_failed")[0].level, log_level::warn);
  bool recovered = false;
  for (const auto& r : log.of("notify_delivered")) recovered = recovered || r.fields.contains("after_failures");
  EXPECT_TRUE(recovered);

  n.update(after(a, incident_state::resolved, wall_clock::now(), "incident_resolved"), {});
  ASSERT_TRUE(poll(ioc, [&] { return !find_alert("INC-000801").has_value(); }, 30s));
  EXPECT_TRUE(find_alert("INC-000802").has_value());
  n.stop();
}

}  // namespace
}  // namespace acis::daemon
