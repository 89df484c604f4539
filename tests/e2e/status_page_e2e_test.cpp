// The status page in a real browser (headless Chromium, Debian's `chromium` package) and
// `acis-healthd status` on the real binary: what the page shows (checks, incidents, severity,
// SLA countdown, remediation state, error banner), that hostile check text stays text, that no
// secret reaches it, and that it works under the Content-Security-Policy it is served with.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/status_page.hpp"
#include "tests/support/daemon_harness.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/http_test_server.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using acis::test::read_file;
using acis::test::wait_until;

namespace {

// A hostile check reason: escaped, it is harmless text; parsed as HTML, the <img> would run its
// handler (the page's CSP allows inline script, so only escaping stands between them).
const std::string xss = "<script>alert(1)</script><img src=x onerror=\"document.title='XSS'\">";
const std::string xss_escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=";
// Canaries: distinctive, so that a leak is found by a plain substring search.
const std::string token = "canary-TOKEN-page-7d3e9a0b1c2f4e56";
const std::string password = "canary-PASSWORD-page-41f0c9e2d8b7";

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// The chromium binary on PATH, or "" (the caller fails the test saying how to install it).
std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t from = 0; from <= dirs.size();) {
    auto to = dirs.find(':', from);
    if (to == std::string::npos) to = dirs.size();
    const std::string candidate = dirs.substr(from, to - from) + "/chromium";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    from = to + 1;
  }
  return {};
}

struct browser_result {
  int status = -1;  // chromium's exit status; -1: killed at the deadline
  std::string dom;  // the serialized DOM after the virtual time budget
  std::string log;  // chromium's stderr, for failure messages
};

// Loads `url` in headless Chromium, lets the page run for `budget` of virtual time (timers and
// fetches; the page refreshes every 5 s) and returns the DOM as it then is. Chromium runs under
// timeout(1), which makes itself a process group leader: the whole browser (zygote, renderer)
// is killed at the hard deadline and again, whatever happened, when this returns.
browser_result load_in_chromium(const std::string& chromium, const std::string& url,
                                const std::string& dir, std::chrono::milliseconds budget = 5s) {
  fs::create_directories(dir + "/chromium-home");
  const std::string out = dir + "/chromium.dom", err = dir + "/chromium.stderr";
  fs::remove(out);
  fs::remove(err);
  auto p = std::make_unique<acis::test::child_process>(
      std::vector<std::string>{"/usr/bin/timeout", "-k", "5", "90", chromium, "--headless=new",
                               "--no-sandbox",  // we run as root; Chromium refuses to without it
                               "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                               "--disable-extensions", "--disable-background-networking",
                               "--disable-component-update", "--disable-sync", "--mute-audio",
                               "--user-data-dir=" + dir + "/chromium-home/profile",
                               "--virtual-time-budget=" + std::to_string(budget.count()), "--dump-dom", url},
      out, err, std::map<std::string, std::string>{{"HOME", dir + "/chromium-home"}});
  const pid_t group = p->pid();
  browser_result r;
  auto st = p->wait_for(120s);  // timeout(1) ends it at 90 s (+5 s for SIGKILL)
  ::kill(-group, SIGKILL);      // any renderer or zygote left behind
  if (st && WIFEXITED(*st)) r.status = WEXITSTATUS(*st);
  p.reset();
  r.dom = read_file(out);
  r.log = read_file(err);
  return r;
}

// What the DOM shows in the table cell after the row header `row` (e.g. an incident id): the
// text of the whole row, tags stripped, for assertions about one row.
std::string row_text(const std::string& dom, const std::string& row) {
  const auto at = dom.find("<th scope=\"row\">" + row + "</th>");
  if (at == std::string::npos) return {};
  const auto end = dom.find("</tr>", at);
  const auto html = dom.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return std::regex_replace(html, std::regex("<[^>]*>"), " ");
}

// The rendered part of a dumped DOM: everything before the page's own script, whose source
// holds the page's fixed strings ("MAINTENANCE: ...") and must not satisfy an assertion.
std::string rendered(const std::string& dom) {
  const auto at = dom.rfind("<script>\n(function () {");
  return at == std::string::npos ? dom : dom.substr(0, at);
}

