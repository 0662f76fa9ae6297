"""The leaderboard's plots: average PSNR against runtime (with its Pareto front) and against parameters."""

from __future__ import annotations

import io
from pathlib import Path

from hmtir.io.atomic import atomic_write_text
from hmtir.leaderboard.ranking import RankedGroup


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both axes (lower x = faster, higher y = better), by x."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox <= x and oy >= y) and (ox < x or oy > y) for j, (ox, oy) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def plot_group(group: RankedGroup, axis: str, target: Path) -> bool:
    """Average PSNR against runtime (with its Pareto front) or against parameter count, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, labels = [], []
    for row in group.rows:
        y = row.averages.get("psnr")
        x = (
            row.entry["runtime"]["seconds_per_image"]
            if axis == "runtime"
            else row.entry["method"].get("parameters")
        )
        if y is not None and x is not None:
            points.append((float(x), float(y)))
            # "$" would start matplotlib mathtext: a submitter's name must not be parsed (or crash the build)
            labels.append(row.entry["method"]["display_name"].replace("$", r"\$"))
    if not points or (axis == "parameters" and max(x for x, _ in points) == 0):
        return False  # nothing to plot, or only classical methods (0 parameters): an empty axis says nothing
    fig, ax = plt.subplots(figsize=(5.2, 3.4), dpi=100)
    xs, ys = zip(*points)
    ax.scatter(xs, ys, s=36, color="#d9480f", zorder=3)
    for (x, y), label in zip(points, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if axis == "runtime":
        front = pareto_front(points)
        ax.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", color="#495057",
                linestyle="--", linewidth=1, label="Pareto front", zorder=2)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (log)")
        ax.legend(loc="best", fontsize=8, frameon=False)
    else:
        ax.set_xscale("symlog", linthresh=1000)
        ax.set_xlim(left=-100)
        ax.set_xlabel("parameters (symlog; 0 = classical)")
    ax.set_ylabel(f"avg PSNR over {len(group.paired_subsets)} subsets (dB)")
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    atomic_write_text(target, buffer.getvalue())
    return True
