#!/usr/bin/env python3
"""Writes lab_units.jsonl: a small domain fine-tuning set in Muse's chat JSONL format.

It stands in for expert-curated question/answer data (a lab's unit-conversion desk): each line is one
conversation whose assistant turn shows its reasoning ("thinking") and a short answer. Muse holds out ~10% of
conversations by a hash of their text, so `muse eval --chat lab_units.jsonl` scores items fine-tuning never saw.
Deterministic: rerunning gives the same file.
"""
import json
import random

# (from, to, factor): every conversion multiplies by a power of ten, so the reasoning is "append zeros".
UNITS = [
    ("g", "mg", 1000), ("kg", "g", 1000), ("L", "mL", 1000), ("mg", "ug", 1000),
    ("m", "cm", 100), ("dL", "mL", 100), ("cm", "mm", 10), ("L", "dL", 10),
]
SYSTEM = "You answer unit conversions for the lab. Give the number and the unit."
PHRASES = ["Convert {n} {a} to {b}.", "How many {b} is {n} {a}?", "{n} {a} in {b}?"]


def item(rng):
    a, b, factor = rng.choice(UNITS)
    n = rng.randint(1, 99)
    question = rng.choice(PHRASES).format(n=n, a=a, b=b)
    zeros = len(str(factor)) - 1
    thinking = f"{a} to {b} is x{factor}|{n} then {zeros} zeros"
    return question, thinking, f"{n * factor} {b}"


def main():
    rng = random.Random(7)
    seen = set()
    with open("lab_units.jsonl", "w") as out:
        while len(seen) < 600:
            question, thinking, answer = item(rng)
            if question in seen:
                continue
            seen.add(question)
            messages = []
            if rng.random() < 0.5:
                messages.append({"role": "system", "content": SYSTEM})
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "thinking": thinking, "content": answer})
            out.write(json.dumps({"messages": messages}) + "\n")


if __name__ == "__main__":
    main()
