// errors.cpp: building OSError subclasses from errno values and describing exceptions for logs.
#include "qaio/errors.h"

#include <cerrno>
#include <cstring>
#include <cxxabi.h>
#include <memory>
#include <typeinfo>

namespace qaio {

namespace {
std::string errno_text(int errnum, std::string_view context) {
  std::string text = "[Errno " + std::to_string(errnum) + "] " + std::strerror(errnum);
  if (!context.empty()) {
    text += ": ";
    text += context;
  }
  return text;
}
}  // namespace

OSError::OSError(int errnum, const std::string& what)
    : Error(what), code_(errnum, std::generic_category()) {}

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
    : Error(std::to_string(partial.size()) + " bytes read on a total of " +
            (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

ExceptionGroup::ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions)
    : Error(message + " (" + std::to_string(exceptions.size()) + " sub-exception" +
            (exceptions.size() == 1 ? "" : "s") + ")"),
      exceptions_(std::move(exceptions)) {}

std::exception_ptr make_os_error(int errnum, std::string_view context) {
  std::string text = errno_text(errnum, context);
  switch (errnum) {
    case ECONNREFUSED:
      return std::make_exception_ptr(ConnectionRefusedError(errnum, text));
    case ECONNRESET:
      return std::make_exception_ptr(ConnectionResetError(errnum, text));
    case ECONNABORTED:
      return std::make_exception_ptr(ConnectionAbortedError(errnum, text));
    case EPIPE:
    case ESHUTDOWN:
      return std::make_exception_ptr(BrokenPipeError(errnum, text));
    default:
      return std::make_exception_ptr(OSError(errnum, text));
  }
}

void throw_os_error(int errnum, std::string_view context) {
  std::rethrow_exception(make_os_error(errnum, context));
}

namespace {
std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}
}  // namespace

std::string describe_exception(const std::exception_ptr& e) {
  if (!e) return "None";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return demangle(typeid(ex).name()) + ": " + ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

bool is_cancelled_error(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace qaio
