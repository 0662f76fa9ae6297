"""Side-by-side visual comparison: degraded | each method | ground truth, with zoomed crops and scores.

Used by ``hmtir compare`` (for papers) and by ``hmtir leaderboard seed`` (the method pages' figures).
Every method restores the same degraded frame with the subset's prompts through the restore contract
(``Method.__call__``: a wrong shape or NaN output is a one-line error, never a panel), and each panel is
titled with its PSNR/SSIM against the ground truth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hmtir.data.layout import CLEAN_DIR
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path
from hmtir.io.safety import check_new_file, output_folder, refuse_inputs
from hmtir.vocabulary import SUBSETS

ZOOM_FRACTION = 0.25  # default crop: a quarter of each side, placed on the most detailed region


def parse_crop(spec: str | None) -> tuple[int, int, int, int] | None:
    """``"x,y,w,h"`` → a tuple of four non-negative integers (w, h > 0)."""
    if spec is None:
        return None
    try:
        x, y, w, h = (int(v) for v in spec.split(","))
    except ValueError:
        raise HmtirError(f"--crop '{spec}' must be four integers x,y,w,h") from None
    if min(x, y) < 0 or min(w, h) <= 0:
        raise HmtirError(f"--crop '{spec}': x and y must be >= 0, w and h > 0")
    return x, y, w, h


def detailed_crop(image: np.ndarray, fraction: float = ZOOM_FRACTION) -> tuple[int, int, int, int]:
    """The window (a ``fraction`` of each side) holding the most gradient energy: where restoration shows."""
    height, width = image.shape
    h, w = max(8, int(height * fraction)), max(8, int(width * fraction))
    gy, gx = np.gradient(image.astype(np.float64))
    energy = np.hypot(gx, gy)
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, best_xy = -1.0, (0, 0)
    for y in range(0, height - h + 1, max(1, h // 4)):
        for x in range(0, width - w + 1, max(1, w // 4)):
            total = integral[y + h, x + w] - integral[y, x + w] - integral[y + h, x] + integral[y, x]
            if total > best:
                best, best_xy = total, (x, y)
    return best_xy[0], best_xy[1], w, h


def restore_with(
    method_name: str,
    degraded: np.ndarray,
    subset: str,
    device: str = "cpu",
    name: str | None = None,
    engine: str = "torch",
) -> np.ndarray:
    """One frame through the method's restore contract (``Method.__call__``: shape, dtype, finiteness);
    ``engine`` runs a network method's passes (:mod:`hmtir.engines`)."""
    import torch

    from hmtir.engines import engine_kwargs
    from hmtir.methods import load_method

    spec = SUBSETS[subset]
    method = load_method(method_name, device=device, **engine_kwargs(method_name, engine))
    batch = torch.from_numpy(np.ascontiguousarray(degraded, dtype=np.float32))[None, None]
    out = method(batch, spec.degradation, spec.scenario, names=[name or f"{subset} frame"])
    return out[0, 0].cpu().numpy()


def compare_grid(
    data: str | os.PathLike[str],
    image: str,
    methods: Sequence[str],
    out: str | os.PathLike[str],
    subset: str = "composited/normal",
    crop: tuple[int, int, int, int] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    engine: str = "torch",
) -> dict[str, tuple[float, float]]:
    """Draw the grid into ``out`` (PNG, atomically) and return panel → (PSNR, SSIM) against the ground truth.

    An existing ``out`` is replaced only with ``overwrite``, and never when it is one of the input frames.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from hmtir.io.image import read_image
    from hmtir.metrics import psnr, ssim

    data = Path(data)
    if subset not in SUBSETS:
        raise HmtirError(f"--subset {subset} is not a paired subset ({', '.join(SUBSETS)})")
    if not methods:
        raise HmtirError("--methods needs at least one method name")
    degraded_path, truth_path = data / subset / image, data / CLEAN_DIR / image
    for path in (degraded_path, truth_path):
        if not path.is_file():
            raise HmtirError(f"no image {path} (check --data, --subset and --image)")
    output_folder(Path(out).parent, "--out")  # a file where its folder should be: one line, not OSError
    refuse_inputs([out], [degraded_path, truth_path], what="--out")
    check_new_file(out, overwrite, what="--out")
    degraded, truth = read_image(degraded_path).data, read_image(truth_path).data
    height, width = truth.shape
    x, y, w, h = crop or detailed_crop(truth)
    if x + w > width or y + h > height:
        raise HmtirError(f"--crop {x},{y},{w},{h} does not fit the {width}×{height} image")

    panels: list[tuple[str, np.ndarray]] = [("degraded", degraded)]
    panels += [
        (name, restore_with(name, degraded, subset, device, f"{subset}/{image}", engine)) for name in methods
    ]
    panels.append(("ground truth", truth))
    scores = {name: (psnr(img, truth), ssim(img, truth)) for name, img in panels[:-1]}

    columns = len(panels)
    aspect = height / width
    fig, axes = plt.subplots(2, columns, figsize=(2.3 * columns, 2.3 * aspect + 2.3 * (h / w) + 0.7), dpi=110,
                             gridspec_kw={"height_ratios": [aspect, h / w]}, squeeze=False)  # fmt: skip
    for col, (name, img) in enumerate(panels):
        top, zoom = axes[0][col], axes[1][col]
        top.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        top.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="#ff922b", linewidth=1.2))
        zoom.imshow(img[y : y + h, x : x + w], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        title = name if name not in scores else f"{name}\n{scores[name][0]:.2f} dB / {scores[name][1]:.3f}"
        top.set_title(title, fontsize=8.5)
        for ax in (top, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("#ff922b" if ax is zoom else "#adb5bd")
    fig.suptitle(f"{image} · {subset} · PSNR / SSIM vs ground truth · crop {x},{y},{w}×{h}", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return scores
