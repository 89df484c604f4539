// The postgres check against a real throwaway PostgreSQL 15 (tests/support/pg_cluster): one
// cluster for the suite; tests that stop or freeze it restore it in TearDown.
// Every attempt runs under io_context::run_for with a fail-safe bound, so a hang fails the test.
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "checks/kinds.hpp"
#include "tests/support/black_hole.hpp"
#include "tests/support/pg_cluster.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::HasSubstr;
using testing::Not;

constexpr const char* password_var = "ACIS_PG_TEST_PASSWORD";

long long ms_since(clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(clock::now() - t0).count();
}

struct timed_result {
  check_result result;
  long long elapsed_ms = 0;
};

class PostgresCheckTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = new test::pg_cluster();
      ::setenv(password_var, cluster_->password().c_str(), 1);
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    ::unsetenv(password_var);
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "no PostgreSQL cluster: " << setup_error_;
  }
  void TearDown() override {
    if (cluster_ == nullptr) return;
    // Leave the shared cluster as the next test expects it: answering.
    cluster_->thaw();
    if (!cluster_->running()) cluster_->start();
    // Pool jobs still blocked (e.g. connects to a black hole) finish within connect_timeout;
    // wait for them here, before io_ goes away: they post their result to it.
    pool_.join();
  }

  config::postgres_check kind(std::string query = "SELECT 1") const {
    config::postgres_check k;
    k.conninfo = cluster_->conninfo();
    k.password_env = password_var;
    k.query = std::move(query);
    return k;
  }

  std::unique_ptr<check> make(const config::postgres_check& k) {
    config::check_config c;
    c.name = "database";
    c.kind = k;
    return make_postgres_check(c, k, check_context{io_.get_executor(), &pool_});
  }

  // One run() with deadline now + timeout; the io_context runs at most timeout + 5 s.
  // `poll` (optional) is called on the loop every 20 ms while the run is in flight, until it
  // returns true.
  timed_result run_once(check& chk, milliseconds timeout, std::function<bool()> poll = nullptr) {
    // Shared with the completion handler: after a fail-safe stop it may still run later.
    struct outcome {
      std::optional<std::vector<check_result>> results;
      std::exception_ptr error;
    };
    auto done = std::make_shared<outcome>();
    auto& out = done->results;
    const auto t0 = clock::now();
    asio::co_spawn(io_, chk.run(t0 + timeout),
                   [done](std::exception_ptr e, acis::checks::attempt_result a) {
                     auto v = std::move(a.targets);
                     done->error = e;
                     done->results = std::move(v);
                   });
    asio::steady_timer side(io_);
    std::function<void(boost::system::error_code)> tick = [&](boost::system::error_code ec) {
      if (ec || out || poll()) return;
      side.expires_after(20ms);
      side.async_wait(tick);
    };
    if (poll) {
      side.expires_after(20ms);
      side.async_wait(tick);
    }
    io_.restart();
    while (!out && clock::now() < t0 + timeout + 5s) io_.run_for(50ms);
    side.cancel();
    io_.restart();
    io_.poll();  // let the cancelled wait complete while `tick` still exists
    timed_result r;
    r.elapsed_ms = ms_since(t0);
    EXPECT_FALSE(done->error) << "run() threw";
    if (!out) {
      ADD_FAILURE() << "run() did not complete within the fail-safe bound";
      r.result = check_result::failing("<fail-safe>");
      return r;
    }
    EXPECT_EQ(out->size(), 1u);
    if (!out->empty()) r.result = out->front();
    return r;
  }

  // Retries while the previous (deliberately stuck) attempt still holds its pool thread.
  timed_result run_when_free(check& chk, milliseconds timeout, milliseconds bound = 10s) {
    const auto t0 = clock::now();
    for (;;) {
      auto r = run_once(chk, timeout);
      if (r.result.reason.find("still blocked") == std::string::npos ||
          clock::now() - t0 > bound)
        return r;
      std::this_thread::sleep_for(50ms);
    }
  }

  static test::pg_cluster* cluster_;
  static std::string setup_error_;
  asio::io_context io_;
  asio::thread_pool pool_{2};  // declared after io_: destroyed (joined) first
};

test::pg_cluster* PostgresCheckTest::cluster_ = nullptr;
std::string PostgresCheckTest::setup_error_;

// Evaluate the argument once (it may be a run), print the reason on failure.
#define EXPECT_HEALTH(expr, expected)                                           \
  do {                                                                          \
    const check_result result_ = (expr);                                        \
    EXPECT_EQ(result_.status, expected) << "reason: " << result_.reason;        \
  } while (0)
#define EXPECT_OK(expr) EXPECT_HEALTH(expr, health::ok)
#define EXPECT_FAILING(expr) EXPECT_HEALTH(expr, health::failing)

