// net_streams.cpp: StreamReader, StreamReaderProtocol, StreamWriter and the stream helpers
// (open_connection, start_server, ...), following CPython 3.13's streams.py (spec 139-147).
#include <algorithm>
#include <stdexcept>

#include "qaio/event_loop.h"
#include "qaio/policy.h"
#include "qaio/sleep.h"
#include "qaio/streams.h"

namespace qaio {

namespace detail {

class StreamReaderState {
 public:
  explicit StreamReaderState(long limit) : limit_(limit) {}

  // Wakes the one reader that waits for data, if any (asyncio's _wakeup_waiter).
  void wakeup_waiter() {
    if (waiter_) {
      Future<> w = std::exchange(waiter_, Future<>());
      if (!w.done()) w.set_result();
    }
  }
  // Resumes a paused transport once the buffer is back under the limit.
  void maybe_resume_transport() {
    if (paused_ && size() <= static_cast<std::size_t>(limit_) && transport_) {
      paused_ = false;
      transport_->resume_reading();
    }
  }
  Coro<void> wait_for_data(const char* func);
  std::size_t size() const noexcept { return buffer_.size() - head_; }
  std::string_view view() const noexcept { return std::string_view(buffer_).substr(head_); }
  std::string take(std::size_t n) {
    std::string out = buffer_.substr(head_, n);
    consume(n);
    return out;
  }
  void consume(std::size_t n) {
    head_ += n;
    if (head_ >= buffer_.size()) {
      buffer_.clear();
      head_ = 0;
    } else if (head_ > 64 * 1024 && head_ * 2 > buffer_.size()) {
      buffer_.erase(0, head_);
      head_ = 0;
    }
  }
  void clear() {
    buffer_.clear();
    head_ = 0;
  }

