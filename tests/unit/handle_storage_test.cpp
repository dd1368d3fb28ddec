// handle_storage_test.cpp: a HandleState stores its callable right behind its header, sized to
// the callable (include/qaio/handle.h); big or over-aligned callables go to the heap instead.
// Whatever the size, the callable must run with its captures intact, be destroyed exactly once
// (when it ran, when it was cancelled, or when the loop closed), and a handle must cost no more
// than its header plus its callable.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "qaio/detail/slab_pool.h"
#include "qaio/qaio.h"

namespace {

int alive = 0;  // live Payload copies

template <std::size_t N, std::size_t Align = 8>
struct alignas(Align) Payload {
  std::array<unsigned char, N> bytes{};
  int* ran;
  explicit Payload(int* r) : ran(r) {
    for (std::size_t i = 0; i < N; ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 1);
    ++alive;
  }
  Payload(const Payload& o) : bytes(o.bytes), ran(o.ran) { ++alive; }
  Payload(Payload&& o) noexcept : bytes(o.bytes), ran(o.ran) { ++alive; }
  ~Payload() { --alive; }
  void operator()() const {
    for (std::size_t i = 0; i < N; ++i)
      if (bytes[i] != static_cast<unsigned char>(i * 7 + 1)) return;  // corrupted: not counted
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(this) % Align, 0u);
    ++*ran;
  }
};

template <class P>
void runs_cancels_and_closes() {
  int ran = 0;
  {
    qaio::SelectorEventLoop loop;
    loop.call_soon(P(&ran));
    qaio::Handle cancelled = loop.call_soon(P(&ran));
    qaio::TimerHandle timer = loop.call_later(0, P(&ran));
    loop.call_later(3600, P(&ran));  // still pending when the loop closes
    EXPECT_EQ(alive, 4);
    cancelled.cancel();
    EXPECT_EQ(alive, 3);  // cancel() drops the callable at once
    loop.call_soon([&loop] { loop.call_soon([&loop] { loop.stop(); }); });
    loop.run_forever();
    EXPECT_EQ(ran, 2);
    // The call_soon that ran is gone; the timer that ran is still referenced by `timer` (as in
    // asyncio, a Handle keeps its callback), and the far timer by the loop.
    EXPECT_EQ(alive, 2);
    EXPECT_FALSE(timer.cancelled());
    loop.close();
    EXPECT_EQ(alive, 1);  // the loop let go of the far timer
    timer = qaio::TimerHandle();
    EXPECT_EQ(alive, 0);
  }
  EXPECT_EQ(ran, 2);
}

}  // namespace

TEST(HandleStorage, SmallCallablesLiveInline) { runs_cancels_and_closes<Payload<8>>(); }
TEST(HandleStorage, LargeCallablesLiveInline) { runs_cancels_and_closes<Payload<400>>(); }
TEST(HandleStorage, HugeCallablesGoToTheHeap) { runs_cancels_and_closes<Payload<4000>>(); }
TEST(HandleStorage, OverAlignedCallablesGoToTheHeap) { runs_cancels_and_closes<Payload<8, 64>>(); }

TEST(HandleStorage, AHandleCostsItsHeaderPlusItsCallable) {
  qaio::SelectorEventLoop loop;
  constexpr int kHandles = 1000;
  std::vector<qaio::Handle> handles;
  handles.reserve(kHandles);
  int ran = 0;
  int* where = &ran;
  const std::size_t before = qaio::detail::slab_live_bytes_this_thread();
  for (int i = 0; i < kHandles; ++i) handles.push_back(loop.call_soon([where] { ++*where; }));
  const std::size_t per_handle = (qaio::detail::slab_live_bytes_this_thread() - before) / kHandles;
  if (qaio::detail::slab_pool_enabled()) {
    EXPECT_EQ(per_handle, sizeof(qaio::detail::HandleState) + sizeof(int*));
  } else {
    EXPECT_EQ(per_handle, 0u);  // AddressSanitizer builds: every handle comes from operator new
  }
  loop.call_soon([&loop] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, kHandles);
}
