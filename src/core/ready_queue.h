// ready_queue.h (private): the loop's FIFO of work ready to run.
//
// An entry is either a HandleState (a call_soon callback, an fd callback, an expired timer) or a
// task whose next step is due. Task steps are queued as the task itself, tagged in the pointer's
// low bit, rather than as a handle wrapping it: a step is the most common thing a coroutine program
// schedules, and a handle for it cost a pool slot, a callback move and two reference counts (W3 in
// docs/benchmarks.md). push_back/pop_front are O(1); see ReadyQueue for how it grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

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

// A FIFO of fixed segments rather than one doubling ring: growing never copies the queue (a burst
// of ten million callbacks would otherwise move 80 MB at once, inside one Qt time slice), and it
// touches only the memory the entries need. One emptied segment is kept for reuse, so a loop
// that stays small never allocates.
class ReadyQueue {
 public:
  ReadyQueue() : head_(new Segment), tail_(head_) {}
  ~ReadyQueue() {
    while (head_) delete std::exchange(head_, head_->next);
    delete spare_;
  }
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push_back(ReadyEntry e) {
    if (tail_pos_ == Segment::kEntries) [[unlikely]]
      add_segment();
    tail_->entries[tail_pos_++] = e;
    ++size_;
  }
  // Out of line, once per 511 entries: push_back stays small enough to inline into every
  // call_soon.
  [[gnu::noinline]] void add_segment() {
    Segment* next = spare_ ? std::exchange(spare_, nullptr) : new Segment;
    next->next = nullptr;
    tail_->next = next;
    tail_ = next;
    tail_pos_ = 0;
  }
  ReadyEntry pop_front() noexcept {  // the queue must not be empty
    if (head_pos_ == Segment::kEntries) {
      Segment* done = std::exchange(head_, head_->next);
      head_pos_ = 0;
      if (spare_) {
        delete done;
      } else {
        spare_ = done;
      }
    }
    --size_;
    ReadyEntry e = head_->entries[head_pos_++];
    if (size_ == 0 && head_ == tail_) head_pos_ = tail_pos_ = 0;  // reuse the segment from its start
    return e;
  }

 private:
  struct Segment {
    static constexpr std::size_t kEntries = 511;  // with the link: one 4 KiB allocation
    ReadyEntry entries[kEntries];
    Segment* next = nullptr;
  };
  Segment* head_;
  Segment* tail_;
  Segment* spare_ = nullptr;
  std::size_t head_pos_ = 0;  // next entry to pop in head_
  std::size_t tail_pos_ = 0;  // next free entry in tail_
  std::size_t size_ = 0;
};

}  // namespace qaio::detail
