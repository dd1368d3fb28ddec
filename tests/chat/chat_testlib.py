"""chat_testlib.py: helpers shared by the chat interop tests (tests/chat/test_*.py).

Starts qaio-chat-server / ngircd / qaio-chat-cli as child processes on loopback ports of their own,
and drives python3-irc clients (the `irc` package, Debian's python3-irc) without threads: every
wait pumps all reactors until a condition holds or a generous deadline passes.
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import irc.client

DEADLINE = 20.0  # seconds for any single expectation; generous for loaded 2-core CI machines
_TEMP_PATHS = []  # logs and config dirs, removed by run_tests() unless QAIO_KEEP_LOGS is set


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=DEADLINE):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise Failure(f"nothing listens on port {port}")


class QaioServer:
    """qaio-chat-server on a kernel-chosen port; .port is read from its 'listening on' line."""

    def __init__(self, binary, *args):
        # The log goes to a file: an unread pipe would fill up and block the server.
        self.log = tempfile.NamedTemporaryFile(prefix="qaio-chat-server-", suffix=".log", delete=False)
        _TEMP_PATHS.append(self.log.name)
        self.proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r":(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            raise Failure(f"server did not report its port: {line!r} {self.stderr_text()}")
        self.port = int(m.group(1))

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stderr_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()


class Ngircd:
    """Debian's ngircd, never the system service: its own config, port, pid file, in the foreground."""

    def __init__(self, port=None):
        self.dir = tempfile.mkdtemp(prefix="qaio-ngircd-")
        _TEMP_PATHS.append(self.dir)
        os.chmod(self.dir, 0o777)  # ngircd started as root drops to "nobody" before writing its pid file
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "ngircd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[Global]
Name = ngircd.test
Info = qaio interop test server
Listen = 127.0.0.1
Ports = {self.port}
PidFile = {self.dir}/ngircd.pid
MotdPhrase = qaio interop
[Limits]
PingTimeout = 120
PongTimeout = 20
MaxConnectionsIP = 0
[Options]
PAM = no
DNS = no
Ident = no
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["ngircd", "--nodaemon", "--config", self.conf],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_port(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PyClient:
    """One python3-irc client; records every event as (type, source nick, target, arguments)."""

    def __init__(self, reactor, nick, port):
        self.nick = nick
        self.events = []
        self.conn = reactor.server().connect("127.0.0.1", port, nick, username=nick.lower(),
                                             ircname=f"py {nick}")
        self.welcomed = False

    def record(self, event):
        src = str(event.source or "")
        src = irc.client.NickMask(src).nick if "!" in src else src
        self.events.append((event.type, src, event.target, list(event.arguments)))
        if event.type == "welcome":
            self.welcomed = True

    def seen(self, type_, src=None, target=None, args=None):
        return [e for e in self.events if e[0] == type_ and (src is None or e[1] == src)
                and (target is None or (e[2] or "").lower() == target.lower())
                and (args is None or e[3] == args)]


class PyIrc:
    """A reactor with several PyClients, plus the pumping wait()."""

    def __init__(self):
        # python3-irc 8.x (Debian 12) calls the reactor IRC; newer versions call it Reactor.
        self.reactor = getattr(irc.client, "Reactor", None) or irc.client.IRC
        self.reactor = self.reactor()
        self.clients = {}
        self.reactor.add_global_handler("all_events", self._dispatch, -10)
        self.extra_fds = []  # (fileobj, callback) pumped together with the reactor

    def _dispatch(self, conn, event):
        for c in self.clients.values():
            if c.conn is conn:
                c.record(event)

    def connect(self, nick, port):
        c = PyClient(self.reactor, nick, port)
        self.clients[nick] = c
        return c

    def pump(self, timeout=0.05):
        self.reactor.process_once(timeout)
        for f, cb in self.extra_fds:
            r, _, _ = select.select([f], [], [], 0)
            if r:
                cb()

    def settle(self, seconds):
        """Pumps for a while, so that anything still in flight arrives before a negative check."""
        end = time.time() + seconds
        while time.time() < end:
            self.pump()

    def wait(self, cond, what, deadline=DEADLINE):
        end = time.time() + deadline
        while time.time() < end:
            if cond():
                return
            self.pump()
        raise Failure(f"timed out waiting for: {what}")


class CliProcess:
    """qaio-chat-cli in interactive mode: we type into its stdin and read its stdout lines."""

    def __init__(self, binary, port, nick, *args):
        self.proc = subprocess.Popen([binary, "--port", str(port), "--nick", nick, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.lines = []
        self._partial = ""

    def poll_output(self):
        try:
            chunk = self.proc.stdout.read()
        except (BlockingIOError, TypeError):
            chunk = None
        if chunk:
            data = self._partial + chunk
            *full, self._partial = data.split("\n")
            self.lines.extend(full)
            for l in full:
                print("   cli|", l, flush=True)

    def type(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def has(self, needle, start=0):
        self.poll_output()
        return any(needle in l for l in self.lines[start:])

    def count(self, needle):
        self.poll_output()
        return sum(1 for l in self.lines if needle in l)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.poll_output()
        return self.proc.returncode


def run_tests(tests):
    """Runs test functions in order; prints PASS/FAIL lines; exits 1 if any failed."""
    failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            print(f"PASS {t.__name__} ({time.time() - t0:.2f} s)", flush=True)
        except Exception as e:  # report and continue with the next test
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}", flush=True)
    print(f"{len(tests) - failed}/{len(tests)} passed", flush=True)
    if not os.environ.get("QAIO_KEEP_LOGS"):
        for path in _TEMP_PATHS:
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
    elif _TEMP_PATHS:
        print("kept:", " ".join(_TEMP_PATHS))
    sys.exit(1 if failed else 0)