// Assertions shared by every load: the page's own markup, no injected element, no canary.
void expect_safe(const std::string& dom) {
  EXPECT_TRUE(has(dom, xss_escaped)) << "the hostile reason must show, as text";
  EXPECT_FALSE(has(dom, "<script>alert")) << "a <script> element was injected";
  EXPECT_FALSE(has(dom, "<img")) << "an <img> element was injected";
  EXPECT_FALSE(has(dom, "<title>XSS")) << "the injected handler ran";
  EXPECT_FALSE(has(dom, token)) << "the control token reached the page";
  EXPECT_FALSE(has(dom, password)) << "a configured secret reached the page";
}

// The page served by a loopback test server with the daemon's CSP, and a /status made up to
// reach every rendering case (breached, escalated, running, suppressed, dry run).
class status_page_browser : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    ASSERT_FALSE(chromium_.empty())
        << "chromium is not installed: the status page test needs Debian's chromium package "
           "(scripts/install-deps.sh installs it)";
    dir_ = acis::test::make_temp_dir("acis-page");
  }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
    else std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
  }

  static json made_up_status() {
    return {
        {"version", "9.8.7"}, {"now", "2026-03-01T10:00:00.000Z"}, {"dry_run", true}, {"maintenance", false},
        {"remediation", {{{"incident", "INC-000041"}, {"runbook", "api-down"}},
                         {{"incident", "INC-000043"}, {"runbook", "frontend-down"}}}},
        {"checks",
         {{{"name", "api"}, {"type", "http"},
           {"targets", {{{"target", ""}, {"state", "failing"}, {"reason", "body does not contain \"" + xss + "\""},
                         {"latency_ms", 12.34}, {"last_at", "2026-03-01T09:59:58.000Z"},
                         {"incident", "INC-000041"}}}}},
          {{"name", "models"}, {"type", "model_metadata"},
           {"targets", {{{"target", "momentum_large"}, {"state", "ok"}, {"reason", "fresh"},
                         {"latency_ms", 3}, {"last_at", "2026-03-01T09:59:59.000Z"}, {"incident", nullptr}},
                        {{"target", "value_small"}, {"state", "degraded"}, {"reason", "slow"},
                         {"latency_ms", 2100}, {"last_at", "2026-03-01T09:59:00.000Z"}, {"incident", nullptr}}}}},
          {{"name", "database"}, {"type", "postgres"}, {"targets", json::array()}}}},
        {"incidents",
         {{{"id", "INC-000041"}, {"check", "api"}, {"target", ""}, {"severity", "high"}, {"state", "open"},
           {"reason", xss}, {"opened_at", "2026-03-01T09:58:00.000Z"},
           {"sla_deadline", "2026-03-01T10:12:00.000Z"}, {"sla_breached", false}, {"suppressed_by", nullptr},
           {"timeline", {{{"at", "2026-03-01T09:58:01.000Z"}, {"event", "remediation_started"},
                          {"detail", "attempt 1 of 3 of runbook api-down"}}}}},
          {{"id", "INC-000042"}, {"check", "models"}, {"target", "value_small"}, {"severity", "critical"},
           {"state", "escalated"}, {"reason", "sharpe_ratio 0.2 below 0.5"},
           {"opened_at", "2026-03-01T09:00:00.000Z"}, {"sla_deadline", "2026-03-01T09:05:00.000Z"},
           {"sla_breached", true}, {"timeline", json::array()}},
          {{"id", "INC-000043"}, {"check", "frontend"}, {"target", ""}, {"severity", "low"},
           {"state", "suppressed"}, {"suppressed_by", "api"}, {"reason", "connection refused"},
           {"opened_at", "2026-03-01T09:59:00.000Z"}, {"sla_deadline", "2026-03-01T13:59:00.000Z"},
           {"sla_breached", false}, {"timeline", json::array()}}}}};
  }

  std::string chromium_;
  std::string dir_;
};

// A daemon with no platform: an ok check, a process check for a missing process (fall 1: an
// incident at once), an http check whose expected body is hostile HTML (so that its failing
// reason is), a canary password in that check's headers and a canary control token.
class status_page_e2e : public acis::test::daemon_fixture {
 protected:
  status_page_e2e() : daemon_fixture(acis::test::build_paths(), "acis-page") {}