// A running server with the right password and the default query is ok, with a latency.
TEST_F(PostgresCheckTest, UpIsOk) {
  auto chk = make(kind());
  auto r = run_once(*chk, 3s);
  EXPECT_OK(r.result);
  EXPECT_GT(r.result.latency.count(), 0);
}

// Each attempt opens its own connection (tagged acis-healthd) and closes it afterwards.
TEST_F(PostgresCheckTest, ConnectsPerAttemptAndLeavesNoConnectionOpen) {
  // Backends of earlier tests exit asynchronously after their client's Terminate: wait for
  // none to be left (bounded), then count our own.
  auto wait_for_none = [] {
    std::string left;
    for (auto t0 = clock::now(); clock::now() - t0 < 3s; std::this_thread::sleep_for(20ms)) {
      left = cluster_->query_value(
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'acis-healthd'");
      if (left == "0") break;
    }
    return left;
  };
  ASSERT_EQ(wait_for_none(), "0");
  auto k = kind("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'acis-healthd'");
  k.expect = "1";
  auto chk = make(k);
  EXPECT_OK(run_once(*chk, 3s).result);
  ASSERT_EQ(wait_for_none(), "0");
  EXPECT_OK(run_once(*chk, 3s).result);
  EXPECT_EQ(wait_for_none(), "0");
}

// A wrong password fails as an authentication failure; no password appears in the reason.
TEST_F(PostgresCheckTest, WrongPasswordFailsWithoutLeakingIt) {
  const std::string wrong = "Wr0ngSecretValue";
  ::setenv("ACIS_PG_TEST_WRONG", wrong.c_str(), 1);
  auto k = kind();
  k.password_env = "ACIS_PG_TEST_WRONG";
  auto chk = make(k);
  auto r = run_once(*chk, 3s);
  ::unsetenv("ACIS_PG_TEST_WRONG");
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("password authentication failed"));
  EXPECT_THAT(r.result.reason, Not(HasSubstr(wrong)));
  EXPECT_THAT(r.result.reason, Not(HasSubstr(cluster_->password())));
}

// The password may come from a file: its first line, the trailing newline (and CR) stripped.
TEST_F(PostgresCheckTest, PasswordFromFile) {
  const auto path = cluster_->base_dir() + "/pw-file";
  std::ofstream(path) << cluster_->password() << "\r\nsecond line ignored\n";
  auto k = kind();
  k.password_env.reset();
  k.password_file = path;
  auto chk = make(k);
  EXPECT_OK(run_once(*chk, 3s).result);
  std::filesystem::remove(path);
}

// Quotes, backslashes and spaces in a password are escaped in the conninfo, not parsed.
TEST_F(PostgresCheckTest, PasswordWithQuotesAndBackslashes) {
  const std::string pw = R"(it's a \ 'tricky' pass=word)";
  cluster_->exec("DROP ROLE IF EXISTS tricky");
  cluster_->exec("CREATE ROLE tricky LOGIN PASSWORD " + std::string("'it''s a \\ ''tricky'' pass=word'"));
  ::setenv("ACIS_PG_TEST_TRICKY", pw.c_str(), 1);
  auto k = kind();
  k.conninfo = "host=127.0.0.1 port=" + std::to_string(cluster_->port()) +
               " dbname=acis-ai user=tricky";
  k.password_env = "ACIS_PG_TEST_TRICKY";
  auto chk = make(k);
  auto r = run_once(*chk, 3s);
  ::unsetenv("ACIS_PG_TEST_TRICKY");
  EXPECT_OK(r.result);
}

// An unset password variable fails naming the variable, without connecting.
TEST_F(PostgresCheckTest, MissingPasswordEnvVar) {
  ::unsetenv("ACIS_PG_TEST_NO_SUCH_VAR");
  auto k = kind();
  k.password_env = "ACIS_PG_TEST_NO_SUCH_VAR";
  auto chk = make(k);
  auto r = run_once(*chk, 3s);
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("ACIS_PG_TEST_NO_SUCH_VAR"));
  EXPECT_THAT(r.result.reason, HasSubstr("not set"));
}

// An unreadable password file fails naming the file.
TEST_F(PostgresCheckTest, MissingPasswordFile) {
  auto k = kind();
  k.password_env.reset();
  k.password_file = cluster_->base_dir() + "/no-such-password-file";
  auto chk = make(k);
  auto r = run_once(*chk, 3s);
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("no-such-password-file"));
}

