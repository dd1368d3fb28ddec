// main.cpp: qaio-chat-cli, the console chat client (standalone SelectorEventLoop).
//
//   qaio-chat-cli [--host 127.0.0.1] [--port 6667] [--nick NAME] [--user U] [--realname R]
//                 [--join #chan]... [--no-reconnect] [--script FILE]
//
// Interactive: stdin is read through the loop (add_reader on fd 0), each line is a /command or
// text for the current conversation (the last one joined or messaged; "/target X" switches).
// --script FILE runs the file's lines once registered, then quits; besides the input commands it
// understands "/sleep SECONDS" and "/wait-for TEXT" (waits up to 10 s for an output line
// containing TEXT; exit status 3 if it never comes), which makes the client scriptable in tests.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "chat/line_splitter.h"
#include "chat/session.h"
#include "output.h"
#include "qaio/qaio.h"
#include "qaio/sync.h"

namespace {

struct Options {
  chat::SessionOptions session;
  std::string script;
};

[[noreturn]] void usage(const char* prog, int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: %s [--host H] [--port P] [--nick N] [--user U] [--realname R] [--join #chan]...\n"
               "          [--no-reconnect] [--keepalive SECONDS] [--script FILE]\n",
               prog);
  std::exit(rc);
}

Options parse_args(int argc, char** argv) {
  Options o;
  o.session.identity.nick = "qaio-user";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(argv[0], 0);
    if (a == "--no-reconnect") {
      o.session.reconnect = false;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0], 2);
    std::string v = argv[++i];
    try {
      if (a == "--host") {
        o.session.host = v;
      } else if (a == "--port") {
        o.session.port = static_cast<std::uint16_t>(std::stoul(v));
      } else if (a == "--nick") {
        o.session.identity.nick = v;
      } else if (a == "--user") {
        o.session.identity.user = v;
      } else if (a == "--realname") {
        o.session.identity.realname = v;
      } else if (a == "--join") {
        o.session.identity.channels.push_back(v);
      } else if (a == "--keepalive") {
        o.session.keepalive_interval = std::stod(v);
        o.session.keepalive_timeout = std::stod(v);
      } else if (a == "--script") {
        o.script = v;
      } else {
        usage(argv[0], 2);
      }
    } catch (const std::logic_error&) {
      std::fprintf(stderr, "%s: bad value for %s\n", argv[0], a.c_str());
      std::exit(2);
    }
  }
  return o;
}

class Cli {
 public:
  explicit Cli(Options opts)
      : opts_(std::move(opts)),
        session_(
            opts_.session, [this](const chat::ChatEvent& e) { on_event(e); },
            [this](chat::SessionStatus s, const std::string& d) { on_status(s, d); }) {}

  qaio::Coro<int> main() {
    qaio::EventLoop& loop = qaio::get_running_loop();
    qaio::Task<void> session = loop.create_task(session_.run(), "chat-session");
    qaio::Task<void> driver;
    if (!opts_.script.empty()) {
      driver = loop.create_task(run_script(), "script");
    } else {
      watch_stdin(loop);
    }
    try {
      co_await session;
    } catch (const std::exception& e) {
      print(std::string("!!! session ended: ") + e.what());
      exit_code_ = 1;
    }
    if (stdin_watched_) loop.remove_reader(0);
    if (driver && !driver.done()) driver.cancel();
    if (session_.status() == chat::SessionStatus::disconnected && !quit_requested_ && exit_code_ == 0) exit_code_ = 1;
    co_return exit_code_;
  }

 private:
  void print(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    output_.push_back(line);
  }

  void on_event(const chat::ChatEvent& e) {
    // The conversation follows our own joins, so plain text goes where the user just went.
    if (e.kind == chat::ChatEvent::Kind::join && e.self) current_ = e.target;
    print(chat::cli::format_event(e));
  }

