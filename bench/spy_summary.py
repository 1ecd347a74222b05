"""Summarise a py-spy `--format raw` (collapsed stacks) file: inclusive share per function.

    py-spy record --pid PID --duration 15 --format raw -o stacks.txt
    .venv/bin/python -m bench.spy_summary stacks.txt [--all] [--top 40]

By default only our code (frames outside site-packages and the stdlib) and a few library milestones are
listed, with the share of all samples whose stack passes through them, plus the top leaf functions."""

from __future__ import annotations

import argparse
import re
from collections import Counter


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--all", action="store_true", help="list library frames too")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    with open(args.path, encoding="utf-8") as lines:
        rows = list(lines)
    for line in rows:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        seen = set()
        for f in frames:
            name = re.sub(r":\d+\)$", ")", f)  # function (file) without the line number
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
        leaf[re.sub(r":\d+\)$", ")", frames[-1])] += n

    def ours(name: str) -> bool:
        return bool(re.search(r"\((/work/main/)?(api|flows|models|documents)/", name))

    print(f"{total} samples")
    print("inclusive (stack passes through):")
    for name, n in inclusive.most_common():
        if args.all or ours(name):
            print(f"  {100 * n / total:5.1f}%  {name}")
    print("leaf (own time):")
    for name, n in leaf.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
