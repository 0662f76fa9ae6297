"""Thermal video in and out (PyAV): grey frames in their own units, written back with the same timeline.

A clip is read twice. :func:`probe` decodes every frame once before anything is written, so everything
that can be wrong with a clip is one line naming it while no output exists: not a video, no video stream,
a frame over the pixel limit (checked from the stream header, before decoding), 0 frames, a truncated or
corrupt file (a decoding error, or fewer frames than the header's frame count or duration declare),
variable frame rate, colour frames. The caller gathers what it needs from each frame in that pass
(``on_frame``: statistics, the estimator's sample). :func:`read_frames` then decodes the clip again and
refuses it if the second pass disagrees with the first (the file changed under us).

* **Grey.** ``gray`` clips are read as uint8, ``gray10le``/``gray12le``/``gray16le``/``gray16be`` … as
  uint16 counts (a 14-bit camera's values stay counts; :mod:`hmtir.io.radiometric` maps them). A YUV or
  RGB clip is taken as grey only when it holds no colour: neutral chroma (within :data:`CHROMA_TOLERANCE`
  of 128, what a lossy codec leaves of grey) or equal R, G and B; its luma (or R) values are the frame.
  Any other frame is a colour frame, refused.
* **Constant frame rate.** Every timestamp must lie on the grid ``first + i / rate`` within one tick of
  the time base or 1 % of a frame period, whichever is larger (Matroska rounds to milliseconds: 67, 133,
  200 … at 15 fps). Anything else is a variable-frame-rate clip, refused.
* **Writing** (:class:`ClipWriter`): the frames' own timestamps, time base and rate, so the output has the
  same frame count, rate and timestamps; FFV1 (lossless) by default, ``gray`` for 8-bit sources and
  ``gray16le`` (or the source's 10/12-bit grey) for wider ones, in the input's container when it can hold
  the codec (mkv, avi, mp4; else the first of ``.mkv``, ``.mov``, ``.avi`` that can). A ``codec`` chosen by the user must be installed and able to
  store grey at the source's depth (``libx264``: ``gray``/``gray10le``; ``png``: ``gray``/``gray16be``);
  one that cannot (``mpeg4`` holds only YUV) is refused rather than silently converting the grey levels.
  The file is written under a hidden temporary name and renamed when the last frame is in: an interrupted
  clip never leaves a truncated file under its final name, and a re-run encodes it again from frame 0.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from hmtir.errors import HmtirError

#: Clip file names hmtir reads as video.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".mov")
#: Containers an output may keep (by suffix); others become ``.mkv``.
_CONTAINERS = {".mkv": "matroska", ".avi": "avi", ".mp4": "mp4", ".mov": "mov"}
DEFAULT_CODEC = "ffv1"
#: Grey pixel formats read as they are: format → numpy sample type.
GREY_FORMATS: dict[str, str] = {
    "gray": "uint8",
    "gray9le": "uint16",
    "gray10le": "uint16",
    "gray12le": "uint16",
    "gray14le": "uint16",
    "gray16le": "uint16",
    "gray9be": "uint16",
    "gray10be": "uint16",
    "gray12be": "uint16",
    "gray14be": "uint16",
    "gray16be": "uint16",
}
#: Largest |U − 128| or |V − 128| of a YUV frame still taken as grey (lossy codecs leave ±1–2).
CHROMA_TOLERANCE = 2
#: The share of a frame period a timestamp may stray from the constant-rate grid (when above one tick).
RATE_TOLERANCE = 0.01


def is_video(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a clip by its suffix (``.mp4``, ``.avi``, ``.mkv``, ``.mov``)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class ClipInfo:
    """What :func:`probe` learnt of a clip: its container, codec, size, grey format and exact timeline."""

    path: Path
    container: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    dtype: str
    rate: Fraction
    time_base: Fraction
    pts: tuple[int, ...] = field(repr=False)
    grey_from: str = "gray"  # gray | luma (neutral chroma) | rgb (equal channels)

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def bits(self) -> int:
        return np.dtype(self.dtype).itemsize * 8

    def seconds(self) -> list[float]:
        """Each frame's timestamp in seconds."""
        return [float(p * self.time_base) for p in self.pts]

    def as_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "codec": self.codec,
            "size": [self.height, self.width],
            "pix_fmt": self.pix_fmt,
            "dtype": self.dtype,
            "grey_from": self.grey_from,
            "frames": self.frames,
            "rate": str(self.rate),
            "time_base": str(self.time_base),
            "first_pts": self.pts[0],
            "duration_s": round(self.frames / float(self.rate), 6),
        }