// `expect` compares row 0, column 0 as text: match, mismatch, and no rows.
TEST_F(PostgresCheckTest, ExpectedValue) {
  auto k = kind("SELECT 1 = 1");
  k.expect = "t";
  EXPECT_OK(run_once(*make(k), 3s).result);

  k = kind("SELECT 1");
  k.expect = "2";
  auto mismatch = run_once(*make(k), 3s);
  EXPECT_FAILING(mismatch.result);
  EXPECT_EQ(mismatch.result.reason, "expected \"2\", got \"1\"");

  k = kind("SELECT 1 WHERE false");
  k.expect = "1";
  auto none = run_once(*make(k), 3s);
  EXPECT_FAILING(none.result);
  EXPECT_THAT(none.result.reason, HasSubstr("no rows"));
}

// A failing query reports its SQLSTATE.
TEST_F(PostgresCheckTest, QueryErrorNamesSqlstate) {
  auto r = run_once(*make(kind("SELECT * FROM no_such_table")), 3s);
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("SQLSTATE 42P01"));
}

// A role over its connection limit is classified as "too many connections".
TEST_F(PostgresCheckTest, TooManyConnections) {
  cluster_->exec("DROP ROLE IF EXISTS limited");
  cluster_->exec("CREATE ROLE limited LOGIN PASSWORD 'limitedpw' CONNECTION LIMIT 0");
  ::setenv("ACIS_PG_TEST_LIMITED", "limitedpw", 1);
  auto k = kind();
  k.conninfo = "host=127.0.0.1 port=" + std::to_string(cluster_->port()) +
               " dbname=acis-ai user=limited";
  k.password_env = "ACIS_PG_TEST_LIMITED";
  auto r = run_once(*make(k), 3s);
  ::unsetenv("ACIS_PG_TEST_LIMITED");
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("too many connections"));
}

// A slow query on a living server is cancelled by the server's statement_timeout, in time.
TEST_F(PostgresCheckTest, SlowQueryCancelledByStatementTimeout) {
  auto r = run_once(*make(kind("SELECT pg_sleep(10)")), 3s);
  std::cout << "[ timing ] pg_sleep(10), timeout 3s: " << r.elapsed_ms << " ms\n";
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("statement_timeout"));
  EXPECT_LT(r.elapsed_ms, 3000 + 300);
}

// With a 1 s timeout a slow query fails within the timeout plus a small margin.
TEST_F(PostgresCheckTest, SlowQueryShortTimeout) {
  auto r = run_once(*make(kind("SELECT pg_sleep(10)")), 1s);
  std::cout << "[ timing ] pg_sleep(10), timeout 1s: " << r.elapsed_ms << " ms\n";
  EXPECT_FAILING(r.result);
  EXPECT_LT(r.elapsed_ms, 1000 + 300);
}

// A stopped server is "connection refused"; once started again the same check is ok.
TEST_F(PostgresCheckTest, StoppedServerRefusedThenOkAfterStart) {
  auto chk = make(kind());
  EXPECT_OK(run_once(*chk, 3s).result);
  cluster_->stop(test::pg_cluster::stop_mode::fast);
  auto down = run_once(*chk, 3s);
  EXPECT_FAILING(down.result);
  EXPECT_THAT(down.result.reason, HasSubstr("connection refused"));
  EXPECT_THAT(down.result.reason, HasSubstr(std::to_string(cluster_->port())));
  cluster_->start();
  EXPECT_OK(run_once(*chk, 3s).result);
}

// During a smart shutdown (a session still open) new connections are refused with "the
// database system is shutting down", which the check reports as such.
TEST_F(PostgresCheckTest, ShuttingDownServerIsNamed) {
  auto chk = make(kind());
  {
    pqxx::connection held{cluster_->superuser_conninfo()};
    ASSERT_EQ(::kill(cluster_->postmaster_pid(), SIGTERM), 0);  // smart: waits for `held`
    timed_result r;
    for (auto t0 = clock::now(); clock::now() - t0 < 3s; std::this_thread::sleep_for(20ms)) {
      r = run_once(*chk, 3s);
      if (r.result.reason.find("shutting down") != std::string::npos) break;
    }
    EXPECT_FAILING(r.result);
    EXPECT_EQ(r.result.reason, "the database system is shutting down");
  }
  cluster_->stop();  // reaps the postmaster, which exits once `held` is closed
  cluster_->start();
  EXPECT_OK(run_once(*chk, 3s).result);
}

// A crash-restart between two attempts does not break the check (fresh connection each time).
TEST_F(PostgresCheckTest, OkAgainAfterImmediateRestart) {
  auto chk = make(kind());
  EXPECT_OK(run_once(*chk, 3s).result);
  cluster_->restart(test::pg_cluster::stop_mode::immediate);
  EXPECT_OK(run_once(*chk, 3s).result);
}

