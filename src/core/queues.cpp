// queues.cpp: the untyped half of qaio's queues: blocked getters and putters, task accounting and
// shutdown, following the logic of CPython 3.13's asyncio/queues.py.
//
// A blocked put()/get() loops "while full/empty: park on a future". Whoever changes the queue wakes
// the first waiter that is still pending. A waiter that is cancelled after such a wake-up did not
// use it, so it wakes the next one in line before re-raising (no lost wake-up).
#include <algorithm>
#include <stdexcept>

#include "qaio/detail/slab_pool.h"
#include "qaio/event_loop.h"
#include "qaio/queues.h"

namespace qaio::detail {

void QueueCore::check_can_put() const {
  if (shutdown_) throw QueueShutDown();
  if (full()) throw QueueFull();
}

void QueueCore::item_added() {
  ++unfinished_;
  finished_.clear();
  wakeup_next(getters_);
}

void QueueCore::check_can_get() const {
  if (empty()) {
    if (shutdown_) throw QueueShutDown();
    throw QueueEmpty();
  }
}

void QueueCore::item_removed() { wakeup_next(putters_); }

void QueueCore::task_done() {
  if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
  if (--unfinished_ == 0) finished_.set();
}

void QueueCore::shutdown(bool immediate) {
  shutdown_ = true;
  if (immediate) {
    while (!empty()) {
      drop_one();
      if (unfinished_ > 0) --unfinished_;
    }
    if (unfinished_ == 0) finished_.set();  // join() must not wait for discarded items
  }
  // Every blocked caller re-checks and sees the shutdown.
  for (auto* list : {&getters_, &putters_}) {
    while (!list->empty()) {
      auto w = std::move(list->front());
      list->pop_front();
      if (!w->done()) w->set_result();
    }
  }
}

void QueueCore::wakeup_next(WaiterList& waiters) {
  while (!waiters.empty()) {
    auto w = std::move(waiters.front());
    waiters.pop_front();
    if (!w->done()) {
      w->set_result();
      break;
    }
  }
}

void QueueCore::remove_waiter(WaiterList& waiters, const Ref<FutureState<void>>& w) {
  // The waiter may already be gone: wakeup_next() and shutdown() pop what they wake.
  auto it = std::find(waiters.begin(), waiters.end(), w);
  if (it != waiters.end()) waiters.erase(it);
}

Coro<void> QueueCore::wait_for_room(std::shared_ptr<QueueCore> q) {
  while (q->full()) {
    if (q->shutdown_) throw QueueShutDown();
    auto putter = make_ref<FutureState<void>>(q->binding_.get("Queue"));
    q->putters_.push_back(putter);
    std::exception_ptr error;
    try {
      Future<void> f(putter);
      co_await f;
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      putter->cancel();  // in case it is still pending (the exception came from elsewhere)
      remove_waiter(q->putters_, putter);
      // Woken by a get() but leaving: the room it announced goes to the next putter.
      if (!q->full() && !putter->cancelled()) wakeup_next(q->putters_);
      std::rethrow_exception(error);
    }
  }
}

Coro<void> QueueCore::wait_for_item(std::shared_ptr<QueueCore> q) {
  while (q->empty()) {
    if (q->shutdown_) throw QueueShutDown();
    auto getter = make_ref<FutureState<void>>(q->binding_.get("Queue"));
    q->getters_.push_back(getter);
    std::exception_ptr error;
    try {
      Future<void> f(getter);
      co_await f;
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      getter->cancel();
      remove_waiter(q->getters_, getter);
      // Woken by a put() but leaving: the item stays queued, and the next getter is told.
      if (!q->empty() && !getter->cancelled()) wakeup_next(q->getters_);
      std::rethrow_exception(error);
    }
  }
}

}  // namespace qaio::detail
