// fd_table.h (private): growing the process's file-descriptor table before a burst needs it.
//
// Linux keeps a process's open files in one table that doubles when an fd number does not fit
// (64, 256, 512, 1024, ... entries). In a multi-threaded process -- every Qt application, and any
// qaio program that has used the executor or the slice alarm -- each doubling waits for an RCU
// grace period (expand_fdtable calls synchronize_rcu), and the thread that waits is the one whose
// accept4(), socket() or pipe() needed the new slot. On the 2-core test machine a grace period took
// 10-30 ms, so a burst of 1,000 incoming connections froze the loop thread, and with it a Qt UI,
// for up to 30 ms inside one accept callback while using 2 ms of CPU.
#pragma once

namespace qaio::detail {

// Makes sure the fd table already has room for `fds` more descriptors above the lowest free one
// (`open_fd` is any descriptor the caller holds open: the table is probed by duplicating it),
// capped by the RLIMIT_NOFILE soft limit (a bigger table could never be used) and by 65,536
// entries (512 KiB of table). Costs a handful of system calls when the table is big enough;
// otherwise pays the growth now, at a moment the caller chose. Never fails: this is an
// optimisation, and a process out of fds simply keeps its table.
void reserve_fd_table(int open_fd, int fds);

}  // namespace qaio::detail
