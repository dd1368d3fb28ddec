// fd_table.cpp: reserve_fd_table (see fd_table.h for why a server grows the table up front).
#include "fd_table.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace qaio::detail {

namespace {
constexpr long kMaxReservedFd = 65536;
}

void reserve_fd_table(int open_fd, int fds) {
  if (fds <= 0 || open_fd < 0) return;
  // The lowest free number is where the next descriptors go; fds opened later fill upwards from it.
  const int lowest_free = ::fcntl(open_fd, F_DUPFD_CLOEXEC, 0);
  if (lowest_free < 0) return;
  ::close(lowest_free);
  long highest = static_cast<long>(lowest_free) + fds;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    highest = std::min(highest, static_cast<long>(limit.rlim_cur) - 1);
  highest = std::min(highest, kMaxReservedFd - 1);
  if (highest <= lowest_free) return;
  // Asking for a descriptor numbered at least `highest` makes the kernel size the table for it
  // (when `highest` is taken, it hands back a higher free one, which is just as good). The table
  // never shrinks, so closing the probe keeps the room.
  const int probe = ::fcntl(open_fd, F_DUPFD_CLOEXEC, static_cast<int>(highest));
  if (probe >= 0) ::close(probe);
}

}  // namespace qaio::detail
