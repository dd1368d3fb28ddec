// bench/lateness_probe.h: W5's stand-in for a Qt UI, shared by the qaio W1-W2 and W4 programs.
#pragma once

#include <QObject>
#include <QTimer>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

// W5's stand-in for the UI: a 5 ms precise QTimer. Its lateness (the gap between two ticks minus
// the interval) is the delay a paint or input event would see while qaio floods the thread.
class LatenessProbe {
 public:
  static constexpr double kIntervalMs = 5.0;
  LatenessProbe() {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(static_cast<int>(kIntervalMs));
    QObject::connect(&timer_, &QTimer::timeout, [this] { tick(); });
  }
  // Starts measuring. Called from the loop's first callback: the time the workload spends
  // scheduling its work before the loop runs is the caller's, not the loop's, so it is not counted.
  void arm() {
    last_ = std::chrono::steady_clock::now();
    timer_.start();
  }
  void report(const std::string& workload) {
    timer_.stop();
    if (lateness_ms_.empty()) {
      // The workload never returned to Qt: that is the worst lateness there is.
      std::printf("RESULT w5_%s qaio-qt inf ms p99_ms=inf n=0\n", workload.c_str());
      std::fflush(stdout);
      return;
    }
    std::sort(lateness_ms_.begin(), lateness_ms_.end());
    const double p99 = lateness_ms_[std::min(lateness_ms_.size() - 1, lateness_ms_.size() * 99 / 100)];
    std::printf("RESULT w5_%s qaio-qt %.3f ms p99_ms=%.3f n=%zu\n", workload.c_str(), lateness_ms_.back(), p99,
                lateness_ms_.size());
    std::fflush(stdout);
  }

 private:
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    const double gap = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
    lateness_ms_.push_back(std::max(0.0, gap - kIntervalMs));
  }
  QTimer timer_;
  std::chrono::steady_clock::time_point last_;
  std::vector<double> lateness_ms_;
};

}  // namespace bench
