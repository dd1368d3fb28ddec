// ready_queue.h (private): the loop's FIFO of work ready to run, a growable ring buffer.
//
// An entry is either a HandleState (a call_soon callback, an fd callback, an expired timer) or a
// task whose next step is due. Task steps are queued as the task itself, tagged in the pointer's
// low bit, rather than as a handle wrapping it: a step is the most common thing a coroutine program
// schedules, and a handle for it cost a pool slot, a callback move and two reference counts (W3 in
// docs/benchmarks.md). push_back/pop_front are O(1) and allocate only when the ring doubles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "qaio/handle.h"

namespace qaio::detail {

class TaskCore;

class ReadyEntry {
 public:
  ReadyEntry() noexcept = default;
  static ReadyEntry handle(HandleState* h) noexcept { return ReadyEntry(reinterpret_cast<std::uintptr_t>(h)); }
  static ReadyEntry step(TaskCore* t) noexcept { return ReadyEntry(reinterpret_cast<std::uintptr_t>(t) | 1u); }
  bool is_step() const noexcept { return bits_ & 1u; }
  HandleState* as_handle() const noexcept { return reinterpret_cast<HandleState*>(bits_); }
  TaskCore* as_step() const noexcept { return reinterpret_cast<TaskCore*>(bits_ & ~std::uintptr_t{1}); }

 private:
  explicit ReadyEntry(std::uintptr_t bits) noexcept : bits_(bits) {}
  std::uintptr_t bits_ = 0;
};

class ReadyQueue {
 public:
  ReadyQueue() : buf_(std::make_unique<ReadyEntry[]>(64)), mask_(63) {}
  std::size_t size() const noexcept { return tail_ - head_; }
  bool empty() const noexcept { return head_ == tail_; }
  void push_back(ReadyEntry e) {
    if (size() == mask_ + 1) grow();
    buf_[tail_++ & mask_] = e;
  }
  ReadyEntry pop_front() noexcept { return buf_[head_++ & mask_]; }

 private:
  void grow() {
    std::size_t n = size();
    auto bigger = std::make_unique<ReadyEntry[]>((mask_ + 1) * 2);
    for (std::size_t i = 0; i < n; ++i) bigger[i] = buf_[(head_ + i) & mask_];
    buf_ = std::move(bigger);
    mask_ = mask_ * 2 + 1;
    head_ = 0;
    tail_ = n;
  }
  std::unique_ptr<ReadyEntry[]> buf_;
  std::size_t mask_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace qaio::detail
