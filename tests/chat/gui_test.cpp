// gui_test.cpp: the Qt chat client (examples/qtapp) driven through its widgets with QTest on the
// offscreen platform, against a real qaio-chat-server process and a raw IRC peer on qaio streams:
// fill the connect dialog, join, send and receive channel messages, private tabs, Disconnect,
// while a 5 ms QTimer measures how late Qt gets to run (the UI must never freeze).
#include <gtest/gtest.h>

#include <QDialogButtonBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTest>
#include <QTimer>
#include <ctime>
#include <functional>
#include <memory>

#include "chat_window.h"
#include "conversation_view.h"
#include "qaio/qaio.h"
#include "qaio/qt/qt_event_loop.h"
#include "qaio/qt/signals.h"
#include "qaio/streams.h"

namespace {

// Polls `cond` every 10 ms for up to `timeout` seconds (the GUI changes in many small steps).
qaio::Coro<bool> wait_until(std::function<bool()> cond, double timeout) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  double end = loop.time() + timeout;
  while (!cond()) {
    if (loop.time() > end) co_return false;
    co_await qaio::sleep(0.01);
  }
  co_return true;
}

// Reads lines until one contains `needle`; returns it ("" after `timeout` seconds or EOF).
qaio::Coro<std::string> read_until(qaio::StreamReader reader, std::string needle, double timeout) {
  qaio::EventLoop& loop = qaio::get_running_loop();
  double end = loop.time() + timeout;
  for (;;) {
    double left = end - loop.time();
    if (left <= 0) co_return std::string();
    std::string line;
    bool timed_out = false;
    try {
      line = co_await qaio::timeout(left, reader.readline());
    } catch (const qaio::TimeoutError&) {
      timed_out = true;
    }
    if (timed_out || line.empty()) co_return std::string();
    if (line.find(needle) != std::string::npos) co_return line;
  }
}

struct ServerProcess {
  QProcess proc;
  std::uint16_t port = 0;
  bool start(std::uint16_t fixed_port = 0) {
    proc.setProgram(QStringLiteral(QAIO_CHAT_SERVER_PATH));
    proc.setArguments({"--port", QString::number(fixed_port), "--log-level", "warning"});
    proc.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    proc.start();
    if (!proc.waitForStarted(5000)) return false;
    for (int i = 0; i < 100 && !proc.canReadLine(); ++i) proc.waitForReadyRead(100);
    QString line = QString::fromUtf8(proc.readLine()).trimmed();
    port = static_cast<std::uint16_t>(line.section(':', -1).toUInt());
    return port != 0;
  }
  void stop() {
    if (proc.state() == QProcess::NotRunning) return;
    proc.terminate();
    if (!proc.waitForFinished(5000)) proc.kill();
    proc.waitForFinished(5000);
  }
  ~ServerProcess() { stop(); }
};

// Max lateness of a 5 ms precise QTimer: how long Qt was kept from its own events. On a loaded
// machine the OS alone can delay a tick by tens of ms (this suite shares 2 cores with other
// builds), so the probe also records the GUI thread's CPU time between two ticks: that is the
// part of the lateness our code caused (a layout, a slow callback), and it must stay under one
// frame. Wall-clock lateness is reported and bounded loosely (a real freeze still fails).
// One frame at 60 Hz. AddressSanitizer builds are -O0 and instrument every access of our widget
// code (opening the connect dialog measured 16-24 ms there, 6-8 ms in RelWithDebInfo), so they get
// three frames: the bound still catches a loop that starves Qt, which costs far more.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kFrameBudgetMs = 48.0;
#else
constexpr double kFrameBudgetMs = 16.0;
#endif

struct LatenessProbe {
  QTimer timer;
  QElapsedTimer clock;
  qint64 last_ns = 0;
  qint64 last_cpu_ns = 0;
  double max_late_ms = 0;
  double max_busy_ms = 0;
  int ticks = 0;
  static qint64 thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<qint64>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  LatenessProbe() {
    timer.setTimerType(Qt::PreciseTimer);
    timer.setInterval(5);
    QObject::connect(&timer, &QTimer::timeout, [this] {
      qint64 now = clock.nsecsElapsed();
      qint64 cpu = thread_cpu_ns();
      if (ticks++ > 0) {
        double late = (now - last_ns) / 1e6 - 5.0;
        double busy = (cpu - last_cpu_ns) / 1e6;
        if (late > max_late_ms) max_late_ms = late;
        if (busy > max_busy_ms) max_busy_ms = busy;
        if (getenv("QAIO_GUI_TRACE") && (late > 10 || busy > 10))
          std::printf("tick %d: late %.2f ms, GUI thread busy %.2f ms\n", ticks, late, busy);
      }
      last_ns = now;
      last_cpu_ns = cpu;
    });
    clock.start();
    timer.start();
  }
};

}  // namespace

