// test_main.cpp: main() for every qaio test executable. With the Qt driver built, a QCoreApplication
// (or QApplication when QAIO_TEST_GUI is defined) exists for the whole run, because QtEventLoop
// needs one; QT_QPA_PLATFORM=offscreen keeps GUI tests headless. With the environment variable
// QAIO_TEST_QT_DISPATCHER set (the CTest test qaio_conformance_qt_dispatcher runs qaio_conformance
// so), qaio's own event dispatcher is installed before the application.
#include <gtest/gtest.h>

#include <csignal>

#ifdef QAIO_TEST_WITH_QT
#ifdef QAIO_TEST_GUI
#include <QApplication>
using TestApp = QApplication;
#else
#include <QCoreApplication>
using TestApp = QCoreApplication;
#endif
#ifndef QAIO_TEST_GUI
#include "qaio/qt/event_dispatcher.h"
#endif
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
#ifdef QAIO_TEST_WITH_QT
  qputenv("QT_QPA_PLATFORM", qgetenv("QT_QPA_PLATFORM").isEmpty() ? "offscreen" : qgetenv("QT_QPA_PLATFORM"));
#ifndef QAIO_TEST_GUI
  if (qEnvironmentVariableIsSet("QAIO_TEST_QT_DISPATCHER")) qaio::qt::install_event_dispatcher();
#endif
  TestApp app(argc, argv);
#endif
  return RUN_ALL_TESTS();
}
