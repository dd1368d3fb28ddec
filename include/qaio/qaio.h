// qaio/qaio.h: the umbrella header for qaio::core (no Qt). For the Qt driver include <qaio/qt.h>.
#pragma once

#include "qaio/coro.h"
#include "qaio/errors.h"
#include "qaio/event_loop.h"
#include "qaio/executor.h"
#include "qaio/future.h"
#include "qaio/handle.h"
#include "qaio/policy.h"
#include "qaio/selector_event_loop.h"
#include "qaio/sleep.h"
#include "qaio/task.h"
#include "qaio/threads.h"