def _av() -> Any:
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency; a broken install still gets one line
        raise HmtirError("reading video needs PyAV: pip install av") from None
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own warnings would interleave with progress bars
    return av


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())


def _open(path: Path) -> Any:
    av = _av()
    try:
        container = av.open(str(path), "r")
    except FileNotFoundError:
        raise HmtirError(f"input not found: {path}") from None
    except (av.FFmpegError, OSError, ValueError, IndexError) as error:
        raise HmtirError(f"{path}: not a readable video ({_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise HmtirError(f"{path}: holds no video stream")
    return container


def grey_pixels(frame: Any, path: Path, index: int) -> tuple[np.ndarray, str]:
    """A decoded frame as a grey H×W array in its own units, and where the grey came from; colour is refused."""
    name = frame.format.name
    if name in GREY_FORMATS:
        pixels = frame.to_ndarray()
        return pixels.astype(GREY_FORMATS[name], copy=False), "gray"
    components = frame.format.components
    depth = max(c.bits for c in components) if components else 0
    colour = f"{path}: frame {index} is a colour frame ({name}); hmtir enhances grey thermal video"
    if depth > 8:
        raise HmtirError(
            f"{path}: frame {index} has pixel format {name}, which is not a grey format hmtir reads"
        )
    if name.startswith(("yuv", "yuvj", "nv")):
        yuv = frame.to_ndarray(format="yuv444p")
        if int(np.abs(yuv[1:].astype(np.int16) - 128).max()) > CHROMA_TOLERANCE:
            raise HmtirError(colour)
        return np.ascontiguousarray(yuv[0]), "luma"
    try:
        rgb = frame.to_ndarray(format="rgb24")
    except Exception as error:  # noqa: BLE001 - whatever swscale cannot convert is not a grey frame
        raise HmtirError(f"{path}: frame {index} has pixel format {name} ({_reason(error)})") from None
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        raise HmtirError(colour)
    return np.ascontiguousarray(rgb[..., 0]), "rgb"


def _decode(
    path: Path, container: Any, on_frame: Callable[[int, np.ndarray, int], None]
) -> tuple[str, int, str]:
    """Decode every frame of the first video stream (calling ``on_frame(index, pixels, pts)``); returns the
    first frame's format, the frame count and where grey came from. Decoding errors are one line."""
    av = _av()
    stream = container.streams.video[0]
    count, fmt, grey_from = 0, "", "gray"
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                raise HmtirError(f"{path}: frame {count} has no timestamp; hmtir needs timed frames")
            pixels, grey_from = grey_pixels(frame, path, count)
            fmt = fmt or frame.format.name
            on_frame(count, pixels, int(frame.pts))
            count += 1
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        raise HmtirError(
            f"{path}: cannot decode frame {count} ({_reason(error)}): truncated or corrupt video"
        ) from None
    return fmt, count, grey_from


def probe(
    path: str | os.PathLike[str], on_frame: Callable[[int, np.ndarray], None] | None = None
) -> ClipInfo:
    """Decode ``path`` once and check it (module docstring); ``on_frame(index, pixels)`` sees every frame.

    The pixel limit (:func:`hmtir.io.image.check_pixel_count`) is checked from the stream header before
    the first frame is decoded.
    """
    from hmtir.io.image import check_pixel_count

    path = Path(path)
    pts: list[int] = []
    shape: list[tuple[int, ...]] = []

    def seen(index: int, pixels: np.ndarray, stamp: int) -> None:
        if not shape:
            if not (width and height):  # a header without a size: the first frame's own, before the rest
                check_pixel_count(pixels.shape[1], pixels.shape[0], f"{path} (one frame)")
            shape.append(pixels.shape)
        elif pixels.shape != shape[0]:
            raise HmtirError(
                f"{path}: frame {index} is {pixels.shape[1]}×{pixels.shape[0]} px, not "
                f"{shape[0][1]}×{shape[0][0]} like frame 0"
            )
        pts.append(stamp)
        if on_frame is not None:
            on_frame(index, pixels)

    with ExitStack() as stack:
        container = stack.enter_context(_open(path))
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if width and height:
            check_pixel_count(width, height, f"{path} (one frame)")
        time_base = stream.time_base
        declared = int(stream.frames or 0)
        duration = (
            float(stream.duration * time_base)
            if stream.duration
            else (container.duration / 1e6 if container.duration else None)
        )
        fmt, count, grey_from = _decode(path, container, seen)
        codec = stream.codec_context.name
        container_name = container.format.name
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if count == 0:
        raise HmtirError(f"{path}: the clip holds 0 frames")
    if time_base is None or not rate or rate <= 0:
        raise HmtirError(f"{path}: the clip declares no frame rate or time base")
    rate, time_base = Fraction(rate), Fraction(time_base)
    if declared and count < declared:
        raise HmtirError(
            f"{path}: only {count} of the {declared} frames its header declares decode: truncated or corrupt video"
        )
    _check_constant_rate(path, pts, rate, time_base)
    span = count / float(rate)
    if duration is not None and duration - span > 0.5 / float(rate) and not declared:
        raise HmtirError(
            f"{path}: it declares {duration:.3f} s but its {count} frames cover {span:.3f} s: "
            "truncated or corrupt video"
        )
    dtype = GREY_FORMATS.get(fmt, "uint8")
    return ClipInfo(
        path,
        container_name,
        codec,
        shape[0][1],
        shape[0][0],
        fmt,
        dtype,
        rate,
        time_base,
        tuple(pts),
        grey_from,
    )


def _check_constant_rate(path: Path, pts: list[int], rate: Fraction, time_base: Fraction) -> None:
    period = 1 / rate
    tolerance = max(time_base, period * Fraction(RATE_TOLERANCE))
    first = pts[0]
    for index, stamp in enumerate(pts):
        drift = abs((stamp - first) * time_base - index * period)
        if drift > tolerance:
            raise HmtirError(
                f"{path}: variable frame rate (frame {index} is at {float(stamp * time_base):.4f} s, "
                f"{float(drift) * 1000:.1f} ms off the {float(rate):.4g} frames/s grid); hmtir enhances "
                "constant-rate clips"
            )


def read_frames(info: ClipInfo) -> Iterator[tuple[int, np.ndarray]]:
    """``(pts, pixels)`` of every frame of a probed clip, decoded again; a clip that changed since
    :func:`probe` (another frame count, timestamp or size) is one line."""
    path = info.path
    container = _open(path)
    try:
        stream = container.streams.video[0]
        av = _av()
        index = 0
        try:
            for frame in container.decode(stream):
                pixels, _ = grey_pixels(frame, path, index)
                if (
                    index >= info.frames
                    or frame.pts != info.pts[index]
                    or pixels.shape != (info.height, info.width)
                ):
                    raise HmtirError(
                        f"{path}: frame {index} differs from the first reading: the file changed"
                    )
                yield info.pts[index], pixels
                index += 1
        except (av.FFmpegError, OSError, ValueError, EOFError) as error:
            raise HmtirError(f"{path}: cannot decode frame {index} ({_reason(error)})") from None
        if index != info.frames:
            raise HmtirError(f"{path}: {index} frames decode now, {info.frames} did before: the file changed")
    finally:
        container.close()


def output_suffix(source: str | os.PathLike[str], codec: str | None = None) -> str:
    """The suffix of a clip's output: the input's own when its container can hold the codec, else the first
    of ``.mkv``, ``.mov``, ``.avi`` that can (Matroska takes no PNG frames; MOV takes no FFV1)."""
    av = _av()
    own = Path(source).suffix.lower()
    for suffix in dict.fromkeys((own, ".mkv", ".mov", ".avi")):
        container = _CONTAINERS.get(suffix)
        if container is None:
            continue
        try:
            with av.open(io.BytesIO(), "w", format=container) as trial:
                trial.add_stream(codec or DEFAULT_CODEC, rate=25)
        except Exception:  # noqa: BLE001 - any refusal means: this container does not take this codec
            continue
        return suffix
    return ".mkv"  # an encoder no container takes: writing it names the problem in one line


def check_codec(codec: str | None, dtype: str, pix_fmt: str = "") -> tuple[str, str]:
    """``(codec, pixel format)`` to write grey frames of ``dtype`` (the source's ``pix_fmt`` when it can).

    One line when the codec is not installed or cannot store grey at that depth (module docstring).
    """
    av = _av()
    name = codec or DEFAULT_CODEC
    try:
        found = av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - UnknownCodecError or a decoder-only name
        raise HmtirError(
            f"--codec {name}: no such video encoder is installed (lossless grey: ffv1, png; lossy: libx264)"
        ) from None
    if found.type != "video":
        raise HmtirError(f"--codec {name}: a {found.type} codec, not a video encoder")
    formats = [f.name for f in (found.video_formats or [])]
    wanted = (
        ["gray"]
        if dtype == "uint8"
        else [f for f in (pix_fmt, "gray16le", "gray16be") if f in GREY_FORMATS and f != "gray"]
    )
    for fmt in wanted:
        if not formats or fmt in formats:
            return name, fmt
    raise HmtirError(
        f"--codec {name} cannot store {dtype} grey frames (it takes {', '.join(formats) or 'no listed format'}); "
        f"use ffv1{' or png' if dtype == 'uint16' else ', png or libx264'}"
    )


class ClipWriter:
    """Write a clip's frames with its own timestamps to ``target``, atomically (module docstring).

    Use as a context manager: :meth:`write` each frame in order; leaving the block normally renames the
    finished file to ``target``, an exception removes the temporary file.
    """

    def __init__(self, target: str | os.PathLike[str], info: ClipInfo, codec: str | None = None) -> None:
        self.target = Path(target)
        self.info = info
        self.codec, self.pix_fmt = check_codec(codec, info.dtype, info.pix_fmt)
        self.written = 0
        self._stack = ExitStack()

    def __enter__(self) -> ClipWriter:
        from hmtir.io.atomic import atomic_path

        av = _av()
        tmp = self._stack.enter_context(atomic_path(self.target))
        fmt = _CONTAINERS.get(self.target.suffix.lower(), "matroska")
        try:
            self.container = self._stack.enter_context(av.open(str(tmp), "w", format=fmt))
            self.stream = self.container.add_stream(self.codec, rate=self.info.rate)
            self.stream.width, self.stream.height = self.info.width, self.info.height
            self.stream.pix_fmt = self.pix_fmt
            self.stream.time_base = self.info.time_base
            self.stream.codec_context.time_base = self.info.time_base
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            if isinstance(error, (av.FFmpegError, ValueError, OSError)):
                raise HmtirError(
                    f"cannot write {self.target} with codec {self.codec}: {_reason(error)}"
                ) from None
            raise
        return self

    def write(self, pixels: np.ndarray, pts: int) -> None:
        """Encode one grey frame (the source's sample type) at timestamp ``pts`` (in the source's time base)."""
        av = _av()
        array = np.ascontiguousarray(pixels)
        source_fmt = "gray" if array.dtype == np.uint8 else "gray16le"
        frame = av.VideoFrame.from_ndarray(
            array.astype("<u2") if source_fmt != "gray" else array, format=source_fmt
        )
        if self.pix_fmt != source_fmt:
            frame = frame.reformat(format=self.pix_fmt)
        frame.pts = int(pts)
        frame.time_base = self.info.time_base
        self._mux(self.stream.encode(frame))
        self.written += 1

    def _mux(self, packets: Any) -> None:
        av = _av()
        try:
            for packet in packets:
                if not packet.duration and packet.time_base:  # the muxer would guess the last frame's length
                    packet.duration = max(1, round(1 / (self.info.rate * packet.time_base)))
                self.container.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as error:
            raise HmtirError(f"cannot write {self.target}: {_reason(error)}") from None

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        if error is None:
            try:
                self._mux(self.stream.encode(None))
                if self.written != self.info.frames:
                    raise HmtirError(
                        f"{self.target}: {self.written} of {self.info.frames} frames were written; not kept"
                    )
            except BaseException as failed:
                self._stack.__exit__(type(failed), failed, failed.__traceback__)
                raise
        self._stack.__exit__(kind, error, trace)


def same_timeline(a: ClipInfo, b: ClipInfo) -> str | None:
    """Why two probed clips do not share frame count, rate and timestamps (to a millisecond), or None."""
    if a.frames != b.frames:
        return f"{a.frames} frames vs {b.frames}"
    if a.rate != b.rate:
        return f"rate {a.rate} vs {b.rate}"
    tick = max(float(a.time_base), float(b.time_base))
    worst = max(abs(x - y) for x, y in zip(a.seconds(), b.seconds()))
    if worst > tick / 2 + 1e-9 and not math.isclose(worst, tick / 2):
        return f"timestamps differ by up to {worst * 1000:.2f} ms"
    return None
