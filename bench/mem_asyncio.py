#!/usr/bin/env python3
"""bench/mem_asyncio.py: issue 8's memory figures for asyncio and uvloop: bytes per idle task
(parked on a future that never completes) and per pending timer, from tracemalloc (Python heap
objects only; uvloop's C-level timer handles are allocated outside it and so undercounted).

usage: mem_asyncio.py <asyncio|uvloop> <task|timer> [n]
"""
import asyncio
import sys
import tracemalloc


async def idle(never):
    await never


async def measure_tasks(n):
    loop = asyncio.get_running_loop()
    never = loop.create_future()
    tasks = []
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        tasks.append(loop.create_task(idle(never)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    never.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (after - before) / n


def measure_timers(loop, n):
    timers = []
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        timers.append(loop.call_later(3600.0, lambda: None))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for t in timers:
        t.cancel()
    return (after - before) / n


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    system, what = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    if system == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if what == "task":
        per = loop.run_until_complete(measure_tasks(n))
    else:
        per = measure_timers(loop, n)
    print(f"RESULT mem_{what} {system} {per:.1f} B/obj n={n}", flush=True)
    loop.close()


if __name__ == "__main__":
    main()
