#!/usr/bin/python3
"""test_bad_input.py: hostile and broken clients against qaio-chat-server.

Each bad client gets the right numeric or is disconnected, while two well-behaved clients keep
chatting in the same channel and lose nothing. usage: test_bad_input.py PATH/TO/qaio-chat-server
"""
import re
import socket
import sys
import time

from chat_testlib import DEADLINE, Failure, QaioServer, check, run_tests

SERVER = sys.argv[1]


class Raw:
    """A raw-socket IRC client: bytes in, lines out; answers PING unless told to play dead."""

    def __init__(self, port, rcvbuf=None, answer_ping=True):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.buf = b""
        self.lines = []
        self.closed = False
        self.answer_ping = answer_ping

    def send(self, data):
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def register(self, nick, channel=None):
        self.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        self.expect(rf" 001 {re.escape(nick)} ")
        if channel:
            self.send(f"JOIN {channel}\r\n".encode())
            self.expect(rf" 366 {re.escape(nick)} ")

    def pump(self):
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self.buf += data
            *full, self.buf = self.buf.split(b"\r\n")
            for l in full:
                text = l.decode("utf-8", "replace")
                self.lines.append(text)
                if self.answer_ping and text.startswith("PING "):
                    self.send(b"PONG " + l[5:] + b"\r\n")

    def expect(self, pattern, others=(), deadline=DEADLINE):
        """Waits for a line matching pattern (pumping `others` too); returns it."""
        end = time.time() + deadline
        seen = 0
        while time.time() < end:
            self.pump()
            for o in others:
                o.pump()
            for l in self.lines[seen:]:
                if re.search(pattern, l):
                    return l
            seen = len(self.lines)
            if self.closed:
                break
            time.sleep(0.005)
        raise Failure(f"no line matching {pattern!r}; last lines: {self.lines[-5:]}")

    def wait_closed(self, others=(), deadline=DEADLINE):
        end = time.time() + deadline
        while time.time() < end and not self.closed:
            self.pump()
            for o in others:
                o.pump()
            time.sleep(0.01)
        check(self.closed, "connection closed by the server")

    def count(self, needle):
        return sum(1 for l in self.lines if needle in l)


class Chatters:
    """Two good clients in #bad who exchange a numbered message after every bad act."""

    def __init__(self, port):
        self.a = Raw(port)
        self.a.register("good_a", "#bad")
        self.b = Raw(port)
        self.b.register("good_b", "#bad")
        self.n = 0

    def chat(self):
        self.n += 1
        self.a.send(f"PRIVMSG #bad :ping {self.n}\r\n".encode())
        self.b.expect(rf"PRIVMSG #bad :ping {self.n}$", others=[self.a])
        self.b.send(f"PRIVMSG #bad :pong {self.n}\r\n".encode())
        self.a.expect(rf"PRIVMSG #bad :pong {self.n}$", others=[self.b])

    def verify_nothing_lost(self):
        check(not self.a.closed and not self.b.closed, "good clients still connected")
        for i in range(1, self.n + 1):
            check(self.b.count(f"PRIVMSG #bad :ping {i}") == 1, f"good_b got ping {i} exactly once")
            check(self.a.count(f"PRIVMSG #bad :pong {i}") == 1, f"good_a got pong {i} exactly once")


def start():
    return QaioServer(SERVER, "--registration-timeout", "1", "--ping-interval", "2", "--ping-timeout", "2",
                      "--max-sendq", "65536")


