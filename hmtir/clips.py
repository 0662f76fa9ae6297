"""Enhance a thermal clip without flicker: one decision per clip, a smoothed AGC, streamed frames.

A clip is enhanced in two passes over its frames (:mod:`hmtir.io.video`):

1. :func:`prepare_clip` decodes every frame once, before anything is written: the clip's checks (0
   frames, truncated, variable rate, colour …), each frame's display mapping and a sample of frames for
   the estimator. Nothing of a clip that fails here is written.
2. :func:`enhance_clip` decodes it again and streams it through the method (:func:`hmtir.stream.pipeline`:
   read-ahead, the model, write-behind), into a file that appears under its final name only when its last
   frame is in (an interrupted clip is encoded again from frame 0 by the next run).

Per-frame choices would flicker, so both are taken for the whole clip and recorded:

* **Prompts** (``degradation="auto"``): the estimator judges up to :data:`SAMPLE_FRAMES` frames spread
  evenly over the clip; the median of each step's probability over them goes through the estimator's own
  gated rule (:func:`hmtir.estimate.decide_gated`) once. Every frame gets that one decision.
* **AGC** on raw counts or Kelvin (where ``--range auto`` takes the percentile AGC for any frame of the
  clip): each frame's 0.5/99.5th percentiles are averaged over a centred window of
  :data:`AGC_WINDOW_SECONDS` (the first pass knows the frames after each one, so the window needs no lag),
  and each frame is mapped through its smoothed pair. A fixed window (``full``, ``LOW,HIGH``) and 8-bit
  frames taken as they are do not move and need no smoothing.

The summary gives the frames per second achieved and the stability ratio (:mod:`hmtir.metrics.temporal`):
mean |out[t] − out[t−1]| / mean |in[t] − in[t−1]| on display values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hmtir.errors import HmtirError
from hmtir.io.video import ClipInfo
from hmtir.vocabulary import STEPS, scenario_of

if TYPE_CHECKING:
    from hmtir.estimate import Estimate, Estimator
    from hmtir.io.radiometric import RangeMapping, RangeSpec
    from hmtir.methods.base import Method

#: Most frames the estimator judges per clip (spread evenly; all of a shorter clip).
SAMPLE_FRAMES = 16
#: Width of the centred window the AGC percentiles are averaged over.
AGC_WINDOW_SECONDS = 1.0


@dataclass
class ClipPlan:
    """What the first pass learnt: the clip, each frame's mapping, the decision and their records."""

    info: ClipInfo
    mappings: list[RangeMapping] = field(repr=False)
    mapping_record: dict[str, Any]
    estimate: Estimate | None = None
    decision_record: dict[str, Any] | None = None

    def describe_mapping(self) -> str:
        """A table cell: the clip's mapping (a range of AGC windows when smoothed)."""
        record = self.mapping_record
        if record["mode"] != "percentile":
            return self.mappings[0].describe()
        low, high = record["low"], record["high"]
        return f"AGC {low[0]:.6g}…{low[1]:.6g} – {high[0]:.6g}…{high[1]:.6g} (smoothed)"


