// bench/echo_qt.cpp: W4's echo server on plain Qt 6: QTcpServer, and per connection a
// QTcpSocket whose readyRead writes back everything available.
//
//   bench_echo_qt <port>
#include <QCoreApplication>
#include <QHostAddress>
#include <QTcpServer>
#include <QTcpSocket>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <port>\n", argv[0]);
    return 2;
  }
  int qargc = 1;
  QCoreApplication app(qargc, argv);
  QTcpServer server;
  server.setMaxPendingConnections(4096);
  QObject::connect(&server, &QTcpServer::newConnection, [&server] {
    while (QTcpSocket* socket = server.nextPendingConnection()) {
      socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
      QObject::connect(socket, &QTcpSocket::readyRead, socket, [socket] { socket->write(socket->readAll()); });
      QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }
  });
  if (!server.listen(QHostAddress::LocalHost, static_cast<quint16>(std::atoi(argv[1])))) {
    std::fprintf(stderr, "cannot listen: %s\n", qPrintable(server.errorString()));
    return 1;
  }
  std::printf("READY %s\n", argv[1]);
  std::fflush(stdout);
  return QCoreApplication::exec();
}
