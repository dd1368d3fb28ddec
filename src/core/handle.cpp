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

void* HandleState::allocate(std::size_t bytes, bool pooled) {
  return pooled ? slab_allocate(bytes) : ::operator new(bytes);
}

void HandleState::deallocate(void* p, std::size_t bytes, bool pooled) noexcept {
  if (pooled) {
    slab_free(p, bytes);
  } else {
    ::operator delete(p);
  }
}

void HandleState::destroy(HandleState* h) noexcept {
  h->drop_callback();
  const bool pooled = h->pooled;
  const std::size_t bytes = h->bytes;
  h->~HandleState();
  deallocate(h, bytes, pooled);
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
  if (!state_->running) state_->drop_callback();
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
    text += state_->describe();
    text += "()";
  }
  text += '>';
  return text;
}

}  // namespace qaio
