// bench/bench_common.h: what every C++ side-by-side benchmark program shares: a stopwatch that
// reads wall and process CPU time, the argument conventions, and the one output line format that
// bench/report.py turns into bench/results.md:
//
//   RESULT <workload> <system> <value> <unit> [cpu_s=<x>] [wall_s=<x>] [n=<count>]
//
// Keeping peers and qaio on the same helper means every figure is measured the same way.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace bench {

inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class Stopwatch {
 public:
  Stopwatch() : wall0_(std::chrono::steady_clock::now()), cpu0_(process_cpu_seconds()) {}
  double wall() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0_).count();
  }
  double cpu() const { return process_cpu_seconds() - cpu0_; }

 private:
  std::chrono::steady_clock::time_point wall0_;
  double cpu0_;
};

// value is in `unit` (ns/op, s, ...); wall and cpu are the whole measured section in seconds.
inline void report(const std::string& workload, const std::string& system, double value, const char* unit,
                   const Stopwatch& sw, std::uint64_t n) {
  std::printf("RESULT %s %s %.6g %s cpu_s=%.4f wall_s=%.4f n=%llu\n", workload.c_str(), system.c_str(), value,
              unit, sw.cpu(), sw.wall(), static_cast<unsigned long long>(n));
  std::fflush(stdout);
}

// Per-operation figure in ns from a stopwatch covering n operations.
inline void report_per_op(const std::string& workload, const std::string& system, const Stopwatch& sw,
                          std::uint64_t n) {
  report(workload, system, sw.wall() * 1e9 / static_cast<double>(n), "ns/op", sw, n);
}

// argv[i] as a count, or `fallback` when absent.
inline std::uint64_t count_arg(int argc, char** argv, int i, std::uint64_t fallback) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  unsigned long long v = std::strtoull(argv[i], &end, 10);
  if (!end || *end != '\0' || v == 0) throw std::invalid_argument(std::string("bad count: ") + argv[i]);
  return v;
}

inline void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark self-check failed: %s\n", what.c_str());
    std::exit(3);
  }
}

// The workload sizes of issue 8; programs accept a smaller n on the command line (slow peers).
constexpr std::uint64_t kW1N = 10'000'000;
constexpr std::uint64_t kW2N = 1'000'000;
constexpr double kW2SpreadSeconds = 0.100;
constexpr std::uint64_t kW3N = 1'000'000;

// Delay of timer i of n in the W2 wave: spread over [0, spread) and interleaved, like qaio_workloads.h.
inline double w2_delay(std::uint64_t i, std::uint64_t n, double spread = kW2SpreadSeconds) {
  return spread * static_cast<double>((i * 7919u) % n) / static_cast<double>(n);
}

}  // namespace bench