  long limit_;
  std::string buffer_;
  std::size_t head_ = 0;
  bool eof_ = false;
  bool paused_ = false;
  std::exception_ptr exception_;
  Future<> waiter_;
  Transport* transport_ = nullptr;
};

Coro<void> StreamReaderState::wait_for_data(const char* func) {
  if (waiter_)
    throw RuntimeError(std::string(func) + "() called while another coroutine is already waiting for incoming data");
  if (eof_) throw RuntimeError("_wait_for_data after EOF");
  // Waiting with a paused transport would deadlock: more data must be able to arrive.
  if (paused_ && transport_) {
    paused_ = false;
    transport_->resume_reading();
  }
  Future<> waiter = get_running_loop().create_future();
  waiter_ = waiter;
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  if (waiter_ == waiter) waiter_ = Future<>();
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

// ---- StreamReader -----------------------------------------------------------------------------

StreamReader::StreamReader(long limit) {
  if (limit <= 0) throw std::invalid_argument("Limit cannot be <= 0");
  state_ = std::make_shared<detail::StreamReaderState>(limit);
}

long StreamReader::limit() const noexcept { return state_->limit_; }
std::size_t StreamReader::buffered() const noexcept { return state_->size(); }
std::exception_ptr StreamReader::exception() const noexcept { return state_->exception_; }
bool StreamReader::at_eof() const noexcept { return state_->eof_ && state_->size() == 0; }
void StreamReader::set_transport(Transport* transport) { state_->transport_ = transport; }

void StreamReader::feed_data(std::string_view data) {
  auto& s = *state_;
  if (s.eof_) throw std::logic_error("feed_data after feed_eof");
  if (data.empty()) return;
  s.buffer_.append(data);
  s.wakeup_waiter();
  // Too much unread: stop the transport until the reader catches up (flow control).
  if (s.transport_ && !s.paused_ && s.size() > 2 * static_cast<std::size_t>(s.limit_)) {
    s.transport_->pause_reading();
    s.paused_ = true;
  }
}

void StreamReader::feed_eof() {
  state_->eof_ = true;
  state_->wakeup_waiter();
}

void StreamReader::set_exception(std::exception_ptr exc) {
  auto& s = *state_;
  s.exception_ = exc;
  if (s.waiter_) {
    Future<> w = std::exchange(s.waiter_, Future<>());
    if (!w.done()) w.set_exception(exc);  // a cancelled waiter is simply dropped (spec item 144)
  }
}

Coro<std::string> StreamReader::read(long n) {
  auto s = state_;  // the frame keeps the state alive even if every handle is dropped
  if (s->exception_) std::rethrow_exception(s->exception_);
  if (n == 0) co_return std::string();
  if (n < 0) {
    // Until EOF, in limit-sized blocks so that a huge stream never sits in the buffer twice.
    std::string all;
    for (;;) {
      std::string block = co_await read(s->limit_);
      if (block.empty()) break;
      all += block;
    }
    co_return all;
  }
  if (s->size() == 0 && !s->eof_) co_await s->wait_for_data("read");
  std::string data = s->take(std::min<std::size_t>(static_cast<std::size_t>(n), s->size()));
  s->maybe_resume_transport();
  co_return data;
}

Coro<std::string> StreamReader::readline() {
  auto s = state_;
  std::string line;
  std::exception_ptr overrun;
  try {
    line = co_await readuntil("\n");
  } catch (const IncompleteReadError& e) {
    co_return e.partial();
  } catch (const LimitOverrunError& e) {
    // Discard the over-long line (up to and including its separator if it arrived).
    std::string_view buf = s->view();
    if (buf.size() > e.consumed() && buf[e.consumed()] == '\n') {
      s->consume(e.consumed() + 1);
    } else {
      s->clear();
    }
    s->maybe_resume_transport();
    throw std::invalid_argument(e.what());
  }
  co_return line;
}

Coro<std::string> StreamReader::readuntil(std::string separator) {
  std::vector<std::string> seps{std::move(separator)};
  co_return co_await readuntil(std::move(seps));
}

Coro<std::string> StreamReader::readuntil(std::vector<std::string> separators) {
  auto s = state_;
  if (separators.empty()) throw std::invalid_argument("Separator should contain at least one-byte string");
  std::sort(separators.begin(), separators.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  const std::size_t min_seplen = separators.front().size();
  const std::size_t max_seplen = separators.back().size();
  if (min_seplen == 0) throw std::invalid_argument("Separator should be at least one-byte string");
  if (s->exception_) std::rethrow_exception(s->exception_);
  const std::size_t limit = static_cast<std::size_t>(s->limit_);
  std::size_t offset = 0;
  std::size_t match_start = 0;
  std::size_t match_end = 0;
  for (;;) {
    std::string_view buf = s->view();
    if (buf.size() - offset >= min_seplen) {
      bool found = false;
      for (const auto& sep : separators) {
        std::size_t isep = buf.find(sep, offset);
        if (isep != std::string_view::npos) {
          std::size_t end = isep + sep.size();
          if (!found || end < match_end) {
            found = true;
            match_end = end;
            match_start = isep;
          }
        }
      }
      if (found) break;
      // The next search can start where a separator could still begin.
      offset = buf.size() + 1 > max_seplen ? buf.size() + 1 - max_seplen : 0;
      if (offset > limit) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
    }
    if (s->eof_) {
      std::string chunk(buf);
      s->clear();
      throw IncompleteReadError(std::move(chunk), std::nullopt);
    }
    co_await s->wait_for_data("readuntil");
    if (s->exception_) std::rethrow_exception(s->exception_);
  }
  if (match_start > limit) throw LimitOverrunError("Separator is found, but chunk is longer than limit", match_start);
  std::string chunk = s->take(match_end);
  s->maybe_resume_transport();
  co_return chunk;
}

Coro<std::string> StreamReader::readexactly(long n) {
  auto s = state_;
  if (n < 0) throw std::invalid_argument("readexactly size can not be less than zero");
  if (s->exception_) std::rethrow_exception(s->exception_);
  if (n == 0) co_return std::string();
  const std::size_t want = static_cast<std::size_t>(n);
  while (s->size() < want) {
    if (s->eof_) {
      std::string partial(s->view());
      s->clear();
      throw IncompleteReadError(std::move(partial), want);
    }
    co_await s->wait_for_data("readexactly");
  }
  std::string data = s->take(want);
  s->maybe_resume_transport();
  co_return data;
}

// ---- StreamReaderProtocol ---------------------------------------------------------------------

StreamReaderProtocol::StreamReaderProtocol(StreamReader reader, ClientConnectedCallback cb)
    : reader_(std::move(reader)), client_connected_cb_(std::move(cb)) {}

Future<> StreamReaderProtocol::closed_future() {
  if (!closed_) closed_ = get_running_loop().create_future();
  return closed_;
}

void StreamReaderProtocol::connection_made(Transport& transport) {
  reader_.set_transport(&transport);
  if (!closed_) closed_ = transport.get_loop().create_future();
  if (!client_connected_cb_) return;
  StreamWriter writer(transport.shared_from_this(), shared_from_this(), reader_);
  EventLoop& loop = transport.get_loop();
  Coro<void> coro = client_connected_cb_(reader_, std::move(writer));
  Task<void> task = loop.create_task(std::move(coro));
  // A failing client callback closes its connection and is reported (asyncio 3.12+).
  std::weak_ptr<Transport> weak = transport.shared_from_this();
  task.add_done_callback([weak](Future<void>& t) {
    if (t.cancelled()) return;
    std::exception_ptr exc = t.exception();
    if (!exc) return;
    auto tr = weak.lock();
    EventLoop& l = t.get_loop();
    ErrorContext ctx;
    ctx.message = "Unhandled exception in client_connected_cb";
    ctx.exception = exc;
    ctx.transport = tr.get();
    l.call_exception_handler(ctx);
    if (tr) tr->close();
  });
}

void StreamReaderProtocol::connection_lost(std::exception_ptr exc) {
  if (exc) {
    reader_.set_exception(exc);
  } else {
    reader_.feed_eof();
  }
  if (closed_ && !closed_.done()) {
    if (exc) {
      closed_.set_exception(exc);
      closed_.exception();  // retrieved: nobody has to await wait_closed() (asyncio's __del__)
    } else {
      closed_.set_result();
    }
  }
  connection_lost_ = true;
  std::vector<Future<>> waiters;
  waiters.swap(drain_waiters_);
  for (auto& w : waiters) {
    if (w.done()) continue;
    if (exc) {
      w.set_exception(exc);
    } else {
      w.set_result();
    }
  }
  reader_.set_transport(nullptr);
}

void StreamReaderProtocol::data_received(std::string_view data) { reader_.feed_data(data); }

bool StreamReaderProtocol::eof_received() {
  reader_.feed_eof();
  return true;  // keep the transport open: the writer may still send (half-close)
}

void StreamReaderProtocol::pause_writing() { paused_ = true; }

void StreamReaderProtocol::resume_writing() {
  paused_ = false;
  std::vector<Future<>> waiters;
  waiters.swap(drain_waiters_);
  for (auto& w : waiters)
    if (!w.done()) w.set_result();
}

Coro<void> StreamReaderProtocol::drain_helper() {
  if (connection_lost_) throw ConnectionResetError(ECONNRESET, "Connection lost");
  if (!paused_) co_return;
  Future<> waiter = get_running_loop().create_future();
  drain_waiters_.push_back(waiter);
  auto keep = shared_from_this();
  std::exception_ptr error;
  try {
    co_await waiter;
  } catch (...) {
    error = std::current_exception();
  }
  auto it = std::find(drain_waiters_.begin(), drain_waiters_.end(), waiter);
  if (it != drain_waiters_.end()) drain_waiters_.erase(it);
  if (error) std::rethrow_exception(error);
}

// ---- StreamWriter -----------------------------------------------------------------------------

struct StreamWriter::State {
  std::shared_ptr<Transport> transport;
  std::shared_ptr<StreamReaderProtocol> protocol;
  std::optional<StreamReader> reader;
  // The last handle gone with the transport still open: close it, as asyncio's __del__ does,
  // so a forgotten writer never leaks its connection.
  ~State() {
    if (transport && !transport->is_closing() && !transport->get_loop().is_closed()) transport->close();
  }
};

StreamWriter::StreamWriter(std::shared_ptr<Transport> transport, std::shared_ptr<StreamReaderProtocol> protocol,
                           std::optional<StreamReader> reader)
    : state_(std::make_shared<State>()) {
  // Filled in place: State's destructor closes the transport, so a temporary State (copied, as
  // the user-declared destructor suppresses the move) would close the connection at once.
  state_->transport = std::move(transport);
  state_->protocol = std::move(protocol);
  state_->reader = std::move(reader);
}

const std::shared_ptr<Transport>& StreamWriter::transport() const {
  if (!state_) throw RuntimeError("StreamWriter is not connected");
  return state_->transport;
}

Coro<void> StreamWriter::drain() {
  auto s = state_;
  if (!s) throw RuntimeError("StreamWriter is not connected");
  if (s->reader) {
    if (auto exc = s->reader->exception()) std::rethrow_exception(exc);
  }
  if (s->transport->is_closing()) {
    // Let connection_lost() run if it is about to, so drain() raises instead of waiting forever.
    co_await sleep(0);
  }
  co_await s->protocol->drain_helper();
}

Coro<void> StreamWriter::wait_closed() {
  auto s = state_;
  if (!s) throw RuntimeError("StreamWriter is not connected");
  Future<> closed = s->protocol->closed_future();
  co_await closed;
}

// ---- helpers ----------------------------------------------------------------------------------

namespace {
Coro<std::pair<StreamReader, StreamWriter>> wrap_connection(ConnectionPair pair, StreamReader reader) {
  auto protocol = std::static_pointer_cast<StreamReaderProtocol>(pair.second);
  StreamWriter writer(std::move(pair.first), std::move(protocol), reader);
  co_return std::pair(std::move(reader), std::move(writer));
}

ProtocolFactory server_factory(ClientConnectedCallback cb, long limit) {
  return [cb = std::move(cb), limit]() -> std::shared_ptr<BaseProtocol> {
    return std::make_shared<StreamReaderProtocol>(StreamReader(limit), cb);
  };
}
}  // namespace

Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port, long limit,
                                                            ConnectionOptions options) {
  EventLoop& loop = get_running_loop();
  StreamReader reader(limit);
  ProtocolFactory factory = [reader]() -> std::shared_ptr<BaseProtocol> {
    return std::make_shared<StreamReaderProtocol>(reader);
  };
  ConnectionPair pair = co_await loop.create_connection(std::move(factory), std::move(host), port, std::move(options));
  co_return co_await wrap_connection(std::move(pair), std::move(reader));
}

Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, long limit) {
  EventLoop& loop = get_running_loop();
  StreamReader reader(limit);
  ProtocolFactory factory = [reader]() -> std::shared_ptr<BaseProtocol> {
    return std::make_shared<StreamReaderProtocol>(reader);
  };
  ConnectionPair pair = co_await loop.create_unix_connection(std::move(factory), std::move(path));
  co_return co_await wrap_connection(std::move(pair), std::move(reader));
}

Coro<std::shared_ptr<Server>> start_server(ClientConnectedCallback cb, std::string host, std::uint16_t port, long limit,
                                           ServerOptions options) {
  if (limit <= 0) throw std::invalid_argument("Limit cannot be <= 0");
  EventLoop& loop = get_running_loop();
  ProtocolFactory factory = server_factory(std::move(cb), limit);
  co_return co_await loop.create_server(std::move(factory), std::move(host), port, std::move(options));
}

Coro<std::shared_ptr<Server>> start_unix_server(ClientConnectedCallback cb, std::string path, long limit,
                                                ServerOptions options) {
  if (limit <= 0) throw std::invalid_argument("Limit cannot be <= 0");
  EventLoop& loop = get_running_loop();
  ProtocolFactory factory = server_factory(std::move(cb), limit);
  co_return co_await loop.create_unix_server(std::move(factory), std::move(path), std::move(options));
}

}  // namespace qaio
