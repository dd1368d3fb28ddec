// qaio/executor.h: Executor and ThreadPoolExecutor, where run_in_executor() and to_thread() run work.
//
// An Executor runs jobs on other threads. Jobs never touch the loop directly: run_in_executor
// wraps them so that their outcome comes back through the loop's thread-safe queue, and is dropped
// if the loop closed or the future was cancelled meanwhile (spec items 151-152).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "qaio/detail/small_function.h"

namespace qaio {

class Executor {
 public:
  using Job = detail::SmallFunction<void(), 96>;
  virtual ~Executor() = default;
  // Queues a job; throws qaio::RuntimeError after shutdown().
  virtual void submit(Job job) = 0;
  // Stops accepting jobs. With wait, blocks until queued and running jobs are done.
  virtual void shutdown(bool wait = true) = 0;
};

// concurrent.futures.ThreadPoolExecutor: up to max_workers threads, started on demand.
class ThreadPoolExecutor final : public Executor {
 public:
  // max_workers == 0 picks CPython's default, min(32, hardware threads + 4).
  explicit ThreadPoolExecutor(std::size_t max_workers = 0);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void submit(Job job) override;
  void shutdown(bool wait = true) override;
  std::size_t max_workers() const noexcept { return max_workers_; }
  std::size_t worker_count() const;

 private:
  void worker_main();

  const std::size_t max_workers_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace qaio
