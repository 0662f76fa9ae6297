"""Read and write grey TIR frames as float32 in [0, 1], keeping the source bit depth.

Every format goes through OpenCV (``imdecode``/``imencode`` with ``IMREAD_UNCHANGED``):

* libpng keeps 16-bit grey *and* 16-bit RGB PNGs at 16 bits (Pillow would quietly drop 48-bit RGB to 8);
* libtiff reads LZW/deflate-compressed and float32 TIFFs, which tifffile cannot without ``imagecodecs``;
* ``IMREAD_UNCHANGED`` ignores EXIF rotation and does no colour conversion, so pixels are the sensor's.

We decode from bytes rather than ``imread`` so that missing, empty, directory and permission failures get
their own one-line message instead of OpenCV's bare ``None``, and we silence OpenCV's log while decoding
so a corrupt file yields exactly one line (ours), not libpng/libtiff chatter on stderr.

Only PNG, TIFF, JPEG and BMP are decoded, chosen by their signature bytes (what ``imdecode`` dispatches on),
and only once Pillow has read the declared size from the header and it is within the pixel limit. Every
other format OpenCV would accept (HDR, PFM, Netpbm, Sun raster, WebP, JPEG 2000, GIF, AVIF …) is refused
unread, whatever the file is called: decoding it first is how a 5 MB file becomes 2.5 GB of pixels.

Integer data is scaled by its type's maximum (255 or 65535) and written back with ``np.rint(x * max)``
(round half to even), so 8- and 16-bit frames round-trip exactly.  OpenCV would silently fall back to
8 bits when asked to write 16-bit JPEG/BMP; we refuse instead.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path

#: ITU-R BT.601 luma weights, in R, G, B order.
BT601_RGB = (0.299, 0.587, 0.114)
#: Values this close outside [0, 1] are treated as float round-off and clipped on write.
RANGE_TOLERANCE = 1e-6

_INTEGER_MAX = {np.dtype(np.uint8): (255, 8), np.dtype(np.uint16): (65535, 16)}
_SUFFIX_DEPTHS = {
    ".png": (8, 16),
    ".tif": (8, 16, 32),
    ".tiff": (8, 16, 32),
    ".jpg": (8,),
    ".jpeg": (8,),
    ".bmp": (8,),
}
#: What ``write_image`` stores for each bit depth (32 means float32, TIFF only).
_DEPTH_DTYPES = {8: np.uint8, 16: np.uint16, 32: np.float32}
JPEG_QUALITY = 95
#: Largest frame read, in pixels (``$HMTIR_MAX_PIXELS`` overrides): a 640×512 TIR frame is 0.33 MP, so the
#: default leaves room for mosaics while a 431 KB PNG that *declares* 20000×20000 is refused from its header.
DEFAULT_MAX_PIXELS = 1 << 26
MAX_PIXELS_ENV = "HMTIR_MAX_PIXELS"
_MAX_BYTES_PER_PIXEL = 8  # float64 TIFF, uncompressed: a larger file cannot be a frame within the limit


class Frame(NamedTuple):
    """A grey frame: ``data`` is float32 H×W in [0, 1]; ``bit_depth`` is 8, 16 or 32 (float TIFF)."""

    data: np.ndarray
    bit_depth: int


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own logging (libpng/libtiff errors) for the duration; we report failures ourselves."""
    import cv2

    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def max_pixels() -> int:
    """The pixel limit for every image hmtir reads: ``$HMTIR_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value.replace("_", ""))
    except ValueError:
        limit = 0
    if limit < 1:
        raise HmtirError(f"${MAX_PIXELS_ENV} must be a positive whole number of pixels, got '{value}'")
    return limit


def check_pixel_count(width: int, height: int, what: str) -> None:
    """Refuse a frame larger than :func:`max_pixels` before any pixel is decoded."""
    limit = max_pixels()
    if width * height > limit:
        raise HmtirError(
            f"{what}: {width}×{height} = {width * height:,} pixels is over the limit of {limit:,} "
            f"(set {MAX_PIXELS_ENV} to raise it)"
        )


#: The formats hmtir decodes, by the first bytes OpenCV's ``imdecode`` dispatches on (it sniffs content, not
#: the extension), with the Pillow format names whose header parse gives the size before any pixel is decoded.
#: No other decoder's signature shares a first byte with these, so a match means this decoder runs.
_DECODED = (
    (b"\x89PNG\r\n\x1a\n", "PNG", ("PNG",)),
    (b"\xff\xd8\xff", "JPEG", ("JPEG", "MPO")),
    (b"II*\x00", "TIFF", ("TIFF",)),
    (b"MM\x00*", "TIFF", ("TIFF",)),
    (b"II+\x00", "TIFF", ("TIFF",)),  # BigTIFF
    (b"MM\x00+", "TIFF", ("TIFF",)),
    (b"BM", "BMP", ("BMP",)),
)
DECODED_FORMATS = "PNG, TIFF, JPEG and BMP"
#: Formats OpenCV (or Pillow) would also decode but hmtir refuses unread, named so the message can say which.
#: Their headers are not probed, so decoding one could allocate any size the file declares.
_REFUSED = (
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"PF", "PFM (portable float map)"),
    (b"Pf", "PFM (portable float map)"),
    *((b"P" + bytes([digit]), "Netpbm (PBM/PGM/PPM/PAM)") for digit in b"1234567"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"GIF8", "GIF"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
)


def _sniff(raw: bytes) -> tuple[str, tuple[str, ...]] | str | None:
    """(format, Pillow names) for a format hmtir decodes, a refused format's name, or None when unknown."""
    for magic, name, pillow_names in _DECODED:
        if raw.startswith(magic):
            return name, pillow_names
    for magic, name in _REFUSED:
        if raw.startswith(magic):
            return name
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WebP"
    if raw[4:8] == b"ftyp":
        return "AVIF/HEIF"
    return None


