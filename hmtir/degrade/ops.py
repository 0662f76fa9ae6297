"""The five TIR degradation ops in numpy/OpenCV — the reference implementation.

Physical order: contrast → blur → optical non-uniformity → stripe noise → Gaussian noise; the last three
form the "noise" step. Images are float32 in [0,1]; grey-level quantities (δ, stripe offsets, noise σ²)
are stated in levels of 255 as in the official script and converted here. Every op clips to [0,1].

Parameters are sampled for every op of a preset whether or not its gate fires, so changing ``gate``
never shifts the other draws, and the record names every scalar plus each gate decision. Per-pixel and
per-column fields are not stored: they are regenerated from a recorded integer ``noise_seed``
(stripes: numpy PCG64; Gaussian: OpenCV's RNG, 4× faster than numpy's normal sampler on a 640×512 frame).

Each op is one class that owns both implementations: ``sample``/``apply`` (numpy, the reference) and
``sample_batch``/``apply_batch``/``batch_from_records`` (torch, batched on any device, used for training and
by :mod:`hmtir.degrade.torch_ops`, whose cascade only loops over ops in ``order``). The torch methods import
torch (and the kernels of :mod:`hmtir.degrade.kernels`) inside their bodies, so ``hmtir synthesize`` never
loads it. Each op also declares the ``schema`` of what ``sample`` records (type, physically valid values):
the preset loader and the manifest reader (:mod:`hmtir.degrade.presets`) check against it. A new op is
one class here plus its ranges in ``presets.yaml``.

Imports go one way: ``kernels`` ← ``ops`` ← ``presets`` ← ``torch_ops``/``synthesize``; nothing here
imports a module of this package above it (tests/test_import_graph.py).
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta, Registry
from hmtir.vocabulary import STEPS

if TYPE_CHECKING:
    import torch

    Batch = dict[str, torch.Tensor]

GREY = 255.0  # the official script states grey-level quantities for 8-bit frames
MAX_NOISE_SEED = 2**31 - 1  # cv2.setRNGSeed takes a C int
# How on-the-fly training splits samples (hmtir.degrade.torch_ops.degrade): "all_steps" (the released
# code: half the samples are single-degradation ones trained on every step alone), "one_step" (half are one
# random step) or "composite" (chains only).
TRAINING_MIXES = ("all_steps", "one_step", "composite")


def shown(value: object) -> str:
    """``value`` as JSON writes it (``"0.5"``, ``true``, ``NaN``), cut short: the form a manifest holds."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _span(low: float, high: float) -> str:
    def number(v: float) -> str:
        return str(v) if isinstance(v, int) else f"{v:g}"

    return number(low) if low == high else f"{number(low)} to {number(high)}"


@dataclass(frozen=True)
class Param:
    """One parameter an op's ``sample`` records: its JSON type and the values that are physically valid.

    A ``ranged`` parameter is drawn from the preset range of the same name: the preset loader refuses a
    range reaching outside [low, high], and a recorded value must lie in a range some preset samples from.
    Every other parameter is checked against [low, high] or ``choices`` alone. Both readers call
    :meth:`problem`, so a preset and a manifest obey one rule.
    """

    name: str
    kind: type  # bool, int, float or str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    ranged: bool = False
    odd: bool = False  # integer kernel sizes

    def problem(self, value: object, allowed: list[tuple[float, float]] | None = None) -> str | None:
        """Why ``value`` cannot be this parameter, or None; ``allowed`` narrows [low, high] to these spans."""
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be true or false, got {shown(value)}"
        if self.kind is str:
            if isinstance(value, str) and value in self.choices:
                return None
            return f"must be one of {', '.join(map(shown, self.choices))}, got {shown(value)}"
        number = "a whole number" if self.kind is int else "a number"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return f"must be {number}, got {shown(value)}"
        if self.kind is int and not isinstance(value, numbers.Integral):
            return f"must be {number}, got {shown(value)}"
        if not math.isfinite(value):
            return f"must be finite, got {shown(value)}"
        spans = allowed if allowed is not None else [(self.low, self.high)]
        if not any((lo is None or lo <= value) and (hi is None or value <= hi) for lo, hi in spans):
            return f"must be from {' or '.join(_span(lo, hi) for lo, hi in spans)}, got {shown(value)}"
        if self.odd and value % 2 != 1:
            return f"must be odd, got {shown(value)}"
        return None


