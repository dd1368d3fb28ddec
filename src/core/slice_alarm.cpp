// slice_alarm.cpp: the alarm thread behind slice_alarm.h.
//
// A plain mutex and condition variable: arming happens at most once per time slice (every few
// milliseconds) and only for loops running long batches, so its cost does not matter; the
// per-callback test is the flag. The thread is detached and the state is never destroyed, so a
// loop may disarm during static destruction; a forked child starts with no thread and no alarms.
#include "slice_alarm.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <utility>
#include <vector>

namespace qaio::detail {

namespace {

using Clock = std::chrono::steady_clock;  // loop.time() is this clock in seconds

struct Alarm {
  std::atomic<bool>* flag;
  double deadline;
};

struct AlarmState {
  std::mutex mutex;
  std::condition_variable wake;
  std::vector<Alarm> alarms;
  bool thread_started = false;
  double waiting_until = 0;  // the deadline the thread sleeps towards (0: none)
};

AlarmState* state_ptr = nullptr;
std::once_flag state_once;

void reset_after_fork() {
  // Only this thread exists in the child: the alarm thread and its mutex's owner are gone.
  state_ptr = new AlarmState;
}

AlarmState& state() {
  std::call_once(state_once, [] {
    state_ptr = new AlarmState;  // never destroyed: the detached thread may outlive main()
    ::pthread_atfork(nullptr, nullptr, reset_after_fork);
  });
  return *state_ptr;
}

double now_seconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

void run_alarms(AlarmState* s) {
  std::unique_lock lock(s->mutex);
  for (;;) {
    const double now = now_seconds();
    double next = 0;
    auto due = [now](const Alarm& a) { return a.deadline <= now; };
    for (const Alarm& a : s->alarms) {
      if (due(a)) {
        a.flag->store(true, std::memory_order_relaxed);
      } else if (next == 0 || a.deadline < next) {
        next = a.deadline;
      }
    }
    s->alarms.erase(std::remove_if(s->alarms.begin(), s->alarms.end(), due), s->alarms.end());
    s->waiting_until = next;
    if (next == 0) {
      s->wake.wait(lock);
    } else {
      const auto until = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(next)));
      s->wake.wait_until(lock, until);
    }
  }
}

}  // namespace

void arm_slice_alarm(std::atomic<bool>* flag, double deadline) {
  AlarmState& s = state();
  std::lock_guard lock(s.mutex);
  flag->store(false, std::memory_order_relaxed);
  auto it = std::find_if(s.alarms.begin(), s.alarms.end(), [flag](const Alarm& a) { return a.flag == flag; });
  if (it != s.alarms.end()) {
    it->deadline = deadline;
  } else {
    s.alarms.push_back(Alarm{flag, deadline});
  }
  if (!s.thread_started) {
    // With every signal blocked, so that no process-directed signal is ever delivered to it
    // (signal handlers belong to the loops' threads); the creating thread's mask is restored.
    sigset_t all, previous;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    try {
      std::thread(run_alarms, &s).detach();
    } catch (...) {
      ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      s.alarms.erase(std::remove_if(s.alarms.begin(), s.alarms.end(), [flag](const Alarm& a) { return a.flag == flag; }),
                     s.alarms.end());
      throw;
    }
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    s.thread_started = true;
  } else if (s.waiting_until == 0 || deadline < s.waiting_until) {
    s.wake.notify_one();  // it sleeps towards a later deadline (or none)
  }
}

void disarm_slice_alarm(std::atomic<bool>* flag) noexcept {
  AlarmState& s = state();
  std::lock_guard lock(s.mutex);
  s.alarms.erase(std::remove_if(s.alarms.begin(), s.alarms.end(), [flag](const Alarm& a) { return a.flag == flag; }),
                 s.alarms.end());
}

}  // namespace qaio::detail
