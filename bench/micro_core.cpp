// bench/micro_core.cpp: Google Benchmark micro-benchmarks of the core on SelectorEventLoop
// (issue 2 item 10). Each benchmark reports ns per operation as the "ns/op" counter, which is the
// figure the performance targets are written in; Google Benchmark's own time column is per
// benchmark iteration (a whole chain, batch, timer wave, ...).
//
//   call_soon chain     each callback schedules the next (one loop iteration per callback)
//   call_soon batch     1M callbacks scheduled up front, run in one iteration
//   timers              1M call_later over 0-100 ms, every second one cancelled, run until all fired
//   spawn + gather      100k tasks created from a task and gathered
//   future ping-pong    round trips between two tasks through futures
#include <benchmark/benchmark.h>

#include <cstdint>

#include "qaio_workloads.h"

namespace {

// Runs `body` once per benchmark iteration and reports process CPU ns per operation as a plain
// number ("ns/op"; a rate counter would print it with a misleading unit suffix). CPU time, not
// wall time: the benchmark machine is shared, and a pinned single-threaded loop's CPU time is
// its own work only. (W2's wall time includes its 100 ms spread; its CPU time does not.)
template <class Body>
void run_timed(benchmark::State& state, std::uint64_t ops_per_iteration, Body body) {
  double total_ns = 0;
  for (auto _ : state) {
    const double t0 = bench::process_cpu_seconds();
    body();
    total_ns += (bench::process_cpu_seconds() - t0) * 1e9;
  }
  const double ops = static_cast<double>(state.iterations()) * static_cast<double>(ops_per_iteration);
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  state.counters["ns/op"] = benchmark::Counter(total_ns / ops);
}

void BM_CallSoonChain(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  qaio::SelectorEventLoop loop;
  run_timed(state, n, [&] { qaio_bench::call_soon_chain(loop, n); });
}
BENCHMARK(BM_CallSoonChain)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_CallSoonBatch(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  qaio::SelectorEventLoop loop;
  run_timed(state, n, [&] { qaio_bench::call_soon_batch(loop, n); });
}
BENCHMARK(BM_CallSoonBatch)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_TimersHalfCancelled(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  qaio::SelectorEventLoop loop;
  run_timed(state, n, [&] { qaio_bench::timers_half_cancelled(loop, n, 0.100); });
}
// Wall time includes waiting for the 100 ms spread, so real time is what matters here.
BENCHMARK(BM_TimersHalfCancelled)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SpawnAndGather(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  qaio::SelectorEventLoop loop;
  run_timed(state, n, [&] { qaio_bench::spawn_and_gather(loop, n); });
}
BENCHMARK(BM_SpawnAndGather)->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_FuturePingPong(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  qaio::SelectorEventLoop loop;
  run_timed(state, n, [&] { qaio_bench::future_ping_pong(loop, n); });
}
BENCHMARK(BM_FuturePingPong)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
