"""DDP on CPU: ``torchrun --nproc_per_node 2 -m hmtir.train`` with gloo keeps the replicas identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hmtir.io.image import write_image
from hmtir.io.safety import OUTPUT_MARKER
from hmtir.models.checkpoint import read_checkpoint

TINY = '{"width": 4, "enc_blocks": [1], "dec_blocks": [1], "middle_blocks": 1, "stem_downsample": 1, "prompt": {"dim": 8}}'


@pytest.fixture
def frames_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "frames"
    for i in range(8):
        base = np.linspace(0.2, 0.8, 40, dtype=np.float32)[None, :] * np.ones((40, 1), np.float32)
        write_image(folder / f"f{i}.png", np.clip(base + 0.1 * rng.random((40, 40), np.float32), 0, 1))
    return folder


def test_two_gloo_processes_agree_and_only_rank0_writes(frames_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "hmtir.train", "--data", str(frames_dir), "--out", str(out), "--steps", "3", "--crop", "32",
        "--batch-size", "2", "--threads", "1", "--log-every", "1", "--ckpt-every", "2", "--device", "cpu",
        "--model", "ppfn_nafnet", "--model-config", TINY,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]

    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["meta"]["world_size"] == 2 and summary["steps"] == 3
    first, second = summary["rank_parameter_checksums"]
    assert first == second  # gradients all-reduced: both replicas hold the same parameters
    saved = read_checkpoint(out / "checkpoints" / "last.pt")
    assert saved["step"] == 3
    fresh = torch.nn.utils.parameters_to_vector(
        [v for k, v in read_checkpoint(out / "model.pt")["state_dict"].items() if v.is_floating_point()]
    )
    assert torch.isfinite(fresh).all()
    # rank 0 alone wrote: one resume checkpoint, one model, one log, no leftovers of a second writer
    assert sorted(p.name for p in out.iterdir()) == [
        OUTPUT_MARKER,  # the folder is hmtir's (hmtir.io.safety.mark_output_folder)
        "checkpoints",
        "model.pt",
        "scalars.csv",
        "tensorboard",
        "train_summary.json",
    ]
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["last.pt"]
    assert len(list((out / "tensorboard").iterdir())) == 1
    losses = [line for line in (out / "scalars.csv").read_text().splitlines() if ",train/loss," in line]
    assert [int(line.split(",")[0]) for line in losses] == [1, 2, 3]  # logged once per step, not per rank
