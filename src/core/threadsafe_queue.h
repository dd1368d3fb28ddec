// threadsafe_queue.h (private): calls handed to the loop from other threads.
//
// Shared (std::shared_ptr) between the loop and whoever may post later (executor jobs), so a post
// after close() finds `closed` and drops its callback instead of touching a dead loop. One eventfd
// write per batch wakes the loop: `signalled` stays set until the loop drains the queue.
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

#include "qaio/handle.h"

namespace qaio::detail {

class ThreadsafeQueue {
 public:
  ThreadsafeQueue();
  ~ThreadsafeQueue();
  ThreadsafeQueue(const ThreadsafeQueue&) = delete;
  ThreadsafeQueue& operator=(const ThreadsafeQueue&) = delete;

  int event_fd() const noexcept { return efd_; }
  // Takes one reference to h; false (and the reference released) if the loop closed.
  bool push(HandleState* h);
  // Loop side: moves the posted handles (with their references) into out.
  void drain(std::vector<HandleState*>& out);
  // Loop side: no more posts; releases what is queued.
  void close();
  // Wakes the loop without posting anything.
  void wake() noexcept;
  // Loop side: whether a post or wake() is waiting for drain(), without a system call. (A busy
  // loop that watches no fd checks this instead of polling epoll for the eventfd alone.)
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }

 private:
  std::mutex mutex_;
  std::vector<HandleState*> items_;
  bool signalled_ = false;
  std::atomic<bool> pending_{false};  // raised after the eventfd is written, lowered by drain()
  bool closed_ = false;
  int efd_ = -1;
};

}  // namespace qaio::detail
