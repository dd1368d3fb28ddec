// bench/w123_qaio.cpp: issue 8's W1-W3 on qaio, one workload per process so that each figure
// starts from a fresh heap, like the peers' programs.
//
//   bench_w123_qaio <standalone|qt|qt-probe> <w1_chain|w1_batch|w2_timers|w3_spawn|w3_pingpong> [n]
//
// QAIO_BENCH_POLL_INTERVAL=N runs the loop with set_io_poll_interval(N) (I/O polled every N busy
// iterations, issue 8's documented relaxation); the system is then reported as "<system>-pollN".
//
// qt-probe is W5: the workload under Qt while a 5 ms QTimer measures how late Qt events get.
// The workloads themselves live in qaio_workloads.h (shared with the Google Benchmark program);
// "qt" runs them on qaio::qt::QtEventLoop inside a QCoreApplication when the Qt driver is built.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench_common.h"
#include "qaio_workloads.h"

#if defined(QAIO_BENCH_WITH_QT) && __has_include(<qaio/qt/qt_event_loop.h>)
#include <QCoreApplication>

#include "lateness_probe.h"
#include "qaio/qt/qt_event_loop.h"
#define QAIO_BENCH_QT_AVAILABLE 1
#endif

namespace {


int run_workload(qaio::EventLoop& loop, std::string system, const std::string& workload, int argc, char** argv) {
  if (const char* interval = std::getenv("QAIO_BENCH_POLL_INTERVAL"); interval && *interval) {
    loop.set_io_poll_interval(static_cast<unsigned>(std::stoul(interval)));
    if (loop.io_poll_interval() != 1) system += "-poll" + std::to_string(loop.io_poll_interval());
  }
  if (workload == "w1_chain") {
    const std::uint64_t n = bench::count_arg(argc, argv, 3, bench::kW1N);
    bench::Stopwatch sw;
    qaio_bench::call_soon_chain(loop, n);
    bench::report_per_op(workload, system, sw, n);
  } else if (workload == "w1_batch") {
    const std::uint64_t n = bench::count_arg(argc, argv, 3, bench::kW1N);
    bench::Stopwatch sw;
    qaio_bench::call_soon_batch(loop, n);
    bench::report_per_op(workload, system, sw, n);
  } else if (workload == "w2_timers") {
    const std::uint64_t n = bench::count_arg(argc, argv, 3, bench::kW2N);
    bench::Stopwatch sw;
    qaio_bench::timers_half_cancelled(loop, n, bench::kW2SpreadSeconds);
    bench::report(workload, system, sw.wall(), "s", sw, n);
  } else if (workload == "w3_spawn") {
    const std::uint64_t n = bench::count_arg(argc, argv, 3, bench::kW3N);
    bench::Stopwatch sw;
    qaio_bench::spawn_and_gather(loop, n);
    bench::report_per_op(workload, system, sw, n);
  } else if (workload == "w3_pingpong") {
    const std::uint64_t n = bench::count_arg(argc, argv, 3, bench::kW3N);
    bench::Stopwatch sw;
    qaio_bench::future_ping_pong(loop, n);
    bench::report_per_op(workload, system, sw, n);
  } else {
    std::fprintf(stderr, "unknown workload '%s'\n", workload.c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <standalone|qt|qt-probe> <w1_chain|w1_batch|w2_timers|w3_spawn|w3_pingpong> [n]\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const std::string workload = argv[2];
  try {
    if (mode == "standalone") {
      qaio::SelectorEventLoop loop;
      return run_workload(loop, "qaio", workload, argc, argv);
    }
    if (mode == "qt") {
#ifdef QAIO_BENCH_QT_AVAILABLE
      int qargc = 1;
      QCoreApplication app(qargc, argv);
      qaio::qt::QtEventLoop loop;
      return run_workload(loop, "qaio-qt", workload, argc, argv);
#else
      std::fprintf(stderr, "qaio was built without its Qt driver: no qt mode\n");
      return 4;
#endif
    }
    if (mode == "qt-probe") {
#ifdef QAIO_BENCH_QT_AVAILABLE
      // W5: the same workload under Qt, with the lateness probe running beside it.
      int qargc = 1;
      QCoreApplication app(qargc, argv);
      qaio::qt::QtEventLoop loop;
      bench::LatenessProbe probe;
      loop.call_soon([&probe] { probe.arm(); });
      const int rc = run_workload(loop, "qaio-qt-probed", workload, argc, argv);
      probe.report(workload);
      return rc;
#else
      std::fprintf(stderr, "qaio was built without its Qt driver: no qt mode\n");
      return 4;
#endif
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
