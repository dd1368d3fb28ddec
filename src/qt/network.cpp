// network.cpp: the Qt Network / QIODevice awaitables, built on signal awaitables, and the mapping
// of Qt's network and socket errors to qaio's OSError family.
#include "qaio/qt/network.h"

#include <QAbstractSocket>
#include <QNetworkReply>
#include <QProcess>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <vector>

#include "qaio/qt/signals.h"

namespace qaio::qt {

namespace {

class NetworkCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "qt.network"; }
  std::string message(int value) const override { return "QNetworkReply::NetworkError " + std::to_string(value); }
};

// Connection-level failures read best as the errno a socket would have given.
int errno_for(QNetworkReply::NetworkError e) {
  switch (e) {
    case QNetworkReply::ConnectionRefusedError: return ECONNREFUSED;
    case QNetworkReply::RemoteHostClosedError: return ECONNRESET;
    case QNetworkReply::TimeoutError: return ETIMEDOUT;
    case QNetworkReply::HostNotFoundError: return EHOSTUNREACH;
    case QNetworkReply::OperationCanceledError: return ECANCELED;
    default: return 0;
  }
}

int errno_for(QAbstractSocket::SocketError e) {
  switch (e) {
    case QAbstractSocket::ConnectionRefusedError: return ECONNREFUSED;
    case QAbstractSocket::RemoteHostClosedError: return ECONNRESET;
    case QAbstractSocket::HostNotFoundError: return EHOSTUNREACH;
    case QAbstractSocket::SocketAccessError: return EACCES;
    case QAbstractSocket::SocketResourceError: return EMFILE;
    case QAbstractSocket::SocketTimeoutError: return ETIMEDOUT;
    case QAbstractSocket::AddressInUseError: return EADDRINUSE;
    case QAbstractSocket::SocketAddressNotAvailableError: return EADDRNOTAVAIL;
    case QAbstractSocket::NetworkError: return ENETUNREACH;
    default: return EIO;
  }
}

std::exception_ptr socket_error(QAbstractSocket* socket) {
  return make_os_error(errno_for(socket->error()), socket->errorString().toStdString());
}

// Waits for the first of several signals (any arguments ignored) and says which one came. Built
// like signals.h's awaitable: direct connections that only complete a future.
class FirstOf {
 public:
  explicit FirstOf(const QObject* sender) {
    EventLoop& loop = qaio::get_event_loop();
    state_ = qaio::detail::make_ref<qaio::detail::FutureState<int>>(loop);
    relay_ = std::make_shared<detail::Relay<int>>();
    relay_->future = state_;
    relay_->loop = &loop;
    relay_->queue = loop.threadsafe_queue();
    relay_->loop_thread = loop.thread_id();
    auto relay = relay_;
    connections_.emplace_back(QObject::connect(
        sender, &QObject::destroyed, sender,
        [relay] { relay->complete([](qaio::detail::FutureState<int>& s) { s.cancel(std::string("sender destroyed")); }); },
        Qt::DirectConnection));
  }
  template <class Obj, class Func>
  FirstOf& on(const Obj* sender, Func sig, int index) {
    auto relay = relay_;
    connections_.emplace_back(QObject::connect(
        sender, sig, sender,
        [relay, index] { relay->complete([index](qaio::detail::FutureState<int>& s) { s.set_result(index); }); },
        Qt::DirectConnection));
    return *this;
  }

  struct Awaiter {
    FirstOf* self;
    bool await_ready() const noexcept { return self->state_->done(); }
    void await_suspend(std::coroutine_handle<> h) const { qaio::detail::suspend_current_task_on(*self->state_, h); }
    int await_resume() const {
      qaio::detail::throw_if_injected();
      self->connections_.clear();
      return self->state_->result();
    }
  };
  Awaiter operator co_await() & noexcept { return {this}; }