  void SetUp() override {
    chromium_ = find_chromium();
    ASSERT_FALSE(chromium_.empty())
        << "chromium is not installed: the status page test needs Debian's chromium package "
           "(scripts/install-deps.sh installs it)";
    daemon_fixture::SetUp();
    target_ = std::make_unique<acis::test::http_test_server>([](const acis::test::http_test_request&) {
      acis::test::http_test_reply r;
      r.body = "healthy";
      return r;
    });
    std::ofstream(dir_ + "/fresh.txt") << "x";
    std::ofstream(dir_ + "/control.token") << token << "\n";
    ::chmod((dir_ + "/control.token").c_str(), 0600);
    cfg_ = {{"daemon", {{"listen", "127.0.0.1:" + std::to_string(port_)},
                        {"state_dir", dir_ + "/state"},
                        {"control_token_file", dir_ + "/control.token"}}},
            {"checks",
             {{{"name", "fresh-file"}, {"type", "file_age"}, {"path", dir_ + "/fresh.txt"}, {"max_age", "1h"},
               {"interval", "500ms"}, {"timeout", "400ms"}, {"severity", "low"}},
              {{"name", "trading-job"}, {"type", "process"},
               {"cmdline_contains", "acis-page-test-no-such-process-4b1d"}, {"interval", "500ms"},
               {"timeout", "400ms"}, {"fall", 1}, {"rise", 1}, {"start_grace", "0s"},
               {"severity", "critical"}, {"runbook", "restart-trading"}, {"issue_type", "trading"}},
              {{"name", "xss-probe"}, {"type", "http"}, {"url", target_->url("/health")},
               {"headers", {{"Authorization", "Bearer " + password}}},
               {"expect", {{"status", {200}}, {"body_contains", xss}}}, {"interval", "1s"},
               {"timeout", "800ms"}, {"fall", 1}, {"start_grace", "0s"}, {"severity", "medium"}}}},
            {"runbooks",
             {{"restart-trading",
               {{"steps", {{{"name", "page the trading lead"}, {"manual", "Restart the trading job by hand."}}}}}}}},
            {"escalation", {{"trading", {{"primary", "Trading Lead"}, {"backup", "Compliance"}}}}}};
  }

  void TearDown() override {
    daemon_fixture::TearDown();
    target_.reset();
  }

  std::string chromium_;
  std::unique_ptr<acis::test::http_test_server> target_;
};

}  // namespace

