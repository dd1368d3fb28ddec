// bench/w12_qt.cpp: issue 8's W1/W2 on plain Qt 6, written as a Qt user would without qaio:
//
//   w1_chain   each functor queues the next with QMetaObject::invokeMethod(Qt::QueuedConnection)
//   w1_batch   n queued invokeMethod calls, then the event loop runs them
//   w2_timers  n single-shot precise QTimers over 0-100 ms (Qt rounds to whole ms), every second
//              one stopped (what qasync-style loops do: one QTimer per call_later)
//
//   bench_w12_qt <workload> [n]
#include <QCoreApplication>
#include <QMetaObject>
#include <QObject>
#include <QTimer>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

struct ChainLink {
  QObject* ctx;
  std::uint64_t* remaining;
  void operator()() const {
    if (--*remaining == 0) {
      QCoreApplication::quit();
      return;
    }
    QMetaObject::invokeMethod(ctx, ChainLink{ctx, remaining}, Qt::QueuedConnection);
  }
};

void w1_chain(std::uint64_t n) {
  QObject ctx;
  std::uint64_t remaining = n;
  bench::Stopwatch sw;
  QMetaObject::invokeMethod(&ctx, ChainLink{&ctx, &remaining}, Qt::QueuedConnection);
  QCoreApplication::exec();
  bench::check(remaining == 0, "chain incomplete");
  bench::report_per_op("w1_chain", "qt", sw, n);
}

void w1_batch(std::uint64_t n) {
  QObject ctx;
  std::uint64_t ran = 0;
  bench::Stopwatch sw;
  for (std::uint64_t i = 0; i < n; ++i) {
    QMetaObject::invokeMethod(&ctx, [&ran, n] {
      if (++ran == n) QCoreApplication::quit();
    }, Qt::QueuedConnection);
  }
  QCoreApplication::exec();
  bench::check(ran == n, "batch incomplete");
  bench::report_per_op("w1_batch", "qt", sw, n);
}

void w2_timers(std::uint64_t n) {
  std::vector<std::unique_ptr<QTimer>> timers;
  timers.reserve(n);
  std::uint64_t fired = 0;
  const std::uint64_t expected = n - n / 2;
  bench::Stopwatch sw;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto t = std::make_unique<QTimer>();
    t->setSingleShot(true);
    t->setTimerType(Qt::PreciseTimer);
    t->setInterval(static_cast<int>(bench::w2_delay(i, n) * 1000.0));
    QObject::connect(t.get(), &QTimer::timeout, [&fired, expected] {
      if (++fired == expected) QCoreApplication::quit();
    });
    t->start();
    if (i % 2 == 1) t->stop();
    timers.push_back(std::move(t));
  }
  QCoreApplication::exec();
  bench::check(fired == expected, "timers fired " + std::to_string(fired));
  bench::report("w2_timers", "qt", sw.wall(), "s", sw, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <w1_chain|w1_batch|w2_timers> [n]\n", argv[0]);
    return 2;
  }
  int qargc = 1;
  QCoreApplication app(qargc, argv);
  const std::string w = argv[1];
  if (w == "w1_chain") return w1_chain(bench::count_arg(argc, argv, 2, bench::kW1N)), 0;
  if (w == "w1_batch") return w1_batch(bench::count_arg(argc, argv, 2, bench::kW1N)), 0;
  if (w == "w2_timers") return w2_timers(bench::count_arg(argc, argv, 2, 100'000)), 0;
  std::fprintf(stderr, "qt: workload '%s' has no plain-Qt counterpart\n", w.c_str());
  return 4;
}
