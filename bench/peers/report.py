"""Console table and the markdown report, both built from the results dict of one run."""

from __future__ import annotations

from pathlib import Path

__all__ = ["console_table", "markdown"]


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int | float) else "–"


def _throughput(r: dict) -> tuple[str, ...]:
    t = r.get("throughput")
    if not t:
        return ("error", "error", r.get("errors", {}).get("throughput", "not run")[:60], "–", "–")
    measured = f"{t['lines']:,}" + ("" if t["complete"] else f" (sample, {t['budget_s']:.0f}s)")
    busy = f"{t['machine_cpu_busy_pct']:.0f}%"
    per_cpu = _n(t.get("lines_per_cpu_s"))
    split = t.get("cpu_s_split")
    if split and t.get("cpu_window_lines"):
        per_m = 1e6 / t["cpu_window_lines"]  # CPU-seconds per million lines, by process
        per_cpu += " ({:.0f} / {:.0f} / {:.0f})".format(
            *(split[k] * per_m for k in ("peer", "postgres", "kafka"))
        )
    return _n(t["lines_per_s"]), _n(t["lines_per_s_from_start"]), measured, per_cpu, busy


def _latency(r: dict) -> str:
    lat = r.get("latency")
    if not lat:
        return "error: " + r.get("errors", {}).get("latency", "not run")[:60]
    if "p50_ms" not in lat:
        return f"nothing visible of {lat['lines']:,}"
    text = f"{lat['p50_ms']:,.0f} / {lat['p99_ms']:,.0f}"
    if lat["visible"] < lat["lines"]:
        text += f" ({lat['lines'] - lat['visible']:,} not visible in time)"
    return text


def _kill(r: dict) -> str:
    k = r.get("kill9")
    if not k:
        return "error: " + r.get("errors", {}).get("kill9", "not run")[:60]
    sales = "sales sum exact" if k["sales_exact"] else f"sales sum off by {k['sales_diff']}"
    return (
        f"{k['lost']:,} / {k['doubled']:,} / {k['lines_applied_twice_or_more']:,}"
        f" (of {k['lines']:,}, killed at {k['visible_at_kill']:,}; {sales})"
    )


def rows(results: dict) -> list[list[str]]:
    """One row per peer: name, writes, steady, from start, measured, latency, kill -9."""
    out = []
    for r in results["peers"].values():
        out.append([r["label"], *_throughput(r), _latency(r), _kill(r)])
    return out


HEADER = [
    "peer",
    "lines/s steady",
    "lines/s from start",
    "lines measured",
    "lines/CPU-s (CPU-s per 1M lines: peer / PG / broker)",
    "machine CPU busy",
    "latency p50 / p99 ms",
    "kill -9: lost / doubled / re-applied",
]


SCALE_HEADER = [
    "processes",
    "lines/s steady",
    "lines/s from start",
    "speedup",
    "lines per CPU-second",
    "machine CPU busy",
]


