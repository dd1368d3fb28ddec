#!/usr/bin/env python3
"""bench/w123_asyncio.py: issue 8's W1-W3 on CPython's asyncio and on uvloop, the reference
semantics qaio implements. Same workloads, same output line as the C++ programs:

    RESULT <workload> <system> <value> <unit> cpu_s=<x> wall_s=<x> n=<count>

usage: w123_asyncio.py <asyncio|uvloop> <w1_chain|w1_batch|w2_timers|w3_spawn|w3_pingpong> [n]

Python needs ~1 us per operation, so bench.sh passes smaller counts than the C++ programs get for
W1 and W3; the figures are per operation, so the ratios stay comparable.
"""
import asyncio
import sys
import time

SPREAD = 0.100  # W2: delays spread over 0-100 ms


def w2_delay(i, n):
    # Same interleaved spread as bench/bench_common.h.
    return SPREAD * ((i * 7919) % n) / n


class Stopwatch:
    def __init__(self):
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()

    def wall(self):
        return time.perf_counter() - self.wall0

    def cpu(self):
        return time.process_time() - self.cpu0


def report(workload, system, value, unit, sw, n):
    print(f"RESULT {workload} {system} {value:.6g} {unit} cpu_s={sw.cpu():.4f} wall_s={sw.wall():.4f} n={n}",
          flush=True)


def check(ok, what):
    if not ok:
        sys.exit(f"benchmark self-check failed: {what}")


def w1_chain(loop, n):
    remaining = [n]

    def link():
        remaining[0] -= 1
        if remaining[0] == 0:
            loop.stop()
        else:
            loop.call_soon(link)

    sw = Stopwatch()
    loop.call_soon(link)
    loop.run_forever()
    check(remaining[0] == 0, "chain incomplete")
    return sw


def w1_batch(loop, n):
    ran = [0]

    def cb():
        ran[0] += 1

    sw = Stopwatch()
    for _ in range(n):
        loop.call_soon(cb)
    loop.call_soon(loop.stop)
    loop.run_forever()
    check(ran[0] == n, "batch incomplete")
    return sw


def w2_timers(loop, n):
    fired = [0]
    expected = n - n // 2

    def cb():
        fired[0] += 1
        if fired[0] == expected:
            loop.stop()

    sw = Stopwatch()
    for i in range(n):
        t = loop.call_later(w2_delay(i, n), cb)
        if i % 2 == 1:
            t.cancel()
    loop.run_forever()
    check(fired[0] == expected, f"timers fired {fired[0]}")
    return sw


async def leaf(i):
    return i


async def spawn_all(n):
    tasks = [asyncio.ensure_future(leaf(i)) for i in range(n)]
    return sum(await asyncio.gather(*tasks))


def w3_spawn(loop, n):
    sw = Stopwatch()
    total = loop.run_until_complete(spawn_all(n))
    check(total == n * (n - 1) // 2, "gather sum wrong")
    return sw


async def ping_pong(n):
    loop = asyncio.get_running_loop()
    state = {"to_ponger": loop.create_future(), "to_pinger": None, "pongs": 0}

    async def pinger():
        for _ in range(n):
            mine = loop.create_future()
            state["to_pinger"] = mine
            state["to_ponger"].set_result(None)
            await mine

    async def ponger():
        for _ in range(n):
            await state["to_ponger"]
            state["to_ponger"] = loop.create_future()
            state["pongs"] += 1
            state["to_pinger"].set_result(None)

    b = asyncio.ensure_future(ponger())
    a = asyncio.ensure_future(pinger())
    await a
    await b
    return state["pongs"]


def w3_pingpong(loop, n):
    sw = Stopwatch()
    pongs = loop.run_until_complete(ping_pong(n))
    check(pongs == n, "ping-pong incomplete")
    return sw


WORKLOADS = {
    "w1_chain": (w1_chain, 1_000_000, "per_op"),
    "w1_batch": (w1_batch, 1_000_000, "per_op"),
    "w2_timers": (w2_timers, 1_000_000, "total"),
    "w3_spawn": (w3_spawn, 100_000, "per_op"),
    "w3_pingpong": (w3_pingpong, 100_000, "per_op"),
}


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in WORKLOADS:
        sys.exit(__doc__)
    system, workload = sys.argv[1], sys.argv[2]
    fn, default_n, kind = WORKLOADS[workload]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else default_n
    if system == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    elif system == "asyncio":
        loop = asyncio.new_event_loop()
    else:
        sys.exit(f"unknown system {system}")
    asyncio.set_event_loop(loop)
    sw = fn(loop, n)
    if kind == "per_op":
        report(workload, system, sw.wall() * 1e9 / n, "ns/op", sw, n)
    else:
        report(workload, system, sw.wall(), "s", sw, n)
    loop.close()


if __name__ == "__main__":
    main()
