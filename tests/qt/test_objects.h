// test_objects.h: QObjects with the signal shapes the Qt tests await (no argument, one, several,
// a private signal), a helper that collects qaio's Qt log messages, and spin_foreign(), the
// guarded stand-in for app.exec().
#pragma once

#include <QEventLoop>
#include <QLoggingCategory>
#include <QObject>
#include <QString>
#include <QTimer>

#include <mutex>
#include <string>
#include <vector>

// Spins a plain QEventLoop (a stand-in for app.exec()) until quit or `limit_ms`; false on the
// time limit, so a test that would hang fails instead.
inline bool spin_foreign(QEventLoop& q, int limit_ms = 5000) {
  bool timed_out = false;
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &q, [&] {
    timed_out = true;
    q.quit();
  });
  guard.start(limit_ms);
  q.exec();
  return !timed_out;
}

class Emitter : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;
  void fire_private(int v) { emit privateSignal(v, QPrivateSignal()); }

 signals:
  void ping();
  void value(int v);
  void pair(int n, const QString& s);
  void privateSignal(int v, QPrivateSignal);
};

// Collects messages of the "qaio" category while alive (and only those).
class QaioLogCapture {
 public:
  QaioLogCapture() {
    std::lock_guard lock(mutex());
    active() = this;
    previous_ = qInstallMessageHandler(&QaioLogCapture::handler);
  }
  ~QaioLogCapture() {
    std::lock_guard lock(mutex());
    qInstallMessageHandler(previous_);
    active() = nullptr;
  }
  std::vector<std::pair<QtMsgType, std::string>> messages() {
    std::lock_guard lock(mutex());
    return messages_;
  }

 private:
  static void handler(QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
    std::lock_guard lock(mutex());
    if (active() && ctx.category && std::string(ctx.category) == "qaio")
      active()->messages_.emplace_back(type, msg.toStdString());
  }
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static QaioLogCapture*& active() {
    static QaioLogCapture* p = nullptr;
    return p;
  }
  QtMessageHandler previous_ = nullptr;
  std::vector<std::pair<QtMsgType, std::string>> messages_;
};
