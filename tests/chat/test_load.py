#!/usr/bin/python3
"""test_load.py: qaio-chat-load against qaio-chat-server: N clients join one channel, each sends M
messages, every client must receive all of the others' (the load tool exits 1 on any loss).

usage: test_load.py SERVER LOAD [CLIENTS] [MESSAGES]
"""
import subprocess
import sys

from chat_testlib import QaioServer, check, run_tests

SERVER, LOAD = sys.argv[1], sys.argv[2]
CLIENTS = sys.argv[3] if len(sys.argv) > 3 else "200"
MESSAGES = sys.argv[4] if len(sys.argv) > 4 else "10"


def test_every_client_gets_every_message():
    srv = QaioServer(SERVER, "--log-level", "warning")
    try:
        r = subprocess.run([LOAD, "--port", str(srv.port), "--clients", CLIENTS, "--messages", MESSAGES,
                            "--timeout", "120"], capture_output=True, text=True, timeout=300)
        print("  ", r.stdout.strip().replace("\n", "\n   "), flush=True)
        check(r.returncode == 0, f"load tool failed: {r.stdout} {r.stderr}")
    finally:
        check(srv.stop() == 0, "server exits cleanly")
        log = srv.stderr_text()
        check("SendQ exceeded" not in log, "no client was too slow for the server")


run_tests([test_every_client_gets_every_message])
