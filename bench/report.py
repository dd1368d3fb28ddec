#!/usr/bin/env python3
"""bench/report.py: turns the RESULT lines scripts/bench.sh collected into bench/results.md.

One table per workload: each system's best run, the spread of its runs, its CPU time, and qaio's
ratio to it (qaio / system: below 1.00 means qaio is faster). A headline table compares qaio with
the best peer and the issue-8 target. Cells that cannot exist say why (libuv has no coroutines,
...); cells that should exist but did not run say that too, so no cell is silently empty.
"""
import argparse
import json
import os
from collections import defaultdict

SYSTEMS = [
    ("qaio", "qaio standalone (SelectorEventLoop)"),
    ("qaio-qt", "qaio under Qt (qt::QtEventLoop)"),
    ("qaio-poll64", "qaio standalone, set_io_poll_interval(64)"),
    ("qaio-qt-poll64", "qaio under Qt, set_io_poll_interval(64)"),
    ("asio", "asio 1.22 standalone, C++20 coroutines"),
    ("libuv", "libuv"),
    ("qt", "plain Qt 6 (queued invokeMethod / QTimer)"),
    ("uvloop", "Python uvloop"),
    ("asyncio", "Python asyncio"),
]
PEERS = ["asio", "libuv", "qt", "uvloop", "asyncio"]

WORKLOADS = [
    ("w1_chain", "W1 dispatch: call_soon chain (each callback schedules the next)", "ns/op"),
    ("w1_batch", "W1 dispatch: batch of call_soon made up front, run in one iteration", "ns/op"),
    ("w2_timers", "W2 timers: call_later over 0-100 ms, every second one cancelled, until all fired "
                  "(seconds per 1M timers)", "s"),
    ("w3_spawn", "W3 coroutines: tasks spawned and gathered", "ns/op"),
    ("w3_pingpong", "W3 coroutines: ping-pong round trips between two tasks", "ns/op"),
]

# Why a cell has no figure by construction.
NO_COUNTERPART = {
    ("w1_batch", "libuv"): "no call_soon queue in libuv",
    ("w3_spawn", "libuv"): "libuv has no coroutines",
    ("w3_pingpong", "libuv"): "libuv has no coroutines",
    ("w3_spawn", "qt"): "plain Qt has no coroutines",
    ("w3_pingpong", "qt"): "plain Qt has no coroutines",
}

HEADLINE_LABELS = {
    "w1_chain": "W1 call_soon chain, per callback",
    "w1_batch": "W1 call_soon batch, per callback",
    "w2_timers": "W2 1M timers, half cancelled",
    "w3_spawn": "W3 spawn + gather, per task",
    "w3_pingpong": "W3 ping-pong, per round trip",
}

# Issue 8's targets: (standalone, under Qt) in the workload's unit.
TARGETS = {
    "w1_chain": (60, 150),
    "w1_batch": (30, 30),
    "w2_timers": (0.5, 0.6),
    "w3_spawn": (150, 150),
    "w3_pingpong": (150, 150),
}

PEER_NOTES = {
    ("w1_chain", "libuv"): "one uv_idle callback per loop iteration",
    ("w1_chain", "asio"): "asio::post from the handler; asio does not poll I/O between handlers",
    ("w2_timers", "qt"): "100k QTimers scaled x10 (1M would take minutes: Qt's timer list is not a heap)",
    ("w3_pingpong", "asio"): "experimental::channel, send + receive each way",
    ("w3_spawn", "asio"): "co_spawn with a counting completion handler",
}


