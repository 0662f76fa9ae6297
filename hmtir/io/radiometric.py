"""Raw radiometric frames ↔ the display range the models were trained on, and back.

A thermal camera's raw output is 14/16-bit counts in a narrow band (a 25 °C scene may span 7564–9928 of
65535, 3.6 % of the range) or a float radiometric TIFF (Kelvin, ~290–310). The restoration models and the
estimator were trained on display frames: 8-bit camera exports whose automatic gain control (AGC) put the
scene at roughly [0.17, 0.85]. Dividing counts by 65535 would hand the network an almost black, flat frame
(it answers with a periodic grid), so every frame goes through one recorded linear mapping::

    display = display_low + (value − low) · (display_high − display_low) / (high − low), clipped to [0, 1]

and every output is mapped back with its inverse into the input's own units and sample type (a 16-bit
frame comes back 16-bit with the same scale; Kelvin float comes back Kelvin float32).

``--range`` chooses ``low``/``high`` (:func:`choose_mapping`):

* ``auto`` (default) — display frames stay as they are: 8-bit integers and floats already in [0, 1] use
  the full range. Wider integers use the full range only when their robust span (0.5–99.5th percentile)
  covers at least :data:`NARROW_FRACTION` of the type's range; otherwise, and for floats outside [0, 1]
  (Kelvin, °C), a *percentile AGC*: the 0.5th and 99.5th percentiles go to :data:`DISPLAY_BAND`, the
  median black and white levels of the 192 HIT-UAV training frames (0.175 and 0.847, measured with
  ``numpy.percentile``). Percentiles ignore dead and hot pixels; a linear map keeps radiometric order.
  A 14-bit camera's full range is a quarter of 16 bits, so its frames take the AGC path too.
* ``full`` — integers: 0…max of the type (signed: min…max) → [0, 1]; floats must already lie in [0, 1].
* ``LOW,HIGH`` — a fixed window in the input's units (counts, Kelvin): LOW → 0 (black), HIGH → 1 (white).

A frame using a small part of its type's range never passes the full-range path silently: ``auto`` does
not choose it, and when asked for (``full``) the mapping is flagged ``narrow`` and tools say so. Pixels
outside the window are clipped for the network (``clipped_fraction`` records how many).

Every mapping, whatever chose it (``--range``, ``auto``, a range recorded in a file, the library API), is
checked twice. **The window** (:class:`RangeMapping`): finite, LOW < HIGH, a finite gain, within what the
input's sample type can hold, and a rising display band (hot stays bright: the models were trained
white-hot). **The frame** (:func:`choose_mapping`): the frame's robust body (its values between the AGC
percentiles) must land on at least :data:`MIN_DISPLAY_LEVELS` distinct 8-bit display levels, or on as many
as the frame's own percentile AGC gives it when that is fewer (a flat or two-valued frame has nothing more
to show). ``--range=-1e308,1e308`` on counts 7000–7399, or ``full`` on them (3 levels), is one line naming
the frame and the range instead of an all-black output; ``auto`` falls back to the AGC when the frame's
as-is mapping would fail the check (a float frame in [0, 1] spanning 0.001–0.003).

Library API (``hmtir.enhance``, ``hmtir evaluate --real`` and notebooks)::

    raw = read_raw("frame.tiff")                     # RawFrame(pixels, dtype, mapping)
    x = raw.display                                  # float32 H×W in [0, 1] for any method/estimator
    back = raw.mapping.from_display(restored)        # input units and dtype again
    raw.mapping.as_dict()                            # the record to keep with results
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from hmtir.errors import HmtirError

#: Robust span (0.5–99.5th percentile) below this share of an integer type's range means raw counts.
NARROW_FRACTION = 0.25
#: Percentiles the AGC pins and the span is measured between (up to 0.5 % hot or dead pixels a side
#: move neither).
AGC_PERCENTILES = (0.5, 99.5)
#: Where the AGC puts those percentiles: the median of the 192 HIT-UAV training frames' own 0.5th/99.5th
#: percentiles (0.1745, 0.8471; the models were trained on those frames).
DISPLAY_BAND = (0.175, 0.847)
#: Fewest 8-bit display levels a mapping may leave the frame's body (3 bits). The hardest contrast loss
#: the models were trained on (α = 0.2 of an AGC frame's 171 levels) still leaves ~34; fewer than 8 is a
#: posterised silhouette no training frame resembles, and ``full`` on 16-bit counts spanning 7564–9928
#: (3.6 % of the range, 10 levels: dark but legible, and flagged NARROW) stays a choice the user may make.
MIN_DISPLAY_LEVELS = 8
#: float data within this of [0, 1] counts as a display frame (float round-off)
_DISPLAY_TOLERANCE = 1e-6
RANGE_HELP = "auto | full | LOW,HIGH (input units, e.g. 7000,10000 counts or 290,310 K)"


@dataclass(frozen=True)
class RangeSpec:
    """What was asked for: ``auto``, ``full`` or a ``manual`` window ``low``–``high`` in input units."""

    mode: str
    low: float | None = None
    high: float | None = None

    @classmethod
    def parse(cls, text: str | RangeSpec) -> RangeSpec:
        """``"auto"``, ``"full"`` or ``"LOW,HIGH"`` (LOW < HIGH, finite) → a spec; anything else is one line."""
        if isinstance(text, RangeSpec):
            return text
        value = str(text).strip().lower()
        if value in ("auto", "full"):
            return cls(value)
        parts = value.split(",")
        try:
            low, high = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
        except ValueError:
            low = high = math.nan
        if not (math.isfinite(low) and math.isfinite(high)):
            raise HmtirError(f"--range '{text}' is not {RANGE_HELP}")
        if low >= high:
            raise HmtirError(f"--range {text}: LOW must be below HIGH")
        return cls("manual", low, high)

    def __str__(self) -> str:
        """``auto``, ``full`` or ``LOW,HIGH`` written so that it parses back to the same window (evaluate
        records, replays and caches by this text: ``:g`` made 7000.12345 and 7000.12349 one window)."""
        if self.mode != "manual":
            return self.mode
        return ",".join(repr(float(v)).removesuffix(".0") for v in (self.low, self.high))


@dataclass(frozen=True)
class RangeMapping:
    """One frame's linear map between its own units and display [0, 1] (see the module docstring).

    ``mode``: ``full``, ``display`` (float already in [0, 1]), ``percentile`` (AGC) or ``manual``.
    ``used_fraction``: robust span / the integer type's range (None for floats). ``narrow``: that share
    is below :data:`NARROW_FRACTION`. ``clipped_fraction``: share of pixels outside [0, 1] after mapping.
    """

    mode: str
    dtype: str
    low: float
    high: float
    display_low: float = 0.0
    display_high: float = 1.0
    percentiles: tuple[float, float] | None = None
    used_fraction: float | None = None
    narrow: bool = False
    clipped_fraction: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a window no frame can be mapped through and back (module docstring: the window check)."""
        bounds = (self.low, self.high, self.display_low, self.display_high)
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in bounds):
            raise HmtirError(
                f"range {self.low!r},{self.high!r}: LOW, HIGH and the display band must be numbers"
            )
        window = f"range {self.low:.6g},{self.high:.6g}"
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = np.dtype(object)
        if dtype.kind not in "iuf":
            raise HmtirError(f"{window}: cannot map samples of type {self.dtype} to display")
        if not all(map(math.isfinite, bounds)):
            raise HmtirError(f"{window}: LOW, HIGH and the display band must be finite numbers")
        if not self.low < self.high:
            raise HmtirError(f"{window}: LOW must be below HIGH")
        t_low, t_high = _type_range(dtype)
        if self.low < t_low or self.high > t_high:
            raise HmtirError(f"{window}: outside what {dtype} samples can hold ({t_low:.6g}…{t_high:.6g})")
        if not 0.0 <= self.display_low < self.display_high <= 1.0:
            raise HmtirError(
                f"{window}: display band {self.display_low:g}–{self.display_high:g} must rise within [0, 1] "
                "(LOW black, HIGH white: hot stays bright)"
            )
        if not (math.isfinite(self.high - self.low) and 0.0 < self._gain < math.inf):
            raise HmtirError(f"{window}: HIGH − LOW is too wide or too narrow for a linear map")

    @property
    def _gain(self) -> float:
        return (self.display_high - self.display_low) / (self.high - self.low)

    def to_display(self, values: np.ndarray) -> np.ndarray:
        """Input units → float32 in [0, 1] (clipped; NaN and ±Inf become NaN so checks downstream name them)."""
        values = np.asarray(values, dtype=np.float64)
        x = np.clip((values - self.low) * self._gain + self.display_low, 0.0, 1.0)
        bad = ~np.isfinite(values)
        if bad.any():
            x[bad] = np.nan
        return x.astype(np.float32)

    def from_display(self, display: np.ndarray) -> np.ndarray:
        """Display [0, 1] → input units and sample type (integers rounded and clipped to the type)."""
        values = (np.asarray(display, dtype=np.float64) - self.display_low) / self._gain + self.low
        dtype = np.dtype(self.dtype)
        if dtype.kind == "f":
            dtype = np.dtype(np.float32 if dtype.itemsize <= 4 else dtype)
        t_low, t_high = _type_range(dtype)  # never an Inf (or a wrapped integer) the input could not hold
        values = np.clip(np.rint(values) if dtype.kind in "iu" else values, t_low, t_high)
        return values.astype(dtype)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["percentiles"] = list(self.percentiles) if self.percentiles else None
        return out

    def describe(self) -> str:
        """A short cell for tables: how the frame was mapped, e.g. ``AGC 7571–9920 (3.6 %)``."""
        share = f" ({100 * self.used_fraction:.1f} %)" if self.used_fraction is not None else ""
        if self.mode == "percentile":
            text = f"AGC {self.low:.6g}–{self.high:.6g}"
        elif self.mode == "manual":
            text = f"window {self.low:.6g}–{self.high:.6g}"
        else:
            text = self.mode
        return text + share + (" NARROW" if self.narrow else "")


