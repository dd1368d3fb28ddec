// ready_queue.h (private): the loop's FIFO of handles ready to run, a growable ring buffer.
// push_back/pop_front are O(1) and allocate only when the ring doubles.
#pragma once

#include <cstddef>
#include <memory>

#include "qaio/handle.h"

namespace qaio::detail {

class ReadyQueue {
 public:
  ReadyQueue() : buf_(std::make_unique<HandleState*[]>(64)), mask_(63) {}
  std::size_t size() const noexcept { return tail_ - head_; }
  bool empty() const noexcept { return head_ == tail_; }
  void push_back(HandleState* h) {
    if (size() == mask_ + 1) grow();
    buf_[tail_++ & mask_] = h;
  }
  HandleState* pop_front() noexcept { return buf_[head_++ & mask_]; }

 private:
  void grow() {
    std::size_t n = size();
    auto bigger = std::make_unique<HandleState*[]>((mask_ + 1) * 2);
    for (std::size_t i = 0; i < n; ++i) bigger[i] = buf_[(head_ + i) & mask_];
    buf_ = std::move(bigger);
    mask_ = mask_ * 2 + 1;
    head_ = 0;
    tail_ = n;
  }
  std::unique_ptr<HandleState*[]> buf_;
  std::size_t mask_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace qaio::detail
