// threadsafe_queue.cpp: the mutex-protected queue plus eventfd behind call_soon_threadsafe().
#include "threadsafe_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "qaio/errors.h"

namespace qaio::detail {

ThreadsafeQueue::ThreadsafeQueue() {
  efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd_ < 0) throw_os_error(errno, "eventfd");
}

ThreadsafeQueue::~ThreadsafeQueue() {
  close();
  ::close(efd_);
}

void ThreadsafeQueue::wake() noexcept {
  std::uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is awake anyway.
  [[maybe_unused]] ssize_t n = ::write(efd_, &one, sizeof one);
  // After the write: a count left in the eventfd always comes with the flag raised, so a busy
  // loop that drains on the flag alone never leaves the eventfd readable (a Qt notifier on the
  // epoll fd would fire forever).
  pending_.store(true, std::memory_order_seq_cst);
}

bool ThreadsafeQueue::push(HandleState* h) {
  bool need_wake = false;
  {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      items_.push_back(h);
      need_wake = !signalled_;
      signalled_ = true;
      h = nullptr;
    }
  }
  if (h) {
    h->release();  // the loop is closed: drop the call
    return false;
  }
  if (need_wake) wake();
  return true;
}

void ThreadsafeQueue::drain(std::vector<HandleState*>& out) {
  // Cleared first: a wake() from here on (for a post this drain may miss) raises it again.
  pending_.store(false, std::memory_order_relaxed);
  std::uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(efd_, &value, sizeof value);
  std::lock_guard lock(mutex_);
  signalled_ = false;
  out.insert(out.end(), items_.begin(), items_.end());
  items_.clear();
}

void ThreadsafeQueue::close() {
  std::vector<HandleState*> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(items_);
  }
  for (HandleState* h : dropped) h->release();
}

}  // namespace qaio::detail
