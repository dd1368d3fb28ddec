// qaio/protocols.h: asyncio's protocol interfaces, the callbacks a transport calls.
//
// A protocol is the user's half of a connection: the transport reads and writes the fd and calls
// these methods from the loop's ready deque. Every method has a do-nothing default, as in asyncio.
// Protocols are held by std::shared_ptr (factories return one); the transport drops its reference
// after connection_lost(), which breaks any protocol <-> transport cycle.
#pragma once

#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <string_view>

#include "qaio/socket_address.h"

namespace qaio {

class Transport;
class DatagramTransport;

// asyncio.BaseProtocol: connection state and write flow control.
class BaseProtocol {
 public:
  virtual ~BaseProtocol() = default;
  virtual void connection_made(Transport& /*transport*/) {}
  // exc is nullptr on a regular EOF or close(), else the error (ConnectionResetError, ...).
  virtual void connection_lost(std::exception_ptr /*exc*/) {}
  // The transport's write buffer went over the high-water mark / back to the low-water mark.
  virtual void pause_writing() {}
  virtual void resume_writing() {}
};

// asyncio.Protocol: a stream of bytes.
class Protocol : public BaseProtocol {
 public:
  virtual void data_received(std::string_view /*data*/) {}
  // The peer sent EOF. Return true to keep the transport open (half-closed: you may still
  // write); false (the default) closes it.
  virtual bool eof_received() { return false; }
};

// asyncio.BufferedProtocol: the transport reads straight into a buffer the protocol provides.
class BufferedProtocol : public Protocol {
 public:
  // A writable buffer of any size (sizehint is -1: no preference). Must not be empty.
  virtual std::span<std::byte> get_buffer(long sizehint) = 0;
  // nbytes were written at the start of the last buffer returned by get_buffer().
  virtual void buffer_updated(std::size_t nbytes) = 0;

 private:
  void data_received(std::string_view) final {}
};

// asyncio.DatagramProtocol: whole datagrams with their sender.
class DatagramProtocol : public BaseProtocol {
 public:
  virtual void datagram_received(std::string_view /*data*/, const SocketAddress& /*addr*/) {}
  // A send or receive failed (e.g. ECONNREFUSED after an ICMP error); the transport stays open.
  virtual void error_received(std::exception_ptr /*exc*/) {}
};

}  // namespace qaio
