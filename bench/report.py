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
    ("w2_timers", "W2 timers: call_later over 0-100 ms, every second one cancelled, until all fired", "s"),
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
    ("w2_timers", "qt"): "100k QTimers (not 1M), one Qt timer each",
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
    out.append("| system | best | runs (min-max) | n | CPU s (best run) | qaio ÷ system | qaio-qt ÷ system | note |")
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
                   f"{int(b.get('n', 0)):,} | {b.get('cpu_s', 0):.3f} | {r1} | {r2} | {note} |")
    out.append("")
    return out


def headline(results, skips):
    out = ["## Headline", ""]
    out.append("| workload | qaio | qaio under Qt | best peer | qaio ÷ best peer | target (standalone / Qt) | met |")
    out.append("|---|---|---|---|---|---|---|")
    for workload, title, unit in WORKLOADS:
        q = results.get((workload, "qaio"))
        qq = results.get((workload, "qaio-qt"))
        peers = [(best(results[(workload, p)])["value"], p) for p in PEERS if results.get((workload, p))]
        bp = min(peers) if peers else None
        t1, t2 = TARGETS[workload]
        qs = fmt(best(q)["value"], unit) if q else why_missing(workload, "qaio", skips)
        qqs = fmt(best(qq)["value"], unit) if qq else why_missing(workload, "qaio-qt", skips)
        bps = f"{bp[1]} {fmt(bp[0], unit)}" if bp else "-"
        ratio = f"{best(q)['value'] / bp[0]:.2f}" if (q and bp) else "-"
        met = []
        if q:
            met.append("standalone " + ("yes" if best(q)["value"] <= t1 else "no"))
        if qq:
            met.append("Qt " + ("yes" if best(qq)["value"] <= t2 else "no"))
        tgt = f"<= {fmt(t1, unit)} / <= {fmt(t2, unit)}"
        out.append(f"| {title.split(':')[0]} {workload.split('_', 1)[1]} | {qs} | {qqs} | {bps} | {ratio} | {tgt} | "
                   f"{', '.join(met) or '-'} |")
    out.append("")
    return out


def micro_table(path):
    out = ["## Micro-benchmarks of the core (Google Benchmark, `qaio_micro`)", ""]
    if not path or not os.path.exists(path):
        return out + ["not run (qaio_micro not built: libbenchmark-dev missing)", ""]
    with open(path) as f:
        data = json.load(f)
    out.append("| benchmark | ns/op (median) | ns/op (min of repetitions) |")
    out.append("|---|---|---|")
    rows = defaultdict(dict)
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name", "")
        if "ns/op" in b:
            rows[name][agg or "run"] = b["ns/op"]
    for name, aggs in rows.items():
        med = aggs.get("median", aggs.get("mean", aggs.get("run")))
        mn = aggs.get("min", "")  # Google Benchmark 1.7 has no min aggregate; left blank then
        out.append(f"| {name} | {med:.1f} | {mn if mn == '' else f'{mn:.1f}'} |")
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
             "its runs. Lower is better everywhere; `qaio ÷ system` below 1.00 means qaio is faster.", "",
             "## Machine", ""]
    lines += [f"- {m}" for m in meta]
    lines.append("")
    lines += headline(results, skips)
    lines += ["## Workloads", ""]
    for workload, title, unit in WORKLOADS:
        lines += workload_table(workload, title, unit, results, skips)
    lines += micro_table(args.micro)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