class RawFrame(NamedTuple):
    """A frame in its own units (``pixels``, sample type ``dtype``) and the mapping chosen for it."""

    pixels: np.ndarray
    dtype: np.dtype
    mapping: RangeMapping

    @property
    def display(self) -> np.ndarray:
        """float32 H×W in [0, 1]: what methods and the estimator take."""
        return self.mapping.to_display(self.pixels)


def _type_range(dtype: np.dtype) -> tuple[float, float]:
    """The finite values ``dtype`` holds (floats: ±max; a float16 frame is widened to float32 on the way)."""
    if dtype.kind == "f":
        top = float(np.finfo(np.float32 if dtype.itemsize <= 4 else dtype).max)
        return -top, top
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def _finite(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values).ravel()
    return flat if flat.dtype.kind in "iu" else flat[np.isfinite(flat)]


def display_levels(mapping: RangeMapping, values: np.ndarray) -> int:
    """How many distinct 8-bit display levels the finite ``values`` land on through ``mapping``."""
    finite = _finite(values)
    if finite.size == 0:
        return 0
    if finite.dtype.kind in "iu" and finite.dtype.itemsize <= 2:  # map each distinct count once
        base = int(finite.min())
        finite = np.flatnonzero(np.bincount(finite.astype(np.int64) - base)) + base
    display = np.clip((finite.astype(np.float64) - mapping.low) * mapping._gain + mapping.display_low, 0, 1)
    return int(np.count_nonzero(np.bincount(np.rint(display * 255).astype(np.intp), minlength=256)))


