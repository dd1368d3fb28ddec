// selector_event_loop.cpp: the standalone driver: iterate, blocking in epoll, until stop().
#include "qaio/selector_event_loop.h"

namespace qaio {

SelectorEventLoop::SelectorEventLoop() = default;
SelectorEventLoop::~SelectorEventLoop() = default;

void SelectorEventLoop::run_forever() {
  RunningScope running(*this);
  for (;;) {
    run_once();
    if (stopping()) break;
  }
}

}  // namespace qaio
