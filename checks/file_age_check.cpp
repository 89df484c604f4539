// file_age: a file (or log) must have been modified within max_age.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <system_error>
#include <variant>

#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/blocking.hpp"
#include "checks/kinds.hpp"
#include "checks/metadata_rules.hpp"

namespace acis::checks {

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;
using std::chrono::system_clock;

// Pure apart from the one stat(): `now` is injected.
check_result evaluate_file_age(const config::file_age_check& k, system_clock::time_point now) {
  struct stat st {};
  if (::stat(k.path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return check_result::failing(k.path + ": missing");
    return check_result::failing(k.path + ": cannot stat: " +
                                 std::error_code(err, std::generic_category()).message());
  }
  auto mtime = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  auto age = now - mtime;
  std::string what = k.path + ": last modified " + format_age(age) + " ago";
  if (age > k.max_age)
    return check_result::failing(what + ", max_age " + format_age(k.max_age));
  return check_result::ok({}, what);
}

class file_age_check final : public check {
 public:
  file_age_check(const config::file_age_check& k, check_context ctx)
      : kind_(std::make_shared<const config::file_age_check>(k)), ctx_(ctx) {}

  asio::awaitable<attempt_result> run(steady_clock::time_point deadline) override {
    // A stat() stuck on a dead NFS mount keeps its pool thread; do not pile up more behind it.
    if (busy_->load()) co_return attempt_result::single(check_result::failing("previous attempt still blocked"));
    const auto start = steady_clock::now();
    // The work owns copies of what it reads: after a timeout this check may be destroyed while
    // the pool thread is still inside stat().
    auto work = [kind = kind_] { return evaluate_file_age(*kind, system_clock::now()); };
    check_result r;
    try {
      if (auto done = co_await run_blocking_until<check_result>(ctx_.blocking, work, busy_, deadline))
        r = std::move(*done);
      else
        r = check_result::failing(kind_->path + ": timed out after " +
                                  format_age(steady_clock::now() - start) +
                                  " (blocked in the file system)");
    } catch (const std::exception& e) {
      r = check_result::failing(std::string("internal error: ") + e.what());
    }
    r.latency = steady_clock::now() - start;
    co_return attempt_result::single(std::move(r));
  }

 private:
  std::shared_ptr<const config::file_age_check> kind_;
  check_context ctx_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::unique_ptr<check> make_file_age_check(const config::check_config&,
                                           const config::file_age_check& k, check_context ctx) {
  return std::make_unique<file_age_check>(k, ctx);
}

}  // namespace acis::checks
