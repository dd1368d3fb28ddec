// selector.cpp: the epoll wrapper. Registration changes fall back between ADD and MOD so that an fd
// closed and reopened behind the loop's back (the kernel dropped it from the set) still works.
#include "selector.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "qaio/errors.h"

namespace qaio::detail {

Selector::Selector() : events_(256) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw_os_error(errno, "epoll_create1");
}

Selector::~Selector() { close(); }

void Selector::close() noexcept {
  if (epfd_ >= 0) {
    ::close(epfd_);
    epfd_ = -1;
  }
}

void Selector::set(int fd, std::uint32_t current, std::uint32_t events) {
  kept_ = 0;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (events == 0) {
    if (current == 0) return;
    if (::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != ENOENT && errno != EBADF)
      throw_os_error(errno, "epoll_ctl(DEL, fd " + std::to_string(fd) + ")");
    --watched_;
    return;
  }
  const auto added = [&] {
    if (current == 0) ++watched_;
  };
  int op = current ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (::epoll_ctl(epfd_, op, fd, &ev) == 0) return added();
  int err = errno;
  if (op == EPOLL_CTL_MOD && err == ENOENT) {
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return added();
    err = errno;
  } else if (op == EPOLL_CTL_ADD && err == EEXIST) {
    if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return added();
    err = errno;
  }
  throw_os_error(err, "cannot watch fd " + std::to_string(fd));
}

void Selector::add_driver_fd(int fd, int tag, std::uint32_t events, bool poll_when_busy) {
  if (tag >= 0 || tag < -32) throw std::invalid_argument("a driver fd's tag must be in [-32, -1]");
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = tag;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) throw_os_error(errno, "cannot watch a driver's fd");
  driver_fds_.push_back({fd, poll_when_busy});
  if (poll_when_busy) ++busy_polled_driver_fds_;
}

void Selector::remove_driver_fd(int fd) noexcept {
  const auto at =
      std::find_if(driver_fds_.begin(), driver_fds_.end(), [fd](const DriverFd& d) { return d.fd == fd; });
  if (at == driver_fds_.end()) return;
  if (at->poll_when_busy) --busy_polled_driver_fds_;
  driver_fds_.erase(at);
  epoll_event ev{};
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
}

bool Selector::take_tag_seen(int tag) noexcept {
  const std::uint32_t bit = std::uint32_t{1} << (-tag - 1);
  const bool seen = (tags_seen_ & bit) != 0;
  tags_seen_ &= ~bit;
  return seen;
}

int Selector::wait_and_keep(int timeout_ms) {
  kept_ = 0;
  const int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
  if (n <= 0) return n;
  const int loop_events = n - note_driver_fds(n);
  // Only drivers' fds: nothing for the loop, whose next poll asks the kernel itself.
  if (loop_events > 0) kept_ = n;
  return loop_events;
}

const std::vector<epoll_event>& Selector::poll(double timeout) {
  if (kept_ > 0) return take_events(std::exchange(kept_, 0), /*noted=*/true);
  int ms = -1;
  if (timeout >= 0) {
    // Round up like asyncio's selectors, so a timer is never polled for 0 ms and then found
    // not yet expired (that would spin, spec item 34).
    double m = std::ceil(timeout * 1e3);
    ms = m > 86400000.0 ? 86400000 : static_cast<int>(m);
  }
  int n;
  do {
    n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), ms);
  } while (n < 0 && errno == EINTR && ms == 0);
  if (n < 0) {
    ready_.clear();
    if (errno == EINTR) return ready_;  // a signal: report nothing, the loop iterates again
    throw_os_error(errno, "epoll_wait");
  }
  return take_events(n, /*noted=*/false);
}

int Selector::note_driver_fds(int n) noexcept {
  // Drivers' fds (add_driver_fd) are the only ones with data.fd < 0.
  int noted = 0;
  for (int i = 0; i < n; ++i) {
    const int fd = events_[static_cast<std::size_t>(i)].data.fd;
    if (fd < 0 && fd >= -32) {
      tags_seen_ |= std::uint32_t{1} << (-fd - 1);
      ++noted;
    }
  }
  return noted;
}

const std::vector<epoll_event>& Selector::take_events(int n, bool noted) {
  ready_.assign(events_.begin(), events_.begin() + n);
  if (!noted) note_driver_fds(n);
  if (static_cast<std::size_t>(n) == events_.size()) events_.resize(events_.size() * 2);
  return ready_;
}

}  // namespace qaio::detail
