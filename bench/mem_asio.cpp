// bench/mem_asio.cpp: issue 8's memory figures for asio: heap bytes per idle coroutine (a
// co_spawn'ed awaitable parked on a timer that never fires in time) and per pending steady_timer
// wait, as the growth of glibc's in-use heap (mallinfo2), like bench/mem_qaio.cpp.
//
//   bench_mem_asio <task|timer> [n]
#include <malloc.h>

#include <asio.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

asio::awaitable<void> idle(asio::steady_timer* never) {
  try {
    co_await never->async_wait(asio::use_awaitable);
  } catch (const std::exception&) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <task|timer> [n]\n", argv[0]);
    return 2;
  }
  const std::string what = argv[1];
  const std::uint64_t n = bench::count_arg(argc, argv, 2, 100'000);
  asio::io_context io(1);
  double per = 0;
  if (what == "task") {
    // One shared timer stands for "a future that never completes"; each coroutine waits on it.
    asio::steady_timer never(io, std::chrono::hours(1));
    const std::size_t before = heap_in_use();
    for (std::uint64_t i = 0; i < n; ++i) asio::co_spawn(io, idle(&never), asio::detached);
    io.poll();  // every coroutine starts and parks
    per = static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
    never.cancel();
    io.run();
  } else {
    std::vector<std::unique_ptr<asio::steady_timer>> timers;
    timers.reserve(n);
    const std::size_t before = heap_in_use();
    for (std::uint64_t i = 0; i < n; ++i) {
      timers.push_back(std::make_unique<asio::steady_timer>(io, std::chrono::hours(1)));
      timers.back()->async_wait([](asio::error_code) {});
    }
    per = static_cast<double>(heap_in_use() - before) / static_cast<double>(n);
    for (auto& t : timers) t->cancel();
    io.run();
  }
  std::printf("RESULT mem_%s asio %.1f B/obj n=%llu\n", what.c_str(), per, static_cast<unsigned long long>(n));
  return 0;
}
