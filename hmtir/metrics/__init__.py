"""Metric registry: ``create_metric("ssim")`` is the single door to every image-quality metric.

Full-reference: ``psnr``, ``ssim`` (the paper's exact definitions, :mod:`hmtir.metrics.full_reference`).
No-reference: ``niqe``, ``nima``, ``musiq``, ``brisque`` (pyiqa networks with locally resolved weights,
:mod:`hmtir.metrics.no_reference`). Their metadata is declared in :mod:`hmtir.metrics.catalog`, and an
implementation module is imported only when its metric is built, so importing this package or listing
metrics costs neither torch nor pyiqa. Code outside hmtir adds a metric with the
``@METRICS.register("name", mode=..., summary=...)`` decorator on a factory returning a :class:`Metric`;
an installed distribution adds one through the ``hmtir.metrics`` entry point group (:mod:`hmtir.plugins`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hmtir.metrics.base import METRIC_MODES, Metric, MetricMeta
from hmtir.registry import Registry

if TYPE_CHECKING:
    import numpy as np

METRICS: Registry[MetricMeta] = Registry(
    "metric", MetricMeta, catalog="hmtir.metrics.catalog", plugins="hmtir.metrics"
)


def create_metric(name: str, device: str = "cpu", **kwargs: Any) -> Metric:
    """Build a registered metric on ``device`` (``cpu``, ``cuda``, ``auto``).

    Keyword arguments go to the metric's factory, e.g. ``quantize_8bit=True`` (all metrics) or
    ``weights=PATH`` (no-reference metrics with a network or model file).
    """
    entry = METRICS.entry(name)
    if entry.origin is None:
        metric: Metric = entry.factory(**kwargs)
        return metric.to(device)
    return _plugin_metric(entry, kwargs).to(device)


def _plugin_metric(entry: Any, kwargs: dict[str, Any]) -> Metric:
    """A plugin's metric, checked and named by its entry point, carrying its source (distribution,
    version, code sha256) into its recorded definition: an edited plugin never reuses a cached score."""
    from dataclasses import replace

    from hmtir.errors import HmtirError
    from hmtir.plugins import source_sha256

    plugin = entry.origin
    label = f"metric {plugin.name} (plugin {plugin.label})"
    factory = entry.factory.resolve()
    try:
        metric = factory(**kwargs)
    except HmtirError as err:
        raise HmtirError(f"{label}: {err}") from None
    except Exception as err:
        raise HmtirError(f"{label}: the factory raised {type(err).__name__}: {err}") from None
    if not isinstance(metric, Metric) or not isinstance(getattr(metric, "meta", None), MetricMeta):
        raise HmtirError(f"{label}: the factory returned {type(metric).__name__}, not a hmtir Metric")
    metric.meta = replace(metric.meta, name=plugin.name)
    sha, files = (
        source_sha256(sys.modules[factory.__module__]) if factory.__module__ in sys.modules else (None, 0)
    )
    metric.source = {**plugin.describe(), "sha256": sha, "files": files}
    return metric


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
