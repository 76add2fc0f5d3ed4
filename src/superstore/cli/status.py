"""`superstore status`: one screen of pipeline health."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console

__all__ = ["status"]


def status(ctx: typer.Context) -> None:
    """Summarise health: services, consumer lag, last export, scheduler mark, dead letters."""
    from superstore.ops.status import pipeline_status  # lazy: lists lake partitions (Arrow)

    st = pipeline_status(ctx.obj)
    out = Console()
    for name, state in st.services.items():
        out.print(f"{name:10} {state}")
    lag = ", ".join(f"p{p}={n:,}" for p, n in sorted(st.lag.items())) or "unknown"
    out.print(f"{'lag':10} {lag}")
    out.print(
        f"{'dlq':10} {st.dlq_messages if st.dlq_messages is not None else 'unknown'} messages, "
        f"{st.rejected_lines if st.rejected_lines is not None else 'unknown'} rejected lines"
    )
    out.print(f"{'lake':10} {st.partitions:,} partitions, last {st.last_partition or '-'}")
    out.print(f"{'scheduler':10} done through {st.done_through or '-'}")
    stale = None if st.stale is None else [s.day for s in st.stale]
    out.print(f"{'stale':10} {_days(stale, 'changed since their partition was exported')}")
    out.print(f"{'warehouse':10} {_days(st.behind, 'behind the lake')}")
    if not st.healthy:
        raise typer.Exit(1)


def _days(days: list[dt.date] | None, what: str) -> str:
    if days is None:
        return "unknown"
    shown = ", ".join(str(d) for d in days[:5]) + (" ..." if len(days) > 5 else "")
    return f"{len(days):,} day(s) {what}" + (f": {shown}" if days else "")