def parse_raw(path):
    results = defaultdict(list)  # (workload, system) -> [dict]
    skips = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "RESULT" and len(parts) >= 5:
                rec = {"value": float(parts[3]), "unit": parts[4]}
                for kv in parts[5:]:
                    k, _, v = kv.partition("=")
                    rec[k] = float(v)
                # W1-W3 programs are single-threaded and pinned: their process CPU time is the
                # work they did, while wall time also counts whoever else had the CPU (the machine
                # is shared). The tables therefore rank by CPU time and show wall time beside it.
                if rec["unit"] in ("ns/op", "s") and "cpu_s" in rec and "wall_s" in rec:
                    rec["wall_value"] = rec["value"]
                    if rec["unit"] == "ns/op":
                        rec["value"] = rec["cpu_s"] * 1e9 / rec["n"]
                    else:
                        # W2 totals are scaled to 1M timers: plain Qt runs 100k, quick mode fewer.
                        scale = 1e6 / rec["n"]
                        rec["value"] = rec["cpu_s"] * scale
                        rec["wall_value"] *= scale
                results[(parts[1], parts[2])].append(rec)
            elif parts[0] == "SKIP" and len(parts) >= 3:
                workload, _, system = parts[1].partition("/")
                skips[(workload, system)] = parts[2]
    return results, skips


def fmt(v, unit):
    if unit == "s":
        return f"{v:.3f} s"
    if v >= 100:
        return f"{v:,.0f} ns"
    return f"{v:.1f} ns"


def best(runs):
    return min(runs, key=lambda r: r["value"])


def why_missing(workload, system, skips):
    if (workload, system) in NO_COUNTERPART:
        return "n/a: " + NO_COUNTERPART[(workload, system)]
    reason = skips.get((workload, system))
    if system == "qaio-qt" and reason in ("not-built", "exit-4"):
        return "not run: the Qt driver (qaio::qt) is not built yet"
    if reason:
        return f"not run: {reason}"
    return "not run"


def workload_table(workload, title, unit, results, skips):
    out = [f"### {title}", ""]
    out.append("| system | best (CPU) | runs (min-max, CPU) | wall, best run | n | qaio ÷ system | qaio-qt ÷ system | note |")
    out.append("|---|---|---|---|---|---|---|---|")
    q = results.get((workload, "qaio"))
    qq = results.get((workload, "qaio-qt"))
    for system, label in SYSTEMS:
        runs = results.get((workload, system))
        if not runs:
            out.append(f"| {label} | {why_missing(workload, system, skips)} | | | | | | |")
            continue
        b = best(runs)
        lo, hi = min(r["value"] for r in runs), max(r["value"] for r in runs)
        r1 = f"{best(q)['value'] / b['value']:.2f}" if q else "-"
        r2 = f"{best(qq)['value'] / b['value']:.2f}" if qq else "-"
        note = PEER_NOTES.get((workload, system), "")
        out.append(f"| {label} | **{fmt(b['value'], unit)}** | {fmt(lo, unit)} - {fmt(hi, unit)} | "
                   f"{fmt(b.get('wall_value', b['value']), unit)} | {int(b.get('n', 0)):,} | {r1} | {r2} | {note} |")
    out.append("")
    return out


def headline(results, skips):
    out = ["## Headline", ""]
    out.append("qaio's default is asyncio's iteration (I/O polled every iteration). The `N=64` figures "
               "use the documented relaxation `loop.set_io_poll_interval(64)` (I/O polled every 64 busy "
               "iterations); `met` says which setting meets the target.")
    out.append("")
    out.append("| workload | qaio | qaio under Qt | best peer | qaio ÷ best peer | target (standalone / Qt) | met |")
    out.append("|---|---|---|---|---|---|---|")
    for workload, title, unit in WORKLOADS:
        q = results.get((workload, "qaio"))
        qq = results.get((workload, "qaio-qt"))
        q64 = results.get((workload, "qaio-poll64"))
        qq64 = results.get((workload, "qaio-qt-poll64"))
        peers = [(best(results[(workload, p)])["value"], p) for p in PEERS if results.get((workload, p))]
        bp = min(peers) if peers else None
        t1, t2 = TARGETS[workload]

        def cell(default, relaxed, system):
            if not default:
                return why_missing(workload, system, skips)
            text = fmt(best(default)["value"], unit)
            if relaxed:
                text += f" (N=64: {fmt(best(relaxed)['value'], unit)})"
            return text

        def verdict(name, default, relaxed, target):
            if not default:
                return None
            if best(default)["value"] <= target:
                return f"{name} yes"
            if relaxed and best(relaxed)["value"] <= target:
                return f"{name} yes with N=64"
            return f"{name} no"

        qs, qqs = cell(q, q64, "qaio"), cell(qq, qq64, "qaio-qt")
        bps = f"{bp[1]} {fmt(bp[0], unit)}" if bp else "-"
        ratio = f"{best(q)['value'] / bp[0]:.2f}" if (q and bp) else "-"
        met = [m for m in (verdict("standalone", q, q64, t1), verdict("Qt", qq, qq64, t2)) if m]
        tgt = f"<= {fmt(t1, unit)} / <= {fmt(t2, unit)}"
        out.append(f"| {HEADLINE_LABELS[workload]} | {qs} | {qqs} | {bps} | {ratio} | {tgt} | "
                   f"{', '.join(met) or '-'} |")
    out += w4_headline(results, skips)
    task, frame = mem_value(results, "task", "qaio"), mem_value(results, "frame", "qaio")
    if task is not None and frame is not None:
        peer = mem_value(results, "task", "asyncio")
        out.append(f"| Memory per idle task beyond its frame | {task - frame:,.0f} B | (same core) | "
                   f"{'asyncio %s B (whole task)' % format(peer, ',.0f') if peer else '-'} | - | <= 256 B | "
                   f"{'yes' if task - frame <= 256 else 'no'} |")
    out.append("")
    return out