// A port that accepts and never answers: run() returns at the 1 s deadline although libpq's
// connect_timeout is 2 s (so the bound proves the client-side deadline); the pool thread is
// released by connect_timeout, after which a new attempt starts normally.
TEST_F(PostgresCheckTest, BlackHolePortFailsAtTheDeadline) {
  test::black_hole_listener hole;
  auto k = kind();
  k.conninfo = "host=127.0.0.1 port=" + std::to_string(hole.port()) + " dbname=acis-ai user=postgres";
  auto chk = make(k);
  const auto t0 = clock::now();
  auto r = run_once(*chk, 1s);
  std::cout << "[ timing ] black hole, timeout 1s: run() returned after " << r.elapsed_ms
            << " ms\n";
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("no answer within 1s (while connecting)"));
  EXPECT_GE(r.elapsed_ms, 950);
  EXPECT_LT(r.elapsed_ms, 1000 + 300);

  // Right away, the stuck connect still holds the pool thread.
  auto blocked = run_once(*chk, 1s);
  EXPECT_FAILING(blocked.result);
  EXPECT_THAT(blocked.result.reason, HasSubstr("previous attempt still blocked"));
  EXPECT_LT(blocked.elapsed_ms, 100);

  // connect_timeout (2 s) frees it: a new attempt is made (and fails the same way).
  std::this_thread::sleep_until(t0 + 2500ms);
  auto again = run_once(*chk, 1s);
  EXPECT_FAILING(again.result);
  EXPECT_THAT(again.result.reason, HasSubstr("no answer within 1s"));
}

// A server frozen mid-query (SIGSTOP) answers nothing, statement_timeout included: the check
// fails at its deadline, and the socket shutdown frees the pool thread at once (the next
// attempt is not "still blocked"). After SIGCONT the check is ok again.
TEST_F(PostgresCheckTest, FrozenServerMidQuery) {
  auto chk = make(kind("SELECT pg_sleep(2)"));
  // Freeze once the query is running (not while connecting: that is another test).
  auto r = run_once(*chk, 3s, [] {
    if (cluster_->query_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                              "'acis-healthd' AND state = 'active' AND query LIKE "
                              "'SELECT pg_sleep%'") != "1")
      return false;
    cluster_->freeze();
    return true;
  });
  std::cout << "[ timing ] frozen mid-query, timeout 3s: " << r.elapsed_ms << " ms\n";
  ASSERT_TRUE(cluster_->frozen());
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("no answer within 3s (while querying)"));
  EXPECT_GE(r.elapsed_ms, 2950);
  EXPECT_LT(r.elapsed_ms, 3000 + 300);

  std::this_thread::sleep_for(200ms);
  auto same = run_once(*chk, 1s);  // its previous pool job must be done by now
  std::cout << "[ timing ] frozen at connect, timeout 1s: " << same.elapsed_ms << " ms\n";
  EXPECT_FAILING(same.result);
  EXPECT_THAT(same.result.reason, Not(HasSubstr("still blocked")));
  EXPECT_THAT(same.result.reason, HasSubstr("(while connecting)"));
  EXPECT_LT(same.elapsed_ms, 1000 + 300);

  cluster_->thaw();
  auto k = kind();
  EXPECT_OK(run_when_free(*chk, 3s).result);
  EXPECT_OK(run_once(*make(k), 3s).result);
}

// While a previous attempt still holds its pool thread (a connect to a frozen postmaster,
// bounded by connect_timeout), run() returns "previous attempt still blocked" at once instead
// of stacking another blocked thread; after SIGCONT the check recovers.
TEST_F(PostgresCheckTest, BusyGuardWhileFrozen) {
  auto chk = make(kind());
  cluster_->freeze();
  auto first = run_once(*chk, 1s);
  EXPECT_FAILING(first.result);
  EXPECT_THAT(first.result.reason, HasSubstr("server frozen or unreachable"));
  EXPECT_LT(first.elapsed_ms, 1000 + 300);

  auto second = run_once(*chk, 1s);
  EXPECT_FAILING(second.result);
  EXPECT_THAT(second.result.reason, HasSubstr("previous attempt still blocked"));
  EXPECT_LT(second.elapsed_ms, 100);

  cluster_->thaw();
  auto r = run_when_free(*chk, 3s);
  EXPECT_OK(r.result);
}

// A malformed conninfo fails every attempt with a reason, never an exception.
TEST_F(PostgresCheckTest, MalformedConninfo) {
  auto k = kind();
  k.conninfo = "host=127.0.0.1 port";
  auto r = run_once(*make(k), 1s);
  EXPECT_FAILING(r.result);
  EXPECT_THAT(r.result.reason, HasSubstr("invalid conninfo"));
}

}  // namespace
}  // namespace acis::checks
