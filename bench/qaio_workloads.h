// bench/qaio_workloads.h: the W1-W3 workloads written once against qaio::EventLoop&, so the Google
// Benchmark micro-benchmarks (micro_core.cpp) and the side-by-side runs (w123_qaio.cpp) time the
// very same code on either driver. Each function runs the loop until its workload is complete and
// checks that every callback, timer or task really ran, so a broken loop cannot look fast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "qaio/qaio.h"

namespace qaio_bench {

// Aborts the measurement loudly: a benchmark that silently did less work would report nonsense.
inline void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("benchmark self-check failed: " + what);
}

// ---- W1 dispatch ----------------------------------------------------------------------------

// One link of the chain: runs, then schedules the next link (each callback schedules the next).
struct ChainLink {
  qaio::EventLoop* loop;
  std::uint64_t* remaining;
  void operator()() const {
    if (--*remaining == 0) {
      loop->stop();
      return;
    }
    loop->call_soon(ChainLink{loop, remaining});
  }
};

// A chain of n call_soon: every iteration of the loop runs exactly one callback.
inline void call_soon_chain(qaio::EventLoop& loop, std::uint64_t n) {
  std::uint64_t remaining = n;
  loop.call_soon(ChainLink{&loop, &remaining});
  loop.run_forever();
  expect(remaining == 0, "call_soon chain did not complete");
}

// A batch of n call_soon made up front, then one iteration runs all of them.
inline void call_soon_batch(qaio::EventLoop& loop, std::uint64_t n) {
  std::uint64_t ran = 0;
  for (std::uint64_t i = 0; i < n; ++i) loop.call_soon([&ran] { ++ran; });
  loop.call_soon([&loop] { loop.stop(); });
  loop.run_forever();
  expect(ran == n, "call_soon batch ran " + std::to_string(ran) + " of " + std::to_string(n));
}

// ---- W2 timers ------------------------------------------------------------------------------

// n call_later with delays spread evenly over [0, spread) seconds; every second one is cancelled
// right after scheduling; the loop runs until the last live timer fired.
inline void timers_half_cancelled(qaio::EventLoop& loop, std::uint64_t n, double spread) {
  std::uint64_t fired = 0;
  const std::uint64_t expected = n - n / 2;
  for (std::uint64_t i = 0; i < n; ++i) {
    // An interleaved spread (not i/n), so the heap sees unordered inserts.
    qaio::TimerHandle t = loop.call_later(bench::w2_delay(i, n, spread), [&fired, &loop, expected] {
      if (++fired == expected) loop.stop();
    });
    if (i % 2 == 1) t.cancel();
  }
  loop.run_forever();
  expect(fired == expected, "timers fired " + std::to_string(fired) + " of " + std::to_string(expected));
}

// ---- W3 coroutines --------------------------------------------------------------------------

inline qaio::Coro<std::uint64_t> leaf_task(std::uint64_t i) { co_return i; }

// A minimal gather over a homogeneous vector: awaits each task in turn and sums the results.
// (qaio::gather in tasks.h is the real one; this keeps the benchmark independent of it.)
inline qaio::Coro<std::uint64_t> gather_sum(std::vector<qaio::Task<std::uint64_t>> tasks) {
  std::uint64_t sum = 0;
  for (auto& t : tasks) sum += co_await t;
  co_return sum;
}

inline qaio::Coro<std::uint64_t> spawn_all(qaio::EventLoop* loop, std::uint64_t n) {
  std::vector<qaio::Task<std::uint64_t>> tasks;
  tasks.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) tasks.push_back(loop->create_task(leaf_task(i)));
  std::uint64_t sum = co_await gather_sum(std::move(tasks));
  co_return sum;
}

// n tasks spawned from a task, then gathered.
inline void spawn_and_gather(qaio::EventLoop& loop, std::uint64_t n) {
  const std::uint64_t sum = loop.run_until_complete(spawn_all(&loop, n));
  expect(sum == n * (n - 1) / 2, "gathered sum is wrong");
}

// Two tasks bounce control through futures: each round trip is two set_result + two wakeups.
struct PingPongState {
  qaio::Future<> to_ponger;
  qaio::Future<> to_pinger;
  std::uint64_t pongs = 0;
};

inline qaio::Coro<void> pinger(qaio::EventLoop* loop, PingPongState* s, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    qaio::Future<> mine = loop->create_future();
    s->to_pinger = mine;
    s->to_ponger.set_result();
    co_await mine;
  }
}

inline qaio::Coro<void> ponger(qaio::EventLoop* loop, PingPongState* s, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    qaio::Future<> mine = s->to_ponger;
    co_await mine;
    s->to_ponger = loop->create_future();
    ++s->pongs;
    s->to_pinger.set_result();
  }
}

inline qaio::Coro<void> ping_pong_main(qaio::EventLoop* loop, PingPongState* s, std::uint64_t n) {
  qaio::Task<> b = loop->create_task(ponger(loop, s, n));
  qaio::Task<> a = loop->create_task(pinger(loop, s, n));
  co_await a;
  co_await b;
}

inline void future_ping_pong(qaio::EventLoop& loop, std::uint64_t n) {
  PingPongState s;
  s.to_ponger = loop.create_future();
  loop.run_until_complete(ping_pong_main(&loop, &s, n));
  expect(s.pongs == n, "ping-pong lost round trips");
}

}  // namespace qaio_bench
