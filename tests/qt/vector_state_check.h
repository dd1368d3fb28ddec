// vector_state_check.h: the check behind the VectorState tests (on Qt's glib dispatcher and on
// qaio's own): qaio's callbacks run with clean AVX upper halves even when code in the same Qt
// iteration left them dirty (src/qt/vector_state.h). A dirty upper state slows every legacy-SSE
// instruction of the baseline x86-64 build for the rest of the process; creating the loop's own
// QSocketNotifier was enough to leave it so. The check dirties the state itself from a QTimer, as
// such code would, and reads it back in callbacks with XGETBV(1), whose bit 2 says whether the AVX
// component (the upper halves of YMM0-15) is in use.
#pragma once

#include <gtest/gtest.h>

#include <QObject>
#include <QTimer>

#include <functional>

#include "qaio/qt.h"

#if defined(__x86_64__)
#include <cpuid.h>

inline bool upper_state_dirty() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
  return (lo & 4u) != 0;
}

// What code built for AVX does without a VZEROUPPER before returning: a YMM register's upper half
// left non-zero.
inline void dirty_upper_state() { __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1" ::: "xmm1"); }

// Whether the state can be watched here: the CPU has AVX and XGETBV(1) (CPUID leaf 0xD, sub-leaf
// 1, EAX bit 2), and XGETBV(1) is exact (the manual promises only that a clear bit means a clean
// state; a CPU or hypervisor may report it set regardless): the bit follows a dirtying
// instruction and a VZEROUPPER.
inline bool can_observe_upper_state() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__builtin_cpu_supports("avx")) return false;
  if (!__get_cpuid_count(0xD, 1, &a, &b, &c, &d) || (a & 4u) == 0) return false;
  dirty_upper_state();
  const bool dirtied = upper_state_dirty();
  __asm__ volatile("vzeroupper" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  return dirtied && !upper_state_dirty();
}

// 20 callbacks 2 ms apart, a QTimer dirtying the state every ms in between: none may see it dirty.
// GTEST_SKIP and ASSERT return from this function only: a TEST calling it must do nothing after.
inline void expect_callbacks_see_clean_upper_state() {
  if (!can_observe_upper_state()) GTEST_SKIP() << "this CPU has no AVX, or no exact XGETBV(1)";
  qaio::qt::QtEventLoop loop;
  int runs = 0;
  int dirty_in_callback = 0;
  int dirtied = 0;
  QTimer dirtier;
  QObject::connect(&dirtier, &QTimer::timeout, [&dirtied] {
    dirty_upper_state();
    ++dirtied;
  });
  dirtier.start(1);
  std::function<void()> check = [&] {
    ++runs;
    if (upper_state_dirty()) ++dirty_in_callback;
    if (runs == 20) {
      loop.stop();
      return;
    }
    loop.call_later(0.002, check);
  };
  dirty_upper_state();
  ASSERT_TRUE(upper_state_dirty());  // the instruction did dirty it (else the check shows nothing)
  loop.call_soon(check);
  loop.run_forever();
  EXPECT_EQ(runs, 20);
  EXPECT_GT(dirtied, 5) << "the QTimer did not keep dirtying the state between the callbacks";
  EXPECT_EQ(dirty_in_callback, 0);
}
#else
inline void expect_callbacks_see_clean_upper_state() { GTEST_SKIP() << "x86-64 only"; }
#endif
