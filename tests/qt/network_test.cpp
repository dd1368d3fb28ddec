// network_test.cpp: Qt Network / QIODevice awaitables (issue 3, item 6) against real peers: a
// Python http.server started by the test (a file, a 404, a refused port) and QTcpServer/QTcpSocket
// pairs on loopback.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <cerrno>
#include <memory>
#include <string>

#include "qaio/qt.h"

using qaio::qt::QtEventLoop;

namespace {

// A free loopback port (bound then released) for the refused-connection cases.
quint16 closed_port() {
  QTcpServer probe;
  EXPECT_TRUE(probe.listen(QHostAddress::LocalHost, 0));
  quint16 port = probe.serverPort();
  probe.close();
  return port;
}

// python3 -m http.server on a temporary directory; the port is read from its first output line
// with qaio::qt::read on the QProcess (itself a QIODevice).
class HttpServer {
 public:
  explicit HttpServer(QtEventLoop& loop) {
    EXPECT_TRUE(dir_.isValid());
    QFile f(dir_.filePath("hello.txt"));
    EXPECT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("hello from http.server\n");
    f.close();
    process_.setProgram("python3");
    process_.setArguments({"-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir_.path()});
    process_.start();
    // If Python never says where it listens, kill it: read() then reports EOF and we fail, not hang.
    auto guard = loop.call_later(10.0, [p = &process_] { p->kill(); });
    port_ = loop.run_until_complete(wait_for_port(&process_));
    guard.cancel();
  }
  ~HttpServer() {
    process_.kill();
    process_.waitForFinished(5000);
  }
  quint16 port() const { return port_; }

 private:
  static qaio::Coro<quint16> wait_for_port(QProcess* p) {
    QByteArray out;
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    while (!out.contains(')')) {
      QByteArray chunk = co_await qaio::qt::read(p);
      if (chunk.isEmpty()) throw std::runtime_error("http.server exited: " + p->readAllStandardError().toStdString());
      out += chunk;
    }
    const int at = out.indexOf(" port ");
    co_return static_cast<quint16>(out.mid(at + 6).split(' ').value(0).toUInt());
  }

  QTemporaryDir dir_;
  QProcess process_;
  quint16 port_ = 0;
};

qaio::Coro<QByteArray> get(QNetworkAccessManager* nam, QString url) {
  std::unique_ptr<QNetworkReply> reply(nam->get(QNetworkRequest(QUrl(url))));
  QByteArray body = co_await qaio::qt::finished(reply.get());
  co_return body;
}

}  // namespace

// finished(): the body of a real HTTP 200, a NetworkError carrying 404, and a refused connection
// as an OSError with ECONNREFUSED.
TEST(QtNetwork, FinishedAgainstARealHttpServer) {
  QtEventLoop loop;
  HttpServer server(loop);
  ASSERT_NE(server.port(), 0);
  QNetworkAccessManager nam;
  nam.setProxy(QNetworkProxy::NoProxy);
  const QString base = QStringLiteral("http://127.0.0.1:%1/").arg(server.port());

  EXPECT_EQ(loop.run_until_complete(get(&nam, base + "hello.txt")), QByteArray("hello from http.server\n"));

  try {
    loop.run_until_complete(get(&nam, base + "missing.txt"));
    ADD_FAILURE() << "a 404 must throw";
  } catch (const qaio::qt::NetworkError& e) {
    EXPECT_EQ(e.http_status(), 404);
    EXPECT_EQ(e.network_error(), static_cast<int>(QNetworkReply::ContentNotFoundError));
    EXPECT_EQ(&e.code().category(), &qaio::qt::network_category());
    EXPECT_TRUE(e.body().contains("404"));
  }

  const QString refused = QStringLiteral("http://127.0.0.1:%1/").arg(closed_port());
  try {
    loop.run_until_complete(get(&nam, refused));
    ADD_FAILURE() << "a refused connection must throw";
  } catch (const qaio::OSError& e) {
    EXPECT_EQ(e.code(), std::error_code(ECONNREFUSED, std::generic_category()));
    EXPECT_NE(dynamic_cast<const qaio::qt::NetworkError*>(&e), nullptr);
  }
}

// Several requests in flight at once, each awaited by its own task.
TEST(QtNetwork, ConcurrentRequests) {
  QtEventLoop loop;
  HttpServer server(loop);
  QNetworkAccessManager nam;
  nam.setProxy(QNetworkProxy::NoProxy);
  const QString url = QStringLiteral("http://127.0.0.1:%1/hello.txt").arg(server.port());
  std::vector<qaio::Task<QByteArray>> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(loop.create_task(get(&nam, url)));
  for (auto& t : tasks) EXPECT_EQ(loop.run_until_complete(t), QByteArray("hello from http.server\n"));
}

// connected / bytes_written / read on a QTcpSocket talking to a QTcpServer over loopback.
TEST(QtNetwork, SocketConnectWriteRead) {
  QtEventLoop loop;
  QTcpServer listener;
  ASSERT_TRUE(listener.listen(QHostAddress::LocalHost, 0));
  QTcpSocket client;
  auto result = loop.run_until_complete([](QTcpServer* srv, QTcpSocket* c) -> qaio::Coro<std::string> {
    auto incoming = qaio::qt::signal(srv, &QTcpServer::newConnection, 5.0);  // listening from now on
    c->connectToHost(QHostAddress::LocalHost, srv->serverPort());
    co_await qaio::qt::connected(c);
    if (!srv->hasPendingConnections()) co_await incoming;
    std::unique_ptr<QTcpSocket> peer(srv->nextPendingConnection());
    if (!peer) throw std::runtime_error("no pending connection");
    const QByteArray big(256 * 1024, 'x');
    c->write(big);
    qint64 written = 0;
    while (written < big.size()) {
      qint64 n = co_await qaio::qt::bytes_written(c);
      if (n == 0) break;
      written += n;
    }
    QByteArray got;
    while (got.size() < big.size()) {
      QByteArray chunk = co_await qaio::qt::read(peer.get());
      if (chunk.isEmpty()) break;
      got += chunk;
    }
    peer->write("bye");
    QByteArray reply = co_await qaio::qt::read(c);
    peer->disconnectFromHost();
    QByteArray eof = co_await qaio::qt::read(c);  // the peer closed: EOF
    co_return std::to_string(written) + " " + std::to_string(got.size()) + " " + (got == big ? "same" : "diff") +
        " " + reply.toStdString() + " eof=" + std::to_string(eof.size());
  }(&listener, &client));
  EXPECT_EQ(result, "262144 262144 same bye eof=0");
}

TEST(QtNetwork, SocketConnectRefused) {
  QtEventLoop loop;
  QTcpSocket client;
  const quint16 port = closed_port();
  EXPECT_THROW(loop.run_until_complete([](QTcpSocket* c, quint16 p) -> qaio::Coro<void> {
                 c->connectToHost(QHostAddress::LocalHost, p);
                 co_await qaio::qt::connected(c);
               }(&client, port)),
               qaio::ConnectionRefusedError);
}