W4_SYSTEMS = [
    ("qaio-proto", "qaio standalone, protocol API"),
    ("qaio-streams", "qaio standalone, streams API"),
    ("qaio-qt-proto", "qaio under Qt, protocol API"),
    ("qaio-qt-streams", "qaio under Qt, streams API"),
    ("qaio-qtd-proto", "qaio under Qt on qaio's dispatcher, protocol API"),
    ("qaio-qtd-streams", "qaio under Qt on qaio's dispatcher, streams API"),
    ("qaio-qtl-proto", "qaio under Qt with set_io_linger(1 ms), protocol API"),
    ("asio", "asio, C++20 coroutines"),
    ("libuv", "libuv"),
    ("qt", "plain Qt (QTcpServer)"),
    ("uvloop-proto", "uvloop, protocol"),
    ("uvloop-streams", "uvloop, streams"),
    ("asyncio-proto", "asyncio, protocol"),
    ("asyncio-streams", "asyncio, streams"),
]
W4_PEERS = ["asio", "libuv", "qt", "uvloop-proto", "uvloop-streams", "asyncio-proto", "asyncio-streams"]
W4_CONNS = [1, 100, 1000]
W4_SIZES = [64, 16384]


def w4_missing(workload, system, skips):
    reason = skips.get((workload, system))
    if system.startswith("qaio-qt") and reason in ("not-built", "server-failed"):
        return "not run (Qt driver)"
    return f"not run: {reason}" if reason else "not run"


