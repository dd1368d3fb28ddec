// qaio-demo: a tour of the standalone loop in one screen of output.
//
// Three tasks run concurrently on a SelectorEventLoop: a ticker driven by timers, a worker that
// hands a blocking computation to the thread pool (to_thread), and a watchdog that cancels the
// ticker, which sees CancelledError at its co_await and cleans up. qaio::run() creates the loop,
// runs main() and closes everything, like asyncio.run().
#include <chrono>
#include <cstdio>
#include <numeric>
#include <string>
#include <thread>

#include "qaio/qaio.h"

using namespace std::chrono_literals;

namespace {

double started = 0;
double now() { return qaio::get_running_loop().time() - started; }

qaio::Coro<void> ticker() {
  try {
    for (int i = 1;; ++i) {
      co_await qaio::sleep(100ms);
      std::printf("[%5.3f s] tick %d from %s\n", now(), i, qaio::current_task().get_name().c_str());
    }
  } catch (const qaio::CancelledError& e) {
    std::printf("[%5.3f s] ticker cancelled (\"%s\"), cleaning up\n", now(), e.message().c_str());
    throw;  // asyncio style: let the cancellation complete
  }
}

long long sum_of_squares(long long n) {
  long long total = 0;
  for (long long i = 1; i <= n; ++i) total += i * i;
  std::this_thread::sleep_for(150ms);  // pretend this blocks, e.g. file I/O
  return total;
}

qaio::Coro<long long> worker() {
  std::printf("[%5.3f s] worker: handing a blocking job to the thread pool\n", now());
  long long result = co_await qaio::to_thread(sum_of_squares, 1000000LL);
  std::printf("[%5.3f s] worker: thread pool answered %lld\n", now(), result);
  co_return result;
}

qaio::Coro<int> main_task() {
  auto& loop = qaio::get_running_loop();
  started = loop.time();
  std::printf("qaio demo: one loop, three tasks (standalone epoll loop)\n");
  qaio::Task<> tick = loop.create_task(ticker(), "ticker");
  qaio::Task<long long> work = loop.create_task(worker(), "worker");
  loop.call_later(0.45, [tick] { tick.cancel("watchdog: enough ticking"); });

  long long answer = co_await work;
  try {
    co_await tick;
  } catch (const qaio::CancelledError&) {
    std::printf("[%5.3f s] main: ticker is done (cancelled=%s)\n", now(), tick.cancelled() ? "yes" : "no");
  }
  std::printf("[%5.3f s] main: result %lld, goodbye\n", now(), answer);
  co_return 0;
}

}  // namespace

int main() { return qaio::run(main_task()); }
