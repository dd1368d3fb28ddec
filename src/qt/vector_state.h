// vector_state.h (private): clean AVX upper halves whenever control comes from Qt into qaio.
//
// qaio is built for baseline x86-64, so its hot paths run legacy SSE instructions. Code that
// leaves the upper halves of the YMM registers non-zero without a VZEROUPPER (somewhere inside Qt
// or glib; creating the QSocketNotifier that drives the loop is enough with Qt 6.4 on Debian 12)
// puts the core in the "dirty upper" state, and every SSE instruction then pays for it: on
// Skylake-SP and later a false dependency and a blend on each write to an XMM register, on older
// cores a state transition. The state survives context switches (the kernel saves and restores
// it), so one dirtying call slows the loop for the rest of the process.
//
// Measured on the one-connection echo (W4, same-minute A/B, medians of three): 2.93 -> 2.73 us of
// server CPU per request with the I/O linger, 3.14 -> 3.06 without, with XGETBV(1) showing the AVX
// component in use at every dispatch before and at none after. VZEROUPPER costs about a cycle.
#pragma once

#if defined(__AVX__) || defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qaio::qt::detail {

inline void clear_dirty_upper_state() noexcept {
#if defined(__AVX__)
  _mm256_zeroupper();  // the whole build assumes AVX: the compiler knows what this clobbers
#elif defined(__x86_64__)
  // Only where the CPU and the OS have AVX (VZEROUPPER is undefined elsewhere); the builtin is a
  // load from libgcc's CPU model, filled in before main(), and checks XCR0 too. The clobbers
  // keep the compiler from holding anything in the vector registers across it; in a non-AVX
  // build nothing lives in their upper halves anyway.
  if (__builtin_cpu_supports("avx"))
    __asm__ volatile("vzeroupper" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                     "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#endif
}

}  // namespace qaio::qt::detail