  void on_status(chat::SessionStatus s, const std::string& detail) {
    print(chat::cli::format_status(s, detail));
    if (s == chat::SessionStatus::connected) {
      registered_.set();
      // Lines typed (or piped) before the server welcomed us are sent now, in order.
      std::vector<std::string> early;
      early.swap(early_input_);
      for (const std::string& line : early) handle_input(line);
      if (stdin_ended_ && !quit_requested_) {
        quit_requested_ = true;
        session_.quit("end of input");
      }
    }
  }

  void handle_input(std::string_view line) {
    if (!registered_.is_set()) {
      early_input_.emplace_back(line);
      return;
    }
    if (line.rfind("/target ", 0) == 0) {
      current_ = std::string(line.substr(8));
      print("*** now talking in " + current_);
      return;
    }
    chat::InputResult r = session_.input(line, current_);
    if (!r.error.empty()) print("!!! " + r.error);
    if (!r.open.empty()) current_ = r.open;
    if (r.quit) quit_requested_ = true;
  }

 public:
  ~Cli() {
    // A terminal's file flags are shared with the shell that started us: leave them as found.
    if (stdin_flags_ >= 0) ::fcntl(0, F_SETFL, stdin_flags_);
  }

 private:
  void watch_stdin(qaio::EventLoop& loop) {
    stdin_flags_ = ::fcntl(0, F_GETFL);
    ::fcntl(0, F_SETFL, stdin_flags_ | O_NONBLOCK);
    stdin_watched_ = true;
    loop.add_reader(0, [this, &loop] {
      char buf[4096];
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (n <= 0) {
        loop.remove_reader(0);
        stdin_watched_ = false;
        stdin_ended_ = true;
        if (!registered_.is_set()) return;  // on_status() quits after sending the early lines
        quit_requested_ = true;
        session_.quit("end of input");
        return;
      }
      for (auto& piece : stdin_lines_.feed(std::string_view(buf, static_cast<std::size_t>(n))))
        if (!piece.overflow) handle_input(piece.line);
    });
  }

  qaio::Coro<void> run_script() {
    std::ifstream in(opts_.script);
    if (!in) {
      print("!!! cannot open script " + opts_.script);
      exit_code_ = 2;
      session_.quit("bad script");
      co_return;
    }
    co_await registered_.wait();
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("/sleep ", 0) == 0) {
        co_await qaio::sleep(std::stod(line.substr(7)));
      } else if (line.rfind("/wait-for ", 0) == 0) {
        std::string needle = line.substr(10);
        bool found = co_await wait_for_output(needle, 10.0);
        if (!found) {
          print("!!! script: timed out waiting for: " + needle);
          exit_code_ = 3;
          quit_requested_ = true;
          session_.quit("script failed");
          co_return;
        }
      } else {
        handle_input(line);
        if (quit_requested_) co_return;
      }
    }
    quit_requested_ = true;
    session_.quit("script done");
  }

  // Polls the printed lines (every 20 ms): simple, and scripts are not hot paths.
  qaio::Coro<bool> wait_for_output(std::string needle, double timeout) {
    qaio::EventLoop& loop = qaio::get_running_loop();
    double deadline = loop.time() + timeout;
    std::size_t from = 0;
    for (;;) {
      for (; from < output_.size(); ++from)
        if (output_[from].find(needle) != std::string::npos && output_[from].find("/wait-for") == std::string::npos)
          co_return true;
      if (loop.time() >= deadline) co_return false;
      co_await qaio::sleep(0.02);
    }
  }

  Options opts_;
  chat::ChatSession session_;
  qaio::Event registered_;
  chat::LineSplitter stdin_lines_;
  std::vector<std::string> output_;
  std::string current_;
  std::vector<std::string> early_input_;
  bool stdin_watched_ = false;
  bool stdin_ended_ = false;
  int stdin_flags_ = -1;
  bool quit_requested_ = false;
  int exit_code_ = 0;
};

qaio::Coro<int> run_cli(Options opts) {
  Cli cli(std::move(opts));
  co_return co_await cli.main();
}

}  // namespace

int main(int argc, char** argv) {
  Options opts = parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  try {
    return qaio::run(run_cli(std::move(opts)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qaio-chat-cli: %s\n", e.what());
    return 1;
  }
}