// Every rendering case from one made-up /status, in Chromium under the daemon's CSP: checks
// with colour-and-word states, incidents with severity, a counting SLA, a breached one, a
// paused one, running and gave-up remediation, the dry-run badge; hostile text stays text.
TEST_F(status_page_browser, renders_every_case_as_text_under_the_csp) {
  const json status = made_up_status();
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    acis::test::http_test_reply reply;
    if (r.target == "/") {
      reply.body = std::string(acis::daemon::status_page_html());
      reply.headers = {{"Content-Type", "text/html; charset=utf-8"},
                       {"Content-Security-Policy", std::string(acis::daemon::status_page_csp())}};
    } else if (r.target == "/status") {
      reply.body = status.dump();
      reply.headers = {{"Content-Type", "application/json"}};
    } else {
      reply.status = 404;
      reply.body = "not found\n";
    }
    return reply;
  });
  const auto r = load_in_chromium(chromium_, server.url("/"), dir_);
  ASSERT_EQ(r.status, 0) << r.log;
  const auto dom = rendered(r.dom);
  ASSERT_TRUE(has(dom, "<h1 id=\"title\">acis-healthd status</h1>")) << dom;
  ASSERT_TRUE(has(dom, "acis-healthd 9.8.7")) << "the script did not run (blocked by the CSP?)\n" << dom;
  bool fetched = false;
  for (const auto& q : server.requests()) fetched |= q.target == "/status";
  EXPECT_TRUE(fetched);

  EXPECT_TRUE(has(dom, "<span class=\"tag degraded\">DRY RUN: remediation is logged, nothing is executed</span>"));
  EXPECT_FALSE(has(dom, "MAINTENANCE"));
  EXPECT_TRUE(has(dom, "<div id=\"err\" role=\"alert\" hidden=\"\"></div>")) << "no error banner";
  EXPECT_TRUE(has(dom, "aria-live=\"polite\">Last updated ")) << dom;
  EXPECT_TRUE(has(dom, "4 check targets: 1 ok, 1 degraded, 1 failing, 1 unknown")) << dom;
  EXPECT_TRUE(has(dom, "<title>(3) acis-healthd status</title>")) << dom;

  // Checks: a word for each state (with its colour class), latency, last run on daemon time.
  const auto api = row_text(dom, "api");
  EXPECT_TRUE(has(api, "✖ failing") && has(api, "12.3 ms") && has(api, "INC-000041")) << api;
  EXPECT_TRUE(std::regex_search(api, std::regex(R"(\b\d+s ago)"))) << api;
  EXPECT_TRUE(has(dom, "<span class=\"tag failing\">✖ failing</span>"));
  EXPECT_TRUE(has(dom, "<span class=\"tag ok\">✔ ok</span>"));
  EXPECT_TRUE(has(dom, "<span class=\"tag degraded\">▲ degraded</span>"));
  EXPECT_TRUE(has(row_text(dom, "database"), "not run yet")) << dom;

  // Incidents: severity as a word, SLA on the daemon clock counting down, remediation state.
  const auto open = row_text(dom, "INC-000041");
  EXPECT_TRUE(has(dom, "<span class=\"tag high\">high</span>"));
  EXPECT_TRUE(std::regex_search(open, std::regex(R"(\b1[12]m \d+s left\b)"))) << open;
  EXPECT_TRUE(has(open, "running: attempt 1 of 3 of runbook api-down")) << open;
  EXPECT_TRUE(has(open, "2m ")) << "open for: " << open;
  const auto escalated = row_text(dom, "INC-000042");
  EXPECT_TRUE(has(escalated, "critical") && has(escalated, "escalated")) << escalated;
  EXPECT_TRUE(std::regex_search(escalated, std::regex(R"(breached 5\dm \d+s ago)"))) << escalated;
  EXPECT_TRUE(has(escalated, "gave up: escalated to a person")) << escalated;
  EXPECT_TRUE(has(escalated, "models / value_small")) << escalated;
  const auto suppressed = row_text(dom, "INC-000043");
  EXPECT_TRUE(has(suppressed, "suppressed by api")) << suppressed;
  EXPECT_TRUE(has(suppressed, "paused while suppressed")) << suppressed;
  EXPECT_TRUE(has(suppressed, "waiting to run runbook frontend-down (held: suppressed)")) << suppressed;
  expect_safe(r.dom);
}

// When /status stops answering, the page says so in an alert banner and keeps the last data,
// marked stale; the next refresh is still scheduled (it asked more than once).
TEST_F(status_page_browser, shows_an_error_banner_when_the_daemon_is_gone) {
  const json status = made_up_status();
  std::atomic<int> served{0};
  acis::test::http_test_server server([&](const acis::test::http_test_request& r) {
    acis::test::http_test_reply reply;
    if (r.target == "/") {
      reply.body = std::string(acis::daemon::status_page_html());
      reply.headers = {{"Content-Type", "text/html; charset=utf-8"},
                       {"Content-Security-Policy", std::string(acis::daemon::status_page_csp())}};
    } else if (r.target == "/status" && served++ == 0) {
      reply.body = status.dump();
      reply.headers = {{"Content-Type", "application/json"}};
    } else {
      reply.act = acis::test::http_test_reply::action::close;  // like a daemon that died
    }
    return reply;
  });
  const auto r = load_in_chromium(chromium_, server.url("/"), dir_, 12s);
  ASSERT_EQ(r.status, 0) << r.log;
  const auto dom = rendered(r.dom);
  EXPECT_GE(served.load(), 2) << "the page did not refresh";
  EXPECT_TRUE(has(dom, "<div id=\"err\" role=\"alert\">Cannot reach acis-healthd (")) << dom;
  EXPECT_TRUE(std::regex_search(dom, std::regex("Showing the data from \\d"))) << dom;
  EXPECT_TRUE(has(dom, "<main id=\"main\" class=\"stale\">")) << dom;
  EXPECT_TRUE(has(row_text(dom, "INC-000041"), "high")) << "the last data stays on the page";
}

