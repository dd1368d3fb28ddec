// qaio/qt/network.h: awaitables for Qt Network replies and QIODevices (sockets, processes, ...).
//
//   QByteArray body = co_await qaio::qt::finished(reply);   // qaio::qt::NetworkError on failure
//   co_await qaio::qt::connected(socket);                     // qaio::OSError if connecting fails
//   QByteArray data = co_await qaio::qt::read(device);        // what is available; empty at EOF
//   qint64 n = co_await qaio::qt::bytes_written(device);      // after the device wrote some
//
// Each waits for the object's own signals (see signals.h), so it never blocks Qt; if the object is
// destroyed while awaited, the awaiting task gets qaio::CancelledError. The objects stay owned by
// the caller: cancelling the awaiting task does not abort a reply or close a socket.
#pragma once

#include <QByteArray>
#include <QtGlobal>

#include <string>
#include <system_error>

#include "qaio/coro.h"
#include "qaio/errors.h"

class QNetworkReply;
class QAbstractSocket;
class QIODevice;

namespace qaio::qt {

// A failed QNetworkReply. code() is an errno (generic category) for connection-level failures
// (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ECANCELED), otherwise the
// QNetworkReply::NetworkError value in network_category(). what() has Qt's errorString().
class NetworkError : public OSError {
 public:
  NetworkError(std::error_code code, const std::string& what, int network_error, int http_status, QByteArray body)
      : OSError(code, what), network_error_(network_error), http_status_(http_status), body_(std::move(body)) {}
  // The QNetworkReply::NetworkError value.
  int network_error() const noexcept { return network_error_; }
  // The HTTP status code, 0 if there was no HTTP response.
  int http_status() const noexcept { return http_status_; }
  // The body the server sent with an error status (an HTML 404 page, ...).
  const QByteArray& body() const noexcept { return body_; }

 private:
  int network_error_;
  int http_status_;
  QByteArray body_;
};

// The std::error_category of QNetworkReply::NetworkError values ("qt.network").
const std::error_category& network_category() noexcept;

// The reply's body once it has finished; NetworkError if it failed (404, refused, ...).
Coro<QByteArray> finished(QNetworkReply* reply);
// Returns once the socket is connected; OSError (ConnectionRefusedError, ...) if connecting fails.
Coro<void> connected(QAbstractSocket* socket);
// Waits until data is available and returns all of it; an empty QByteArray at EOF / when closed.
Coro<QByteArray> read(QIODevice* device);
// Waits until the device reports written bytes and returns how many (0 if nothing was pending);
// OSError if a socket fails meanwhile.
Coro<qint64> bytes_written(QIODevice* device);

}  // namespace qaio::qt