def _declared_size(raw: bytes, what: str) -> tuple[int, int]:
    """(width, height) from the header alone; refuses, without decoding, any format not probed here.

    OpenCV decodes first and reports the size after: a 5 MB Radiance HDR declaring 9000×9000 cost 2.47 GB
    before a check on the decoded array could speak. So only formats whose header we read are decoded.
    """
    import io
    import warnings

    from PIL import Image

    sniffed = _sniff(raw)
    if sniffed is None:
        raise HmtirError(f"{what}: not a valid image file")
    if isinstance(sniffed, str):
        raise HmtirError(f"{what}: a {sniffed} file; hmtir reads {DECODED_FORMATS} only (convert it)")
    _, pillow_names = sniffed
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels())  # ours is the limit that speaks
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(raw), formats=pillow_names) as image:
                return image.size
    except Image.DecompressionBombError:
        raise HmtirError(
            f"{what}: declares more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, over the limit of "
            f"{max_pixels():,} (set {MAX_PIXELS_ENV} to raise it)"
        ) from None
    except Exception:  # noqa: BLE001 - a damaged header: no size, so nothing is decoded
        size = _tiff_size(raw) if sniffed[0] == "TIFF" else None  # Pillow has no float64 mode
        if size is None:
            raise HmtirError(f"{what}: not a valid image file") from None
        return size


def _tiff_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) of a TIFF's first page from its tags alone (tifffile reads no pixels), or None."""
    import io

    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(raw)) as tiff:
            page = tiff.pages[0]
            return int(page.imagewidth), int(page.imagelength)
    except Exception:  # noqa: BLE001 - not a TIFF tifffile can parse either
        return None


