"""What every metric is: typed metadata plus one call shape, shared by full- and no-reference metrics.

Kept free of a top-level torch import so that ``import hmtir.metrics`` (and ``hmtir --help``) stays cheap;
the implementation modules, imported on first use, bring torch and pyiqa.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta

if TYPE_CHECKING:
    import torch

METRIC_MODES = ("FR", "NR")


@dataclass(frozen=True)
class MetricMeta(EntryMeta):
    """Metadata of a metric, as pyiqa's metric table: full-reference ("FR") or no-reference ("NR"),
    direction, nominal score range and the version of *our* definition (bumped whenever a score for the
    same input could change, so stored results say which definition produced them).

    The leaderboard reads its facts from here and nowhere else: ``leaderboard`` makes the metric a column
    of every result file (``result.schema.json`` is checked against it), ``decimals`` is how many digits
    tables show and therefore the precision at which rankings call a tie. The score range of a
    full-reference metric is exact by definition (and becomes a schema bound); a no-reference range is
    nominal, since a network can step outside it.
    """

    mode: str = "FR"
    lower_better: bool = False
    score_range: tuple[float, float] = (0.0, 1.0)
    version: str = "1"
    decimals: int = 2
    leaderboard: bool = False

    def __post_init__(self) -> None:
        if self.mode not in METRIC_MODES:
            raise ValueError(
                f"metric '{self.name}': mode '{self.mode}' is not one of {', '.join(METRIC_MODES)}"
            )
        if not 0 <= self.decimals <= 8:
            raise ValueError(f"metric '{self.name}': decimals {self.decimals} is not in 0..8")


class Metric:
    """A scorer: ``metric(pred, target=None) -> (B,) float64`` for ``B×C×H×W`` float images in [0, 1].

    ``C`` is 1 (the TIR case) or 3. Inputs are checked (NaN/Inf are an error, not a silent score), clamped
    to [0, 1], optionally rounded to 8 bits (``quantize_8bit``: the scores of outputs saved as 8-bit PNG),
    and moved to the metric's device. Subclasses implement :meth:`_score` and :meth:`settings`.
    """

    meta: MetricMeta
    source: dict[str, Any] | None = None  # a plugin metric: its distribution, version and code sha256

    def __init__(self, meta: MetricMeta, *, quantize_8bit: bool = False) -> None:
        self.meta = meta
        self.quantize_8bit = bool(quantize_8bit)
        self.device = "cpu"

    @property
    def name(self) -> str:
        return self.meta.name

    def to(self, device: str) -> Metric:
        """Move the metric (and any network it holds, see :meth:`_move`) to ``device`` (``auto`` allowed)."""
        from hmtir.runtime import resolve_device

        self.device = resolve_device(device)
        self._move(self.device)
        return self

    def _move(self, device: str) -> None:
        """Subclasses holding tensors or networks move them here."""

    def _score(self, pred: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement _score()")

    def settings(self) -> dict[str, Any]:
        """The exact parameters of this metric's definition (recorded in results)."""
        return {}

    def weights_info(self) -> dict[str, str] | None:
        """The weights file actually loaded (name + sha256), for metrics that have one."""
        return None

    def _prepare(self, image: Any, role: str) -> torch.Tensor:
        import torch

        if not isinstance(image, torch.Tensor):
            raise HmtirError(
                f"metric '{self.name}': {role} must be a torch.Tensor, got {type(image).__name__}"
            )
        if image.dim() != 4 or image.shape[1] not in (1, 3):
            raise HmtirError(
                f"metric '{self.name}': {role} must have shape B×1×H×W or B×3×H×W, got {tuple(image.shape)}"
            )
        if not image.is_floating_point():
            raise HmtirError(
                f"metric '{self.name}': {role} must be a float tensor in [0, 1], got {image.dtype}"
            )
        image = image.to(device=self.device, dtype=torch.float32)
        # A finite sum proves every value finite (cheap); only otherwise look element-wise (exact).
        if not torch.isfinite(image.sum()) and not torch.isfinite(image).all():
            raise HmtirError(f"metric '{self.name}': {role} contains NaN or Inf values")
        return image.clamp(0.0, 1.0)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Score each image of ``pred`` (against ``target`` for FR metrics); returns shape ``(B,)`` float64."""
        import torch

        pred = self._prepare(pred, "prediction")
        if self.quantize_8bit:
            pred = torch.round(pred * 255.0) / 255.0  # half-to-even, as numpy/OpenCV when saving 8-bit
        if self.meta.mode == "FR":
            if target is None:
                raise HmtirError(f"metric '{self.name}' is full-reference: pass the target image")
            target = self._prepare(target, "target")
            if target.shape != pred.shape:
                raise HmtirError(
                    f"metric '{self.name}': prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
                    "differ in shape"
                )
        else:
            target = None
        with torch.inference_mode():
            scores = self._score(pred, target)
        return scores.reshape(pred.shape[0]).to(torch.float64)

    def definition(self) -> dict[str, Any]:
        """JSON-ready description recorded in result provenance: enough to recompute the scores later."""
        return {
            "name": self.meta.name,
            "mode": self.meta.mode,
            "lower_better": self.meta.lower_better,
            "score_range": [
                v if math.isfinite(v) else None for v in self.meta.score_range
            ],  # None: unbounded
            "version": self.meta.version,
            "definition": self.meta.summary,
            "settings": self.settings(),
            "quantize_8bit": self.quantize_8bit,
            "weights": self.weights_info(),
            **({"source": self.source} if self.source is not None else {}),
        }
