#!/usr/bin/env python3
"""Summarises a soak samples CSV (seconds, completed, rss_kib, open_fds):
RSS and open descriptors at each tenth of the run, and the growth of RSS over
the second half (where a leak would show as a steady climb)."""
import csv
import sys


def main(path):
    with open(path, newline="") as f:
        rows = [
            {k: float(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]
    if not rows:
        sys.exit(f"{path}: no samples")
    print(f"{path}: {len(rows)} samples over {rows[-1]['seconds']:.0f} s")
    heap = "heap_kib" in rows[0]
    print("  elapsed s | completed | RSS KiB | open fds" + (" | heap in use KiB" if heap else ""))
    for tenth in range(11):
        row = rows[min(len(rows) - 1, tenth * (len(rows) - 1) // 10)]
        print(f"  {row['seconds']:9.0f} | {row['completed']:9.0f} | {row['rss_kib']:7.0f} |"
              f" {row['open_fds']:8.0f}" + (f" | {row['heap_kib']:8.0f}" if heap else ""))
    half = rows[len(rows) // 2:]
    rss = [r["rss_kib"] for r in half]
    fds = [r["open_fds"] for r in rows]
    if heap:
        used = [r["heap_kib"] for r in half]
        print(f"  second half: heap in use min {min(used):.0f} KiB, max {max(used):.0f} KiB,"
              f" first {used[0]:.0f} -> last {used[-1]:.0f} KiB ({used[-1] - used[0]:+.0f} KiB)")
    print(f"  second half: RSS min {min(rss):.0f} KiB, max {max(rss):.0f} KiB,"
          f" first {rss[0]:.0f} -> last {rss[-1]:.0f} KiB ({rss[-1] - rss[0]:+.0f} KiB)")
    print(f"  open fds: min {min(fds):.0f}, max {max(fds):.0f}, last {fds[-1]:.0f}")


if __name__ == "__main__":
    for argument in sys.argv[1:] or sys.exit("usage: summarize.py SAMPLES.csv..."):
        main(argument)
