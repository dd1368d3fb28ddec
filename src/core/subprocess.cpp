// subprocess.cpp: the stream level, asyncio.subprocess: Process, create_subprocess_exec/_shell and
// the SubprocessStreamProtocol that turns pipe events into StreamReaders and a StreamWriter.
//
// The stdout/stderr readers are plain StreamReaders fed by pipe_data_received; each reader's
// transport is its read pipe, so a reader holding more than 2*limit unread bytes pauses that pipe
// (back-pressure reaches the child as a full pipe). stdin is a StreamWriter over the write pipe;
// its drain() waits on a StreamReaderProtocol that this protocol forwards pause/resume/lost to.
#include <set>

#include "qaio/policy.h"
#include "qaio/subprocess.h"

namespace qaio {

namespace detail {

class ProcessStreamProtocol final : public SubprocessProtocol {
 public:
  explicit ProcessStreamProtocol(long limit)
      : limit_(limit), stdin_flow_(std::make_shared<StreamReaderProtocol>(StreamReader(limit))) {}

  void connection_made(SubprocessTransport& transport) override {
    transport_ = &transport;
    if (Transport* t = transport.get_pipe_transport(1)) {
      stdout_.emplace(limit_);
      stdout_->set_transport(t);
      open_pipes_.insert(1);
    }
    if (Transport* t = transport.get_pipe_transport(2)) {
      stderr_.emplace(limit_);
      stderr_->set_transport(t);
      open_pipes_.insert(2);
    }
    if (Transport* t = transport.get_pipe_transport(0))
      stdin_.emplace(t->shared_from_this(), stdin_flow_, std::nullopt);
  }
  void pipe_data_received(int fd, std::string_view data) override {
    if (StreamReader* r = reader(fd)) r->feed_data(data);
  }
  void pipe_connection_lost(int fd, std::exception_ptr exc) override {
    if (fd == 0) {
      // Wakes drain() waiters (with the error, if any) and makes wait_closed() complete.
      stdin_flow_->connection_lost(exc);
      return;
    }
    if (StreamReader* r = reader(fd)) {
      if (exc) {
        r->set_exception(exc);
      } else {
        r->feed_eof();
      }
    }
    open_pipes_.erase(fd);
    maybe_close_transport();
  }
  void process_exited() override {
    exited_ = true;
    maybe_close_transport();
  }
  void pause_writing() override { stdin_flow_->pause_writing(); }
  void resume_writing() override { stdin_flow_->resume_writing(); }

  std::optional<StreamReader> stdout_;
  std::optional<StreamReader> stderr_;
  std::optional<StreamWriter> stdin_;

 private:
  StreamReader* reader(int fd) {
    if (fd == 1 && stdout_) return &*stdout_;
    if (fd == 2 && stderr_) return &*stderr_;
    return nullptr;
  }
  // asyncio 3.12+: once the child exited and its output pipes are drained, close the transport.
  void maybe_close_transport() {
    if (exited_ && open_pipes_.empty() && transport_) transport_->close();
  }

  long limit_;
  std::shared_ptr<StreamReaderProtocol> stdin_flow_;
  SubprocessTransport* transport_ = nullptr;
  std::set<int> open_pipes_;
  bool exited_ = false;
};

namespace {

Coro<std::string> read_stream(StreamReader reader, std::shared_ptr<SubprocessTransport> transport, int fd) {
  std::string out = co_await reader.read(-1);
  if (Transport* t = transport->get_pipe_transport(fd)) t->close();
  co_return out;
}

Coro<void> feed_stdin(StreamWriter writer, std::string input) {
  // The child may exit without reading everything; asyncio ignores the broken pipe here.
  try {
    if (!input.empty()) writer.write(input);
    co_await writer.drain();
  } catch (const BrokenPipeError&) {
  } catch (const ConnectionResetError&) {
  }
  writer.close();
}

// Cancels the helper tasks of communicate() if it is left early (cancelled or failed).
struct CancelOnExit {
  std::vector<AnyTask> tasks;
  ~CancelOnExit() {
    for (auto& t : tasks)
      if (!t.done()) t.cancel();
  }
};

Coro<Process> make_process(std::vector<std::string> argv, SubprocessOptions options, bool shell) {
  EventLoop& loop = get_running_loop();
  const long limit = options.limit;
  if (limit <= 0) throw std::invalid_argument("Limit cannot be <= 0");
  SubprocessProtocolFactory factory = [limit]() -> std::shared_ptr<SubprocessProtocol> {
    return std::make_shared<ProcessStreamProtocol>(limit);
  };
  SubprocessPair pair;
  if (shell) {
    pair = co_await loop.subprocess_shell(std::move(factory), std::move(argv.at(0)), options);
  } else {
    pair = co_await loop.subprocess_exec(std::move(factory), std::move(argv), options);
  }
  co_return Process(std::move(pair.first), std::static_pointer_cast<ProcessStreamProtocol>(std::move(pair.second)));
}

}  // namespace
}  // namespace detail

Process::Process(std::shared_ptr<SubprocessTransport> transport, std::shared_ptr<detail::ProcessStreamProtocol> protocol)
    : transport_(std::move(transport)), protocol_(std::move(protocol)) {}

pid_t Process::pid() const noexcept { return transport_->get_pid(); }
std::optional<int> Process::returncode() const noexcept { return transport_->get_returncode(); }
Coro<int> Process::wait() { return transport_->wait(); }
void Process::send_signal(int sig) { transport_->send_signal(sig); }
void Process::terminate() { transport_->terminate(); }
void Process::kill() { transport_->kill(); }
std::optional<StreamWriter> Process::stdin_writer() const { return protocol_->stdin_; }
std::optional<StreamReader> Process::stdout_reader() const { return protocol_->stdout_; }
std::optional<StreamReader> Process::stderr_reader() const { return protocol_->stderr_; }

Coro<std::pair<std::string, std::string>> Process::communicate(std::string input) {
  auto transport = transport_;  // this Process may be a temporary: keep what we use
  auto protocol = protocol_;
  EventLoop& loop = transport->get_loop();
  detail::CancelOnExit helpers;
  Task<std::string> out_task, err_task;
  // Both outputs are read concurrently with feeding stdin, or a child blocked writing a full
  // stdout pipe would never read the rest of its input.
  if (protocol->stdout_) {
    out_task = loop.create_task(detail::read_stream(*protocol->stdout_, transport, 1));
    helpers.tasks.emplace_back(out_task);
  }
  if (protocol->stderr_) {
    err_task = loop.create_task(detail::read_stream(*protocol->stderr_, transport, 2));
    helpers.tasks.emplace_back(err_task);
  }
  if (protocol->stdin_) co_await detail::feed_stdin(*protocol->stdin_, std::move(input));
  std::string out, err;
  if (out_task) out = co_await out_task;
  if (err_task) err = co_await err_task;
  co_await transport->wait();
  co_return std::pair<std::string, std::string>(std::move(out), std::move(err));
}

Coro<Process> create_subprocess_exec(std::string program, std::vector<std::string> args, SubprocessOptions options) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 1);
  argv.push_back(std::move(program));
  for (auto& a : args) argv.push_back(std::move(a));
  return detail::make_process(std::move(argv), std::move(options), false);
}

Coro<Process> create_subprocess_shell(std::string cmd, SubprocessOptions options) {
  return detail::make_process({std::move(cmd)}, std::move(options), true);
}

}  // namespace qaio
