// qaio/errors.h: the exception types qaio throws, one per asyncio/Python exception.
//
// Every qaio error derives from qaio::Error (a std::runtime_error), so `catch (const qaio::Error&)`
// catches them all. Messages follow CPython's wording where CPython has one. Argument errors
// (Python's ValueError/TypeError) are std::invalid_argument, as the API contract says.
// KeyboardInterrupt and SystemExit are the only BaseException-like types: the loop never hands them
// to the exception handler, it lets them propagate out of run_forever()/run_until_complete().
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace qaio {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Python's RuntimeError: closed loop, loop already running, no running loop, ...
class RuntimeError : public Error {
 public:
  using Error::Error;
};

// asyncio.CancelledError. message() is the text given to cancel(msg); has_message() tells cancel()
// from cancel("") the way CPython's `args == ()` does.
class CancelledError : public Error {
 public:
  CancelledError() : Error("CancelledError") {}
  explicit CancelledError(std::optional<std::string> msg)
      : Error(msg ? *msg : std::string("CancelledError")), message_(std::move(msg)) {}
  const std::string& message() const noexcept {
    static const std::string empty;
    return message_ ? *message_ : empty;
  }
  bool has_message() const noexcept { return message_.has_value(); }
  const std::optional<std::string>& optional_message() const noexcept { return message_; }

 private:
  std::optional<std::string> message_;
};

class InvalidStateError : public Error {
 public:
  using Error::Error;
};

class TimeoutError : public Error {
 public:
  TimeoutError() : Error("TimeoutError") {}
  using Error::Error;
};

class QueueEmpty : public Error {
 public:
  QueueEmpty() : Error("QueueEmpty") {}
  using Error::Error;
};

class QueueFull : public Error {
 public:
  QueueFull() : Error("QueueFull") {}
  using Error::Error;
};

// Raised by Queue operations after Queue::shutdown() (asyncio.QueueShutDown, 3.13).
class QueueShutDown : public Error {
 public:
  QueueShutDown() : Error("QueueShutDown") {}
  using Error::Error;
};

// StreamReader.readexactly()/readuntil() hit EOF first. expected() is empty for readuntil().
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

// StreamReader.readuntil() went past the reader's limit. consumed() is how much was examined.
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(const std::string& message, std::size_t consumed)
      : Error(message), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

// Python's OSError: code() is the errno as a std::error_code (generic category).
class OSError : public Error {
 public:
  OSError(std::error_code code, const std::string& what) : Error(what), code_(code) {}
  OSError(int errnum, const std::string& what);
  const std::error_code& code() const noexcept { return code_; }
  int errnum() const noexcept { return code_.value(); }

 private:
  std::error_code code_;
};

class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionAbortedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// Builds the OSError subclass that matches errnum (ECONNREFUSED -> ConnectionRefusedError, ...).
// The message reads like CPython's: "[Errno 111] Connection refused" plus ": context" when given.
std::exception_ptr make_os_error(int errnum, std::string_view context = {});
[[noreturn]] void throw_os_error(int errnum, std::string_view context = {});

// Several exceptions reported together (TaskGroup, create_connection(all_errors)).
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions);
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

// Python's BaseException branch: not an Error, never swallowed by the loop.
class BaseException : public std::exception {
 public:
  const char* what() const noexcept override { return "BaseException"; }
};
class KeyboardInterrupt : public BaseException {
 public:
  const char* what() const noexcept override { return "KeyboardInterrupt"; }
};
class SystemExit : public BaseException {
 public:
  explicit SystemExit(int code = 0) : code_(code) {}
  const char* what() const noexcept override { return "SystemExit"; }
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// Text of an exception_ptr for logs: "TypeName: what()".
std::string describe_exception(const std::exception_ptr& e);
// True if e holds a qaio::CancelledError.
bool is_cancelled_error(const std::exception_ptr& e) noexcept;

}  // namespace qaio