TEST(ChatGui, ConnectJoinTalkPrivateTabDisconnect) {
  ServerProcess server;
  ASSERT_TRUE(server.start()) << "qaio-chat-server did not start";
  qaio::qt::QtEventLoop loop;
  qaio::set_event_loop(&loop);
  qtchat::ChatWindow window;
  window.show();
  // The first show loads fonts and lays everything out once; the probe measures the session.
  EXPECT_TRUE(QTest::qWaitForWindowExposed(&window));
  QTest::qWait(50);
  LatenessProbe probe;

  auto body = [&]() -> qaio::Coro<void> {
    // A plain IRC peer, written with raw qaio streams (not the client library under test).
    auto conn = co_await qaio::open_connection("127.0.0.1", server.port);
    qaio::StreamReader peer_in = conn.first;
    qaio::StreamWriter peer_out = conn.second;
    peer_out.write("NICK peer\r\nUSER peer 0 * :Peer\r\nJOIN #gui\r\n");
    EXPECT_NE(co_await read_until(peer_in, " 366 peer #gui ", 10), "");

    // Fill the connect dialog like a user would, and click Connect.
    auto opened = qaio::qt::signal(&window, &qtchat::ChatWindow::dialogOpened);
    window.connect_action()->trigger();
    co_await opened;
    qtchat::ConnectDialog* dlg = window.connect_dialog();
    EXPECT_NE(dlg, nullptr);
    if (!dlg) co_return;
    dlg->host_edit()->setText("127.0.0.1");
    dlg->port_edit()->setValue(server.port);
    dlg->nick_edit()->clear();
    QTest::keyClicks(dlg->nick_edit(), "guiuser");
    dlg->channels_edit()->setText("#gui");
    QPushButton* ok = dlg->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
    EXPECT_TRUE(ok->isEnabled());
    QTest::mouseClick(ok, Qt::LeftButton);

    auto joined = [&] {
      auto* v = window.conversation("#gui");
      return v && v->users().contains("peer") && v->users().contains("guiuser");
    };
    EXPECT_TRUE(co_await wait_until(joined, 10)) << "joined #gui with both users listed";
    EXPECT_NE(co_await read_until(peer_in, ":guiuser!", 10), "") << "peer saw guiuser join";
    EXPECT_TRUE(window.status_label()->text().contains("Connected")) << window.status_label()->text().toStdString();
    EXPECT_EQ(window.tabs()->currentWidget(), window.conversation("#gui"));

    // A message typed in the input line reaches the other client.
    QTest::keyClicks(window.input(), "hello from the GUI");
    QTest::keyClick(window.input(), Qt::Key_Return);
    EXPECT_NE(co_await read_until(peer_in, "PRIVMSG #gui :hello from the GUI", 10), "");

    // A message from the other client appears in the channel's view.
    peer_out.write("PRIVMSG #gui :hello GUI, from peer\r\n");
    auto shown = [&] { return window.conversation("#gui")->plain_text().contains("hello GUI, from peer"); };
    EXPECT_TRUE(co_await wait_until(shown, 10));

    // A burst of 500 messages: all shown, and Qt keeps its timers on time meanwhile.
    std::string burst;
    for (int i = 0; i < 500; ++i) burst += "PRIVMSG #gui :burst " + std::to_string(i) + "\r\n";
    peer_out.write(burst);
    auto all_shown = [&] { return window.conversation("#gui")->plain_text().contains("burst 499"); };
    EXPECT_TRUE(co_await wait_until(all_shown, 20));
    QString view = window.conversation("#gui")->plain_text();
    EXPECT_EQ(view.count("burst "), 500);
    co_await qaio::sleep(0.2);  // idle time too: the probe must tick while connected and quiet

    // An incoming private message opens a private tab; /msg answers from the GUI.
    peer_out.write("PRIVMSG guiuser :a secret\r\n");
    auto private_tab = [&] {
      auto* v = window.conversation("peer");
      return v && v->plain_text().contains("a secret");
    };
    EXPECT_TRUE(co_await wait_until(private_tab, 10));
    QTest::keyClicks(window.input(), "/msg peer whispering back");
    QTest::keyClick(window.input(), Qt::Key_Return);
    EXPECT_NE(co_await read_until(peer_in, "PRIVMSG peer :whispering back", 10), "");
    EXPECT_EQ(window.tabs()->currentWidget(), window.conversation("peer"));

    // /me in the private tab.
    QTest::keyClicks(window.input(), "/me nods");
    QTest::keyClick(window.input(), Qt::Key_Return);
    EXPECT_NE(co_await read_until(peer_in, "PRIVMSG peer :\x01" "ACTION nods\x01", 10), "");

    // Disconnect cancels the session task: the peer sees us quit, the status bar says so.
    window.disconnect_action()->trigger();
    EXPECT_NE(co_await read_until(peer_in, ":guiuser!~qaio@127.0.0.1 QUIT", 10), "");
    auto stopped = [&] { return !window.session_running(); };
    EXPECT_TRUE(co_await wait_until(stopped, 10));
    EXPECT_TRUE(window.status_label()->text().contains("Disconnected")) << window.status_label()->text().toStdString();
    EXPECT_FALSE(window.disconnect_action()->isEnabled());
    peer_out.close();
  };
  loop.run_until_complete(body());
  EXPECT_GT(probe.ticks, 10);
  EXPECT_LT(probe.max_busy_ms, kFrameBudgetMs)
      << "the GUI thread worked " << probe.max_busy_ms << " ms between two ticks";
  EXPECT_LT(probe.max_late_ms, 250.0) << "a 5 ms QTimer was late by " << probe.max_late_ms << " ms";
  std::printf("QTimer(5 ms): %d ticks, max lateness %.2f ms wall, max GUI-thread work between ticks %.2f ms\n",
              probe.ticks, probe.max_late_ms, probe.max_busy_ms);
  qaio::set_event_loop(nullptr);
  loop.close();
}

