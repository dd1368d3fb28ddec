// slice_alarm.h (internal): a process-wide alarm that raises a loop's "slice is over" flag at a
// deadline, so that a time-sliced loop (Qt) running a long batch of callbacks can test one
// relaxed atomic per callback instead of reading the clock (~5 ns, 15% of the W1 batch under Qt).
//
// One thread, started on first use, sleeps until the earliest armed deadline and raises the flags
// whose deadline has passed. A loop arms it only once a slice has run a few callbacks (a loop
// answering I/O wakeups never does), re-arms it for each new slice, and disarms it when it dies.
#pragma once

#include <atomic>

namespace qaio::detail {

// Raises *flag (stores true) once loop.time() reaches `deadline`, unless re-armed or disarmed
// first. Arming an already armed flag moves its deadline; the flag is lowered by arm(). Throws
// (std::system_error, std::bad_alloc) if the alarm cannot be set; nothing is armed then.
void arm_slice_alarm(std::atomic<bool>* flag, double deadline);
// Forgets the flag (the loop that owns it is going away).
void disarm_slice_alarm(std::atomic<bool>* flag) noexcept;

}  // namespace qaio::detail