def test_bad_lines_get_numerics_and_nothing_is_lost():
    srv = start()
    try:
        good = Chatters(srv.port)
        bad = Raw(srv.port)
        bad.send(b"JOIN #bad\r\n")
        bad.expect(r" 451 \* :You have not registered")
        good.chat()
        bad.send(b"NICK good_a\r\n")
        bad.expect(r" 433 \* good_a :Nickname is already in use")
        bad.register("mallory", "#bad")
        good.chat()
        bad.send(b"PRIVMSG #bad :" + b"x" * 600 + b"\r\n")
        bad.expect(r" 417 mallory :Input line was too long")
        bad.send(b"PRIVMSG #bad :" + b"y" * 100000 + b"\r\n")  # far past any buffer limit
        bad.expect(r" 417 mallory :Input line was too long")
        good.chat()
        bad.send(b"PRIVMSG #bad :nul\x00byte\r\n")
        bad.expect(r" 400 mallory \* :Malformed line rejected: NUL byte")
        bad.send(b"PRIVMSG #bad :caf\xe9 latin-1\r\n")
        bad.expect(r"FAIL PRIVMSG INVALID_UTF8 ")
        bad.send(b"FROBNICATE now\r\n")
        bad.expect(r" 421 mallory FROBNICATE :Unknown command")
        bad.send(b"\r\n\r\n   \r\n")  # empty lines are ignored silently
        good.chat()
        bad.send("PRIVMSG #bad :valid UTF-8 \u00e9t\u00e9 still works\r\n".encode())
        good.b.expect("valid UTF-8 \u00e9t\u00e9 still works", others=[good.a, bad])
        good.verify_nothing_lost()
        for bad_text in ("x" * 600, "y" * 1000, "nul", "latin-1", "FROBNICATE"):
            check(not any(bad_text in l for l in good.b.lines), f"rejected input was not relayed: {bad_text[:10]}")
        check(not bad.closed, "bad lines alone do not disconnect")
    finally:
        check(srv.stop() == 0, "server exits cleanly")


def test_silent_client_is_dropped_at_registration_timeout():
    srv = start()
    try:
        good = Chatters(srv.port)
        silent = Raw(srv.port)
        t0 = time.time()
        silent.wait_closed(others=[good.a, good.b], deadline=10)
        check(any("Registration timed out" in l for l in silent.lines), f"told why: {silent.lines}")
        check(time.time() - t0 < 5, "dropped within a few seconds of the 1 s timeout")
        good.chat()
        good.verify_nothing_lost()
    finally:
        srv.stop()


def test_dead_client_is_dropped_after_ping_timeout():
    srv = start()
    try:
        good = Chatters(srv.port)
        dead = Raw(srv.port, answer_ping=False)
        dead.register("zombie", "#bad")
        good.chat()
        # Idle 2 s -> PING; 2 s more without PONG -> disconnect. Good clients answer their PINGs.
        good.a.expect(r":zombie!\S+ QUIT :Ping timeout", others=[good.b, dead], deadline=15)
        dead.wait_closed()
        check(any(l.startswith("PING ") for l in dead.lines), "the zombie was pinged first")
        good.chat()
        good.verify_nothing_lost()
    finally:
        srv.stop()


def test_client_that_never_reads_is_cut_off_without_stalling_others():
    srv = start()
    try:
        good = Chatters(srv.port)
        slow = Raw(srv.port, rcvbuf=4096)
        slow.register("sloth", "#bad")
        # From now on sloth never reads. good_a floods the channel (about 1.6 MB) in batches while
        # good_b keeps reading, so only sloth's queue can grow past the server's 64 KiB SendQ.
        total = 4000
        payload = "z" * 380
        t0 = time.time()
        for start_i in range(0, total, 200):
            batch = "".join(f"PRIVMSG #bad :{i} {payload}\r\n" for i in range(start_i, start_i + 200))
            good.a.send(batch.encode())
            good.b.expect(rf"PRIVMSG #bad :{start_i + 199} ", others=[good.a])
        elapsed = time.time() - t0
        good.a.expect(r":sloth!\S+ QUIT :SendQ exceeded", others=[good.b])
        got = [l for l in good.b.lines if f" {payload}" in l]
        check(len(got) == total, f"good_b got all {total} flood messages (got {len(got)})")
        numbers = [int(l.split(" :", 1)[1].split(" ", 1)[0]) for l in got]
        check(numbers == list(range(total)), "in order, none lost or duplicated")
        print(f"   flood of {total} messages relayed in {elapsed:.2f} s while sloth was cut off", flush=True)
        good.chat()
        good.verify_nothing_lost()
    finally:
        srv.stop()


run_tests([test_bad_lines_get_numerics_and_nothing_is_lost, test_silent_client_is_dropped_at_registration_timeout,
           test_dead_client_is_dropped_after_ping_timeout,
           test_client_that_never_reads_is_cut_off_without_stalling_others])
