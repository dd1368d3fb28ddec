// sigint_child.cpp: a console program using qaio::run, for sigint_run_test.cpp. It prints "ready",
// then writes numbered records until interrupted. Its finally-block (an RAII guard in the main
// coroutine) prints how many records were complete, so the test can tell a clean cancellation from
// a kill mid-write.
//   sigint_child          Ctrl-C cancels the main task; qaio::run raises KeyboardInterrupt (exit 130)
//   sigint_child stubborn the main task swallows the first cancellation; the second Ctrl-C raises
//                         KeyboardInterrupt out of the loop, and qaio::run's cleanup cancels the task
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "qaio/qaio.h"

namespace {

void say(const std::string& s) {
  // One write() per record: a record is either wholly out or not at all.
  std::string line = s + "\n";
  [[maybe_unused]] ssize_t n = ::write(1, line.data(), line.size());
}

struct Finally {
  int& records;
  ~Finally() { say("finally " + std::to_string(records)); }
};

qaio::Coro<int> main_task(bool stubborn) {
  int records = 0;
  bool ignored = false;
  Finally finally{records};
  say("ready");
  for (;;) {
    try {
      say("record " + std::to_string(records) + " " + std::string(64, 'x'));
      ++records;
      co_await qaio::sleep(0.005);
    } catch (const qaio::CancelledError&) {
      if (!stubborn || ignored) {
        say("cancelled");
        throw;
      }
      ignored = true;
      say("ignoring cancel");
      qaio::current_task().uncancel();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool stubborn = argc > 1 && std::strcmp(argv[1], "stubborn") == 0;
  try {
    return qaio::run(main_task(stubborn));
  } catch (const qaio::KeyboardInterrupt&) {
    say("KeyboardInterrupt");
    return 130;
  } catch (const qaio::CancelledError&) {
    say("CancelledError");
    return 1;
  }
}
