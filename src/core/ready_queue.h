// ready_queue.h (private): the loop's FIFO of work ready to run.
//
// An entry is either a HandleState (a call_soon callback, an fd callback, an expired timer) or a
// task whose next step is due. Task steps are queued as the task itself, tagged in the pointer's
// low bit, rather than as a handle wrapping it: a step is the most common thing a coroutine program
// schedules, and a handle for it cost a pool slot, a callback move and two reference counts (W3 in
// docs/benchmarks.md). push_back/pop_front are O(1); see ReadyQueue for how it grows.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "qaio/detail/slab_pool.h"
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

// A FIFO of segments rather than one doubling ring: growing never copies the queue (a burst of
// ten million callbacks would otherwise move 80 MB at once, inside one Qt time slice), and it
// touches only the memory the entries need. Segments are 4 KiB while the queue is small; once it
// holds more than kBigAfter entries it grows by 2 MiB segments mapped as transparent huge pages,
// because 4 KiB ones cost a page fault every 510 entries (about 2 ns a callback in the W1 batch,
// docs/benchmarks.md). One emptied segment is kept for reuse, so a loop that stays small never
// allocates.
class ReadyQueue {
 public:
  ReadyQueue() : head_(Segment::make(false)), tail_(head_) {}
  ~ReadyQueue() {
    while (head_) Segment::release(std::exchange(head_, head_->next));
    if (spare_) Segment::release(spare_);
  }
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push_back(ReadyEntry e) {
    if (tail_pos_ == tail_->capacity) [[unlikely]]
      add_segment();
    tail_->entries()[tail_pos_++] = e;
    ++size_;
  }
  ReadyEntry pop_front() noexcept {  // the queue must not be empty
    if (head_pos_ == head_->capacity) [[unlikely]]
      drop_head();
    --size_;
    ReadyEntry e = head_->entries()[head_pos_++];
    if (size_ == 0 && head_ == tail_) head_pos_ = tail_pos_ = 0;  // reuse the segment from its start
    return e;
  }

 private:
  static constexpr std::size_t kBigAfter = 16384;

  struct Segment {
    static constexpr std::size_t kSmallBytes = 4096;
    static constexpr std::size_t kBigBytes = std::size_t{2} << 20;
    Segment* next = nullptr;
    std::uint32_t capacity = 0;  // entries
    bool mapped = false;         // a 2 MiB mapping (else operator new)

    ReadyEntry* entries() noexcept { return reinterpret_cast<ReadyEntry*>(this + 1); }
    static Segment* make(bool big) {
      void* memory = big ? map_aligned_2mib(/*huge=*/true) : nullptr;
      const bool mapped = memory != nullptr;
      if (!mapped) memory = ::operator new(kSmallBytes);
      const std::size_t bytes = mapped ? kBigBytes : kSmallBytes;
      auto* s = ::new (memory) Segment();
      s->mapped = mapped;
      s->capacity = static_cast<std::uint32_t>((bytes - sizeof(Segment)) / sizeof(ReadyEntry));
      return s;
    }
    static void release(Segment* s) noexcept {
      if (s->mapped) {
        ::munmap(s, kBigBytes);
      } else {
        ::operator delete(s);
      }
    }
  };
  static_assert(sizeof(Segment) == 16);

  // Out of line, once per segment: push_back stays small enough to inline into every call_soon.
  [[gnu::noinline]] void add_segment() {
    const bool big = size_ >= kBigAfter;
    Segment* next;
    if (spare_ && spare_->mapped == big) {
      next = std::exchange(spare_, nullptr);
    } else {
      next = Segment::make(big);
    }
    next->next = nullptr;
    tail_->next = next;
    tail_ = next;
    tail_pos_ = 0;
  }
  // A burst's 2 MiB segments are given back as it drains: only one small spare, or a big one
  // while the queue is still big, is kept. (The segment the queue empties onto stays as its head.)
  void drop_head() noexcept {
    Segment* done = std::exchange(head_, head_->next);
    head_pos_ = 0;
    if (done->mapped && size_ < kBigAfter) {
      Segment::release(done);
      return;
    }
    if (spare_) Segment::release(std::exchange(spare_, nullptr));
    spare_ = done;
  }

  Segment* head_;
  Segment* tail_;
  Segment* spare_ = nullptr;
  std::size_t head_pos_ = 0;  // next entry to pop in head_
  std::size_t tail_pos_ = 0;  // next free entry in tail_
  std::size_t size_ = 0;
};

}  // namespace qaio::detail
