"""Markdown tables and PNG plots for ``bench/vector_search.py`` results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SELS = ["0.001", "0.01", "0.05", "0.2", "0.5", "1.0"]
KINDS = ["uncorrelated", "correlated", "anti-correlated"]


def _pct(s: str) -> str:
    return f"{float(s) * 100:g}%"


def _goal(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def plots(name: str, d: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    xs = [float(s) for s in SELS]
    for ax, kind in zip(axes, KINDS, strict=True):
        for system, per in d["p1"].items():
            style = "-o" if system.startswith("ponder") else "--s"
            ax.plot(xs, [per[kind][s]["recall"] for s in SELS], style, ms=4, label=system)
        ax.axhline(0.95, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_title(f"{kind} filter")
        ax.set_xlabel("selectivity")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall@10 vs exact filtered")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"P1 filtered recall, {name} ({d['n']} vectors)")
    fig.tight_layout()
    path = folder / f"vector_p1_{name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    files.append(path.name)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for system, rows in d["p4"].items():
        ax.plot([r["qps"] for r in rows], [r["recall"] for r in rows], "-o", ms=4, label=system)
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("queries per second (one query at a time)")
    ax.set_ylabel("recall@10")
    ax.set_title(f"P4 unfiltered recall vs QPS, {name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"vector_p4_{name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    files.append(path.name)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for kind in KINDS:
        ax.plot(xs, [d["p2"]["ratios"][kind][s] for s in SELS], "-o", ms=4, label=kind)
    ax.axhline(2.0, color="red", lw=0.8, ls=":", label="goal: 2x")
    ax.set_xscale("log")
    ax.set_xlabel("selectivity")
    ax.set_ylabel("p50 latency / unfiltered p50")
    ax.set_title(f"P2 Ponder auto latency vs unfiltered, {name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = folder / f"vector_p2_{name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    files.append(path.name)
    return files


def best_qps(rows: list[dict[str, Any]], target: float = 0.95) -> float | None:
    ok = [r["qps"] for r in rows if r["recall"] >= target]
    return max(ok) if ok else None


def dataset_md(name: str, d: dict[str, Any], files: list[str]) -> list[str]:
    out = [f"## {name}: {d['n']} vectors x {d['dim']}, {d['queries']} queries", ""]
    # P1
    out += ["### P1 recall@10 vs exact filtered search (k-rows rate in brackets when < 1)", ""]
    for kind in KINDS:
        out += [f"**{kind}**", "", "| system | " + " | ".join(_pct(s) for s in SELS) + " |",
                "|---|" + "---:|" * len(SELS)]  # fmt: skip
        for system, per in d["p1"].items():
            cells = []
            for s in SELS:
                c = per[kind][s]
                kr = "" if c["k_rows"] >= 1 else f" ({c['k_rows']:.2f})"
                cells.append(f"{c['recall']:.3f}{kr}")
            out.append(f"| {system} | " + " | ".join(cells) + " |")
        out.append("")
    auto = d["p1"]["ponder-hnsw-auto"]
    worst = min(auto[k][s]["recall"] for k in KINDS for s in SELS)
    krows = min(auto[k][s]["k_rows"] for k in KINDS for s in SELS)
    out += [f"P1 goal (auto >= 0.95 at every point, k rows whenever k match): worst recall "
            f"{worst:.3f}, worst k-rows rate {krows:.2f}: {_goal(worst >= 0.95 and krows >= 1)}",
            "", f"![P1]({files[0]})", ""]  # fmt: skip
    # P2
    ratios = d["p2"]["ratios"]
    out += [f"### P2 Ponder auto p50 latency / unfiltered ({d['p2']['unfiltered_p50_ms']:.3f} "
            "ms)", "", "| filter | " + " | ".join(_pct(s) for s in SELS) + " |",
            "|---|" + "---:|" * len(SELS)]  # fmt: skip
    for kind in KINDS:
        out.append(f"| {kind} | " + " | ".join(f"{ratios[kind][s]:.2f}x" for s in SELS) + " |")
    worst2 = max(ratios[k][s] for k in KINDS for s in SELS)
    out += ["", "p50 ms of auto: " + "; ".join(
        f"{kind}: " + ", ".join(f"{d['p1']['ponder-hnsw-auto'][kind][s]['p50_ms']:.2f}"
                                for s in SELS) for kind in KINDS),
            "", f"P2 goal (<= 2x): worst {worst2:.2f}x: {_goal(worst2 <= 2)}", "",
            f"![P2]({files[2]})", ""]  # fmt: skip
    # P3
    out += ["### P3 QPS, Ponder vs raw FAISS on the same index object, one thread", "",
            "| index | knobs | FAISS | Ponder vector path | ratio | Collection.search | ratio |",
            "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for kind, r in d["p3"].items():
        out.append(f"| {kind} | {r['knobs']} | {r['faiss']:.0f} | {r['ponder_vector_path']:.0f}"
                   f" | {r['ratio_vector_path']:.2f} | {r['ponder_search']:.0f} | "
                   f"{r['ratio_search']:.2f} |")  # fmt: skip
    ok3 = all(r["ratio_vector_path"] >= 0.9 for r in d["p3"].values())
    ok3s = all(r["ratio_search"] >= 0.9 for r in d["p3"].values())
    out += ["", f"P3 goal (>= 0.90): vector path {_goal(ok3)}; full search with row fetch "
            f"{_goal(ok3s)}", ""]  # fmt: skip
    # P4
    out += ["### P4 best QPS at recall@10 >= 0.95 (unfiltered, one query at a time)", "",
            "| system | best QPS | recall/QPS sweep |", "|---|---:|---|"]  # fmt: skip
    best = {s: best_qps(rows) for s, rows in d["p4"].items()}
    for system, rows in d["p4"].items():
        sweep = ", ".join(f"{r['effort']}: {r['recall']:.3f}/{r['qps']:.0f}" for r in rows)
        b = best[system]
        out.append(f"| {system} | {b:.0f} | {sweep} |" if b else f"| {system} | - | {sweep} |")
    pb = best.get("ponder-hnsw") or 0
    chroma = best.get("chroma-hnsw")
    lance = next((v for k, v in best.items() if k.startswith("lancedb")), None)
    if chroma or lance:
        out += ["", f"P4 goals: >= 2x Chroma ({pb:.0f} vs {chroma or 0:.0f}): "
                f"{_goal(bool(chroma) and pb >= 2 * chroma)}; >= LanceDB ({pb:.0f} vs "
                f"{lance or 0:.0f}): {_goal(bool(lance) and pb >= lance)}"]  # fmt: skip
    out += ["", f"![P4]({files[1]})", ""]
    # build
    out += ["### Build time and memory", "", "| index | build s | memory / disk MB | settings |",
            "|---|---:|---:|---|"]  # fmt: skip
    for kind, b in d["build"].items():
        mem = b.get("memory_bytes") or b.get("disk_bytes") or 0
        out.append(f"| {kind} | {b['seconds']:.1f} | {mem / 1e6:.1f} | {b.get('settings', '')} |")
    out += ["", "Unfiltered recall@10 / p50 ms: " + "; ".join(
        f"{s} {u['recall']:.3f}/{u['p50_ms']:.2f}" for s, u in d["unfiltered"].items()), ""]
    return out


def write(results: dict[str, Any], folder: Path) -> None:
    env = results.get("env", {})
    lines = [
        "# Vector search benchmark", "",
        f"Command: `.venv/bin/python {results.get('command', 'bench/vector_search.py')}`  ",
        f"Machine: {env.get('cpu', '?')}, {env.get('cores')} cores shared with other jobs "
        f"(load average {env.get('load_average_at_start')} at start, "
        f"{env.get('load_average_at_end')} at end): **timings are noisy**; recall is not.  ",
        f"Versions: faiss {env.get('faiss')}, chromadb {env.get('chromadb')}, lancedb "
        f"{env.get('lancedb')}, Python {env.get('python')}; {env.get('date')}.", "",
        "Filters: `bucket < s*1000` (uncorrelated), a slab of width s of the first principal "
        "component around the query (correlated) or at its far end (anti-correlated). Ponder "
        "HNSW: m=32, efConstruction=128, efSearch=64; Chroma the same; LanceDB IVF_HNSW_SQ "
        "(sqrt(n) partitions) with and without prefiltering; FAISS raw = Ponder's own HNSW "
        "object searched with an IDSelectorBatch at efSearch=64. Latencies: one query at a "
        "time; FAISS on one thread (Chroma/LanceDB use their own thread pools).", "",
    ]  # fmt: skip
    for name, d in results.get("datasets", {}).items():
        lines += dataset_md(name, d, plots(name, d, folder))
    sc = results.get("scale")
    if sc:
        scans = ", ".join(
            f"{k.rsplit('_', 1)[1]}: {v / 1e6:.1f}M vectors/s"
            for k, v in sc.items()
            if k.startswith("exact_scan_vectors")
        )
        bound = sc["bandwidth_bound_vectors_per_s_at_20gbs"] / 1e6
        ivf = "; ".join(
            f"effort {k[-1]}: recall {v['recall']}, {v['ms']} ms ({v['knobs']})"
            for k, v in sc.items()
            if k.startswith("ivf_effort")
        )
        lines += [
            f"## Scale: {sc['n']} synthetic clustered vectors x {sc['dim']} "
            f"({sc['bytes'] / 1e9:.2f} GB)",
            "",
            f"- exact scan (FAISS IndexFlatIP, one query): {scans}; the bound at 20 GB/s is "
            f"{bound:.1f}M vectors/s; this machine reads "
            f"{sc['read_bandwidth_gbs_1thread_numpy']} GB/s on one thread (numpy max)",
            f"- Ponder IVF at this scale: build {sc['ivf_build_s']} s ({sc['ivf_knobs']}); {ivf}",
            "",
        ]
    (folder / "vector_search.md").write_text("\n".join(lines) + "\n")