def sample_indices(frames: int, count: int = SAMPLE_FRAMES) -> list[int]:
    """``count`` frame indices spread evenly over ``frames`` (all of them when fewer), first and last included."""
    if frames <= count:
        return list(range(frames))
    return sorted({round(i * (frames - 1) / (count - 1)) for i in range(count)})


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean over ``window`` frames (odd); at the ends, the mean of the frames there are."""
    values = np.asarray(values, dtype=np.float64)
    half = window // 2
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(values.size)
    start, stop = np.maximum(index - half, 0), np.minimum(index + half + 1, values.size)
    return (cumulative[stop] - cumulative[start]) / (stop - start)


def _agc_mapping(low: float, high: float, dtype: np.dtype) -> RangeMapping:
    from hmtir.io.radiometric import AGC_PERCENTILES, DISPLAY_BAND, RangeMapping

    used = None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        used = (high - low) / (float(info.max) - float(info.min))
        low, high = round(low, 6), round(high, 6)
    if high <= low:  # a (nearly) constant body: any window shows it flat; keep the map invertible
        high = low + (1.0 if dtype.kind in "iu" else max(abs(low) * 1e-6, 1e-6))
    return RangeMapping(
        "percentile", str(dtype), low, high, *DISPLAY_BAND, AGC_PERCENTILES, used_fraction=used
    )


def clip_decision(
    estimates: list[Estimate], indices: list[int], estimator: Estimator
) -> tuple[Estimate, dict[str, Any]]:
    """One decision for a clip from its sampled frames' estimates (module docstring), and its record."""
    from hmtir.estimate import Estimate, decide_gated

    judged = [(i, e) for i, e in zip(indices, estimates) if e.judged]
    if not judged:
        raise HmtirError(f"no sampled frame could be judged: {estimates[0].reason}")
    median = {step: float(np.median([e.scores[step] for _, e in judged])) for step in STEPS}
    action, verdict, present, why = decide_gated(median, estimator.thresholds, estimator.gate)
    scores = {step: round(value, 4) for step, value in median.items()}
    estimate = Estimate(action, scores, present, verdict=verdict, gated=why)
    per_frame: dict[str, int] = {}
    for _, e in judged:
        per_frame[str(e.degradation)] = per_frame.get(str(e.degradation), 0) + 1
    record = {
        "rule": "median of each step's probability over the sampled frames, then the estimator's gated rule, "
        "once for the whole clip",
        "sampled_frames": [i for i, _ in judged],
        "unjudged_frames": [i for i, e in zip(indices, estimates) if not e.judged],
        "per_frame_decisions": per_frame,
        **estimate.as_dict(),
    }
    return estimate, record


def prepare_clip(
    path: str | Path,
    range: RangeSpec | str = "auto",
    estimator: Estimator | None = None,
    refuse_unjudged: bool = True,
) -> ClipPlan:
    """The first pass over a clip (module docstring); with an ``estimator``, the clip's one decision.

    A clip none of whose sampled frames can be judged is one line (``refuse_unjudged``), or a plan whose
    ``estimate`` carries the reason (``hmtir estimate`` lists it like an unjudgeable frame).
    """
    from hmtir.io.radiometric import AGC_PERCENTILES, RangeSpec, choose_mapping
    from hmtir.io.video import probe

    spec = RangeSpec.parse(range)
    path = Path(path)
    chosen: list[RangeMapping] = []
    percentiles: list[tuple[float, float]] = []
    pixels_of: dict[int, np.ndarray] = {}
    wanted: set[int] = set()  # the sample, from the header's frame count (frames kept: at most 16)

    def on_frame(index: int, pixels: np.ndarray) -> None:
        chosen.append(choose_mapping(pixels, spec, what=f"{path} frame {index}"))
        finite = pixels.ravel() if pixels.dtype.kind in "iu" else pixels[np.isfinite(pixels)]
        low, high = np.percentile(finite, AGC_PERCENTILES)
        percentiles.append((float(low), float(high)))
        if index in wanted:
            pixels_of[index] = pixels

    if estimator is not None:
        wanted.update(_sample_from_header(path))
    info = probe(path, on_frame)
    dtype = np.dtype(info.dtype)
    if any(m.mode == "percentile" for m in chosen):
        window = max(1, int(round(AGC_WINDOW_SECONDS * float(info.rate))) | 1)
        lows = smooth(np.array([p[0] for p in percentiles]), window)
        highs = smooth(np.array([p[1] for p in percentiles]), window)
        mappings = [_agc_mapping(float(lo), float(hi), dtype) for lo, hi in zip(lows, highs)]
        raw_step = np.abs(np.diff([p[0] for p in percentiles])).max() if info.frames > 1 else 0.0
        mapping_record: dict[str, Any] = {
            "mode": "percentile",
            "smoothing": f"centred moving mean of each frame's {AGC_PERCENTILES[0]}/{AGC_PERCENTILES[1]}th "
            f"percentiles over {window} frame(s)",
            "window_frames": window,
            "low": [float(lows.min()), float(lows.max())],
            "high": [float(highs.min()), float(highs.max())],
            "largest_frame_to_frame_step": {
                "unsmoothed_low": float(raw_step),
                "smoothed_low": float(np.abs(np.diff(lows)).max()) if info.frames > 1 else 0.0,
            },
            "display_band": [mappings[0].display_low, mappings[0].display_high],
        }
    else:
        mappings = chosen
        mapping_record = {"mode": chosen[0].mode, **chosen[0].as_dict()}
    plan = ClipPlan(info, mappings, mapping_record)
    if estimator is not None:
        indices = sample_indices(info.frames)
        missing = [i for i in indices if i not in pixels_of]
        if missing:  # no (or a wrong) count in the header: read the sample from a second decoding
            from hmtir.io.video import read_frames

            want = set(missing)
            for index, (_, pixels) in enumerate(read_frames(info)):
                if index in want:
                    pixels_of[index] = pixels
        displays = [mappings[i].to_display(pixels_of[i]) for i in indices]
        try:
            plan.estimate, plan.decision_record = clip_decision(estimator(displays), indices, estimator)
        except HmtirError as error:
            if not refuse_unjudged:
                from hmtir.estimate import Estimate

                plan.estimate = Estimate(None, reason=str(error))
                return plan
            raise HmtirError(
                f"cannot choose prompts for {path}: {error} (pass --degradation to enhance it anyway)"
            ) from None
    return plan


