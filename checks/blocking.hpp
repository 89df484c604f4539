// run_blocking: run a blocking function on a thread pool and await its result from a
// coroutine on the event loop, with per-operation cancellation.
//
// A pool thread cannot be interrupted, so cancellation (e.g. the scheduler's timeout racing
// the check with `||`) completes the awaiting coroutine at once with nullopt and the late
// result is dropped. The function itself must still be bounded (connect_timeout, a
// client-side deadline), or the pool thread stays busy; callers track that with `busy`.
//
// Threading: the completion is always delivered on the awaiting coroutine's executor.
// Exceptions thrown by `fn` are rethrown in the awaiting coroutine.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace acis::checks {

template <typename T, typename Fn>
boost::asio::awaitable<std::optional<T>> run_blocking(boost::asio::thread_pool& pool, Fn fn,
                                                      std::shared_ptr<std::atomic<bool>> busy = {}) {
  namespace asio = boost::asio;
  auto initiate = [&pool, busy](auto handler, Fn work) {
    using handler_t = decltype(handler);
    struct state {
      std::optional<handler_t> h;
    };
    auto st = std::make_shared<state>();
    auto ex = asio::get_associated_executor(handler, pool.get_executor());
    auto slot = asio::get_associated_cancellation_slot(handler);
    st->h.emplace(std::move(handler));
    if (slot.is_connected()) {
      slot.assign([st, ex](asio::cancellation_type) {
        // Runs on the event loop (cancellation is emitted there).
        if (!st->h) return;
        auto h = std::move(*st->h);
        st->h.reset();
        asio::post(ex, [h = std::move(h)]() mutable {
          std::move(h)(std::exception_ptr{}, std::optional<T>{});
        });
      });
    }
    if (busy) busy->store(true);
    asio::post(pool, [st, ex, slot, busy, work = std::move(work)]() mutable {
      std::exception_ptr err;
      std::optional<T> value;
      try {
        value.emplace(work());
      } catch (...) {
        err = std::current_exception();
      }
      if (busy) busy->store(false);
      asio::post(ex, [st, slot, err, value = std::move(value)]() mutable {
        if (!st->h) return;  // cancelled meanwhile: the result is dropped
        auto h = std::move(*st->h);
        st->h.reset();
        if (slot.is_connected()) slot.clear();
        std::move(h)(err, std::move(value));
      });
    });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                          void(std::exception_ptr, std::optional<T>)>(
      initiate, asio::use_awaitable, std::move(fn));
}

// run_blocking raced against `deadline`: nullopt when the deadline came first (the pool job
// goes on; `busy` stays set until it ends). Without a pool (a one-shot CLI run) `work` runs
// inline: blocking the caller is acceptable there. Used by the file-system and /proc checks.
template <typename T, typename Fn>
boost::asio::awaitable<std::optional<T>> run_blocking_until(
    boost::asio::thread_pool* pool, Fn work, std::shared_ptr<std::atomic<bool>> busy,
    std::chrono::steady_clock::time_point deadline) {
  namespace asio = boost::asio;
  using namespace asio::experimental::awaitable_operators;
  if (!pool) co_return std::optional<T>(work());
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto done = co_await (run_blocking<T>(*pool, std::move(work), std::move(busy)) ||
                        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (done.index() == 0 && std::get<0>(done)) co_return std::move(std::get<0>(done));
  co_return std::nullopt;
}

}  // namespace acis::checks