 private:
  qaio::detail::Ref<qaio::detail::FutureState<int>> state_;
  std::shared_ptr<detail::Relay<int>> relay_;
  std::vector<detail::ScopedConnection> connections_;
};

// True when nothing more can arrive on the device.
bool at_eof(QIODevice* device) {
  if (!device->isOpen() || !device->isReadable()) return true;
  if (auto* socket = qobject_cast<QAbstractSocket*>(device))
    return socket->state() == QAbstractSocket::UnconnectedState;
  if (auto* process = qobject_cast<QProcess*>(device)) return process->state() == QProcess::NotRunning;
  return !device->isSequential() && device->atEnd();
}

}  // namespace

const std::error_category& network_category() noexcept {
  static const NetworkCategory category;
  return category;
}

Coro<QByteArray> finished(QNetworkReply* reply) {
  if (!reply) throw std::invalid_argument("qaio::qt::finished: the reply is null");
  if (!reply->isFinished()) {
    co_await signal(reply, &QNetworkReply::finished);
  }
  const QNetworkReply::NetworkError error = reply->error();
  if (error != QNetworkReply::NoError) {
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const int err = errno_for(error);
    const std::error_code code = err ? std::error_code(err, std::generic_category())
                                     : std::error_code(static_cast<int>(error), network_category());
    throw NetworkError(code, reply->errorString().toStdString(), static_cast<int>(error), status, reply->readAll());
  }
  co_return reply->readAll();
}

Coro<void> connected(QAbstractSocket* socket) {
  if (!socket) throw std::invalid_argument("qaio::qt::connected: the socket is null");
  if (socket->state() == QAbstractSocket::ConnectedState) co_return;
  if (socket->state() == QAbstractSocket::UnconnectedState) {
    if (socket->error() != QAbstractSocket::UnknownSocketError) std::rethrow_exception(socket_error(socket));
    throw OSError(ENOTCONN, "qaio::qt::connected: the socket is not connecting");
  }
  FirstOf first(socket);
  first.on(socket, &QAbstractSocket::connected, 0).on(socket, &QAbstractSocket::errorOccurred, 1);
  const int which = co_await first;
  if (which == 1) std::rethrow_exception(socket_error(socket));
}

Coro<QByteArray> read(QIODevice* device) {
  if (!device) throw std::invalid_argument("qaio::qt::read: the device is null");
  if (device->bytesAvailable() == 0 && !at_eof(device)) {
    FirstOf first(device);
    first.on(device, &QIODevice::readyRead, 0)
        .on(device, &QIODevice::readChannelFinished, 1)
        .on(device, &QIODevice::aboutToClose, 2);
    if (auto* socket = qobject_cast<QAbstractSocket*>(device)) {
      first.on(socket, &QAbstractSocket::disconnected, 3).on(socket, &QAbstractSocket::errorOccurred, 4);
    } else if (auto* process = qobject_cast<QProcess*>(device)) {
      first.on(process, &QProcess::finished, 3);
    }
    co_await first;
  }
  co_return device->isOpen() ? device->readAll() : QByteArray();
}

Coro<qint64> bytes_written(QIODevice* device) {
  if (!device) throw std::invalid_argument("qaio::qt::bytes_written: the device is null");
  if (device->bytesToWrite() == 0) co_return 0;
  auto written = std::make_shared<qint64>(0);
  detail::ScopedConnection count(QObject::connect(
      device, &QIODevice::bytesWritten, device, [written](qint64 n) { *written += n; }, Qt::DirectConnection));
  FirstOf first(device);
  first.on(device, &QIODevice::bytesWritten, 0).on(device, &QIODevice::aboutToClose, 1);
  auto* socket = qobject_cast<QAbstractSocket*>(device);
  if (socket) first.on(socket, &QAbstractSocket::errorOccurred, 2);
  const int which = co_await first;
  if (which == 2) std::rethrow_exception(socket_error(socket));
  co_return *written;
}

}  // namespace qaio::qt
