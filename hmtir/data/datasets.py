"""torch Datasets over the HM-TIR layout: clean training crops (degraded on the fly) and fixed test subsets.

Training degrades on the fly, as the paper's training does, so the ``degrade`` hook receives each clean
crop with a per-sample numpy Generator drawn from torch's RNG: ``torch.manual_seed`` makes runs
repeatable and every DataLoader worker and epoch gets fresh randomness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hmtir.data.layout import CLEAN_DIR, distinct_names, list_images, split_names
from hmtir.errors import HmtirError
from hmtir.io.image import read_image
from hmtir.io.safety import check_name
from hmtir.vocabulary import SUBSETS

# degrade(clean HxW float32 in [0, 1], rng) -> degraded, or (degraded, info dict)
Degrade = Callable[[np.ndarray, np.random.Generator], "np.ndarray | tuple[np.ndarray, dict[str, Any]]"]


def _as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]


class TrainFrames(Dataset):
    """Random ``crop``×``crop`` patches of clean frames with random flips.

    ``root_or_dir`` is an HM-TIR root (frames from ``imgs/`` listed in ``meta/<split>.txt``) or any
    folder of clean frames (e.g. HIT-UAV). Frames smaller than the crop are reflect-padded.
    Items are dicts: ``clean`` (1×crop×crop), ``name``, and with ``degrade`` also ``degraded`` (+ ``info``).
    """

    def __init__(
        self,
        root_or_dir: str | Path,
        crop: int = 256,
        *,
        split: str = "train",
        degrade: Degrade | None = None,
        names: Sequence[str] | None = None,
        flips: bool = True,
        repeat: int = 1,
        luminance: bool = True,
    ) -> None:
        root = Path(root_or_dir)
        if (root / CLEAN_DIR).is_dir():
            self.folder = root / CLEAN_DIR
            default_names = (
                split_names(root, split)
                if (root / "meta" / f"{split}.txt").is_file()
                else list_images(self.folder)
            )
        elif root.is_dir():
            self.folder, default_names = root, list_images(root)
        else:
            raise HmtirError(f"training frames folder {root} does not exist")
        self.names = list(names if names is not None else default_names)
        if not self.names:
            raise HmtirError(f"no training frames found in {self.folder}")
        self.crop, self.degrade, self.flips, self.repeat, self.luminance = (
            crop,
            degrade,
            flips,
            repeat,
            luminance,
        )

    def __len__(self) -> int:
        return len(self.names) * self.repeat

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.names[index % len(self.names)]
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        image = read_image(self.folder / name, luminance=self.luminance).data
        pad_h, pad_w = max(0, self.crop - image.shape[0]), max(0, self.crop - image.shape[1])
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w)), mode="reflect")
        top = int(rng.integers(0, image.shape[0] - self.crop + 1))
        left = int(rng.integers(0, image.shape[1] - self.crop + 1))
        patch = image[top : top + self.crop, left : left + self.crop]
        if self.flips:
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            if rng.random() < 0.5:
                patch = patch[::-1, :]
        patch = np.ascontiguousarray(patch)
        item: dict[str, Any] = {"clean": _as_tensor(patch), "name": name}
        if self.degrade is not None:
            out = self.degrade(patch.copy(), rng)
            degraded, info = out if isinstance(out, tuple) else (out, None)
            item["degraded"] = _as_tensor(degraded)
            if info is not None:
                item["info"] = info
        return item


class TestSubset(Dataset):
    """The test images of one subset: ``(degraded, clean, name, degradation, scenario)`` per item."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self, root: str | Path, subset: str, names: Sequence[str] | None = None, luminance: bool = True
    ) -> None:
        self.root = Path(root)
        if subset not in SUBSETS:
            raise HmtirError(f"unknown subset '{subset}' (available: {', '.join(SUBSETS)})")
        self.subset = SUBSETS[subset]
        folder = self.root / subset
        if not folder.is_dir():
            raise HmtirError(f"subset folder {folder} is missing; run `hmtir verify {self.root}`")
        if names is None:
            self.names = split_names(self.root, "test")
        else:  # a frame given twice would weigh double in any mean over this subset
            checked = [(number, check_name(name, "TestSubset names")) for number, name in enumerate(names, 1)]
            self.names = distinct_names(checked, "TestSubset names", "item")
        self.luminance = luminance

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str, str, str]:
        name = self.names[index]
        degraded = read_image(self.root / self.subset.name / name, luminance=self.luminance).data
        clean = read_image(self.root / CLEAN_DIR / name, luminance=self.luminance).data
        return _as_tensor(degraded), _as_tensor(clean), name, self.subset.degradation, self.subset.scenario
