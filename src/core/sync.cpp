// sync.cpp: Event, Lock, Semaphore, Condition and Barrier, ported from the logic of CPython 3.13's
// asyncio/locks.py.
//
// Each primitive keeps its waiters as a FIFO list of private futures. A waiting coroutine removes
// its own entry when it leaves, however it leaves (result, CancelledError, frame destroyed), which
// is asyncio's `finally: self._waiters.remove(fut)`. The subtle part is the cancelled waiter that
// had already been woken: its wake-up must go to the next waiter, or a release would be lost.
#include "qaio/sync.h"

#include <list>
#include <stdexcept>
#include <string>

#include "qaio/event_loop.h"
#include "qaio/policy.h"

namespace qaio {

namespace detail {

using Waiter = Ref<FutureState<void>>;
using WaiterList = std::list<Waiter>;

EventLoop& LoopBinding::get(const char* owner) {
  EventLoop& running = get_running_loop();
  if (loop == nullptr) {
    loop = &running;
  } else if (loop != &running) {
    throw RuntimeError(std::string("<asyncio.") + owner + "> is bound to a different event loop");
  }
  return running;
}

namespace {

// A waiter's place in its list, removed when the waiting coroutine's scope ends.
struct Enlisted {
  WaiterList& list;
  WaiterList::iterator it;
  Enlisted(WaiterList& l, const Waiter& w) : list(l), it(l.insert(l.end(), w)) {}
  ~Enlisted() { list.erase(it); }
  Enlisted(const Enlisted&) = delete;
  Enlisted& operator=(const Enlisted&) = delete;
};

Waiter make_waiter(LoopBinding& binding, const char* owner) {
  return make_ref<FutureState<void>>(binding.get(owner));
}

// Parks the current task on `w`; rethrows CancelledError when the wait is cancelled.
Coro<void> park(Waiter w) {
  Future<void> f(std::move(w));
  co_await f;
}

// Waits in `list` until `w` is woken, and leaves the list however the wait ends. Returns the
// error that ended it (CancelledError), or nullptr: the caller decides what a cancelled waiter
// owes the others before rethrowing it (asyncio's `try: await fut finally: remove` blocks).
Coro<std::exception_ptr> wait_in_line(WaiterList& list, Waiter w) {
  std::exception_ptr error;
  Enlisted entry(list, w);
  Future<void> f(w);  // awaited here, not through park(): one coroutine frame per wait, not two
  try {
    co_await f;
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

}  // namespace

// ---- Event -------------------------------------------------------------------------------------

struct EventState {
  LoopBinding binding;
  WaiterList waiters;
  bool value = false;

  void set() {
    if (value) return;
    value = true;
    for (auto& w : waiters)
      if (!w->done()) w->set_result();
  }
};

namespace {
Coro<bool> event_wait(std::shared_ptr<EventState> st) {
  if (st->value) co_return true;
  Waiter w = make_waiter(st->binding, "Event");
  Enlisted entry(st->waiters, w);
  co_await park(w);
  co_return true;
}
}  // namespace

// ---- Lock --------------------------------------------------------------------------------------

struct LockState : Releasable {
  LoopBinding binding;
  WaiterList waiters;
  bool locked = false;

  // The fast path is only allowed when nobody non-cancelled waits: a woken waiter has not yet
  // resumed and must not be overtaken (fairness, asyncio's all(w.cancelled() ...) test).
  bool free_for_newcomer() const noexcept {
    if (locked) return false;
    for (const auto& w : waiters)
      if (!w->cancelled()) return false;
    return true;
  }
  void wake_up_first() {
    if (waiters.empty()) return;
    const Waiter& first = waiters.front();
    if (!first->done()) first->set_result();
  }
  void release() {
    if (!locked) throw RuntimeError("Lock is not acquired.");
    locked = false;
    wake_up_first();
  }
  void release_from_guard() override { release(); }
};

namespace {
Coro<bool> lock_acquire(std::shared_ptr<LockState> st) {
  if (st->free_for_newcomer()) {
    st->locked = true;
    co_return true;
  }
  Waiter w = make_waiter(st->binding, "Lock");
  std::exception_ptr error = co_await wait_in_line(st->waiters, w);
  if (error) {
    // Cancelled (possibly after being woken): if the lock is still free, make sure the next
    // waiter in line runs, so the wake-up this task may have received is not lost.
    if (!st->locked) st->wake_up_first();
    std::rethrow_exception(error);
  }
  st->locked = true;
  co_return true;
}

Coro<ReleaseGuard> scoped_lock(std::shared_ptr<LockState> st) {
  co_await lock_acquire(st);
  co_return ReleaseGuard(std::move(st));
}
}  // namespace

// ---- Semaphore ---------------------------------------------------------------------------------

struct SemaphoreState : Releasable {
  LoopBinding binding;
  WaiterList waiters;
  long value = 1;
  long bound = 0;
  bool bounded = false;

  bool locked() const noexcept {
    if (value == 0) return true;
    for (const auto& w : waiters)
      if (!w->cancelled()) return true;
    return false;
  }
  // Wakes the first waiter that is not done, handing it one unit of the counter.
  bool wake_up_next() {
    for (auto& w : waiters) {
      if (!w->done()) {
        --value;
        w->set_result();
        return true;
      }
    }
    return false;
  }
  void release() {
    if (bounded && value >= bound) throw std::invalid_argument("BoundedSemaphore released too many times");
    ++value;
    wake_up_next();
  }
  void release_from_guard() override { release(); }
};

namespace {
Coro<bool> semaphore_acquire(std::shared_ptr<SemaphoreState> st) {
  if (!st->locked()) {
    --st->value;
    co_return true;
  }
  Waiter w = make_waiter(st->binding, "Semaphore");
  std::exception_ptr error = co_await wait_in_line(st->waiters, w);
  // Woken (the unit was handed to us) but cancelled before resuming: give the unit back.
  if (error && w->done() && !w->cancelled()) ++st->value;
  // Waiters that arrived while we were queued had to wait for FIFO's sake; wake as many as fit.
  while (st->value > 0)
    if (!st->wake_up_next()) break;
  if (error) std::rethrow_exception(error);
  co_return true;
}

Coro<ReleaseGuard> scoped_semaphore(std::shared_ptr<SemaphoreState> st) {
  co_await semaphore_acquire(st);
  co_return ReleaseGuard(std::move(st));
}
}  // namespace

// ---- Condition ---------------------------------------------------------------------------------

struct ConditionState {
  std::shared_ptr<LockState> lock;
  LoopBinding binding;
  WaiterList waiters;

  void notify_unchecked(std::size_t n) {
    std::size_t woken = 0;
    for (auto& w : waiters) {
      if (woken >= n) break;
      if (!w->done()) {
        ++woken;
        w->set_result();
      }
    }
  }
  void notify(std::size_t n) {
    if (!lock->locked) throw RuntimeError("cannot notify on un-acquired lock");
    notify_unchecked(n);
  }
};

namespace {
Coro<bool> condition_wait(std::shared_ptr<ConditionState> st) {
  if (!st->lock->locked) throw RuntimeError("cannot wait on un-acquired lock");
  st->lock->release();
  std::exception_ptr error;
  try {
    Waiter w = make_waiter(st->binding, "Condition");
    Enlisted entry(st->waiters, w);
    co_await park(w);
  } catch (...) {
    error = std::current_exception();
  }
  // The lock must be held again on the way out, even when the wait was cancelled; a cancellation
  // that arrives during re-acquisition is remembered and re-raised once the lock is ours.
  for (;;) {
    try {
      co_await lock_acquire(st->lock);
      break;
    } catch (const CancelledError&) {
      error = std::current_exception();
    }
  }
  if (error) {
    // We may have been notified just before the cancellation: hand the notification on
    // (a spurious wake-up elsewhere is allowed; a lost one is not).
    st->notify_unchecked(1);
    std::rethrow_exception(error);
  }
  co_return true;
}
}  // namespace

// ---- Barrier -----------------------------------------------------------------------------------

struct BarrierState {
  enum class Phase { filling, draining, resetting, broken };
  std::shared_ptr<ConditionState> cond;
  std::size_t parties = 1;
  std::size_t count = 0;
  Phase phase = Phase::filling;

  // The last task leaving a drained or reset barrier opens it for the next round.
  void exit() {
    if (count == 0) {
      if (phase == Phase::resetting || phase == Phase::draining) phase = Phase::filling;
      cond->notify(waiters_all());
    }
  }
  std::size_t waiters_all() const noexcept { return cond->waiters.size(); }
};

namespace {
// Holds the condition's lock for the scope (asyncio's `async with self._cond`).
struct HeldLock {
  std::shared_ptr<LockState> lock;
  ~HeldLock() {
    try {
      if (lock->locked) lock->release();
    } catch (...) {  // only reachable when the loop is already closed
    }
  }
};

Coro<std::size_t> barrier_wait(std::shared_ptr<BarrierState> st) {
  using Phase = BarrierState::Phase;
  co_await lock_acquire(st->cond->lock);
  HeldLock held{st->cond->lock};
  // Block while the previous round drains or a reset completes.
  while (st->phase == Phase::draining || st->phase == Phase::resetting) co_await condition_wait(st->cond);
  if (st->phase == Phase::broken) throw BrokenBarrierError("Barrier aborted");
  std::size_t index = st->count++;
  std::exception_ptr error;
  try {
    if (index + 1 == st->parties) {
      st->phase = Phase::draining;  // the last arrival releases everybody
      st->cond->notify(st->waiters_all());
    } else {
      while (st->phase == Phase::filling) co_await condition_wait(st->cond);
      if (st->phase == Phase::broken || st->phase == Phase::resetting)
        throw BrokenBarrierError("Abort or reset of barrier");
    }
  } catch (...) {
    error = std::current_exception();
  }
  --st->count;
  st->exit();
  if (error) std::rethrow_exception(error);
  co_return index;
}

Coro<void> barrier_reset(std::shared_ptr<BarrierState> st) {
  using Phase = BarrierState::Phase;
  co_await lock_acquire(st->cond->lock);
  HeldLock held{st->cond->lock};
  if (st->count > 0) {
    st->phase = Phase::resetting;  // waiters leave with BrokenBarrierError; the last one refills
  } else {
    st->phase = Phase::filling;
  }
  st->cond->notify(st->waiters_all());
}

Coro<void> barrier_abort(std::shared_ptr<BarrierState> st) {
  co_await lock_acquire(st->cond->lock);
  HeldLock held{st->cond->lock};
  st->phase = BarrierState::Phase::broken;
  st->cond->notify(st->waiters_all());
}
}  // namespace

}  // namespace detail

// ---- public classes ----------------------------------------------------------------------------

void ReleaseGuard::release() {
  if (auto held = std::exchange(held_, nullptr)) held->release_from_guard();
}

void ReleaseGuard::reset() noexcept {
  try {
    release();
  } catch (...) {  // only reachable when the loop is already closed
  }
}

Event::Event() : state_(std::make_shared<detail::EventState>()) {}
Event::~Event() = default;
bool Event::is_set() const noexcept { return state_->value; }
void Event::set() { state_->set(); }
void Event::clear() noexcept { state_->value = false; }
Coro<bool> Event::wait() { return detail::event_wait(state_); }

Lock::Lock() : state_(std::make_shared<detail::LockState>()) {}
Lock::~Lock() = default;
Coro<bool> Lock::acquire() { return detail::lock_acquire(state_); }
void Lock::release() { state_->release(); }
bool Lock::locked() const noexcept { return state_->locked; }
Coro<ReleaseGuard> Lock::scoped() { return detail::scoped_lock(state_); }

Semaphore::Semaphore(long value) : Semaphore(value, false) {}
Semaphore::Semaphore(long value, bool bounded) : state_(std::make_shared<detail::SemaphoreState>()) {
  if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
  state_->value = value;
  state_->bound = value;
  state_->bounded = bounded;
}
Semaphore::~Semaphore() = default;
Coro<bool> Semaphore::acquire() { return detail::semaphore_acquire(state_); }
void Semaphore::release() { state_->release(); }
bool Semaphore::locked() const noexcept { return state_->locked(); }
long Semaphore::value() const noexcept { return state_->value; }
Coro<ReleaseGuard> Semaphore::scoped() { return detail::scoped_semaphore(state_); }

Condition::Condition() : state_(std::make_shared<detail::ConditionState>()) {
  state_->lock = std::make_shared<detail::LockState>();
}
Condition::Condition(Lock& lock) : state_(std::make_shared<detail::ConditionState>()) {
  state_->lock = lock.state_;
}
Condition::~Condition() = default;
Coro<bool> Condition::acquire() { return detail::lock_acquire(state_->lock); }
void Condition::release() { state_->lock->release(); }
bool Condition::locked() const noexcept { return state_->lock->locked; }
Coro<ReleaseGuard> Condition::scoped() { return detail::scoped_lock(state_->lock); }
Coro<bool> Condition::wait() { return detail::condition_wait(state_); }
void Condition::notify(std::size_t n) { state_->notify(n); }
void Condition::notify_all() { state_->notify(state_->waiters.size()); }

Barrier::Barrier(std::size_t parties) : state_(std::make_shared<detail::BarrierState>()) {
  if (parties < 1) throw std::invalid_argument("parties must be >= 1");
  state_->parties = parties;
  state_->cond = std::make_shared<detail::ConditionState>();
  state_->cond->lock = std::make_shared<detail::LockState>();
}
Barrier::~Barrier() = default;
Coro<std::size_t> Barrier::wait() { return detail::barrier_wait(state_); }
Coro<void> Barrier::reset() { return detail::barrier_reset(state_); }
Coro<void> Barrier::abort() { return detail::barrier_abort(state_); }
std::size_t Barrier::parties() const noexcept { return state_->parties; }
std::size_t Barrier::n_waiting() const noexcept {
  return state_->phase == detail::BarrierState::Phase::filling ? state_->count : 0;
}
bool Barrier::broken() const noexcept { return state_->phase == detail::BarrierState::Phase::broken; }

}  // namespace qaio