def _agc(p_low: float, p_high: float, dtype: np.dtype, used: float | None) -> RangeMapping:
    """The percentile AGC of a frame whose body spans ``p_low``…``p_high`` in its own units."""
    low, high = p_low, p_high
    if high <= low:  # (nearly) constant body: any window shows it flat; keep it invertible within the type
        width = 1.0 if dtype.kind in "iu" else max(abs(low) * 1e-6, 1e-6)
        low, high = (low, low + width) if low + width <= _type_range(dtype)[1] else (low - width, low)
    d_low, d_high = DISPLAY_BAND
    return RangeMapping(
        "percentile", str(dtype), low, high, d_low, d_high, AGC_PERCENTILES, used_fraction=used
    )


def choose_mapping(
    values: np.ndarray, spec: RangeSpec | str = "auto", what: str | os.PathLike[str] = "frame"
) -> RangeMapping:
    """The mapping for one frame of raw ``values`` (its own sample type) under ``spec`` (module docstring).

    Whatever the source of the range, the result keeps at least :data:`MIN_DISPLAY_LEVELS` display levels
    of the frame's body (or all its own AGC shows, when fewer); otherwise one line names the frame and the
    range. ``auto`` never fails that check: it takes the AGC when the as-is mapping would.
    """
    spec = RangeSpec.parse(spec)
    array = np.asarray(values)
    dtype = array.dtype
    if dtype.kind not in "iuf":
        raise HmtirError(f"{what}: cannot map samples of type {dtype} to display")
    finite = _finite(array)
    if finite.size == 0:
        raise HmtirError(f"{what}: every pixel is NaN or Inf")
    p_low, p_high = (float(v) for v in np.percentile(finite, AGC_PERCENTILES))
    used = None
    if dtype.kind in "iu":
        t_low, t_high = _type_range(dtype)
        used = (p_high - p_low) / (t_high - t_low)
    display_float = dtype.kind == "f" and (
        float(finite.min()) >= -_DISPLAY_TOLERANCE and float(finite.max()) <= 1 + _DISPLAY_TOLERANCE
    )
    narrow = used is not None and used < NARROW_FRACTION and dtype.itemsize > 1
    try:
        agc = _agc(p_low, p_high, dtype, used)
        if spec.mode == "manual":
            assert spec.low is not None and spec.high is not None
            mapping = RangeMapping("manual", str(dtype), spec.low, spec.high, used_fraction=used)
        elif spec.mode == "full" or (
            spec.mode == "auto" and (display_float or (used is not None and not narrow))
        ):
            if dtype.kind == "f":
                if not display_float:
                    raise HmtirError(
                        f"--range full needs integers or floats in [0, 1], but this frame holds "
                        f"{float(finite.min()):.6g}…{float(finite.max()):.6g} (radiometric units?); "
                        "use --range auto or LOW,HIGH"
                    )
                mapping = RangeMapping("display", str(dtype), 0.0, 1.0)
            else:
                t_low, t_high = _type_range(dtype)
                mapping = RangeMapping("full", str(dtype), t_low, t_high, used_fraction=used, narrow=narrow)
        else:
            mapping = agc
    except HmtirError as error:
        raise HmtirError(f"{what}: {error}") from None
    body = finite[(finite >= p_low) & (finite <= p_high)]
    got = display_levels(mapping, body)
    needed = got if got >= MIN_DISPLAY_LEVELS else min(MIN_DISPLAY_LEVELS, display_levels(agc, body))
    if got < needed and spec.mode == "auto":
        mapping, got = agc, needed  # the AGC shows the body as well as any linear window can
    if got < needed:
        shown = str(spec) if spec.mode == "manual" else f"full ({mapping.low:.6g}…{mapping.high:.6g})"
        raise HmtirError(
            f"{what}: --range {shown} maps the frame's values {p_low:.6g}…{p_high:.6g} ({dtype}, "
            f"0.5–99.5th percentile) onto {got} of 256 display levels, fewer than {needed}; "
            "use --range auto or a LOW,HIGH window around those values"
        )
    mapped = (finite.astype(np.float64) - mapping.low) * mapping._gain + mapping.display_low
    clipped = float(np.count_nonzero((mapped < 0) | (mapped > 1)) / finite.size)
    return RangeMapping(**{**asdict(mapping), "clipped_fraction": clipped})


def read_raw(
    path: str | os.PathLike[str], range: RangeSpec | str = "auto", *, luminance: bool = False
) -> RawFrame:
    """Read a frame in its own units and choose its display mapping (``range``: see the module docstring)."""
    from hmtir.io.image import read_pixels

    pixels = read_pixels(path, luminance=luminance)
    return RawFrame(pixels, pixels.dtype, choose_mapping(pixels, range, what=path))


def write_raw(path: str | os.PathLike[str], display: np.ndarray, mapping: RangeMapping) -> np.ndarray:
    """Map ``display`` back through ``mapping`` and write it in the input's sample type; returns the pixels."""
    from hmtir.io.image import write_pixels

    pixels = mapping.from_display(display)
    write_pixels(path, pixels)
    return pixels
