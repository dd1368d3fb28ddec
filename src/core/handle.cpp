// handle.cpp: Handle/TimerHandle operations, and making and destroying HandleStates (from the
// per-thread slab pool of slab_pool.h, which keeps the scheduling hot path free of malloc: DESIGN
// rule 12).
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "qaio/detail/slab_pool.h"
#include "qaio/event_loop.h"
#include "qaio/handle.h"

namespace qaio {

namespace detail {

// docs/design.md and the W1 batch analysis rely on this size (64-bit targets).
static_assert(sizeof(void*) != 8 || sizeof(HandleState) == 88, "HandleState grew: update the docs or shrink it");

HandleState* HandleState::create(bool pooled) {
  void* memory = pooled ? slab_allocate(sizeof(HandleState)) : ::operator new(sizeof(HandleState));
  auto* h = ::new (memory) HandleState();
  h->pooled = pooled;
  return h;
}

void HandleState::destroy(HandleState* h) noexcept {
  const bool pooled = h->pooled;
  h->~HandleState();
  if (pooled) {
    slab_free(h, sizeof(HandleState));
  } else {
    ::operator delete(static_cast<void*>(h));
  }
}

std::string demangle_type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(type.name());
}

}  // namespace detail

void Handle::cancel() {
  if (!state_ || state_->cancelled) return;
  state_->cancelled = true;
  // Drop the callback now: its captures may hold large objects or references (asyncio does too).
  if (!state_->running) detail::Callback dropped = std::move(state_->callback);
  if (state_->is_timer && state_->in_heap && state_->loop) state_->loop->timer_handle_cancelled(*state_);
}

std::string Handle::repr() const {
  if (!state_) return "<Handle None>";
  std::string text = state_->is_timer ? "<TimerHandle" : "<Handle";
  if (state_->cancelled) text += " cancelled";
  // Appends only: g++ 12 at -O3 reports a false -Wrestrict on `" " + std::string` chains.
  if (state_->is_timer) {
    text += " when=";
    text += std::to_string(state_->when);
  }
  if (!state_->cancelled) {
    text += ' ';
    text += state_->callback.describe();
    text += "()";
  }
  text += '>';
  return text;
}

}  // namespace qaio
