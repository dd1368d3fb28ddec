// handle.cpp: Handle/TimerHandle operations and the per-thread free list that HandleStates come from.
//
// Every call_soon/call_later needs one HandleState; recycling them through a thread-local free list
// keeps the scheduling hot path free of malloc (DESIGN rule 12). A state freed on another thread
// simply joins that thread's list.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include "qaio/event_loop.h"
#include "qaio/handle.h"

namespace qaio {

namespace detail {

namespace {
struct FreeList {
  struct Node {
    Node* next;
  };
  Node* head = nullptr;
  std::size_t count = 0;
  static constexpr std::size_t kMaxCached = 4096;
  ~FreeList() {
    while (head) {
      Node* n = head;
      head = n->next;
      ::operator delete(static_cast<void*>(n));
    }
  }
};
thread_local FreeList free_list;
}  // namespace

void* HandleState::operator new(std::size_t size) {
  if (size == sizeof(HandleState) && free_list.head) {
    FreeList::Node* n = free_list.head;
    free_list.head = n->next;
    --free_list.count;
    return n;
  }
  return ::operator new(size);
}

void HandleState::operator delete(void* p, std::size_t size) noexcept {
  if (size == sizeof(HandleState) && free_list.count < FreeList::kMaxCached) {
    auto* n = static_cast<FreeList::Node*>(p);
    n->next = free_list.head;
    free_list.head = n;
    ++free_list.count;
    return;
  }
  ::operator delete(p);
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
