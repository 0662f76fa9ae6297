"""torch Datasets over the layout (the Hugging Face export is tested in tests/test_export.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hmtir.data.datasets import TestSubset, TrainFrames
from hmtir.errors import HmtirError
from hmtir.io.image import read_image
from tests.test_verify import TEST, TRAIN, make_tree


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "tree", width=20, height=16)


def test_train_frames_are_crops_of_the_clean_frames(tree):
    calls = []

    def degrade(clean, rng):
        calls.append(clean.shape)
        return np.clip(clean + 0.1, 0, 1), {"offset": 0.1}

    ds = TrainFrames(tree, crop=8, degrade=degrade, repeat=3)
    assert ds.names == TRAIN and len(ds) == 6
    torch.manual_seed(0)
    item = ds[1]
    assert (
        item["name"] == "b.png" and item["clean"].shape == (1, 8, 8) and item["clean"].dtype == torch.float32
    )
    assert torch.allclose(item["degraded"], (item["clean"] + 0.1).clamp(0, 1)) and item["info"] == {
        "offset": 0.1
    }
    # the crop is a (possibly flipped) window of the frame
    frame = read_image(tree / "imgs" / "b.png").data
    patch = item["clean"][0].numpy()
    windows = [frame[top : top + 8, left : left + 8] for top in range(16 - 7) for left in range(20 - 7)]
    assert any(
        np.array_equal(patch, w[fy, fx])
        for w in windows
        for fy in (slice(None), slice(None, None, -1))
        for fx in (slice(None), slice(None, None, -1))
    )
    # torch.manual_seed makes sampling repeatable; successive draws differ
    torch.manual_seed(0)
    assert torch.equal(ds[1]["clean"], item["clean"])
    assert not all(torch.equal(ds[1]["clean"], item["clean"]) for _ in range(5))
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
    assert batch["clean"].shape == (4, 1, 8, 8) and batch["degraded"].shape == (4, 1, 8, 8)


def test_train_frames_from_a_plain_folder_pads_small_frames(tmp_path, tree):
    ds = TrainFrames(tree / "imgs", crop=32, flips=False)
    assert ds.names == sorted(TRAIN + TEST)
    assert ds[0]["clean"].shape == (1, 32, 32) and "degraded" not in ds[0]
    with pytest.raises(HmtirError, match=r"no training frames found"):
        TrainFrames(tmp_path)


def test_test_subset_items(tree):
    ds = TestSubset(tree, "single/blur")
    assert len(ds) == 3
    degraded, clean, name, degradation, scenario = ds[2]
    assert (name, degradation, scenario) == ("e.png", "blur", "single")
    assert torch.equal(degraded[0], torch.from_numpy(read_image(tree / "single/blur/e.png").data))
    assert torch.equal(clean[0], torch.from_numpy(read_image(tree / "imgs/e.png").data))
    with pytest.raises(HmtirError, match=r"unknown subset 'blur2'"):
        TestSubset(tree, "blur2")
