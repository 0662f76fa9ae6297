"""Metric registry: ``create_metric("ssim")`` is the single door to every image-quality metric.

Full-reference: ``psnr``, ``ssim`` (the paper's exact definitions, :mod:`hmtir.metrics.full_reference`).
No-reference: ``niqe``, ``nima``, ``musiq``, ``brisque`` (pyiqa networks with locally resolved weights,
:mod:`hmtir.metrics.no_reference`). Their metadata is declared in :mod:`hmtir.metrics.catalog`, and an
implementation module is imported only when its metric is built, so importing this package or listing
metrics costs neither torch nor pyiqa. Code outside hmtir adds a metric with the
``@METRICS.register("name", mode=..., summary=...)`` decorator on a factory returning a :class:`Metric`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hmtir.metrics.base import METRIC_MODES, Metric, MetricMeta
from hmtir.registry import Registry

if TYPE_CHECKING:
    import numpy as np

METRICS: Registry[MetricMeta] = Registry("metric", MetricMeta, catalog="hmtir.metrics.catalog")


def create_metric(name: str, device: str = "cpu", **kwargs: Any) -> Metric:
    """Build a registered metric on ``device`` (``cpu``, ``cuda``, ``auto``).

    Keyword arguments go to the metric's factory, e.g. ``quantize_8bit=True`` (all metrics) or
    ``weights=PATH`` (no-reference metrics with a network or model file).
    """
    metric: Metric = METRICS.create(name, **kwargs)
    return metric.to(device)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR of two H×W float arrays in [0, 1]; same definition as ``create_metric("psnr")``."""
    from hmtir.metrics.full_reference import psnr_numpy

    return psnr_numpy(pred, target)


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two H×W float arrays in [0, 1]; same definition as ``create_metric("ssim")``."""
    from hmtir.metrics.full_reference import ssim_numpy

    return ssim_numpy(pred, target)


__all__ = [
    "METRICS",
    "METRIC_MODES",
    "Metric",
    "MetricMeta",
    "create_metric",
    "psnr",
    "ssim",
]