def console_table(results: dict) -> str:
    """A plain-text table for the terminal."""
    table = [HEADER, *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    scale = results.get("scale_out")
    if scale and scale.get("runs"):
        lines.append("")
        lines.append(f"scale-out of ours, {scale['partitions']}-partition topic:")
        for run in scale["runs"]:
            lines.append(
                f"  {run['processes']} process(es): {_n(run['lines_per_s'])} lines/s steady, "
                f"{_n(run['lines_per_s_from_start'])} from start, x{run['speedup']:.2f}, "
                f"{_n(run.get('lines_per_cpu_s'))} lines/CPU-s, "
                f"machine CPU {run['machine_cpu_busy_pct']:.0f}% busy"
            )
    return "\n".join(lines)


def reading(results: dict) -> list[str]:
    """Plain-language facts computed from this run's numbers (no claims made in advance)."""
    peers = results["peers"]
    out = []
    ours = (peers.get("ours") or {}).get("throughput")
    if ours and ours["lines_per_s"]:
        ratios = [
            f"{p['label']} x{ours['lines_per_s'] / p['throughput']['lines_per_s']:.1f}"
            for name, p in peers.items()
            if name != "ours" and p.get("throughput") and p["throughput"]["lines_per_s"]
        ]
        if ratios:
            out.append("Ours' steady throughput relative to: " + ", ".join(ratios) + ".")
    out += _rounds(peers)
    if ours and ours.get("lines_per_cpu_s"):
        ratios = [
            f"{p['label']} x{ours['lines_per_cpu_s'] / p['throughput']['lines_per_cpu_s']:.1f}"
            for name, p in peers.items()
            if name != "ours" and p.get("throughput") and p["throughput"].get("lines_per_cpu_s")
        ]
        if ratios:
            out.append(
                "Ours' lines per CPU-second (peer + broker + PostgreSQL; robust to other work "
                "on the machine) relative to: " + ", ".join(ratios) + "."
            )
    work = {p["label"]: p["writes"] for p in peers.values()}
    sizes = {k.split("/")[1]: v["bytes_per_message"] for k, v in results["topics"].items()}
    if "connect" in peers:
        out.append(
            f"Work differs: Kafka Connect writes one flat table ({work[peers['connect']['label']]})"
            " while ours, Spark and naive maintain the four OLTP tables; Connect also reads "
            "a schema-ful JSON copy of each message (bytes per message: "
            + ", ".join(f"{wire} {size:,}" for wire, size in sizes.items())
            + ")."
        )
    again = [
        f"{p['label']} {p['kill9']['lines_applied_twice_or_more']:,}"
        for p in peers.values()
        if p.get("kill9")
    ]
    if again:
        out.append(
            "Lines applied more than once after kill -9 (at-least-once delivery; the upsert on "
            "(order_id, line_number) kept counts and sums exact): " + ", ".join(again) + "."
        )
    for p in peers.values():
        lat = p.get("latency")
        if lat and lat.get("p50_ms", 0) > 10_000:
            out.append(
                f"{p['label']}: latency keeps growing during the run, a sign it cannot sustain "
                f"{lat['rate']:,.0f} lines/s here (its throughput: "
                f"{_n((p.get('throughput') or {}).get('lines_per_s'))} lines/s)."
            )
    return out


def _rounds(peers: dict) -> list[str]:
    """Each throughput round in run order, and ours against Kafka Connect round by round."""
    runs = {p["label"]: p["throughput_rounds"] for p in peers.values() if "throughput_rounds" in p}
    if not runs:
        return []

    def rate(r: dict) -> str:
        return "failed" if "error" in r else _n(r["lines_per_s"] or r["lines_per_s_from_start"])

    out = [
        f"Throughput ran in {max(len(r) for r in runs.values())} rounds, the peers taking turns; "
        "each peer's row above is its median round. Steady lines/s by round: "
        + "; ".join(f"{label} {' / '.join(rate(r) for r in rs)}" for label, rs in runs.items())
        + "."
    ]
    ours, connect = (peers.get(n, {}).get("throughput_rounds") for n in ("ours", "connect"))
    if ours and connect:
        pairs = [
            f"x{a['lines_per_s'] / b['lines_per_s']:.2f}"
            for a, b in zip(ours, connect, strict=False)
            if "error" not in a and "error" not in b and a["lines_per_s"] and b["lines_per_s"]
        ]
        if pairs:
            out.append("Ours / Kafka Connect, steady, round by round: " + ", ".join(pairs) + ".")
    return out


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
    return out


def markdown(results: dict, command: str, json_path: str) -> str:
    """The report written to docs/benchmarks/ingest_peers.md: results of this run only."""
    m = results["method"]
    hw = m["hardware"]
    out = [
        "# Ingest peers: ours vs Kafka Connect, Spark and a naive consumer",
        "",
        f"Generated by `bench/ingest_peers.py` on {results['when']} "
        f"(results of that one run only; JSON in `{json_path}`).",
        "",
        "## Results",
        "",
        *_md_table(HEADER, rows(results)),
        "",
    ]
    targets = results.get("targets", {})
    if targets:
        out += ["Targets:", ""]
        out += [f"- `{k}`: **{'met' if v else 'NOT met'}**" for k, v in targets.items()]
        out.append("")
    scale = results.get("scale_out")
    if scale and scale.get("runs"):
        out += [
            f"### Scale-out of ours ({scale['lines']:,} lines, {scale['partitions']} partitions,"
            " one consumer group)",
            "",
            *_md_table(
                SCALE_HEADER,
                [
                    [
                        str(r["processes"]),
                        _n(r["lines_per_s"]),
                        _n(r["lines_per_s_from_start"]),
                        f"x{r['speedup']:.2f}",
                        _n(r.get("lines_per_cpu_s")),
                        f"{r['machine_cpu_busy_pct']:.0f}%",
                    ]
                    for r in scale["runs"]
                ],
            ),
            "",
            scale.get("note", ""),
            "",
        ]
    out += ["## Reading the numbers", "", *[f"- {line}" for line in reading(results)], ""]
    out += ["## What each peer does", ""]
    for r in results["peers"].values():
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "defaults"
        out += [
            f"- **{r['label']}** — writes: {r['writes']}. Delivery: {r['delivery']}. "
            f"Topic format: {r['wire']}. Settings: {settings}."
        ]
    out += ["", "## Method", ""]
    out += [f"- {line}" for line in m["notes"]]
    out += [
        f"- Hardware: {hw['nproc']} cores ({hw['cpu']}), {hw['ram_gib']} GiB RAM; Kafka, "
        "PostgreSQL, the producer and the peer share it. 1-minute load average "
        f"{hw['load_average_1m_at_start']} at the start, {hw['load_average_1m_at_end']} at the "
        "end (above the core count means other work shared the machine and slowed every peer).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "- Data sizes: " + ", ".join(f"{k} {_n(v)}" for k, v in m["sizes"].items()) + ".",
        f"- Command: `{command}` (`make bench-peers` runs the default sizes).",
        "",
    ]
    errors = {n: r["errors"] for n, r in results["peers"].items() if r.get("errors")}
    if errors:
        out += ["## Errors in this run", ""]
        for name, errs in errors.items():
            out += [f"- {name} / {scenario}: `{err}`" for scenario, err in errs.items()]
        out.append("")
    return "\n".join(out)


def write_markdown(results: dict, command: str, path: Path, json_path: str) -> Path:
    """Write the report, creating docs/benchmarks/ if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(results, command, json_path))
    return path
