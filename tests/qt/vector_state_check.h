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

// Whether the CPU has AVX and XGETBV(1) (CPUID leaf 0xD, sub-leaf 1, EAX bit 2).
inline bool can_observe_upper_state() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__builtin_cpu_supports("avx")) return false;
  if (!__get_cpuid_count(0xD, 1, &a, &b, &c, &d)) return false;
  return (a & 4u) != 0;
}

inline bool upper_state_dirty() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
  return (lo & 4u) != 0;
}

// What code built for AVX does without a VZEROUPPER before returning: a YMM register's upper half
// left non-zero.
inline void dirty_upper_state() { __asm__ volatile("vpcmpeqd %%ymm1, %%ymm1, %%ymm1" ::: "xmm1"); }

// 20 callbacks 2 ms apart, a QTimer dirtying the state every ms in between: none may see it dirty.
inline void expect_callbacks_see_clean_upper_state() {
  if (!can_observe_upper_state()) GTEST_SKIP() << "this CPU has no AVX or no XGETBV(1)";
  qaio::qt::QtEventLoop loop;
  int runs = 0;
  int dirty_in_callback = 0;
  QTimer dirtier;
  QObject::connect(&dirtier, &QTimer::timeout, [] { dirty_upper_state(); });
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
  EXPECT_EQ(dirty_in_callback, 0);
}
#else
inline void expect_callbacks_see_clean_upper_state() { GTEST_SKIP() << "x86-64 only"; }
#endif
