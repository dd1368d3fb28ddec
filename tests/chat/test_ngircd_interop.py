#!/usr/bin/python3
"""test_ngircd_interop.py: the chat client library (through qaio-chat-cli) against Debian's ngircd,
talking to python3-irc clients, surviving an ngircd restart (reconnect with backoff, rejoin).

usage: test_ngircd_interop.py PATH/TO/qaio-chat-cli
"""
import sys

from chat_testlib import CliProcess, Ngircd, PyIrc, check, run_tests

CLI = sys.argv[1]


def test_client_library_against_ngircd():
    ircd = Ngircd()
    ircd.start()
    cli = None
    try:
        net = PyIrc()
        cli = CliProcess(CLI, ircd.port, "qaio", "--join", "#interop", "--keepalive", "5")
        net.extra_fds.append((cli.proc.stdout, cli.poll_output))
        net.wait(lambda: cli.has("#interop --> qaio joined"), "qaio-chat-cli registered and joined")

        py = net.connect("pyuser", ircd.port)
        net.wait(lambda: py.welcomed, "python client welcomed")
        py.conn.join("#interop")
        net.wait(lambda: cli.has("#interop --> pyuser joined"), "cli sees pyuser join")

        cli.type("hello from qaio")
        net.wait(lambda: py.seen("pubmsg", "qaio", "#interop", ["hello from qaio"]), "python gets qaio's message")
        py.conn.privmsg("#interop", "hello from python")
        net.wait(lambda: cli.has("#interop <pyuser> hello from python"), "cli gets python's message")
        py.conn.privmsg("qaio", "private hello")
        net.wait(lambda: cli.has("pyuser <pyuser> private hello"), "cli gets a private message")
        cli.type("/msg pyuser private reply")
        net.wait(lambda: py.seen("privmsg", "qaio", "pyuser", ["private reply"]), "python gets a private reply")
        cli.type("/target #interop")
        cli.type("/me waves")
        net.wait(lambda: py.seen("action", "qaio", "#interop", ["waves"]), "CTCP ACTION")

        # A second client asking for the same nick gets 433 and retries with another one.
        twin = CliProcess(CLI, ircd.port, "qaio", "--no-reconnect")
        net.wait(lambda: twin.has("registered as qaio_"), "nick-in-use retry: registered as qaio_")
        twin.type("/quit twin done")
        check(twin.close() == 0, "twin exits 0 after /quit")

        # Restart ngircd: the session notices, backs off, reconnects and rejoins #interop.
        ircd.stop()
        net.wait(lambda: cli.has("*** waiting: reconnecting in"), "cli reports the reconnect wait")
        ircd.start()
        net.wait(lambda: cli.count("#interop --> qaio joined") == 2, "cli reconnected and rejoined #interop")
        check(cli.count("*** connected:") == 2, "two connections reported")

        py2 = net.connect("pyuser2", ircd.port)
        net.wait(lambda: py2.welcomed, "python client back")
        py2.conn.join("#interop")
        net.wait(lambda: cli.has("#interop --> pyuser2 joined"), "cli sees pyuser2")
        cli.type("after the restart")
        net.wait(lambda: py2.seen("pubmsg", "qaio", "#interop", ["after the restart"]), "message after restart")
        py2.conn.privmsg("#interop", "welcome back")
        net.wait(lambda: cli.has("#interop <pyuser2> welcome back"), "cli receives after restart")

        cli.type("/quit see you")
        net.wait(lambda: py2.seen("quit", "qaio"), "python sees qaio quit")
        check(cli.close() == 0, "cli exits 0 after /quit")
        cli = None
    finally:
        if cli:
            cli.proc.kill()
            cli.close()
        ircd.stop()


run_tests([test_client_library_against_ngircd])