def _sample_from_header(path: Path) -> list[int]:
    """The sample's frame indices from the header's frame count (or duration × rate) when it has one."""
    from hmtir.io.video import _open

    with _open(path) as container:
        stream = container.streams.video[0]
        frames = int(stream.frames or 0)
        if not frames:
            rate = stream.average_rate or stream.guessed_rate
            seconds = (
                float(stream.duration * stream.time_base)
                if stream.duration
                else (container.duration / 1e6 if container.duration else 0.0)
            )
            frames = int(round(seconds * float(rate))) if rate else 0
    return sample_indices(frames) if frames else []


@dataclass(frozen=True)
class ClipOutcome:
    """What enhancing one clip gave: frames, times, throughput and temporal stability."""

    frames: int
    wall_seconds: float
    model_seconds: float
    input_mad: float | None
    output_mad: float | None

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else float("inf")

    @property
    def stability_ratio(self) -> float | None:
        from hmtir.metrics.temporal import stability_ratio

        return stability_ratio(self.output_mad, self.input_mad)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.stability_ratio
        return {
            "frames": self.frames,
            "wall_seconds": round(self.wall_seconds, 4),
            "model_seconds": round(self.model_seconds, 4),
            "frames_per_second": round(self.frames_per_second, 3),
            "stability": {
                "statistic": "mean |x[t] - x[t-1]| on display [0, 1] values",
                "output": None if self.output_mad is None else round(self.output_mad, 6),
                "input": None if self.input_mad is None else round(self.input_mad, 6),
                "ratio_to_input": None if ratio is None else round(ratio, 4),
            },
        }


def enhance_clip(
    plan: ClipPlan,
    target: Path,
    runner: Method,
    degradation: str,
    codec: str | None = None,
    on_frame: Callable[[], None] | None = None,
    depth: int = 4,
) -> ClipOutcome:
    """The second pass (module docstring): every frame through ``runner`` with ``degradation`` (``clean``:
    unchanged), written with the clip's own timestamps to ``target`` (atomically)."""
    import torch

    from hmtir.io.video import ClipWriter, read_frames
    from hmtir.metrics.temporal import FrameDifference
    from hmtir.stream import pipeline

    info = plan.info
    in_meter, out_meter = FrameDifference(), FrameDifference()
    model_seconds = [0.0]

    def frames() -> Iterator[tuple[int, tuple[int, np.ndarray]]]:
        decoded = read_frames(info)
        try:
            yield from enumerate(decoded)
        finally:
            decoded.close()  # the decoder is closed in the read-ahead thread that ran it

    def work(item: tuple[int, tuple[int, np.ndarray]]) -> tuple[np.ndarray, int]:
        index, (pts, pixels) = item
        mapping = plan.mappings[index]
        display = mapping.to_display(pixels)
        in_meter.add(display)
        if degradation == "clean":
            out_meter.add(display)
            return pixels, pts
        start = time.perf_counter()
        batch = torch.from_numpy(display)[None, None].to(runner.device)
        restored = runner(batch, degradation, scenario_of(degradation), names=[f"{info.path} frame {index}"])
        out = restored[0, 0].float().cpu().numpy()
        model_seconds[0] += time.perf_counter() - start
        out_meter.add(out)
        return mapping.from_display(out), pts

    start = time.perf_counter()
    with ClipWriter(target, info, codec) as writer:

        def sink(item: tuple[np.ndarray, int]) -> None:
            writer.write(*item)
            if on_frame is not None:
                on_frame()

        pipeline(frames(), work, sink, depth=depth)
    wall = time.perf_counter() - start
    return ClipOutcome(info.frames, wall, model_seconds[0], in_meter.value, out_meter.value)
