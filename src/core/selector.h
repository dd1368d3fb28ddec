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

class Selector {
 public:
  Selector();
  ~Selector();
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;

  int epoll_fd() const noexcept { return epfd_; }
  // Whether a busy iteration may skip its zero-timeout poll: the set holds only the threadsafe
  // eventfd (which the loop checks through a flag instead) and no driver fd that must be polled.
  bool busy_poll_skippable() const noexcept { return watched_ == 1 && busy_polled_driver_fds_ == 0; }
  // Makes fd's registration `events` (0 removes it). Throws OSError on failure.
  void set(int fd, std::uint32_t current, std::uint32_t events);
  // Waits up to timeout seconds (negative: forever); returns the events gathered. Events kept by
  // wait_and_keep() are returned instead, without asking the kernel again.
  const std::vector<epoll_event>& poll(double timeout);

  // ---- for drivers (src/qt): their own fds in the set, and waiting elsewhere ----
  // A driver's fd in the set, reported with data.fd = tag (-32 <= tag < 0; process_io() skips it)
  // and not counted in watched_. `poll_when_busy`: busy iterations must poll for it (qaio's Qt
  // dispatcher, which blocks in the loop's poll and has Qt's timers and notifiers behind its fd).
  // Throws OSError.
  void add_driver_fd(int fd, int tag, std::uint32_t events, bool poll_when_busy);
  void remove_driver_fd(int fd) noexcept;
  // Whether a poll since the last call reported the driver fd with `tag`; clears the answer.
  bool take_tag_seen(int tag) noexcept;
  // For a driver that waits for the loop's fds inside another library's wait (the glib poll hook,
  // src/qt/glib_poll.h): a wait whose events are kept for the next poll() if any is the loop's,
  // so an I/O wakeup costs one epoll_wait instead of two. Returns how many of the loop's events
  // arrived (drivers' fds not counted; take_tag_seen() tells which of those came), or -1 with
  // errno set. Any set() drops kept events: one could name an fd whose registration changed, and
  // level-triggered epoll reports again what is still ready.
  int wait_and_keep(int timeout_ms);
  void drop_kept() noexcept { kept_ = 0; }
  void close() noexcept;

 private:
  // Copies events_[0, n) to ready_ (what poll() returns) and grows events_ if it was full;
  // notes the drivers' fds among them unless that was done already (`noted`: kept events).
  const std::vector<epoll_event>& take_events(int n, bool noted);
  // Marks the drivers' fds among events_[0, n) in tags_seen_; returns how many there were.
  int note_driver_fds(int n) noexcept;

  int epfd_ = -1;
  std::size_t watched_ = 0;
  std::vector<epoll_event> events_;
  std::vector<epoll_event> ready_;
  int kept_ = 0;  // events_[0, kept_) arrived in wait_and_keep() and were not polled yet
  struct DriverFd {
    int fd;
    bool poll_when_busy;
  };
  std::vector<DriverFd> driver_fds_;
  std::size_t busy_polled_driver_fds_ = 0;
  std::uint32_t tags_seen_ = 0;  // bit -tag-1: that driver fd was reported since take_tag_seen()
};

}  // namespace qaio::detail
