// bench/w12_libuv.cpp: issue 8's W1/W2 on libuv (Debian libuv1-dev). libuv has no call_soon
// queue and no coroutines, so the closest counterparts are measured and W1 batch / W3 are left out:
//
//   w1_chain   one uv_idle_t callback per loop iteration, n iterations (libuv's cheapest
//              "run this again next iteration")
//   w2_timers  n uv_timer_t over 0-100 ms (libuv rounds to whole ms), every second one stopped
//
//   bench_w12_libuv <workload> [n]
#include <uv.h>

#include <cstdio>
#include <memory>
#include <string>

#include "bench_common.h"

namespace {

struct IdleState {
  std::uint64_t remaining;
};

void w1_chain(std::uint64_t n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_t idle;
  IdleState st{n};
  uv_idle_init(&loop, &idle);
  idle.data = &st;
  bench::Stopwatch sw;
  uv_idle_start(&idle, [](uv_idle_t* h) {
    auto* s = static_cast<IdleState*>(h->data);
    if (--s->remaining == 0) uv_idle_stop(h);
  });
  uv_run(&loop, UV_RUN_DEFAULT);
  bench::check(st.remaining == 0, "idle chain incomplete");
  bench::report_per_op("w1_chain", "libuv", sw, n);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

void w2_timers(std::uint64_t n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::unique_ptr<uv_timer_t[]> timers(new uv_timer_t[n]);
  std::uint64_t fired = 0;
  bench::Stopwatch sw;
  uv_update_time(&loop);
  for (std::uint64_t i = 0; i < n; ++i) {
    uv_timer_t* t = &timers[i];
    uv_timer_init(&loop, t);
    t->data = &fired;
    const auto ms = static_cast<std::uint64_t>(bench::w2_delay(i, n) * 1000.0);
    uv_timer_start(t, [](uv_timer_t* h) { ++*static_cast<std::uint64_t*>(h->data); }, ms, 0);
    if (i % 2 == 1) uv_timer_stop(t);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  bench::check(fired == n - n / 2, "timers fired " + std::to_string(fired));
  bench::report("w2_timers", "libuv", sw.wall(), "s", sw, n);
  for (std::uint64_t i = 0; i < n; ++i) uv_close(reinterpret_cast<uv_handle_t*>(&timers[i]), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <w1_chain|w2_timers> [n]\n", argv[0]);
    return 2;
  }
  const std::string w = argv[1];
  if (w == "w1_chain") return w1_chain(bench::count_arg(argc, argv, 2, bench::kW1N)), 0;
  if (w == "w2_timers") return w2_timers(bench::count_arg(argc, argv, 2, bench::kW2N)), 0;
  std::fprintf(stderr, "libuv: workload '%s' has no libuv counterpart\n", w.c_str());
  return 4;
}
