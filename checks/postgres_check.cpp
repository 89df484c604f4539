// The `postgres` check kind: connect, run one query, optionally compare row 0 column 0.
//
// libpqxx 6.4 is blocking, so every attempt runs on the blocking pool (run_blocking) and is
// bounded three ways, because a pool thread cannot be interrupted:
//  - connection establishment by libpq's connect_timeout (whole seconds, at least 2);
//  - the query by the server's statement_timeout (a little under the budget, so that a slow
//    but living server answers "cancelled" before the client gives up);
//  - a frozen server (SIGSTOP: it answers nothing, statement_timeout included) by a watcher
//    thread that, at the deadline, shutdown()s the connection's socket: the blocked libpq
//    call then fails at once with broken_connection.
// On the event loop, run() races the pool job against a timer at the deadline, so run()
// returns on time even while the pool thread is still stuck in a connect (connect_timeout is
// at least 2 s). A new attempt is not started while the previous job still holds its pool
// thread ("previous attempt still blocked").
//
// Each attempt opens and closes its own connection: a kept pqxx 6.x connection reconnects
// silently after a server restart and would hide the outage.
//
// Secrets: the password is read at each attempt (password_env or the first line of
// password_file) and only ever goes into the conninfo handed to libpq; reasons name the
// variable or file, echo only host:port/dbname, and are scrubbed of the password anyway.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>

#include "checks/blocking.hpp"
#include "checks/kinds.hpp"

namespace acis::checks {
namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t max_reason_bytes = 300;
constexpr std::size_t max_value_bytes = 80;
constexpr const char* application_name = "acis-healthd";

// ---- conninfo ---------------------------------------------------------------------------------

using conn_params = std::vector<std::pair<std::string, std::string>>;

// libpq keyword/value syntax: `key = value`, value bare or single-quoted, `\` escapes the next
// character. Errors never echo values (a malformed string might contain anything).
std::optional<conn_params> parse_conninfo(std::string_view s, std::string& error) {
  if (s.starts_with("postgresql://") || s.starts_with("postgres://")) {
    error = "invalid conninfo: the URI form is not supported, use keyword=value pairs";
    return std::nullopt;
  }
  conn_params out;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  for (;;) {
    skip_space();
    if (i >= s.size()) break;
    std::size_t k = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string key(s.substr(k, i - k));
    skip_space();
    if (i >= s.size() || s[i] != '=') {
      error = "invalid conninfo: missing \"=\" after keyword \"" + key + "\"";
      return std::nullopt;
    }
    ++i;
    skip_space();
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else if (c == '\'') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) {
        error = "invalid conninfo: unterminated quoted value of \"" + key + "\"";
        return std::nullopt;
      }
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) c = s[i++];
        value += c;
      }
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// A conninfo value in single quotes with `\` and `'` escaped: safe for any content.
std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

// ---- text helpers -----------------------------------------------------------------------------

std::string format_ms(long long ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(ms) / 1000.0);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s + "s";
}

std::string bounded(std::string s, std::size_t max) {
  if (s.size() > max) {
    s.resize(max);
    s += "...";
  }
  return s;
}

