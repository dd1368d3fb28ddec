// tasks.cpp: the untyped parts of gather, wait and wait_for (CPython 3.13's asyncio/tasks.py).
#include "qaio/tasks.h"

#include <string>

namespace qaio::detail {

void check_same_loop(EventLoop*& loop, EventLoop& other) {
  if (loop == nullptr) {
    loop = &other;
  } else if (loop != &other) {
    throw std::invalid_argument("futures are tied to different event loops");
  }
}

// ---- gather -------------------------------------------------------------------------------------

bool GatherCore::cancel_children(const std::optional<std::string>& msg) {
  bool any = false;
  for (auto& c : children)
    if (c->cancel(msg)) any = true;
  return any;
}

GatherCore::Step GatherCore::on_child_done(FutureBase& outer, FutureBase& child, std::exception_ptr& error) {
  ++nfinished;
  if (outer.done()) {
    if (!child.cancelled()) child.exception();  // the gather already failed: mark this one retrieved
    return Step::nothing;
  }
  if (!settled) {
    // The first failure decides at once; a cancelled child counts as a failure with its
    // CancelledError, but the gather itself is not "cancelled" (item 118).
    if (child.cancelled()) {
      error = child.make_cancelled_error();
      return Step::fail;
    }
    if (std::exception_ptr e = child.exception()) {
      error = e;
      return Step::fail;
    }
  }
  if (nfinished < children.size()) return Step::nothing;
  if (cancel_requested) {
    // gather.cancel() reached a child: the awaiting task must see CancelledError even when the
    // children's outcomes were being collected (bpo-32684).
    error = child.make_cancelled_error();
    return Step::fail;
  }
  return Step::finish;
}

// ---- wait ---------------------------------------------------------------------------------------

namespace {
struct WaitState {
  Ref<FutureState<void>> waiter;
  TimerHandle timer;
  long counter = 0;
  ReturnWhen return_when = ReturnWhen::ALL_COMPLETED;
};

struct WaitCompletion {
  std::shared_ptr<WaitState> st;
  void operator()(FutureBase& f) {
    --st->counter;
    if (st->counter <= 0 || st->return_when == ReturnWhen::FIRST_COMPLETED ||
        (st->return_when == ReturnWhen::FIRST_EXCEPTION && !f.cancelled() && f.exception())) {
      if (st->timer) st->timer.cancel();
      if (!st->waiter->done()) st->waiter->set_result();
    }
  }
};
}  // namespace

Coro<void> wait_impl(std::vector<Ref<FutureBase>> fs, ReturnWhen return_when,
                     std::optional<double> timeout) {
  if (fs.empty()) throw std::invalid_argument("Set of Tasks/Futures is empty.");
  if (return_when != ReturnWhen::FIRST_COMPLETED && return_when != ReturnWhen::FIRST_EXCEPTION &&
      return_when != ReturnWhen::ALL_COMPLETED)
    throw std::invalid_argument("Invalid return_when value: " + std::to_string(static_cast<int>(return_when)));
  EventLoop& loop = get_running_loop();
  for (auto& f : fs)
    if (&f->loop() != &loop) throw std::invalid_argument("The future belongs to a different loop than the running one");

  auto st = std::make_shared<WaitState>();
  st->waiter = make_ref<FutureState<void>>(loop);
  st->counter = static_cast<long>(fs.size());
  st->return_when = return_when;
  if (timeout) {
    WeakRef<FutureState<void>> weak = st->waiter;
    st->timer = loop.call_later(*timeout, [weak] {
      if (auto w = weak.lock(); w && !w->done()) w->set_result();
    });
  }
  std::vector<CallbackId> ids;
  ids.reserve(fs.size());
  for (auto& f : fs) ids.push_back(f->add_done_callback(WaitCompletion{st}));

  std::exception_ptr error;
  try {
    Future<void> w(st->waiter);
    co_await w;
  } catch (...) {
    error = std::current_exception();
  }
  if (st->timer) st->timer.cancel();
  for (std::size_t i = 0; i < fs.size(); ++i) fs[i]->remove_done_callback(ids[i]);
  if (error) std::rethrow_exception(error);
}

// ---- wait_for -----------------------------------------------------------------------------------

Coro<void> cancel_and_wait(Ref<FutureBase> fut) {
  // Waits on a private future rather than on `fut` itself, so that cancelling *this* wait does
  // not cancel `fut` a second time.
  auto waiter = make_ref<FutureState<void>>(fut->loop());
  WeakRef<FutureState<void>> weak = waiter;
  CallbackId id = fut->add_done_callback([weak](FutureBase&) {
    if (auto w = weak.lock(); w && !w->done()) w->set_result();
  });
  std::exception_ptr error;
  try {
    fut->cancel(std::nullopt);
    Future<void> w(waiter);
    co_await w;
  } catch (...) {
    error = std::current_exception();
  }
  fut->remove_done_callback(id);
  if (error) std::rethrow_exception(error);
}

void throw_timeout_from(std::exception_ptr error) {
  if (is_cancelled_error(error)) {
    try {
      std::rethrow_exception(error);
    } catch (...) {
      std::throw_with_nested(TimeoutError());
    }
  }
  std::rethrow_exception(error);
}

}  // namespace qaio::detail
