// qaio/qt.h: the umbrella header for the Qt driver (qaio::qt): the core API plus QtEventLoop,
// signal awaitables and async slots, the Qt Network / QIODevice awaitables and qaio's own event
// dispatcher for QCoreApplication programs. See docs/qt.md.
#pragma once

#include "qaio/qaio.h"
#include "qaio/qt/event_dispatcher.h"
#include "qaio/qt/network.h"
#include "qaio/qt/qt_event_loop.h"
#include "qaio/qt/signals.h"
