// qaio/selector_event_loop.h: SelectorEventLoop, the standalone driver (console programs, servers).
//
// run_forever() calls run_once() until stop(); each iteration blocks in epoll_wait until the next
// timer is due, an fd is ready, or another thread wakes the loop through its eventfd.
#pragma once

#include "qaio/event_loop.h"

namespace qaio {

class SelectorEventLoop : public EventLoop {
 public:
  SelectorEventLoop();
  ~SelectorEventLoop() override;
  void run_forever() override;
};

}  // namespace qaio
