#!/usr/bin/python3
"""test_load.py: qaio-chat-load against qaio-chat-server: N clients join one channel, each sends M
messages, every client must receive all of the others' (the load tool exits 1 on any loss). And
the tool itself: with no server to connect to it fails at once, saying so, not after --timeout.

usage: test_load.py SERVER LOAD [CLIENTS] [MESSAGES]
"""
import subprocess
import sys
import time

from chat_testlib import QaioServer, check, free_port, run_tests

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


def test_connect_failure_fails_fast():
    port = free_port()  # bound and released: nothing listens there
    t0 = time.monotonic()
    r = subprocess.run([LOAD, "--port", str(port), "--clients", "20", "--messages", "1", "--timeout", "120"],
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    print("  ", r.stdout.strip().replace("\n", "\n   "), flush=True)
    check(r.returncode == 1, f"load tool exit code {r.returncode}: {r.stdout} {r.stderr}")
    check(took < 10, f"a refused connect took {took:.1f} s to fail (--timeout 120)")
    check(f"cannot connect to 127.0.0.1:{port}" in r.stdout, f"the failure names the address: {r.stdout}")


run_tests([test_connect_failure_fails_fast, test_every_client_gets_every_message])