@dataclass(frozen=True)
class OpMeta(EntryMeta):
    order: int = 0  # position in the physical cascade (1 = first)
    step: str = ""  # which cascade step it belongs to (hmtir.vocabulary.STEPS)
    schema: tuple[Param, ...] = ()  # what ``sample`` records, besides the gate decision ``applied``
    ranges_source: str = "Official HM-TIR synthesis script (issue 2); values in hmtir/degrade/presets.yaml"

    @property
    def range_keys(self) -> tuple[str, ...]:
        """The keys a preset must give for this op: its ranged parameters."""
        return tuple(p.name for p in self.schema if p.ranged)


OPS: Registry[OpMeta] = Registry("degradation op", OpMeta)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0, out=x)


class DegradationOp:
    """Base of every op. Subclasses give the numpy pair and the torch pair; tensors are per sample.

    * ``sample(rng, ranges, shape)`` → JSON-able dict; ``apply(x, p)`` degrades one H×W float32 frame in
      place and clips (the reference, recorded in manifests).
    * ``sample_batch(generator, ranges, batch, shape)`` → dict of tensors with a leading batch dimension,
      drawn on the generator's device; ``apply_batch(x, p)`` applies them to a B×1×H×W batch and clips,
      ungated (the cascade gates per sample).
    * ``batch_from_records(records, shape, device)`` turns numpy-sampled records into ``apply_batch``
      parameters, so both paths can be checked against each other. The default stacks every scalar key;
      ops whose fields are regenerated from a seed override it.
    * ``relation_problem(p)``: why parameters that each pass the schema cannot come from ``sample``
      together (e.g. a derived value that disagrees with its source), naming the parameter first; or None.
    """

    @staticmethod
    def relation_problem(p: dict[str, Any]) -> str | None:
        return None

    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        raise NotImplementedError

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        raise NotImplementedError

    def batch_from_records(
        self, records: list[dict[str, Any]], shape: tuple[int, int], device: torch.device
    ) -> Batch:
        import torch

        keys = [k for k, v in records[0].items() if k != "applied" and isinstance(v, (bool, int, float))]
        return {
            k: torch.tensor([float(r[k]) for r in records], dtype=torch.float64, device=device) for k in keys
        }


def _rand(generator: torch.Generator, batch: int) -> torch.Tensor:
    """``batch`` uniforms in [0, 1), float64, on the generator's device."""
    import torch

    return torch.rand(batch, generator=generator, device=generator.device, dtype=torch.float64)


def _uniform_batch(generator: torch.Generator, bounds: tuple[float, float], batch: int) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * _rand(generator, batch)