def w4_tables(results, skips):
    out = ["## W4: TCP echo on loopback", "",
           "Closed loop: each connection sends a message and waits for the whole echo before the next. "
           "The figure is the **server's own CPU time per request** (utime + stime from /proc, all threads), "
           "then requests/s and p99 latency as the generator saw them. Server and generator share the "
           "pinned CPU, so req/s is bounded by both; CPU per request is the server's cost alone. "
           "One run per cell, except the cells with a target (64 B, 1 and 100 connections: qaio's "
           "protocol servers and every peer): best of QAIO_BENCH_REPEAT rounds (one in a quick run), "
           "interleaved so that every system sees the same minutes.", ""]
    for size in W4_SIZES:
        out.append(f"### {size}-byte messages")
        out.append("")
        out.append("| system | " + " | ".join(f"{c} conn{'s' if c > 1 else ''}: CPU/req, req/s, p99" for c in W4_CONNS) + " |")
        out.append("|---|" + "---|" * len(W4_CONNS))
        for system, label in W4_SYSTEMS:
            cells = []
            for conns in W4_CONNS:
                w = f"w4_c{conns}_s{size}"
                runs = results.get((w, system))
                if not runs:
                    cells.append(w4_missing(w, system, skips))
                    continue
                b = best(runs)
                cells.append(f"**{b['value']:.2f} us**, {b.get('rps', 0):,.0f}/s, {b.get('p99_us', 0):,.0f} us")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def w4_headline(results, skips):
    rows = []
    for conns in (100, 1):
        w = f"w4_c{conns}_s64"
        q = results.get((w, "qaio-proto"))
        qq = results.get((w, "qaio-qt-proto"))
        peers = [(best(results[(w, p)])["value"], p) for p in W4_PEERS if results.get((w, p))]
        bp = min(peers) if peers else None
        asio = results.get((w, "asio"))
        qs = f"{best(q)['value']:.2f} us" if q else w4_missing(w, "qaio-proto", skips)
        qqs = f"{best(qq)['value']:.2f} us" if qq else w4_missing(w, "qaio-qt-proto", skips)
        bps = f"{bp[1]} {bp[0]:.2f} us" if bp else "-"
        ratio = f"{best(q)['value'] / bp[0]:.2f}" if (q and bp) else "-"
        met = []
        if q and asio:
            met.append("standalone " + ("yes" if best(q)["value"] <= best(asio)["value"] else "no"))
        limit = 1.25 * best(q)["value"] if (conns == 100 and q) else (best(asio)["value"] if asio else float("inf"))
        if qq and q:
            met.append("Qt " + ("yes" if best(qq)["value"] <= limit else "no"))
        # QCoreApplication programs can install qaio's own dispatcher (docs/qt.md): judged on its own.
        qd = results.get((w, "qaio-qtd-proto"))
        if qd and q:
            met.append(f"Qt on qaio's dispatcher {best(qd)['value']:.2f} us " +
                       ("yes" if best(qd)["value"] <= limit else "no"))
        # The documented opt-in relaxation under Qt's glib dispatcher (docs/qt.md, "I/O linger").
        ql = results.get((w, "qaio-qtl-proto"))
        if ql and q:
            met.append(f"Qt with io_linger {best(ql)['value']:.2f} us " +
                       ("yes" if best(ql)["value"] <= limit else "no"))
        tgt = "<= asio / Qt <= 1.25x standalone" if conns == 100 else "<= asio, both loops"
        rows.append(f"| W4 echo {conns} conn{'s' if conns > 1 else ''} 64 B, server CPU/req (protocol API) | "
                    f"{qs} | {qqs} | {bps} | {ratio} | {tgt} | {', '.join(met) or '-'} |")
    return rows


W5_WORKLOADS = [("w1_chain", "W1 chain, 10M"), ("w1_batch", "W1 batch, 1M"), ("w2_timers", "W2, 1M timers"),
                ("w4_c100_s64", "W4 echo server (protocol), 100 conns, 64 B"),
                ("w4_c100_s16384", "W4 echo server (protocol), 100 conns, 16 KiB"),
                ("w4_c1000_s64", "W4 echo server (protocol), 1000 conns, 64 B"),
                ("w4_c1_s64_linger", "W4 echo server (protocol, io_linger 1 ms), 1 conn, 64 B"),
                ("w4_c100_s64_linger", "W4 echo server (protocol, io_linger 1 ms), 100 conns, 64 B"),
                ("w4_c1000_s64_linger", "W4 echo server (protocol, io_linger 1 ms), 1000 conns, 64 B")]


def w5_table(results, skips):
    out = ["## W5: Qt coexistence", "",
           "qaio under Qt runs the workload while a 5 ms `Qt::PreciseTimer` stands for the UI: its "
           "lateness (gap between two ticks minus 5 ms) is what a paint or input event would wait. "
           "Counted from the loop's first callback (scheduling the work up front is the caller's time). "
           "Target: worst < 16 ms (one frame). Wall-clock figures: on a loaded machine they include "
           "the time other processes held the pinned CPU.", ""]
    out.append("| workload | worst lateness | p99 lateness | ticks | target met |")
    out.append("|---|---|---|---|---|")
    for w, label in W5_WORKLOADS:
        runs = results.get((f"w5_{w}", "qaio-qt"))
        if not runs:
            out.append(f"| {label} | {why_missing(f'w5_{w}', 'qaio-qt', skips)} | | | |")
            continue
        b = best(runs)
        out.append(f"| {label} | **{b['value']:.1f} ms** | {b.get('p99_ms', float('nan')):.1f} ms | "
                   f"{int(b.get('n', 0))} | {'yes' if b['value'] < 16 else 'no'} |")
    out.append("")
    return out


