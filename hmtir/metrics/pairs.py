"""One way to score (prediction, target) pairs with several metrics: ``score_pairs``.

The evaluation engine and the leaderboard's recomputation score the same way through here: every metric
sees the same prepared input, full-reference metrics get ``None`` when a pair has no target (real,
unpaired frames), scores come back as Python floats computed in float64 by :meth:`Metric.__call__`, and
each metric runs on its own device (``Metric.to``), so callers never move tensors for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError

if TYPE_CHECKING:
    import torch

    from hmtir.metrics.base import Metric


def as_batch(image: Any, role: str) -> torch.Tensor:
    """``H×W`` / ``C×H×W`` / ``B×C×H×W`` (numpy array or tensor) → a ``B×C×H×W`` float tensor."""
    import numpy as np
    import torch

    if isinstance(image, np.ndarray):
        if not np.issubdtype(image.dtype, np.floating):
            raise HmtirError(f"{role} must be a float image in [0, 1], got {image.dtype}")
        image = torch.from_numpy(np.ascontiguousarray(image))
    if not isinstance(image, torch.Tensor):
        raise HmtirError(f"{role} must be a numpy array or a torch.Tensor, got {type(image).__name__}")
    if image.dim() == 2:
        return image[None, None]
    if image.dim() == 3:
        return image[None]
    if image.dim() == 4:
        return image
    raise HmtirError(f"{role} must be H×W, C×H×W or B×C×H×W, got shape {tuple(image.shape)}")


def score_pairs(
    metrics: Sequence[Metric], pairs: Iterable[tuple[Any, Any | None]]
) -> Iterator[dict[str, float | None]]:
    """Yield ``{metric name: score}`` for every image of every ``(prediction, target)`` pair, in order.

    A pair holds one image (``H×W``, ``C×H×W``) or a batch (``B×C×H×W``) of floats in [0, 1], as numpy
    arrays or tensors on any device; ``target`` is None for unpaired frames, which gives full-reference
    metrics ``None`` (not computable) and no-reference metrics their score. Pairs are consumed lazily, so
    a generator that reads files one by one keeps one image in memory. Non-finite scores (PSNR of two
    identical images is +inf) are returned as they are: the caller's aggregation decides what they mean.
    """
    names = [m.meta.name for m in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HmtirError(f"metric {', '.join(duplicates)} requested twice")
    for pred, target in pairs:
        pred_batch = as_batch(pred, "prediction")
        target_batch = None if target is None else as_batch(target, "target")
        if target_batch is not None and target_batch.shape != pred_batch.shape:
            raise HmtirError(
                f"prediction {tuple(pred_batch.shape)} and target {tuple(target_batch.shape)} differ in shape"
            )
        columns: dict[str, list[float | None]] = {}
        for metric in metrics:
            if metric.meta.mode == "FR" and target_batch is None:
                columns[metric.meta.name] = [None] * pred_batch.shape[0]
            else:
                scores = metric(pred_batch, target_batch if metric.meta.mode == "FR" else None)
                columns[metric.meta.name] = scores.detach().cpu().double().tolist()
        for index in range(pred_batch.shape[0]):
            yield {name: values[index] for name, values in columns.items()}