std::string first_line(std::string_view s) {
  auto nl = s.find('\n');
  std::string line(s.substr(0, nl));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

// The meaningful line of a libpq/server message: after "FATAL:  "/"ERROR:  ", or after
// libpq's `connection to server at "...", port N failed: ` prefix.
std::string server_line(std::string_view msg) {
  for (std::string_view tag : {"FATAL:  ", "ERROR:  ", "PANIC:  "}) {
    auto p = msg.find(tag);
    if (p != std::string_view::npos) return first_line(msg.substr(p + tag.size()));
  }
  auto p = msg.find(" failed: ");
  if (p != std::string_view::npos) return first_line(msg.substr(p + 9));
  return first_line(msg);
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// ---- one attempt (runs on a pool thread) ------------------------------------------------------

struct plan {
  conn_params params;  // from the configured conninfo, without password and options
  std::string user_options;
  bool has_connect_timeout = false;
  std::string where;        // "host:port/dbname" for reasons; never credentials
  std::string parse_error;  // non-empty: the conninfo is unusable, every attempt fails
  std::optional<std::string> password_env;
  std::optional<std::string> password_file;
  std::string query;
  std::optional<std::string> expect;
};

enum phase : int { queued, reading_password, connecting, querying };

// Shared by the pool job, its deadline watcher and the awaiting coroutine.
struct attempt_state {
  std::mutex m;
  std::condition_variable cv;
  int fd = -1;           // the connection's socket while it may be shut down (guarded by m)
  bool done = false;     // the job finished: the watcher leaves (guarded by m)
  bool expired = false;  // the watcher fired (guarded by m)
  std::atomic<int> at{queued};
};

// Registers the connection's socket with the watcher for its lifetime. Declared after the
// pqxx::connection, so it is unregistered (under the mutex) before the socket is closed and
// its number can be reused: the watcher never shuts down somebody else's socket.
class socket_registration {
 public:
  socket_registration(attempt_state& st, int fd) : st_(st) {
    std::lock_guard lock(st_.m);
    expired_ = st_.expired;
    if (!expired_) st_.fd = fd;
  }
  ~socket_registration() {
    std::lock_guard lock(st_.m);
    st_.fd = -1;
  }
  socket_registration(const socket_registration&) = delete;
  socket_registration& operator=(const socket_registration&) = delete;
  bool expired() const { return expired_; }

 private:
  attempt_state& st_;
  bool expired_ = false;
};

std::string no_answer_reason(const std::string& budget, int at) {
  switch (at) {
    case queued:
      return "blocking pool busy: the attempt did not start within " + budget;
    case reading_password:
      return "reading the password file took longer than " + budget;
    case connecting:
      return "server frozen or unreachable: no answer within " + budget + " (while connecting)";
    default:
      return "server frozen or unreachable: no answer within " + budget + " (while querying)";
  }
}

struct attempt_limits {
  std::string budget;        // for reasons: "3s"
  long long connect_timeout_s = 2;
  long long statement_timeout_ms = 1;
};

std::string classify_connection_error(const std::string& msg, const plan& p,
                                      const attempt_limits& lim) {
  if (contains(msg, "Connection refused")) return "connection refused (" + p.where + ")";
  if (contains(msg, "timeout expired"))
    return "timeout while connecting to " + p.where + " (connect_timeout " +
           std::to_string(lim.connect_timeout_s) + "s)";
  if (auto at = msg.find("password authentication failed"); at != std::string::npos)
    return first_line(std::string_view(msg).substr(at));
  const std::string line = server_line(msg);
  if (contains(msg, "too many connections") || contains(msg, "too many clients") ||
      contains(msg, "remaining connection slots are reserved"))
    return "too many connections: " + line;
  if (contains(msg, "the database system is"))  // starting up / shutting down / in recovery
    return line;
  if (contains(msg, "terminating connection due to administrator command"))
    return "the database system is shutting down (connection terminated by administrator "
           "command)";
  if (contains(msg, "server closed the connection unexpectedly"))
    return "connection lost: server closed the connection unexpectedly";
  return "connection failed: " + line;
}

std::string classify_sql_error(const std::string& msg, const std::string& sqlstate,
                               const attempt_limits& lim) {
  const std::string line = server_line(msg);
  if (sqlstate == "57014") {
    if (contains(msg, "statement timeout"))
      return "query cancelled by statement_timeout after " + format_ms(lim.statement_timeout_ms);
    return "query cancelled: " + line;
  }
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") return line;
  if (sqlstate == "53300") return "too many connections: " + line;
  if (sqlstate.empty()) return "query failed: " + line;
  return "query failed: SQLSTATE " + sqlstate + ": " + line;
}

check_result evaluate(const plan& p, const pqxx::result& r) {
  if (!p.expect) return check_result::ok();
  if (r.empty()) return check_result::failing("no rows (expected \"" + *p.expect + "\")");
  if (r.columns() == 0) return check_result::failing("no columns (expected \"" + *p.expect + "\")");
  const auto field = r[0][0];
  if (field.is_null()) return check_result::failing("expected \"" + *p.expect + "\", got NULL");
  std::string got = field.c_str();
  if (got != *p.expect)
    return check_result::failing("expected \"" + *p.expect + "\", got \"" +
                                 bounded(got, max_value_bytes) + "\"");
  return check_result::ok({}, "ok (got \"" + got + "\")");
}

check_result connect_and_query(const plan& p, const std::optional<std::string>& password,
                               const attempt_limits& lim, attempt_state& st) {
  std::string conninfo;
  for (const auto& [k, v] : p.params) conninfo += k + "=" + quote(v) + " ";
  if (!p.has_connect_timeout)
    conninfo += "connect_timeout=" + std::to_string(lim.connect_timeout_s) + " ";
  std::string options = p.user_options;
  if (!options.empty()) options += ' ';
  options += "-c statement_timeout=" + std::to_string(lim.statement_timeout_ms);
  conninfo += "options=" + quote(options) + " ";
  conninfo += std::string("fallback_application_name=") + application_name;
  if (password) conninfo += " password=" + quote(*password);

  st.at = connecting;
  pqxx::connection conn{conninfo};
  socket_registration reg(st, conn.sock());
  if (reg.expired()) return check_result::failing(no_answer_reason(lim.budget, connecting));
  st.at = querying;
  pqxx::nontransaction tx{conn};
  pqxx::result r = tx.exec(p.query);
  return evaluate(p, r);
}

check_result attempt(const plan& p, std::optional<std::string> password, clock::time_point deadline,
                     attempt_limits lim, attempt_state& st) {
  const auto remaining = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
  if (remaining.count() <= 0) return check_result::failing(no_answer_reason(lim.budget, queued));
  // Limits from the time left when the job really starts (the pool may have queued it).
  lim.connect_timeout_s = std::max<long long>(2, (remaining.count() + 999) / 1000);
  lim.statement_timeout_ms =
      std::max<long long>(1, remaining.count() - std::min<long long>(remaining.count() / 10, 250));

  // The deadline watcher: at the deadline, shut the socket down so that a call blocked on a
  // frozen server returns at once. Joined before this function returns.
  std::thread watcher([&st, deadline] {
    std::unique_lock lock(st.m);
    if (!st.cv.wait_until(lock, deadline, [&] { return st.done; })) {
      st.expired = true;
      if (st.fd >= 0) ::shutdown(st.fd, SHUT_RDWR);
    }
  });

  check_result result;
  std::string error;
  bool connection_error = false;
  try {
    bool have_password = true;
    if (p.password_file) {
      st.at = reading_password;
      std::ifstream f(*p.password_file);
      std::string line;
      if (!f) {
        int err = errno;
        have_password = false;
        result = check_result::failing("cannot read password file " + *p.password_file + ": " +
                                       std::strerror(err));
      } else {
        std::getline(f, line);  // the first line, without its newline
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          have_password = false;
          result = check_result::failing("password file " + *p.password_file + " is empty");
        } else {
          password = std::move(line);
        }
      }
    }
    if (have_password) result = connect_and_query(p, password, lim, st);
  } catch (const pqxx::sql_error& e) {
    if (!e.sqlstate().empty()) {  // a real answer from the server
      result = check_result::failing(classify_sql_error(e.what(), e.sqlstate(), lim));
    } else {
      error = e.what();
    }
  } catch (const pqxx::broken_connection& e) {
    error = e.what();
    connection_error = true;
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }

  {
    std::lock_guard lock(st.m);
    st.done = true;
  }
  st.cv.notify_all();
  watcher.join();

  if (!error.empty()) {
    // After the watcher fired, an error without SQLSTATE is the effect of our own shutdown().
    if (st.expired)
      result = check_result::failing(no_answer_reason(lim.budget, st.at.load()));
    else if (connection_error)
      result = check_result::failing(classify_connection_error(error, p, lim));
    else
      result = check_result::failing("query failed: " + server_line(error));
  }
  if (password && !password->empty()) {  // belt and braces: no reason ever carries it
    for (auto at = result.reason.find(*password); at != std::string::npos;
         at = result.reason.find(*password))
      result.reason.replace(at, password->size(), "***");
  }
  result.reason = bounded(std::move(result.reason), max_reason_bytes);
  return result;
}

// ---- the check ----------------------------------------------------------------------------

class postgres_check final : public check {
 public:
  postgres_check(std::shared_ptr<const plan> p, check_context ctx)
      : plan_(std::move(p)), ctx_(std::move(ctx)) {}

  asio::awaitable<attempt_result> run(clock::time_point deadline) override {
    const auto t0 = clock::now();
    auto finish = [t0](check_result r) {
      r.latency = clock::now() - t0;
      return attempt_result::single(std::move(r));
    };
    if (busy_->load())
      co_return finish(check_result::failing(
          "previous attempt still blocked (its connection has not returned yet)"));
    if (!plan_->parse_error.empty()) co_return finish(check_result::failing(plan_->parse_error));
    if (ctx_.blocking == nullptr)
      co_return finish(check_result::failing("internal error: no blocking pool"));
    const auto budget_ms = std::chrono::round<milliseconds>(deadline - t0).count();
    if (budget_ms <= 0)
      co_return finish(check_result::failing("deadline passed before the attempt started"));

    // The environment is read here, on the event loop (no I/O); the file on the pool.
    std::optional<std::string> password;
    if (plan_->password_env) {
      const char* v = std::getenv(plan_->password_env->c_str());
      if (v == nullptr)
        co_return finish(check_result::failing("password environment variable " +
                                               *plan_->password_env + " is not set"));
      if (*v == '\0')
        co_return finish(check_result::failing("password environment variable " +
                                               *plan_->password_env + " is empty"));
      password.emplace(v);
    }

    attempt_limits lim;
    lim.budget = format_ms((budget_ms + 5) / 10 * 10);
    auto st = std::make_shared<attempt_state>();
    auto job = [p = plan_, password = std::move(password), deadline, lim, st]() mutable {
      return attempt(*p, std::move(password), deadline, lim, *st);
    };

    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
    try {
      auto outcome = co_await (run_blocking<check_result>(*ctx_.blocking, std::move(job), busy_) ||
                               timer.async_wait(asio::use_awaitable));
      if (outcome.index() == 0) {
        auto& value = std::get<0>(outcome);
        if (value) co_return finish(std::move(*value));
        co_return finish(check_result::failing("attempt cancelled"));
      }
      co_return finish(check_result::failing(no_answer_reason(lim.budget, st->at.load())));
    } catch (const std::exception& e) {
      co_return finish(check_result::failing(std::string("attempt aborted: ") + e.what()));
    }
  }

 private:
  std::shared_ptr<const plan> plan_;
  check_context ctx_;
  // True while a pool job of this check runs (set and cleared by run_blocking).
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// libpqxx 6.4 leaks the PGresult of a query whose connection breaks mid-query (our deadline
// shutdown, or a server crash): make_result() asks for the client encoding, which throws on a
// broken connection before the result is owned. About 2 KB per broken query, inside the
// library; suppressed here for sanitizer builds only (by libpq's allocator of PGresults: the
// library has no frame pointers, so deeper frames are not in the recorded stack). Weak, so a
// binary that needs its own suppression list can define one (and should include this line).
extern "C" __attribute__((weak)) const char* __lsan_default_suppressions() {
  return "leak:PQmakeEmptyPGresult\n";
}
#endif

std::unique_ptr<check> make_postgres_check(const config::check_config&,
                                           const config::postgres_check& k, check_context ctx) {
  auto p = std::make_shared<plan>();
  p->password_env = k.password_env;
  p->password_file = k.password_file;
  p->query = k.query;
  p->expect = k.expect;
  std::string error;
  if (auto params = parse_conninfo(k.conninfo, error)) {
    std::string host, port = "5432", dbname;
    for (auto& [key, value] : *params) {
      if (key == "password") continue;  // only password_env / password_file count
      if (key == "options") {
        p->user_options = value;
        continue;
      }
      if (key == "connect_timeout") p->has_connect_timeout = true;
      if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
      if (key == "port") port = value;
      if (key == "dbname") dbname = value;
      p->params.emplace_back(key, value);
    }
    p->where = (host.empty() ? std::string("localhost") : host) + ":" + port + "/" + dbname;
  } else {
    p->parse_error = error;
  }
  return std::make_unique<postgres_check>(std::move(p), std::move(ctx));
}

}  // namespace acis::checks
