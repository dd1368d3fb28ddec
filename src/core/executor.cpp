// executor.cpp: the thread pool behind run_in_executor() and to_thread().
#include "qaio/executor.h"

#include <algorithm>
#include <stdexcept>

#include "qaio/errors.h"

namespace qaio {

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers)
    : max_workers_(max_workers ? max_workers
                               : std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(true); }

void ThreadPoolExecutor::submit(Job job) {
  std::unique_lock lock(mutex_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  jobs_.push_back(std::move(job));
  // Like CPython: start a thread only when nobody idles and the pool is not full.
  if (idle_ == 0 && workers_.size() < max_workers_) {
    workers_.emplace_back([this] { worker_main(); });
  } else {
    cv_.notify_one();
  }
}

void ThreadPoolExecutor::shutdown(bool wait) {
  std::vector<std::thread> workers;
  {
    std::unique_lock lock(mutex_);
    shutdown_ = true;
    cv_.notify_all();
    if (!wait) return;
    workers.swap(workers_);
  }
  for (auto& t : workers) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // shutdown from inside a job: cannot join ourselves
    } else {
      t.join();
    }
  }
}

std::size_t ThreadPoolExecutor::worker_count() const {
  std::unique_lock lock(mutex_);
  return workers_.size();
}

void ThreadPoolExecutor::worker_main() {
  std::unique_lock lock(mutex_);
  for (;;) {
    while (jobs_.empty() && !shutdown_) {
      ++idle_;
      cv_.wait(lock);
      --idle_;
    }
    if (jobs_.empty()) return;  // shut down and drained
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();  // jobs made by run_in_executor never throw: they capture their own exceptions
    job.reset();
    lock.lock();
  }
}

}  // namespace qaio
