// loop_factories.h: the loops every conformance test runs against, and the fixture they share.
//
// Each conformance case is a TYPED_TEST over LoopFactories: written once against qaio::EventLoop&,
// run once per loop. Adding a driver means adding its factory to the list, never touching cases.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "qaio/qaio.h"

struct SelectorLoopFactory {
  static std::unique_ptr<qaio::EventLoop> make() { return std::make_unique<qaio::SelectorEventLoop>(); }
};

#ifdef QAIO_TEST_WITH_QT
#include "qaio/qt/qt_event_loop.h"
struct QtLoopFactory {
  static std::unique_ptr<qaio::EventLoop> make() { return std::make_unique<qaio::qt::QtEventLoop>(); }
};
// (The CTest test qaio_conformance_qt_dispatcher runs the Qt instantiations once more with qaio's
// own event dispatcher installed: see test_main.cpp and tests/qt/CMakeLists.txt.)
using LoopFactories = ::testing::Types<SelectorLoopFactory, QtLoopFactory>;
#else
using LoopFactories = ::testing::Types<SelectorLoopFactory>;
#endif

// Names the instantiations "SelectorLoopFactory"/"QtLoopFactory" in test output.
struct LoopFactoryNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, SelectorLoopFactory>) return "Selector";
#ifdef QAIO_TEST_WITH_QT
    if constexpr (std::is_same_v<T, QtLoopFactory>) return "Qt";
#endif
    return "Loop";
  }
};

// The fixture: a fresh loop per test, closed afterwards; errors reaching the exception handler are
// collected in `errors` when a test installs capture_errors().
template <class Factory>
class LoopTest : public ::testing::Test {
 protected:
  std::unique_ptr<qaio::EventLoop> owned_ = Factory::make();
  qaio::EventLoop& loop = *owned_;
  std::vector<qaio::ErrorContext> errors;

  void capture_errors() {
    loop.set_exception_handler([this](qaio::EventLoop&, const qaio::ErrorContext& ctx) { errors.push_back(ctx); });
  }
  // Runs the loop for roughly `seconds` (a timer stops it).
  void run_for(double seconds) {
    loop.call_later(seconds, [this] { loop.stop(); });
    loop.run_forever();
  }
  std::unique_ptr<qaio::EventLoop> make_other_loop() { return Factory::make(); }
  ~LoopTest() override {
    if (!loop.is_closed() && !loop.is_running()) loop.close();
  }
};

#define QAIO_LOOP_SUITE(Suite)                          \
  template <class F>                                    \
  class Suite : public LoopTest<F> {};                  \
  TYPED_TEST_SUITE(Suite, LoopFactories, LoopFactoryNames)
