"""Progress charts rendered with matplotlib's non-interactive backends (Agg for PNG, SVG), off the loop."""

from __future__ import annotations

import io
from collections.abc import Sequence

import anyio.to_thread

from keel.apps.gym.schemas import ProgressPointRead

METRICS = {
    "e1rm": ("best_e1rm", "Estimated 1RM (kg)"),
    "top_weight": ("top_weight_kg", "Top weight (kg)"),
    "volume": ("volume_kg", "Volume (kg)"),
}
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def render(points: Sequence[ProgressPointRead], *, title: str, metric: str, fmt: str) -> bytes:
    """The chart as PNG or SVG bytes. A Figure (not pyplot) keeps no global state: thread-safe.
    matplotlib is imported on first use, so servers start without paying for it."""
    import matplotlib

    matplotlib.use("Agg")  # no display, ever
    from matplotlib.figure import Figure

    attribute, label = METRICS[metric]
    series = [(p.date, float(v)) for p in points if (v := getattr(p, attribute)) is not None]
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    if series:
        axes.plot([d for d, _ in series], [v for _, v in series], marker="o", linewidth=1.5)
    else:
        axes.text(0.5, 0.5, "No data yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(title)
    axes.set_ylabel(label)
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


async def render_async(points: Sequence[ProgressPointRead], *, title: str, metric: str, fmt: str) -> bytes:
    return await anyio.to_thread.run_sync(lambda: render(points, title=title, metric=metric, fmt=fmt))
