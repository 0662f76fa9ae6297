"""``example-sharpness``: a no-reference metric, the mean gradient magnitude of a frame (×100)."""

from __future__ import annotations

from typing import Any


def sharpness(quantize_8bit: bool = False) -> Any:
    """Mean absolute horizontal + vertical difference, ×100 (higher: more high-frequency content)."""
    from hmtir.metrics import Metric, MetricMeta

    class Sharpness(Metric):
        def _score(self, pred: Any, target: Any) -> Any:
            dx = (pred[..., :, 1:] - pred[..., :, :-1]).abs().flatten(1).mean(1)
            dy = (pred[..., 1:, :] - pred[..., :-1, :]).abs().flatten(1).mean(1)
            return 100.0 * (dx + dy)

        def settings(self) -> dict[str, Any]:
            return {"scale": 100.0, "difference": "forward, horizontal + vertical"}

    meta = MetricMeta(
        name="example-sharpness",
        mode="NR",
        lower_better=False,
        score_range=(0.0, 200.0),
        version="1",
        decimals=3,
        summary="Mean absolute horizontal + vertical difference x100 (example plugin metric)",
    )
    return Sharpness(meta, quantize_8bit=quantize_8bit)