// The server goes away and comes back on the same port: the status bar shows the reconnect
// countdown, and the client reconnects and rejoins its channel by itself.
TEST(ChatGui, ReconnectIsVisibleAndRejoins) {
  auto server = std::make_unique<ServerProcess>();
  ASSERT_TRUE(server->start());
  const std::uint16_t port = server->port;
  qaio::qt::QtEventLoop loop;
  qaio::set_event_loop(&loop);
  qtchat::ChatWindow window;
  window.show();
  QStringList statuses;
  QObject::connect(&window, &qtchat::ChatWindow::statusChanged, [&](const QString& s) { statuses << s; });

  auto body = [&]() -> qaio::Coro<void> {
    window.connect_to(qtchat::ConnectSettings{"127.0.0.1", port, "phoenix", "#again"});
    auto joined = [&] { return window.conversation("#again") && window.conversation("#again")->users().contains("phoenix"); };
    EXPECT_TRUE(co_await wait_until(joined, 10));
    server->stop();  // SIGTERM: the server says goodbye and closes every connection
    auto waiting = [&] { return window.status_label()->text().contains("reconnecting in"); };
    EXPECT_TRUE(co_await wait_until(waiting, 10)) << window.status_label()->text().toStdString();
    server = std::make_unique<ServerProcess>();
    EXPECT_TRUE(server->start(port));
    auto back = [&] { return statuses.filter("Connected to").size() >= 2; };
    EXPECT_TRUE(co_await wait_until(back, 20)) << statuses.join(" | ").toStdString();
    // Rejoined: the channel's view shows a second join of ours, and typing works again.
    auto rejoined = [&] { return window.conversation("#again")->plain_text().count("phoenix joined #again") >= 2; };
    EXPECT_TRUE(co_await wait_until(rejoined, 10));
    auto conn = co_await qaio::open_connection("127.0.0.1", port);
    conn.second.write("NICK watcher\r\nUSER w 0 * :W\r\nJOIN #again\r\n");
    EXPECT_NE(co_await read_until(conn.first, " 366 watcher #again ", 10), "");
    QTest::keyClicks(window.input(), "I am back");
    QTest::keyClick(window.input(), Qt::Key_Return);
    EXPECT_NE(co_await read_until(conn.first, "PRIVMSG #again :I am back", 10), "");
    window.disconnect_action()->trigger();
    auto stopped = [&] { return !window.session_running(); };
    EXPECT_TRUE(co_await wait_until(stopped, 10));
    conn.second.close();
  };
  loop.run_until_complete(body());
  qaio::set_event_loop(nullptr);
  loop.close();
}
