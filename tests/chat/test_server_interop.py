#!/usr/bin/python3
"""test_server_interop.py: qaio-chat-server with several python3-irc clients (RFC 2812 behaviour).

usage: test_server_interop.py PATH/TO/qaio-chat-server
"""
import sys

from chat_testlib import PyIrc, QaioServer, check, run_tests

SERVER = sys.argv[1]


def test_register_join_talk_nick_part_quit():
    srv = QaioServer(SERVER)
    try:
        net = PyIrc()
        a, b, c = (net.connect(n, srv.port) for n in ("alice", "bob", "carol"))
        net.wait(lambda: a.welcomed and b.welcomed and c.welcomed, "three welcomes")
        for cl in (a, b, c):
            net.wait(lambda: cl.seen("featurelist") and cl.seen("nomotd"), f"{cl.nick} got 005 and 422")
        for cl in (a, b, c):
            cl.conn.join("#interop")
        net.wait(lambda: all(len(cl.seen("join", target="#interop")) == 3 - i for i, cl in enumerate((a, b, c))),
                 "joins seen (alice sees 3, bob 2, carol 1)")
        net.wait(lambda: c.seen("endofnames"), "carol's 366")
        names = [e for e in c.seen("namreply")][-1][3]
        check(names[1] == "#interop" and set(names[2].split()) == {"@alice", "bob", "carol"},
              f"NAMES for carol: {names}")

        # Channel message: everyone else gets it exactly once, the sender does not.
        a.conn.privmsg("#interop", "hello, channel")
        net.wait(lambda: b.seen("pubmsg", "alice", "#interop", ["hello, channel"]) and
                 c.seen("pubmsg", "alice", "#interop", ["hello, channel"]), "channel message delivered")
        net.settle(0.3)
        check(not a.seen("pubmsg"), "sender does not get its own channel message")

        # Private message: only the addressee.
        b.conn.privmsg("carol", "just for you")
        net.wait(lambda: c.seen("privmsg", "bob", "carol", ["just for you"]), "private message")
        check(not a.seen("privmsg"), "alice sees no private message")

        # NOTICE to the channel.
        c.conn.notice("#interop", "a notice")
        net.wait(lambda: a.seen("pubnotice", "carol", "#interop", ["a notice"]), "channel notice")

        # Nick change seen by every channel member, and by the changer.
        b.conn.nick("robert")
        net.wait(lambda: a.seen("nick", "bob", "robert") and c.seen("nick", "bob", "robert") and
                 b.seen("nick", "bob", "robert"), "NICK bob -> robert everywhere")
        a.conn.privmsg("robert", "new name works")
        net.wait(lambda: b.seen("privmsg", "alice", "robert", ["new name works"]), "message to the new nick")

        # TOPIC set and seen.
        a.conn.topic("#interop", "qaio interop")
        net.wait(lambda: c.seen("topic", "alice", "#interop", ["qaio interop"]), "TOPIC broadcast")

        # PART with reason.
        # python3-irc 8.x sends "PART #c leaving now" without the ':' (so the server rightly reads
        # only "leaving"); send the RFC form ourselves.
        c.conn.send_raw("PART #interop :leaving now")
        net.wait(lambda: a.seen("part", "carol", "#interop", ["leaving now"]) and
                 b.seen("part", "carol", "#interop", ["leaving now"]), "PART seen")

        # QUIT with reason: remaining channel members see it; the quitter gets ERROR.
        a.conn.quit("gone fishing")
        net.wait(lambda: b.seen("quit", "alice", args=["Quit: gone fishing"]), "QUIT seen by robert")
        net.wait(lambda: a.seen("error") or a.seen("disconnect"), "alice closed by server")
        check(not c.seen("quit", "alice"), "carol (no shared channel) does not see alice's QUIT")

        # Errors a real client relies on.
        b.conn.privmsg("nobody", "x")
        net.wait(lambda: b.seen("nosuchnick"), "401 for an unknown nick")
        b.conn.send_raw("FOO bar")
        net.wait(lambda: b.seen("unknowncommand"), "421 for an unknown command")
        b.conn.send_raw("JOIN")
        net.wait(lambda: b.seen("needmoreparams"), "461 for JOIN without a channel")
        b.conn.send_raw("TOPIC #nowhere")
        net.wait(lambda: b.seen("nosuchchannel"), "403 for an unknown channel")
    finally:
        check(srv.stop() == 0, "server exits 0 on SIGTERM")


def test_nick_collision_and_case_mapping():
    srv = QaioServer(SERVER)
    try:
        net = PyIrc()
        a = net.connect("Dan[1]", srv.port)
        net.wait(lambda: a.welcomed, "first welcome")
        b = net.connect("dan{1}", srv.port)  # equal to Dan[1] under rfc1459 case mapping
        net.wait(lambda: b.seen("nicknameinuse"), "433 for the colliding nick")
        check(not b.welcomed, "not registered with a colliding nick")
        b.conn.nick("dan2")
        net.wait(lambda: b.welcomed, "registers after choosing another nick")
    finally:
        srv.stop()


def test_graceful_shutdown_notifies_clients():
    srv = QaioServer(SERVER)
    net = PyIrc()
    a = net.connect("alice", srv.port)
    net.wait(lambda: a.welcomed, "welcome")
    rc = srv.stop()
    net.wait(lambda: a.seen("disconnect"), "client sees the connection close")
    check(any("shutting down" in " ".join(e[3]) for e in a.events if e[0] in ("privnotice", "error")),
          f"client was told why: {a.events[-3:]}")
    check(rc == 0, f"server exit status {rc}")


run_tests([test_register_join_talk_nick_part_quit, test_nick_collision_and_case_mapping,
           test_graceful_shutdown_notifies_clients])
