// selector.h (private): the epoll set shared by both drivers, and the loop's fd table entry.
//
// Level-triggered like asyncio's selectors. The Qt driver watches epoll_fd() with one
// QSocketNotifier, so every fd the loop watches costs Qt a single notifier (DESIGN.md).
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

#include "qaio/handle.h"

namespace qaio::detail {

struct FdEntry {
  HandleState* reader = nullptr;  // one reference held by the table
  HandleState* writer = nullptr;
  std::uint32_t registered = 0;   // epoll events currently registered (0: not in the set)
};

// ---- hook for qaio::qt::EventDispatcher (src/qt/event_dispatcher.cpp) ----------------------
// A driver may add an fd of its own to a loop's epoll set with a negative data.fd: process_io()
// ignores such events (they are not in the fd table), and poll() sets this flag of the polling
// thread when one is reported. The Qt dispatcher that blocks in a QtEventLoop's run_once() thus
// learns that its own fds are ready without a second epoll_wait. Nothing else reads or sets it.
extern thread_local bool foreign_fd_ready;
// ---- end of hook ----------------------------------------------------------------------------

class Selector {
 public:
  Selector();
  ~Selector();
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;

  int epoll_fd() const noexcept { return epfd_; }
  // How many fds set() has in the epoll set (fds added behind its back, like the Qt
  // dispatcher's, are not counted).
  std::size_t watched() const noexcept { return watched_; }
  // Makes fd's registration `events` (0 removes it). Throws OSError on failure.
  void set(int fd, std::uint32_t current, std::uint32_t events);
  // Waits up to timeout seconds (negative: forever); returns the events gathered. Events kept by
  // wait_and_keep() are returned instead, without asking the kernel again.
  const std::vector<epoll_event>& poll(double timeout);

  // For a driver that waits for the loop's fds inside another library's wait (the glib poll hook,
  // src/qt/glib_poll.h): an fd of the driver's own in the set, reported with data.fd = tag (< 0,
  // which process_io() skips) and not counted in watched(); and a wait whose events are kept for
  // the next poll(), so an I/O wakeup costs one epoll_wait instead of two. wait_and_keep() returns
  // how many of the loop's events arrived (the driver's fd not counted), or -1 with errno set;
  // `tag_ready` says whether the driver's fd was among them. Any set() drops kept events: one could
  // name an fd whose registration changed, and level-triggered epoll reports again what is still
  // ready.
  void add_driver_fd(int fd, int tag, std::uint32_t events);
  void remove_driver_fd(int fd) noexcept;
  int wait_and_keep(int timeout_ms, int tag, bool& tag_ready);
  void close() noexcept;

 private:
  // Copies events_[0, n) to ready_ (what poll() returns) and grows events_ if it was full.
  const std::vector<epoll_event>& take_events(int n);

  int epfd_ = -1;
  std::size_t watched_ = 0;
  std::vector<epoll_event> events_;
  std::vector<epoll_event> ready_;
  int kept_ = 0;  // events_[0, kept_) arrived in wait_and_keep() and were not polled yet
};

}  // namespace qaio::detail