def _per_sample(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (B,) parameter shaped to broadcast over a B×1×H×W batch, in the batch's dtype."""
    return t.to(like.dtype).view(-1, 1, 1, 1)


def _stack_fields(arrays: list[np.ndarray], shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """Per-sample numpy fields (broadcastable to H×W) as one B×1×H×W float32 tensor."""
    import torch

    stacked = np.stack([np.broadcast_to(a, shape) for a in arrays]).astype(np.float32)
    return torch.from_numpy(stacked).to(device)[:, None]


@OPS.register(
    "contrast",
    summary="Global contrast loss and offset: clip(x·α + β), α = 1 + c.",
    order=1,
    step="contrast",
    schema=(
        Param("c", float, -1.0, 0.0, ranged=True),  # a loss of contrast: α = 1 + c in [0, 1]
        Param("alpha", float, 0.0, 1.0),
        Param("beta", float, -1.0, 1.0, ranged=True),  # full scale
    ),
)
class Contrast(DegradationOp):
    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        c = _uniform(rng, ranges["c"])
        return {"c": c, "alpha": 1.0 + c, "beta": _uniform(rng, ranges["beta"])}

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        x *= np.float32(p["alpha"])
        x += np.float32(p["beta"])
        return _clip(x)

    @staticmethod
    def relation_problem(p: dict[str, Any]) -> str | None:
        if abs(p["alpha"] - (1.0 + p["c"])) > 1e-9:
            return f"alpha must be 1 + c = {1.0 + p['c']:g}, got {shown(p['alpha'])}"
        return None

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        c = _uniform_batch(generator, ranges["c"], batch)
        return {"c": c, "alpha": 1 + c, "beta": _uniform_batch(generator, ranges["beta"], batch)}

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        alpha, beta = p["alpha"].float(), p["beta"].float()  # float32 factors, as the numpy op uses
        return (x * _per_sample(alpha, x) + _per_sample(beta, x)).clamp_(0, 1)


@OPS.register(
    "blur",
    summary="Gaussian optical blur, odd kernel size k, standard deviation σ (pixels).",
    order=2,
    step="blur",
    schema=(
        Param("ksize", int, 1, 63, ranged=True, odd=True),
        Param("sigma", float, 0.1, 20.0, ranged=True),  # OpenCV reads σ = 0 as "from ksize": not a blur σ
    ),
)
class Blur(DegradationOp):
    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        low, high = (int(v) // 2 for v in ranges["ksize"])  # odd k = 2j+1, j uniform
        return {"ksize": 2 * int(rng.integers(low, high + 1)) + 1, "sigma": _uniform(rng, ranges["sigma"])}

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        k = int(p["ksize"])
        cv2.GaussianBlur(x, (k, k), float(p["sigma"]), dst=x, borderType=cv2.BORDER_REFLECT_101)
        return _clip(x)

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        import torch

        low, high = (int(v) // 2 for v in ranges["ksize"])
        half = torch.randint(low, high + 1, (batch,), generator=generator, device=generator.device)
        return {"ksize": 2 * half + 1, "sigma": _uniform_batch(generator, ranges["sigma"], batch)}

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        from hmtir.degrade.kernels import gaussian_kernels, separable_blur

        ksize = p["ksize"].long()
        width = int(ksize.max().item()) if ksize.numel() else 1
        if width <= 1:
            return x
        return separable_blur(x, gaussian_kernels(ksize, p["sigma"], width)).clamp_(0, 1)


@functools.lru_cache(maxsize=8)
def _axes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(height, dtype=np.float32)[:, None], np.arange(width, dtype=np.float32)[None, :]


def radial_mask(shape: tuple[int, int], centre_x: float, centre_y: float) -> np.ndarray:
    """m = cos(r·π/2)^4 with r the distance to the centre over its maximum on the frame (corners)."""
    height, width = shape
    cx, cy = centre_x * (width - 1), centre_y * (height - 1)
    r_max = math.hypot(max(cx, width - 1 - cx), max(cy, height - 1 - cy)) or 1.0
    ys, xs = _axes(height, width)
    m = np.square(ys - np.float32(cy)) + np.square(xs - np.float32(cx))
    np.sqrt(m, out=m)
    m *= np.float32(math.pi / 2 / r_max)
    np.cos(m, out=m)
    m *= m
    m *= m
    return m


@OPS.register(
    "nonuniformity",
    summary="Optical non-uniformity: radial offset δ·m or δ·(1−m), m = cos(r·π/2)^4 about a random centre.",
    order=3,
    step="noise",
    schema=(
        Param("centre_x", float, 0.0, 1.0),
        Param("centre_y", float, 0.0, 1.0),
        Param("delta", int, 0, 255, ranged=True),
        Param("inverted", bool),
    ),
)
class NonUniformity(DegradationOp):
    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        low, high = (int(v) for v in ranges["delta"])
        return {
            "centre_x": float(rng.random()),  # fraction of (W-1)
            "centre_y": float(rng.random()),  # fraction of (H-1)
            "delta": int(rng.integers(low, high + 1)),  # grey levels
            "inverted": bool(rng.random() < 0.5),  # δ·(1−m) instead of δ·m
        }

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        m = radial_mask(x.shape, p["centre_x"], p["centre_y"])
        delta = np.float32(p["delta"] / GREY)
        if p["inverted"]:
            x += delta
            m *= delta
            x -= m
        else:
            m *= delta
            x += m
        return _clip(x)

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        import torch

        low, high = (int(v) for v in ranges["delta"])
        centre_x, centre_y = _rand(generator, batch), _rand(generator, batch)
        delta = torch.randint(low, high + 1, (batch,), generator=generator, device=generator.device)
        return {
            "centre_x": centre_x,
            "centre_y": centre_y,
            "delta": delta.double(),
            "inverted": (_rand(generator, batch) < 0.5).double(),
        }

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        import torch

        from hmtir.degrade.kernels import radial_masks

        m = radial_masks(p["centre_x"], p["centre_y"], x.shape[-2], x.shape[-1], x.device)
        m = torch.where(_per_sample(p["inverted"], x) > 0.5, 1 - m, m)
        return (x + m * _per_sample(p["delta"].float() / GREY, x)).clamp_(0, 1)


def stripe_fields(p: dict[str, Any], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-line gain g and offset b (in [0,1] units) shaped to broadcast over a H×W frame."""
    height, width = shape
    along = width if p["axis"] == "column" else height
    rng = np.random.default_rng(int(p["noise_seed"]))
    gain = (rng.standard_normal(along) * p["gain_std"]).astype(np.float32)
    offset = (rng.standard_normal(along) * (p["offset_std"] / GREY)).astype(np.float32)
    if p["axis"] == "column":
        return gain[None, :], offset[None, :]
    return gain[:, None], offset[:, None]


@OPS.register(
    "stripe",
    summary="Fixed-pattern stripes: per column (or row, 50/50) gain and offset, x + x·g + b.",
    order=4,
    step="noise",
    schema=(
        Param("axis", str, choices=("column", "row")),
        Param("gain_std", float, 0.0, 1.0, ranged=True),
        Param("offset_std", float, 0.0, GREY, ranged=True),
        Param("noise_seed", int, 0, MAX_NOISE_SEED),
    ),
)
class Stripe(DegradationOp):
    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        # official: g = N(0,1)·(0.03 + 0.07·U), b = N(0,1)·5·U → std uniform over the preset's range
        return {
            "axis": "column" if rng.random() < 0.5 else "row",
            "gain_std": _uniform(rng, ranges["gain_std"]),
            "offset_std": _uniform(rng, ranges["offset_std"]),  # grey levels
            "noise_seed": int(rng.integers(0, MAX_NOISE_SEED)),
        }

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        gain, offset = stripe_fields(p, x.shape)
        gain += np.float32(1.0)
        x *= gain
        x += offset
        return _clip(x)

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        import torch

        height, width = shape
        device = generator.device
        is_column = (_rand(generator, batch) < 0.5).view(batch, 1, 1, 1)
        gain_std = _uniform_batch(generator, ranges["gain_std"], batch).float().view(batch, 1, 1)
        offset_std = _uniform_batch(generator, ranges["offset_std"], batch).float().view(batch, 1, 1)

        def oriented(std: torch.Tensor) -> torch.Tensor:
            column = torch.randn(batch, 1, width, generator=generator, device=device) * std
            row = torch.randn(batch, 1, height, generator=generator, device=device) * std
            return torch.where(is_column, column.view(batch, 1, 1, width), row.view(batch, 1, height, 1))

        return {"gain": oriented(gain_std), "offset": oriented(offset_std / GREY)}

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        return (x + x * p["gain"] + p["offset"]).clamp_(0, 1)

    def batch_from_records(
        self, records: list[dict[str, Any]], shape: tuple[int, int], device: torch.device
    ) -> Batch:
        fields = [stripe_fields(r, shape) for r in records]
        return {
            "gain": _stack_fields([g for g, _ in fields], shape, device),
            "offset": _stack_fields([b for _, b in fields], shape, device),
        }


def gaussian_field(p: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel N(0, σ²) noise (in [0,1] units) regenerated from the recorded seed."""
    field = np.empty(shape, dtype=np.float32)
    cv2.setRNGSeed(int(p["noise_seed"]))
    cv2.randn(field, 0.0, math.sqrt(p["variance"]) / GREY)
    return field


@OPS.register(
    "gaussian",
    summary="Additive white Gaussian noise, variance σ² in grey levels².",
    order=5,
    step="noise",
    schema=(
        Param("variance", float, 0.0, GREY**2, ranged=True),  # σ up to full scale
        Param("noise_seed", int, 0, MAX_NOISE_SEED),
    ),
)
class Gaussian(DegradationOp):
    @staticmethod
    def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict[str, Any]:
        return {
            "variance": _uniform(rng, ranges["variance"]),
            "noise_seed": int(rng.integers(0, MAX_NOISE_SEED)),
        }

    @staticmethod
    def apply(x: np.ndarray, p: dict[str, Any]) -> np.ndarray:
        x += gaussian_field(p, x.shape)
        return _clip(x)

    def sample_batch(
        self, generator: torch.Generator, ranges: dict, batch: int, shape: tuple[int, int]
    ) -> Batch:
        import torch

        variance = _uniform_batch(generator, ranges["variance"], batch)
        noise = torch.randn(batch, 1, *shape, generator=generator, device=generator.device)
        return {"noise": noise * (variance.sqrt() / GREY).float().view(batch, 1, 1, 1)}

    def apply_batch(self, x: torch.Tensor, p: Batch) -> torch.Tensor:
        return (x + p["noise"]).clamp_(0, 1)

    def batch_from_records(
        self, records: list[dict[str, Any]], shape: tuple[int, int], device: torch.device
    ) -> Batch:
        return {"noise": _stack_fields([gaussian_field(r, shape) for r in records], shape, device)}


def _prepare(img: np.ndarray, params: dict) -> np.ndarray:
    if img.ndim != 2:
        raise HmtirError(f"degradation expects a single-channel H×W frame, got shape {tuple(img.shape)}")
    if list(img.shape) != list(params["shape"]):
        raise HmtirError(
            f"frame is {img.shape[0]}×{img.shape[1]} but its degradation parameters were sampled for "
            f"{params['shape'][0]}×{params['shape'][1]}"
        )
    return np.array(img, dtype=np.float32, copy=True)


def _ordered(params: dict) -> list[tuple[str, dict[str, Any]]]:
    return sorted(params["ops"].items(), key=lambda item: OPS.meta(item[0]).order)


def apply(img: np.ndarray, params: dict) -> np.ndarray:
    """The degraded frame (float32 in [0,1]) for ``params`` from :func:`sample_params`."""
    x = _prepare(img, params)
    for name, p in _ordered(params):
        if p["applied"]:
            OPS.create(name).apply(x, p)
    return x


def apply_steps(img: np.ndarray, params: dict) -> dict[str, np.ndarray]:
    """Intermediate frames after each physical step: ``contrast``, ``blur`` (contrast+blur), ``noise`` (all)."""
    x = _prepare(img, params)
    ops = _ordered(params)
    out: dict[str, np.ndarray] = {}
    for step in STEPS:
        for name, p in ops:
            if p["applied"] and OPS.meta(name).step == step:
                OPS.create(name).apply(x, p)
        out[step] = x.copy()
    return out