def _read_bytes(path: Path) -> bytes:
    """The whole file, refused unread when it cannot be a frame within the pixel limit.

    Only regular files are read: ``st_size`` of a device or pipe (``/dev/zero``, a FIFO) is 0, so the size
    check would pass and the read would never end. The read itself is capped too (a file may grow).
    """

    def fail(reason: str) -> HmtirError:
        return HmtirError(f"cannot read image {path}: {reason}")

    limit = max_pixels() * _MAX_BYTES_PER_PIXEL + (16 << 20)
    too_big = f"more than any frame within the pixel limit can take ({MAX_PIXELS_ENV})"
    if path.is_dir():
        raise fail("is a directory")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise fail("not a regular file (a device, pipe or socket)")
        if info.st_size > limit:
            raise fail(f"{info.st_size:,} bytes is {too_big}")
        # O_NONBLOCK: a pipe swapped in after the check cannot block the open (no effect on regular files)
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise fail("not a regular file (a device, pipe or socket)")
            raw = fh.read(limit + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as exc:
        raise fail(exc.strerror or type(exc).__name__) from None
    if len(raw) > limit:
        raise fail(f"over {limit:,} bytes is {too_big}")
    if not raw:
        raise fail("file is empty (0 bytes)")
    return raw


def _decode(path: Path, raw: bytes) -> np.ndarray:
    import cv2

    what = f"cannot read image {path}"
    check_pixel_count(*_declared_size(raw, what), what)
    with _quiet_opencv():
        try:
            pixels = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            pixels = None
    if pixels is None or pixels.size == 0:
        raise HmtirError(f"cannot read image {path}: not a valid image file")
    check_pixel_count(pixels.shape[1], pixels.shape[0], what)
    return pixels


def _to_grey(path: Path, pixels: np.ndarray, luminance: bool) -> np.ndarray:
    """Collapse channels: grey(+alpha) → grey; colour with equal channels → one; else luma or an error."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels <= 2:  # grey, or grey + alpha
        return pixels[..., 0]
    bgr = pixels[..., :3]  # OpenCV order; a 4th channel is alpha and is ignored
    if np.array_equal(bgr[..., 0], bgr[..., 1]) and np.array_equal(bgr[..., 0], bgr[..., 2]):
        return bgr[..., 0]
    if not luminance:
        raise HmtirError(
            f"cannot read image {path}: colour image with unequal channels; convert it to grey "
            "or ask for a luminance conversion (luminance=True)"
        )
    red, green, blue = (bgr[..., i].astype(np.float64) for i in (2, 1, 0))
    weight_r, weight_g, weight_b = BT601_RGB
    return weight_r * red + weight_g * green + weight_b * blue  # float64, still in the integer scale


def read_image(path: str | os.PathLike[str], *, luminance: bool = False) -> Frame:
    """Read a grey TIR frame as float32 in [0, 1]; ``luminance=True`` converts true colour via BT.601 luma."""
    path = Path(path)
    pixels = _decode(path, _read_bytes(path))
    source_dtype = pixels.dtype
    grey = _to_grey(path, pixels, luminance)
    if source_dtype in _INTEGER_MAX:
        maxval, bit_depth = _INTEGER_MAX[source_dtype]
        data = (grey.astype(np.float64) / maxval).astype(np.float32)
        return Frame(data, bit_depth)
    if source_dtype.kind == "f":
        data = grey.astype(np.float32)
        if not np.isfinite(data).all():
            raise HmtirError(f"cannot read image {path}: float image contains NaN or Inf values")
        low, high = float(data.min()), float(data.max())
        if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise HmtirError(
                f"cannot read image {path}: float values must lie in [0, 1], found [{low:.6g}, {high:.6g}]"
            )
        return Frame(np.clip(data, 0.0, 1.0), 32)
    raise HmtirError(
        f"cannot read image {path}: unsupported sample type {source_dtype} "
        "(expected 8- or 16-bit unsigned integers, or float32 in [0, 1])"
    )


#: Sample types a raw frame may hold (:func:`read_pixels`), and what each format can store (:func:`write_pixels`).
RAW_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64))
_RAW_SUFFIX_DTYPES = {
    ".png": (np.dtype(np.uint8), np.dtype(np.uint16)),
    ".tif": RAW_DTYPES,
    ".tiff": RAW_DTYPES,
    ".jpg": (np.dtype(np.uint8),),
    ".jpeg": (np.dtype(np.uint8),),
    ".bmp": (np.dtype(np.uint8),),
}


def read_pixels(path: str | os.PathLike[str], *, luminance: bool = False) -> np.ndarray:
    """A grey frame in its own sample type and units (counts, Kelvin …), for raw radiometric data.

    Unlike :func:`read_image` nothing is scaled and float data may lie outside [0, 1] or hold NaN (masked
    pixels); :mod:`hmtir.io.radiometric` decides how to map it to display. Same pixel limit and one-line
    errors as :func:`read_image`; colour is collapsed the same way (luma rounded back to the sample type).
    """
    path = Path(path)
    pixels = _decode(path, _read_bytes(path))
    if pixels.dtype not in RAW_DTYPES:
        raise HmtirError(
            f"cannot read image {path}: unsupported sample type {pixels.dtype} "
            f"(expected one of {', '.join(str(t) for t in RAW_DTYPES)})"
        )
    grey = _to_grey(path, pixels, luminance)
    if grey.dtype != pixels.dtype:  # BT.601 luma of true colour, float64 in the source's scale
        if pixels.dtype.kind in "iu":
            info = np.iinfo(pixels.dtype)
            grey = np.clip(np.rint(grey), info.min, info.max)
        grey = grey.astype(pixels.dtype)
    return np.ascontiguousarray(grey)


def write_pixels(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write a grey frame in its own sample type, atomically; refuse a format that would change the type."""

    path = Path(path)
    suffix = path.suffix.lower()
    array = np.asarray(pixels)
    allowed = _RAW_SUFFIX_DTYPES.get(suffix)
    if allowed is None:
        raise HmtirError(
            f"cannot write image {path}: unsupported extension '{path.suffix}' (use one of {', '.join(_RAW_SUFFIX_DTYPES)})"
        )
    if array.ndim != 2 or array.size == 0:
        raise HmtirError(
            f"cannot write image {path}: expected a non-empty H×W grey frame, got shape {array.shape}"
        )
    if array.dtype not in allowed:
        raise HmtirError(
            f"cannot write image {path}: {suffix} cannot store {array.dtype} samples "
            f"({', '.join(str(t) for t in allowed)}); use .tiff"
        )
    _encode_atomically(path, suffix, array)


def _check_data(path: Path, data: np.ndarray) -> np.ndarray:
    def fail(reason: str) -> HmtirError:
        return HmtirError(f"cannot write image {path}: {reason}")

    array = np.asarray(data)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.size == 0:
        raise fail(f"expected a non-empty H×W grey frame, got shape {array.shape}")
    if array.dtype.kind != "f":
        raise fail(f"expected float data in [0, 1], got {array.dtype}")
    if not np.isfinite(array).all():
        raise fail("data contains NaN or Inf values")
    low, high = float(array.min()), float(array.max())
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise fail(f"data must lie in [0, 1], found [{low:.6g}, {high:.6g}]")
    return np.clip(array, 0.0, 1.0)


def write_image(path: str | os.PathLike[str], data: np.ndarray, bit_depth: int = 8) -> None:
    """Write float data in [0, 1] atomically; format by extension; 16-bit for PNG/TIFF, 32 = float TIFF."""
    import cv2

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIX_DEPTHS:
        raise HmtirError(
            f"cannot write image {path}: unsupported extension '{path.suffix}' "
            f"(use one of {', '.join(_SUFFIX_DEPTHS)})"
        )
    if bit_depth not in _DEPTH_DTYPES:
        raise HmtirError(f"cannot write image {path}: bit_depth must be 8, 16 or 32, not {bit_depth}")
    if bit_depth not in _SUFFIX_DEPTHS[suffix]:
        allowed = "PNG and TIFF" if bit_depth == 16 else "TIFF"
        raise HmtirError(
            f"cannot write image {path}: {bit_depth}-bit output is only possible for {allowed}, "
            f"not {suffix}; choose another extension rather than losing precision"
        )
    grey = _check_data(path, data)
    dtype = _DEPTH_DTYPES[bit_depth]
    if bit_depth == 32:
        pixels = grey.astype(np.float32)
    else:
        pixels = np.rint(grey * np.iinfo(dtype).max).astype(dtype)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
    _encode_atomically(path, suffix, pixels, params)


def _encode_atomically(path: Path, suffix: str, pixels: np.ndarray, params: list[int] | None = None) -> None:
    """Encode in memory (a failing encoder leaves no file), then write through a temporary sibling."""
    import cv2

    with _quiet_opencv():
        ok, encoded = cv2.imencode(suffix, pixels, params or [])
    if not ok:
        raise HmtirError(f"cannot write image {path}: the {suffix} encoder failed")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(encoded.tobytes())
    except OSError as exc:
        raise HmtirError(f"cannot write image {path}: {exc.strerror or type(exc).__name__}") from None
