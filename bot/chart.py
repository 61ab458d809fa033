"""The timeline chart: articles per week as a PNG, readable on Discord's dark and light themes
(transparent background, mid-grey text and axes, one blurple colour for the bars)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

GREY = "#8f8f8f"  # between Discord's dark (#313338) and light (#ffffff) backgrounds
BAR = "#5865f2"


def weekly_chart(weeks: Sequence[tuple[date, int]], title: str) -> bytes:
    """PNG bytes of a bar chart, one bar per week. matplotlib's object API, no pyplot: safe in worker threads."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.bar([float(date2num(w)) for w, _ in weeks], [n for _, n in weeks], width=5, color=BAR, align="edge")
    axes.xaxis_date()
    axes.set_title(title, color=GREY)
    axes.set_ylabel("articles per week", color=GREY)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(colors=GREY)
    for spine in axes.spines.values():
        spine.set_color(GREY)
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png", transparent=True, bbox_inches="tight")
    return out.getvalue()
