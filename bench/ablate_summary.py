#!/usr/bin/env python3
"""Markdown table of an equal-wall-time ablation (bench/ablate_train.sh WORK_DIR): one row per run directory.

Usage: bench/ablate_summary.py WORK_DIR [ROW ...]
Columns: steps, training wall time (minutes, from metrics.jsonl "elapsed"), final held-out loss, mean task accuracy
over every task@difficulty cell (blank-image controls excluded), and per-family means. Only the standard library.
"""
import json
import os
import sys


def read_row(path):
    steps = elapsed = loss = None
    accuracy = {}
    with open(os.path.join(path, "metrics.jsonl")) as f:
        for line in f:
            line = json.loads(line)
            if "elapsed" in line:
                steps, elapsed = line["step"], line["elapsed"]
            if line.get("final"):
                loss, accuracy = line["eval_loss"], line["task_accuracy"]
    if loss is None:
        return None
    cells = {k: v for k, v in accuracy.items() if not k.endswith("/blind")}
    families = {}
    for key, value in cells.items():
        families.setdefault(key.split("@")[0], []).append(value)
    return {
        "steps": steps,
        "minutes": elapsed / 60.0,
        "loss": loss,
        "mean": sum(cells.values()) / max(1, len(cells)),
        "families": {k: sum(v) / len(v) for k, v in families.items()},
    }


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ablate_summary.py WORK_DIR [ROW ...]")
    work = sys.argv[1]
    names = sys.argv[2:] or sorted(d for d in os.listdir(work) if os.path.isfile(os.path.join(work, d, "metrics.jsonl")))
    rows = {}
    for name in names:
        row = read_row(os.path.join(work, name))
        if row is None:
            print(f"({name}: not finished)", file=sys.stderr)
        else:
            rows[name] = row
    if not rows:
        sys.exit("no finished rows in " + work)
    families = sorted({f for r in rows.values() for f in r["families"]})
    print("| row | steps | train min | held-out loss | mean task acc | " + " | ".join(families) + " |")
    print("|---|---|---|---|---|" + "---|" * len(families))
    for name, r in rows.items():
        fam = " | ".join("%.0f%%" % (100 * r["families"].get(f, float("nan"))) for f in families)
        print("| %s | %d | %.1f | %.4f | %.1f%% | %s |" % (name, r["steps"], r["minutes"], r["loss"], 100 * r["mean"], fam))


if __name__ == "__main__":
    main()
