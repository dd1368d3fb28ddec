// bench/w123_asio.cpp: issue 8's W1-W3 on standalone asio (Debian libasio-dev) with C++20
// coroutines, the fastest peer. Written the way an asio user would write each workload:
//
//   w1_chain     each handler asio::post()s the next
//   w1_batch     n asio::post() up front, then io_context::run()
//   w2_timers    n steady_timers (async_wait) over 0-100 ms, every second one cancelled
//   w3_spawn     n co_spawn'ed coroutines from a coroutine, gathered by a completion counter
//   w3_pingpong  two coroutines bouncing through two experimental::channel (one send + one
//                receive each way per round trip)
//
//   bench_w123_asio <workload> [n]
#include <asio.hpp>
#include <asio/experimental/channel.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

using Channel = asio::experimental::channel<void(asio::error_code, int)>;

struct ChainLink {
  asio::io_context* io;
  std::uint64_t* remaining;
  void operator()() const {
    if (--*remaining == 0) return;
    asio::post(*io, ChainLink{io, remaining});
  }
};

void w1_chain(std::uint64_t n) {
  asio::io_context io(1);
  std::uint64_t remaining = n;
  bench::Stopwatch sw;
  asio::post(io, ChainLink{&io, &remaining});
  io.run();
  bench::check(remaining == 0, "chain incomplete");
  bench::report_per_op("w1_chain", "asio", sw, n);
}

void w1_batch(std::uint64_t n) {
  asio::io_context io(1);
  std::uint64_t ran = 0;
  bench::Stopwatch sw;
  for (std::uint64_t i = 0; i < n; ++i) asio::post(io, [&ran] { ++ran; });
  io.run();
  bench::check(ran == n, "batch incomplete");
  bench::report_per_op("w1_batch", "asio", sw, n);
}

void w2_timers(std::uint64_t n) {
  asio::io_context io(1);
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  timers.reserve(n);
  std::uint64_t fired = 0;
  bench::Stopwatch sw;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto delay = std::chrono::duration_cast<asio::steady_timer::duration>(
        std::chrono::duration<double>(bench::w2_delay(i, n)));
    timers.push_back(std::make_unique<asio::steady_timer>(io, delay));
    timers.back()->async_wait([&fired](asio::error_code ec) {
      if (!ec) ++fired;
    });
    if (i % 2 == 1) timers.back()->cancel();
  }
  io.run();
  bench::check(fired == n - n / 2, "timers fired " + std::to_string(fired));
  bench::report("w2_timers", "asio", sw.wall(), "s", sw, n);
}

asio::awaitable<std::uint64_t> leaf(std::uint64_t i) { co_return i; }

asio::awaitable<void> spawner(std::uint64_t n, std::uint64_t* sum, std::uint64_t* done) {
  auto ex = co_await asio::this_coro::executor;
  for (std::uint64_t i = 0; i < n; ++i) {
    asio::co_spawn(ex, leaf(i), [sum, done](std::exception_ptr e, std::uint64_t v) {
      if (!e) {
        *sum += v;
        ++*done;
      }
    });
  }
}

void w3_spawn(std::uint64_t n) {
  asio::io_context io(1);
  std::uint64_t sum = 0;
  std::uint64_t done = 0;
  bench::Stopwatch sw;
  asio::co_spawn(io, spawner(n, &sum, &done), asio::detached);
  io.run();
  bench::check(done == n && sum == n * (n - 1) / 2, "spawned tasks incomplete");
  bench::report_per_op("w3_spawn", "asio", sw, n);
}

asio::awaitable<void> pinger(Channel* to_ponger, Channel* to_pinger, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await to_ponger->async_send(asio::error_code{}, static_cast<int>(i & 0xffff), asio::use_awaitable);
    co_await to_pinger->async_receive(asio::use_awaitable);
  }
}

asio::awaitable<void> ponger(Channel* to_ponger, Channel* to_pinger, std::uint64_t n, std::uint64_t* pongs) {
  for (std::uint64_t i = 0; i < n; ++i) {
    int v = co_await to_ponger->async_receive(asio::use_awaitable);
    ++*pongs;
    co_await to_pinger->async_send(asio::error_code{}, v, asio::use_awaitable);
  }
}

void w3_pingpong(std::uint64_t n) {
  asio::io_context io(1);
  Channel to_ponger(io, 0);
  Channel to_pinger(io, 0);
  std::uint64_t pongs = 0;
  bench::Stopwatch sw;
  asio::co_spawn(io, ponger(&to_ponger, &to_pinger, n, &pongs), asio::detached);
  asio::co_spawn(io, pinger(&to_ponger, &to_pinger, n), asio::detached);
  io.run();
  bench::check(pongs == n, "ping-pong incomplete");
  bench::report_per_op("w3_pingpong", "asio", sw, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <w1_chain|w1_batch|w2_timers|w3_spawn|w3_pingpong> [n]\n", argv[0]);
    return 2;
  }
  const std::string w = argv[1];
  if (w == "w1_chain") return w1_chain(bench::count_arg(argc, argv, 2, bench::kW1N)), 0;
  if (w == "w1_batch") return w1_batch(bench::count_arg(argc, argv, 2, bench::kW1N)), 0;
  if (w == "w2_timers") return w2_timers(bench::count_arg(argc, argv, 2, bench::kW2N)), 0;
  if (w == "w3_spawn") return w3_spawn(bench::count_arg(argc, argv, 2, bench::kW3N)), 0;
  if (w == "w3_pingpong") return w3_pingpong(bench::count_arg(argc, argv, 2, bench::kW3N)), 0;
  std::fprintf(stderr, "unknown workload '%s'\n", w.c_str());
  return 2;
}
