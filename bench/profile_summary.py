#!/usr/bin/env python3
"""Self time per operator from a chrome trace written by `bench_train --profile FILE` (libtorch's legacy profiler).

Usage: bench/profile_summary.py TRACE.json [TOP]
Self time = an event's duration minus its children's on the same thread (events nest: aten::linear > aten::mm).
Prints a Markdown table of the TOP (default 20) operators by self time, with the share of all profiled time, and the
GEMM share (aten::mm, addmm, bmm, baddbmm and their variants).
"""
import collections
import json
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: profile_summary.py TRACE.json [TOP]")
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with open(sys.argv[1]) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[e.get("tid", 0)].append((float(e["ts"]), float(e["dur"]), e["name"]))
    self_time = collections.Counter()
    total = 0.0
    for spans in by_thread.values():
        spans.sort(key=lambda s: (s[0], -s[1]))
        stack = []  # [end, name, child_time]
        def close(item):
            end, name, start, dur, children = item
            self_time[name] += max(0.0, dur - children)
            if stack:
                stack[-1][4] += dur
        for start, dur, name in spans:
            while stack and stack[-1][0] <= start:
                close(stack.pop())
            if not stack:
                total += dur
            stack.append([start + dur, name, start, dur, 0.0])
        while stack:
            close(stack.pop())
    gemm = sum(t for n, t in self_time.items() if any(k in n for k in ("::mm", "addmm", "bmm", "baddbmm")))
    print("| operator | self ms | share |")
    print("|---|---|---|")
    for name, t in self_time.most_common(top):
        print("| `%s` | %.1f | %.1f%% |" % (name, t / 1e3, 100 * t / total))
    print("\nprofiled %.1f ms; GEMM (mm/addmm/bmm/baddbmm) self time %.1f%%" % (total / 1e3, 100 * gemm / total))


if __name__ == "__main__":
    main()
