// main.cpp: qaio-chat, the Qt Widgets IRC client on QtEventLoop.
//
//   qaio-chat [--host H] [--port P] [--nick N] [--join "#a,#b"] [--connect]
//             [--screenshot FILE --screenshot-after SECONDS]
//
// Without --connect the connect dialog opens (pre-filled from the options); with it the client
// connects at once. app.exec() drives both Qt and the qaio loop: there is no second thread.
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QScreen>
#include <QTimer>
#include <cstdio>

#include "chat_window.h"
#include "qaio/qt/qt_event_loop.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("qaio-chat");
  QCommandLineParser parser;
  parser.setApplicationDescription("IRC chat client on qaio's QtEventLoop");
  parser.addHelpOption();
  QCommandLineOption host({"H", "host"}, "IRC server host.", "host", "127.0.0.1");
  QCommandLineOption port({"p", "port"}, "IRC server port.", "port", "6667");
  QCommandLineOption nick({"n", "nick"}, "Nickname.", "nick", "qaio");
  QCommandLineOption join({"j", "join"}, "Channels to join (comma separated).", "channels", "#qaio");
  QCommandLineOption now({"c", "connect"}, "Connect at once, without the dialog.");
  QCommandLineOption shot("screenshot", "Save a PNG of the window, then quit (docs).", "file");
  QCommandLineOption shot_after("screenshot-after", "Seconds before --screenshot.", "seconds", "3");
  parser.addOptions({host, port, nick, join, now, shot, shot_after});
  parser.process(app);

  qaio::qt::QtEventLoop loop;
  qaio::set_event_loop(&loop);
  qtchat::ConnectSettings settings{parser.value(host), parser.value(port).toInt(), parser.value(nick),
                                   parser.value(join)};
  qtchat::ChatWindow window(settings);
  window.show();
  if (parser.isSet(now)) {
    window.connect_to(settings);
  } else {
    QTimer::singleShot(0, window.connect_action(), &QAction::trigger);
  }
  if (parser.isSet(shot)) {
    QTimer::singleShot(static_cast<int>(parser.value(shot_after).toDouble() * 1000), &window, [&] {
      // The window as the screen shows it (a real X window under Xvfb for the docs).
      QScreen* screen = window.screen();
      QPixmap pixmap = screen ? screen->grabWindow(window.winId()) : window.grab();
      if (pixmap.isNull()) pixmap = window.grab();
      bool saved = pixmap.save(parser.value(shot));
      std::fprintf(stderr, "qaio-chat: screenshot %s %s\n", qPrintable(parser.value(shot)), saved ? "saved" : "FAILED");
      window.close();
    });
  }
  int rc = app.exec();
  // The window is closed but the session may still be connected: cancel it (it sends QUIT) and
  // let it unwind on the loop before everything is destroyed.
  if (qaio::Task<void> session = window.session_task(); session && !session.done()) {
    session.cancel("application exit");
    try {
      loop.run_until_complete(session);
    } catch (const std::exception&) {
      // CancelledError: the expected end.
    }
  }
  qaio::set_event_loop(nullptr);
  return rc;
}
