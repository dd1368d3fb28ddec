// ready_queue_test.cpp: the loop's ready queue (src/core/ready_queue.h) across its segments. A
// burst grows it by 4 KiB segments and then by 2 MiB ones; callbacks must still run once each, in
// the order they were scheduled, including those scheduled while a big burst is being run, and a
// second burst must reuse what the first left behind just as correctly.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "qaio/qaio.h"

namespace {

// Schedules `n` callbacks that append their index to `order`; every 1000th also schedules a
// follow-up, which must run in the next iteration, after the whole burst.
void burst(qaio::EventLoop& loop, std::vector<std::int64_t>& order, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    loop.call_soon([&order, &loop, i] {
      order.push_back(i);
      if (i % 1000 == 0) loop.call_soon([&order, i] { order.push_back(-1 - i); });
    });
  }
}

void check(const std::vector<std::int64_t>& order, std::int64_t n) {
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n + (n + 999) / 1000));
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i) << "at " << i;
  std::size_t k = static_cast<std::size_t>(n);
  for (std::int64_t i = 0; i < n; i += 1000) ASSERT_EQ(order[k++], -1 - i);
}

}  // namespace

TEST(ReadyQueue, BurstsAcrossSmallAndHugeSegmentsRunInOrder) {
  qaio::SelectorEventLoop loop;
  for (std::int64_t n : {std::int64_t{600'000}, std::int64_t{20'000}, std::int64_t{700'000}}) {
    std::vector<std::int64_t> order;
    order.reserve(static_cast<std::size_t>(n + n / 1000 + 1));
    burst(loop, order, n);
    loop.call_soon([&loop] { loop.call_soon([&loop] { loop.stop(); }); });
    loop.run_forever();
    check(order, n);
  }
  loop.close();
}
