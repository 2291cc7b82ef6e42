"""Draws bench.png from results.json (run with the bench venv's Python, which
has matplotlib):  python chart.py results.json bench.png

Four panels for the "assignment delay 0" scenario (log scales where the peers
differ by orders of magnitude): registrations per second, CPU milliseconds per
registration, latency p50 with a whisker to p99, and peak RSS.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def colour(peer):
    if peer.startswith("tls"):
        return "#9e9e9e"
    if peer.startswith(("c-", "cli", "py-libprov")):
        return "#1f77b4"
    return "#d62728"


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        results = json.load(f)
    rows = [r for r in results["rows"] if r["scenario"] == "fast" and r["ok"]]
    labels = ["%s\n(%s)" % (r["peer"], "seq" if r["concurrency"] == 1 else "x%d" % r["concurrency"])
              for r in rows]
    colours = [colour(r["peer"]) for r in rows]
    fig, axes = plt.subplots(4, 1, figsize=(11, 15), constrained_layout=True)

    rate = axes[0]
    rate.bar(labels, [r["rate_per_s"] for r in rows], color=colours)
    rate.set_yscale("log")
    rate.set_ylabel("registrations / s (TLS rows: handshakes / s)")
    rate.set_title("Same dps-emulator, assignment delay 0 (%s)\n"
                   "blue: libprov peers, red: official SDKs, grey: TLS handshake ceiling"
                   % results["date"])
    for i, r in enumerate(rows):
        rate.annotate("%.0f" % r["rate_per_s"] if r["rate_per_s"] >= 10 else "%.1f" % r["rate_per_s"],
                      (i, r["rate_per_s"]), ha="center", va="bottom", fontsize=8)

    cpu = axes[1]
    cpu.bar(labels, [r["cpu_per_reg_ms"] for r in rows], color=colours)
    cpu.set_yscale("log")
    cpu.set_ylabel("client CPU ms per registration (user+sys)")
    for i, r in enumerate(rows):
        cpu.annotate("%.2f" % r["cpu_per_reg_ms"], (i, r["cpu_per_reg_ms"]), ha="center",
                     va="bottom", fontsize=8)

    latency = axes[2]
    p50 = [r["p50_ms"] for r in rows]
    p99 = [r["p99_ms"] for r in rows]
    latency.bar(labels, p50, color=colours, label="p50")
    latency.errorbar(range(len(rows)), p50, yerr=[[0] * len(rows), [b - a for a, b in zip(p50, p99)]],
                     fmt="none", ecolor="black", capsize=3, label="to p99")
    latency.set_yscale("log")
    latency.set_ylabel("latency ms (bar p50, whisker p99)")
    latency.legend(loc="upper left")
    memory = axes[3]
    memory.bar(labels, [r["peak_rss_kb"] / 1024.0 for r in rows], color=colours)
    memory.set_ylabel("peak RSS of the peer process, MB")
    for i, r in enumerate(rows):
        memory.annotate("%.0f" % (r["peak_rss_kb"] / 1024.0), (i, r["peak_rss_kb"] / 1024.0),
                        ha="center", va="bottom", fontsize=8)
    for axis in axes:
        axis.tick_params(axis="x", labelsize=8)
        axis.grid(axis="y", which="both", alpha=0.3)
    fig.savefig(target, dpi=100)


if __name__ == "__main__":
    main()
