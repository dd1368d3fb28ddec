// qaio/queues.h: asyncio's queues: Queue<T> (FIFO), LifoQueue<T>, PriorityQueue<T> (smallest
// first), with maxsize, task_done()/join() and 3.13's shutdown().
//
// The untyped half (waiting getters and putters, the unfinished-task count, shutdown) lives in
// detail::QueueCore (queues.cpp); the item store is the only typed part. Blocked put()/get() park
// on private futures in FIFO order; a waiter that is cancelled after being woken passes the wake-up
// on, and an item is only taken by the get() that returns it, so cancellation loses no item.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/future.h"
#include "qaio/sync.h"

namespace qaio {

namespace detail {

// What every queue shares, whatever its item type.
class QueueCore {
 public:
  explicit QueueCore(long maxsize) : maxsize_(maxsize) { finished_.set(); }
  virtual ~QueueCore() = default;
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  virtual std::size_t size() const noexcept = 0;
  long maxsize() const noexcept { return maxsize_; }
  bool full() const noexcept { return maxsize_ > 0 && static_cast<long>(size()) >= maxsize_; }
  bool empty() const noexcept { return size() == 0; }
  bool is_shutdown() const noexcept { return shutdown_; }

  // Checks before an item goes in (QueueShutDown, QueueFull) and bookkeeping after.
  void check_can_put() const;
  void item_added();
  // Checks before an item comes out (QueueShutDown, QueueEmpty) and bookkeeping after.
  void check_can_get() const;
  void item_removed();

  void task_done();
  std::size_t unfinished_tasks() const noexcept { return unfinished_; }
  // Marks the queue shut down; with `immediate`, drop_all() discards the items first.
  void shutdown(bool immediate);
  Event& finished() noexcept { return finished_; }

  // Wait until put_nowait()/get_nowait() can succeed (or shutdown makes them throw).
  static Coro<void> wait_for_room(std::shared_ptr<QueueCore> q);
  static Coro<void> wait_for_item(std::shared_ptr<QueueCore> q);

 protected:
  virtual void drop_one() = 0;

 private:
  using WaiterList = std::deque<Ref<FutureState<void>>>;
  static void wakeup_next(WaiterList& waiters);
  static void remove_waiter(WaiterList& waiters, const Ref<FutureState<void>>& w);

  LoopBinding binding_;
  WaiterList getters_;
  WaiterList putters_;
  long maxsize_;
  std::size_t unfinished_ = 0;
  Event finished_;
  bool shutdown_ = false;
};

template <class T>
struct FifoStore {
  std::deque<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.front());
    items.pop_front();
    return v;
  }
};

template <class T>
struct LifoStore {
  std::vector<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
};

// A binary min-heap under Compare (std::less: smallest first, like heapq).
template <class T, class Compare>
struct HeapStore {
  std::vector<T> items;
  Compare less;
  void push(T v) {
    items.push_back(std::move(v));
    std::push_heap(items.begin(), items.end(), greater());
  }
  T pop() {
    std::pop_heap(items.begin(), items.end(), greater());
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }

 private:
  auto greater() {
    return [this](const T& a, const T& b) { return less(b, a); };
  }
};

template <class T, class Store>
class QueueState final : public QueueCore {
 public:
  using QueueCore::QueueCore;
  std::size_t size() const noexcept override { return store.items.size(); }
  void put_nowait(T item) {
    check_can_put();
    store.push(std::move(item));
    item_added();
  }
  T get_nowait() {
    check_can_get();
    T item = store.pop();
    item_removed();
    return item;
  }
  Store store;

 protected:
  void drop_one() override { store.pop(); }
};

}  // namespace detail

// The queue machinery; use Queue, LifoQueue or PriorityQueue. maxsize <= 0 means unbounded.
template <class T, class Store>
class BasicQueue {
 public:
  using value_type = T;

  explicit BasicQueue(long maxsize = 0) : st_(std::make_shared<State>(maxsize)) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  std::size_t qsize() const noexcept { return st_->size(); }
  long maxsize() const noexcept { return st_->maxsize(); }
  bool empty() const noexcept { return st_->empty(); }
  bool full() const noexcept { return st_->full(); }

  // Waits for room, then puts the item. QueueShutDown once shut down.
  Coro<void> put(T item) { return do_put(st_, std::move(item)); }
  // Waits for an item and removes it. QueueShutDown once shut down and empty.
  Coro<T> get() { return do_get(st_); }
  void put_nowait(T item) { st_->put_nowait(std::move(item)); }  // QueueFull, QueueShutDown
  T get_nowait() { return st_->get_nowait(); }                   // QueueEmpty, QueueShutDown

  // A consumer finished an item it got; std::invalid_argument if called more than items were put.
  void task_done() { st_->task_done(); }
  // Waits until every item put has been marked task_done().
  Coro<void> join() { return do_join(st_); }
  // 3.13's Queue.shutdown(immediate): put() fails from now on; get() fails once the queue is
  // empty (at once with immediate=true, which also discards the items); blocked callers wake up.
  void shutdown(bool immediate = false) { st_->shutdown(immediate); }
  bool is_shutdown() const noexcept { return st_->is_shutdown(); }

 private:
  using State = detail::QueueState<T, Store>;

  static Coro<void> do_put(std::shared_ptr<State> st, T item) {
    co_await detail::QueueCore::wait_for_room(st);
    st->put_nowait(std::move(item));
  }
  static Coro<T> do_get(std::shared_ptr<State> st) {
    co_await detail::QueueCore::wait_for_item(st);
    co_return st->get_nowait();
  }
  static Coro<void> do_join(std::shared_ptr<State> st) {
    if (st->unfinished_tasks() > 0) co_await st->finished().wait();
  }

  std::shared_ptr<State> st_;
};

// asyncio.Queue: first in, first out.
template <class T>
class Queue : public BasicQueue<T, detail::FifoStore<T>> {
 public:
  using BasicQueue<T, detail::FifoStore<T>>::BasicQueue;
};

// asyncio.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoStore<T>> {
 public:
  using BasicQueue<T, detail::LifoStore<T>>::BasicQueue;
};

// asyncio.PriorityQueue: smallest item first (by Compare, std::less by default); use a
// std::pair/std::tuple (priority, data) as in Python.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::HeapStore<T, Compare>> {
 public:
  using BasicQueue<T, detail::HeapStore<T, Compare>>::BasicQueue;
};

}  // namespace qaio