MEM_SYSTEMS = [("qaio", "qaio"), ("asio", "asio"), ("uvloop", "Python uvloop"), ("asyncio", "Python asyncio")]
MEM_KINDS = [("task", "idle task"), ("timer", "pending timer"), ("connection", "idle connection (server side)")]


def mem_value(results, kind, system):
    runs = results.get((f"mem_{kind}", system))
    return best(runs)["value"] if runs else None


def mem_table(results, skips):
    out = ["## Memory", "",
           "Heap bytes per object while 100k of them are alive (8k for connections: 100k loopback "
           "connections would exhaust the ephemeral ports). C++: growth of glibc's in-use heap "
           "(mallinfo2); Python: tracemalloc, which does not see uvloop's C allocations. "
           "A task is parked on a future that never completes.", ""]
    out.append("| system | " + " | ".join(label for _, label in MEM_KINDS) + " |")
    out.append("|---|" + "---|" * len(MEM_KINDS))
    for system, label in MEM_SYSTEMS:
        cells = []
        for kind, _ in MEM_KINDS:
            v = mem_value(results, kind, system)
            if v is not None:
                cells.append(f"**{v:,.0f} B**")
            elif kind == "connection" and system != "qaio":
                cells.append("not measured")
            else:
                cells.append(why_missing(f"mem_{kind}", system, skips))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    task, frame = mem_value(results, "task", "qaio"), mem_value(results, "frame", "qaio")
    if task is not None and frame is not None:
        beyond = task - frame
        out += ["", f"qaio's idle task: {task:,.0f} B, of which the coroutine frame is {frame:,.0f} B: "
                f"**{beyond:,.0f} B beyond its frame** (target <= 256 B: "
                f"{'met' if beyond <= 256 else 'not met'})."]
    out.append("")
    return out


def micro_table(path):
    out = ["## Micro-benchmarks of the core (Google Benchmark, `qaio_micro`)", ""]
    if not path or not os.path.exists(path):
        return out + ["not run (qaio_micro not built: libbenchmark-dev missing)", ""]
    with open(path) as f:
        data = json.load(f)
    out.append("| benchmark | CPU ns/op (median of repetitions) |")
    out.append("|---|---|")
    rows = defaultdict(dict)
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name", "")
        if "ns/op" in b:
            rows[name][agg or "run"] = b["ns/op"]
    for name, aggs in rows.items():
        med = aggs.get("median", aggs.get("mean", aggs.get("run")))
        out.append(f"| {name} | {med:.1f} |")
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--micro")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    results, skips = parse_raw(args.raw)
    with open(args.meta) as f:
        meta = [line.rstrip() for line in f if line.strip()]

    lines = ["# qaio benchmark results", "",
             "Written by `scripts/bench.sh` in one run; do not edit by hand. How to read it: "
             "`docs/benchmarks.md`. Every program ran pinned to the same CPU; each cell is the best of "
             "its runs. W1-W3 figures are process CPU time (per operation, or in total for W2), because "
             "the machine is shared and wall time counts other people's work too; wall time is shown "
             "beside them. Lower is better everywhere; `qaio ÷ system` below 1.00 means qaio is faster.", "",
             "## Machine", ""]
    lines += [f"- {m}" for m in meta]
    lines.append("")
    lines += headline(results, skips)
    lines += ["## Workloads", ""]
    for workload, title, unit in WORKLOADS:
        lines += workload_table(workload, title, unit, results, skips)
    lines += w5_table(results, skips)
    lines += w4_tables(results, skips)
    lines += mem_table(results, skips)
    lines += micro_table(args.micro)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