// The real daemon: GET / serves the page; in Chromium it shows every check, the incident with
// its severity and SLA countdown, maintenance and the remediation held by it, the hostile
// reason as text, and neither canary. `acis-healthd status` prints the same incident and exits
// 1, and exits 3 once the daemon is gone.
TEST_F(status_page_e2e, page_and_status_command_show_the_running_daemon) {
  start_daemon("page.log");
  ASSERT_FALSE(HasFatalFailure());
  json incident;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = get_json("/status");
        if (!s.is_object() || !s.contains("incidents")) return false;
        for (const auto& i : s["incidents"])
          if (i.value("check", "") == "trading-job") incident = i;
        return !incident.is_null() && target_state("xss-probe") == "failing" &&
               target_state("fresh-file") == "ok";
      },
      30s))
      << daemon_output();
  const std::string id = incident.value("id", "");
  ASSERT_FALSE(id.empty());
  // The canary password was really in play: the probe sent it.
  bool sent = false;
  for (const auto& q : target_->requests()) sent |= has(q.header("Authorization"), password);
  EXPECT_TRUE(sent);
  // Maintenance through the control endpoint (the token is in play too).
  const auto m = acis::test::http_request("POST", port_, "/maintenance", R"({"reason":"page test"})",
                                          "Bearer " + token);
  ASSERT_EQ(m.status, 200) << m.body << m.error;

  const auto page = acis::test::http_get(port_, "/");
  ASSERT_EQ(page.status, 200) << page.error << page.body;
  EXPECT_EQ(page.body, std::string(acis::daemon::status_page_html()));

  const auto r = load_in_chromium(chromium_, "http://127.0.0.1:" + std::to_string(port_) + "/", dir_);
  ASSERT_EQ(r.status, 0) << r.log;
  const auto dom = rendered(r.dom);
  ASSERT_TRUE(has(dom, "acis-healthd 0.")) << "the script did not run (blocked by the CSP?)\n" << dom;
  for (const auto* check : {"fresh-file", "trading-job", "xss-probe"})
    EXPECT_TRUE(has(dom, std::string("<th scope=\"row\">") + check + "</th>")) << check << "\n" << dom;
  EXPECT_TRUE(has(row_text(dom, "fresh-file"), "✔ ok")) << dom;
  EXPECT_TRUE(has(row_text(dom, "trading-job"), "✖ failing")) << dom;
  const auto row = row_text(dom, id);
  ASSERT_FALSE(row.empty()) << id << "\n" << dom;
  EXPECT_TRUE(has(row, "critical")) << row;
  EXPECT_TRUE(has(dom, "<span class=\"tag critical\">critical</span>"));
  EXPECT_TRUE(std::regex_search(row, std::regex(R"(\b[0-4]m \d+s left\b)"))) << "critical: 5 min SLA\n" << row;
  EXPECT_TRUE(has(row, "(paused: maintenance)")) << row;
  EXPECT_TRUE(has(dom, "<span class=\"tag degraded\">MAINTENANCE: remediation is paused</span>")) << dom;
  EXPECT_TRUE(has(dom, "<div id=\"err\" role=\"alert\" hidden=\"\"></div>"));
  expect_safe(r.dom);

  // The command line, by --url and by --config.
  const std::string url = "http://127.0.0.1:" + std::to_string(port_);
  auto st = acis::test::run_command({paths_.daemon_bin(), "status", "--url", url}, dir_ + "/status.out", {}, 30s);
  EXPECT_EQ(st.status, 1) << st.output;
  EXPECT_TRUE(has(st.output, "MAINTENANCE: remediation is paused")) << st.output;
  std::string inc_line;
  for (std::size_t at = st.output.find("\n" + id); at != std::string::npos;) {
    inc_line = st.output.substr(at + 1, st.output.find('\n', at + 1) - at - 1);
    break;
  }
  EXPECT_TRUE(has(inc_line, "critical") && has(inc_line, "trading-job") && has(inc_line, " left"))
      << st.output;
  EXPECT_TRUE(has(st.output, "xss-probe")) << st.output;
  EXPECT_FALSE(has(st.output, token));
  EXPECT_FALSE(has(st.output, password));
  st = acis::test::run_command({paths_.daemon_bin(), "status", "--config", dir_ + "/healthd.json"},
                               dir_ + "/status.out", {}, 30s);
  EXPECT_EQ(st.status, 1) << st.output;
  EXPECT_TRUE(has(st.output, id)) << st.output;

  // The daemon gone: exit 3, saying so.
  daemon_->stop();
  st = acis::test::run_command({paths_.daemon_bin(), "status", "--url", url}, dir_ + "/status.out", {}, 30s);
  EXPECT_EQ(st.status, 3) << st.output;
  EXPECT_TRUE(has(st.output, "cannot reach the daemon at " + url + "/status")) << st.output;
}
