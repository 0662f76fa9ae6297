"""A corpus of hostile leaderboard submissions, generated on the fly from one valid submission.

Each case mutates a fresh copy of a valid submission (``composited/normal`` of the demo benchmark, eight
8-bit PNGs) and names the fragment of the one-line error it must produce. Bombs are built small on disk
(highly compressible zeros, or headers that merely *declare* huge sizes), so the corpus costs a few MB of
temporary space and nothing in the repository.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

SUBSET = "composited/normal"
IMAGES = Path("images") / SUBSET
METADATA = """\
method: hostile-example
display_name: Hostile example
kind: reference
benchmark: demo
subsets: [composited/normal]
authors: [Mallory]
license: MIT
training_data: none
extra_data: false
"""


def make_valid(target: Path, demo: Path) -> Path:
    """A complete, valid submission: the degraded inputs themselves (identity)."""
    (target / IMAGES).mkdir(parents=True)
    for file in sorted((demo / SUBSET).glob("*.png")):
        shutil.copyfile(file, target / IMAGES / file.name)
    (target / "submission.yaml").write_text(METADATA, encoding="utf-8")
    return target


def _first(sub: Path) -> Path:
    return sorted((sub / IMAGES).glob("*.png"))[0]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width×height 8-bit grey but whose data is a few bytes: a header bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _to_archive(sub: Path, kind: str, extra: Callable[[object], None] | None = None) -> None:
    """Move images/ into images.zip or images.tar.gz, then let ``extra`` add hostile members."""
    folder = sub / "images"
    if kind == "zip":
        with zipfile.ZipFile(sub / "images.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(folder.rglob("*.png")):
                zf.write(file, file.relative_to(folder).as_posix())
            if extra:
                extra(zf)
    else:
        with tarfile.open(sub / "images.tar.gz", "w:gz") as tf:
            for file in sorted(folder.rglob("*.png")):
                tf.add(file, file.relative_to(folder).as_posix())
            if extra:
                extra(tf)
    shutil.rmtree(folder)


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes = b"", **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if data else None)


def _zip_symlink(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo(f"{SUBSET}/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, "/etc/passwd")


def _write_tiff(path: Path, array: np.ndarray, **kwargs: object) -> None:
    tifffile.imwrite(path, array, **kwargs)


def _replace_with_tiff(
    sub: Path, array_for: Callable[[tuple[int, int]], np.ndarray], **kwargs: object
) -> None:
    first = _first(sub)
    shape = (128, 160)
    first.unlink()
    _write_tiff(first.with_suffix(".tif"), array_for(shape), **kwargs)


def _float_with(value: float) -> Callable[[tuple[int, int]], np.ndarray]:
    def build(shape: tuple[int, int]) -> np.ndarray:
        array = np.full(shape, 0.5, np.float32)
        array[3, 4] = value
        return array

    return build


# --- the cases ------------------------------------------------------------------------------------------


def traversal_zip(sub: Path) -> None:
    _to_archive(sub, "zip", lambda zf: zf.writestr("../evil.png", b"x"))


def absolute_zip(sub: Path) -> None:
    _to_archive(sub, "zip", lambda zf: zf.writestr("/tmp/evil.png", b"x"))


def traversal_tar(sub: Path) -> None:
    _to_archive(sub, "tar", lambda tf: _tar_add(tf, f"{SUBSET}/../../../evil.png", b"x"))


def absolute_tar(sub: Path) -> None:
    _to_archive(sub, "tar", lambda tf: _tar_add(tf, "/etc/cron.d/evil", b"x"))


def symlink_tar(sub: Path) -> None:
    _to_archive(
        sub,
        "tar",
        lambda tf: _tar_add(tf, f"{SUBSET}/link.png", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
    )


def hardlink_tar(sub: Path) -> None:
    target = f"{SUBSET}/{_first(sub).name}"
    _to_archive(
        sub, "tar", lambda tf: _tar_add(tf, f"{SUBSET}/hard.png", type=tarfile.LNKTYPE, linkname=target)
    )


def device_tar(sub: Path) -> None:
    _to_archive(
        sub, "tar", lambda tf: _tar_add(tf, f"{SUBSET}/dev.png", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    )


def symlink_zip(sub: Path) -> None:
    _to_archive(sub, "zip", _zip_symlink)


def zip_bomb_size(sub: Path) -> None:
    _to_archive(sub, "zip", lambda zf: zf.writestr(f"{SUBSET}/bomb.png", b"\x00" * (64 << 20)))


def zip_bomb_ratio(sub: Path) -> None:
    # 1.05 MiB of zeros: under the per-file cap of a 128×160 frame, but it expands ~1000x
    _to_archive(sub, "zip", lambda zf: zf.writestr(f"{SUBSET}/bomb.png", b"\x00" * ((1 << 20) + (50 << 10))))


def tar_too_many_members(sub: Path) -> None:
    def add(tf: tarfile.TarFile) -> None:
        for i in range(200):
            _tar_add(tf, f"{SUBSET}/spam_{i:03d}.png", b"x")

    _to_archive(sub, "tar", add)


def not_an_archive(sub: Path) -> None:
    shutil.rmtree(sub / "images")
    (sub / "images.zip").write_text("this is not a zip file\n")


def symlink_in_folder(sub: Path) -> None:
    first = _first(sub)
    first.unlink()
    os.symlink("/etc/passwd", first)


def hardlink_in_folder(sub: Path) -> None:
    first = _first(sub)
    outside = sub.parent / f"{sub.name}-outside.png"
    shutil.copyfile(first, outside)
    first.unlink()
    os.link(outside, first)


def images_dir_symlink(sub: Path) -> None:
    real = sub.parent / f"{sub.name}-real-images"
    shutil.move(sub / "images", real)
    os.symlink(real, sub / "images")


def metadata_symlink(sub: Path) -> None:
    real = sub.parent / f"{sub.name}-meta.yaml"
    shutil.move(sub / "submission.yaml", real)
    os.symlink(real, sub / "submission.yaml")


def huge_declared_png(sub: Path) -> None:
    _first(sub).write_bytes(png_declaring(100_000, 100_000))


def long_side_png(sub: Path) -> None:
    _first(sub).write_bytes(png_declaring(20_000, 128))


def wrong_size(sub: Path) -> None:
    _first(sub).write_bytes(png_declaring(161, 128))


def not_an_image(sub: Path) -> None:
    _first(sub).write_text("#!/bin/sh\necho pwned\n")


def truncated_png(sub: Path) -> None:
    first = _first(sub)
    first.write_bytes(first.read_bytes()[:200])


def tiff_named_png(sub: Path) -> None:
    first = _first(sub)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((128, 160), np.uint8))
    first.write_bytes(buffer.getvalue())


def nan_float_tiff(sub: Path) -> None:
    _replace_with_tiff(sub, _float_with(float("nan")))


def inf_float_tiff(sub: Path) -> None:
    _replace_with_tiff(sub, _float_with(float("inf")))


def out_of_range_float_tiff(sub: Path) -> None:
    _replace_with_tiff(sub, _float_with(7.0))


def int32_tiff(sub: Path) -> None:
    _replace_with_tiff(sub, lambda shape: np.zeros(shape, np.int32))


def rgb_png(sub: Path) -> None:
    from PIL import Image

    Image.new("RGB", (160, 128), (10, 200, 30)).save(_first(sub))


def one_bit_png(sub: Path) -> None:
    from PIL import Image

    Image.new("1", (160, 128)).save(_first(sub))


def multi_frame_tiff(sub: Path) -> None:
    _replace_with_tiff(sub, lambda shape: np.zeros((2, *shape), np.uint8))


def case_collision(sub: Path) -> None:
    first = _first(sub)
    shutil.copyfile(first, first.with_name(first.name.upper()))


def nfd_name(sub: Path) -> None:
    first = _first(sub)
    shutil.copyfile(first, first.with_name(unicodedata.normalize("NFD", "café.png")))


def nfc_nfd_collision(sub: Path) -> None:
    first = _first(sub)
    shutil.copyfile(first, first.with_name(unicodedata.normalize("NFC", "é.png")))
    shutil.copyfile(first, first.with_name(unicodedata.normalize("NFD", "é.png")))


def control_char_name(sub: Path) -> None:
    first = _first(sub)
    shutil.copyfile(first, first.with_name("street\x07.png"))


def same_image_twice(sub: Path) -> None:
    first = _first(sub)
    _write_tiff(first.with_suffix(".tif"), np.zeros((128, 160), np.uint8))


def extra_image(sub: Path) -> None:
    shutil.copyfile(_first(sub), sub / IMAGES / "bonus_999.png")


def extra_text_file(sub: Path) -> None:
    (sub / IMAGES / "notes.txt").write_text("hello")


def undeclared_subset(sub: Path) -> None:
    other = sub / "images" / "composited" / "hard"
    other.mkdir(parents=True)
    shutil.copyfile(_first(sub), other / _first(sub).name)


def partial(sub: Path) -> None:
    _first(sub).unlink()


def both_folder_and_archive(sub: Path) -> None:
    (sub / "images.zip").write_bytes(b"")


def unexpected_top_entry(sub: Path) -> None:
    (sub / "scores.json").write_text('{"psnr": 99}')


def yaml_alias_bomb(sub: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        lines.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 9)}]")
    (sub / "submission.yaml").write_text(
        METADATA + "self_reported:\n" + "\n".join("  " + x for x in lines) + "\n"
    )


def metadata_missing_field(sub: Path) -> None:
    (sub / "submission.yaml").write_text(METADATA.replace("license: MIT\n", ""))


def metadata_unknown_benchmark(sub: Path) -> None:
    (sub / "submission.yaml").write_text(METADATA.replace("benchmark: demo", "benchmark: imagenet"))


def metadata_bad_method_name(sub: Path) -> None:
    (sub / "submission.yaml").write_text(
        METADATA.replace("method: hostile-example", "method: ../../results/x")
    )


def metadata_oversized(sub: Path) -> None:
    (sub / "submission.yaml").write_text(METADATA + "notes: " + "x" * (70 << 10) + "\n")


DEEP_NESTING = 30_000  # 60 KB of brackets: 28-60 s in the parser, then a RecursionError traceback (before)


def metadata_deep_nesting(sub: Path) -> None:
    (sub / "submission.yaml").write_text(
        METADATA + "self_reported: {x: " + "[" * DEEP_NESTING + "]" * DEEP_NESTING + "}\n"
    )


def metadata_nested_twenty(sub: Path) -> None:
    (sub / "submission.yaml").write_text(METADATA + "self_reported: {x: " + "[" * 20 + "]" * 20 + "}\n")


def metadata_deep_json(sub: Path) -> None:
    (sub / "submission.yaml").unlink()
    (sub / "submission.json").write_text(
        '{"method": "x", "self_reported": ' + '{"a": ' * 9000 + "1" + "}" * 9001
    )


def metadata_name_with_newline(sub: Path) -> None:
    # Python's "$" matches before a final newline; a slug must not end in one
    (sub / "submission.yaml").write_text(METADATA.replace("method: hostile-example", 'method: "wfaf\\n"'))


def hidden_file(sub: Path) -> None:
    (sub / IMAGES / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], None]
    message: str  # a fragment of the one-line error


CASES = [
    Case(
        "traversal_zip",
        traversal_zip,
        "images.zip: archive refused: member '../evil.png' escapes the target folder",
    ),
    Case("absolute_zip", absolute_zip, "member '/tmp/evil.png' has an absolute path"),
    Case("traversal_tar", traversal_tar, "escapes the target folder (..)"),
    Case("absolute_tar", absolute_tar, "member '/etc/cron.d/evil' has an absolute path"),
    Case("symlink_tar", symlink_tar, "member 'composited/normal/link.png' is a symlink"),
    Case("hardlink_tar", hardlink_tar, "member 'composited/normal/hard.png' is a hardlink"),
    Case("device_tar", device_tar, "is a device or special file"),
    Case("symlink_zip", symlink_zip, "member 'composited/normal/link.png' is a symlink"),
    Case("zip_bomb_size", zip_bomb_size, "member 'composited/normal/bomb.png' is 67108864 bytes (limit"),
    Case("zip_bomb_ratio", zip_bomb_ratio, "zip bomb?"),
    Case("tar_too_many_members", tar_too_many_members, "members (limit 80)"),
    Case("not_an_archive", not_an_archive, "images.zip: archive refused: "),
    Case("symlink_in_folder", symlink_in_folder, "is a symbolic link; submissions must contain plain files"),
    Case("hardlink_in_folder", hardlink_in_folder, "is a hard link to another file"),
    Case("images_dir_symlink", images_dir_symlink, "images: must be a real folder, not a link or a file"),
    Case("metadata_symlink", metadata_symlink, "submission.yaml: is a symbolic link"),
    Case(
        "huge_declared_png",
        huge_declared_png,
        "declares an enormous image (decompression bomb); refused before decoding",
    ),
    Case("long_side_png", long_side_png, "declares 20000×128 pixels (limit 16384 per side)"),
    Case("wrong_size", wrong_size, "is 161×128 but its ground truth is 160×128"),
    Case("not_an_image", not_an_image, "is not a PNG or TIFF image (wrong signature bytes)"),
    Case("truncated_png", truncated_png, "not a valid image file"),
    Case("tiff_named_png", tiff_named_png, "is a TIFF file named .png"),
    Case("nan_float_tiff", nan_float_tiff, "float image contains NaN or Inf values"),
    Case("inf_float_tiff", inf_float_tiff, "float image contains NaN or Inf values"),
    Case("out_of_range_float_tiff", out_of_range_float_tiff, "float values must lie in [0, 1]"),
    Case("int32_tiff", int32_tiff, "pixel type 'I' is not accepted"),
    Case("rgb_png", rgb_png, "pixel type 'RGB' is not accepted"),
    Case("one_bit_png", one_bit_png, "pixel type '1' is not accepted"),
    Case("multi_frame_tiff", multi_frame_tiff, "holds 2 frames"),
    Case("case_collision", case_collision, "(names differing only in case are ambiguous)"),
    Case("nfd_name", nfd_name, "refused name: not in Unicode NFC form"),
    Case("nfc_nfd_collision", nfc_nfd_collision, "refused name: not in Unicode NFC form"),
    Case("control_char_name", control_char_name, "refused name: contains control or invisible characters"),
    Case("hidden_file", hidden_file, "refused name: names a hidden file"),
    Case("same_image_twice", same_image_twice, "duplicate: composited/normal/"),
    Case("extra_image", extra_image, "bonus_999.png: unexpected file: no test image of that name"),
    Case("extra_text_file", extra_text_file, "restored images must be lossless PNG or TIFF"),
    Case("undeclared_subset", undeclared_subset, "not inside a declared subset folder (composited/normal)"),
    Case("partial", partial, "incomplete: composited/normal lacks 1 of 8 images"),
    Case("both_folder_and_archive", both_folder_and_archive, "both images and images.zip"),
    Case("unexpected_top_entry", unexpected_top_entry, "scores.json: unexpected entry"),
    Case("yaml_alias_bomb", yaml_alias_bomb, "YAML aliases (*name) are not allowed"),
    Case("metadata_missing_field", metadata_missing_field, "missing required field 'license'"),
    Case("metadata_unknown_benchmark", metadata_unknown_benchmark, "unknown benchmark 'imagenet'"),
    Case("metadata_bad_method_name", metadata_bad_method_name, "method: '../../results/x' does not match"),
    Case("metadata_oversized", metadata_oversized, "metadata is limited to 65536 bytes"),
    Case(
        "metadata_deep_nesting",
        metadata_deep_nesting,
        "submission.yaml: nested deeper than 8 levels (line 10)",
    ),
    Case(
        "metadata_nested_twenty",
        metadata_nested_twenty,
        "submission.yaml: nested deeper than 8 levels (line 10)",
    ),
    Case("metadata_deep_json", metadata_deep_json, "submission.json: nested deeper than 8 levels (line 1)"),
    Case("metadata_name_with_newline", metadata_name_with_newline, "method: 'wfaf\\n' does not match"),
]
