"""Sharded evaluation under torchrun (2 CPU processes, gloo): the same records as one process, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_evaluate import SHAPES, SUBSET_NOISE, make_layout

from hmtir.evaluation import evaluate
from hmtir.methods import Method, MethodMeta

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="machine: torch without distributed"
)


class CountingIdentity(Method):
    """``identity`` (same name, same cache keys) that counts the frames it restores."""

    def __init__(self) -> None:
        self.meta = MethodMeta(name="identity", kind="reference")
        self.frames = 0

    def restore(self, batch, degradation="composite", scenario="composite"):
        self.frames += batch.shape[0]
        return batch


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, "-m", "hmtir", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def test_two_processes_write_the_records_one_process_writes_and_resume_after_a_rank_dies(
    tmp_path: Path,
) -> None:
    layout = make_layout(tmp_path / "bench")
    single = evaluate(
        "identity", data=layout, out=tmp_path / "single", device="cpu", batch_size=2, progress=False
    )
    out = tmp_path / "sharded"
    args = ["evaluate", "--method", "identity", "--data", str(layout), "--out", str(out)]
    done = _torchrun([*args, "--device", "cpu", "--batch-size", "2"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("results: ") == 1  # only rank 0 prints
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["run"] == single.summary["run"]
    sharded = pd.read_parquet(out / "records.parquet")
    pd.testing.assert_frame_equal(sharded.drop(columns="seconds"), single.records.drop(columns="seconds"))
    shards = sorted(p.name for p in out.glob("cache*.jsonl"))
    assert shards == ["cache.rank0.jsonl", "cache.rank1.jsonl"]
    lines = {name: (out / name).read_text().splitlines() for name in shards}
    assert sum(map(len, lines.values())) == len(SHAPES) * len(SUBSET_NOISE)  # each frame once, no duplicates

    # rank 1 "died" after its first frame: its log holds one line, nothing was merged
    (out / "summary.json").unlink()
    (out / "cache.rank1.jsonl").write_text(lines["cache.rank1.jsonl"][0] + "\n")
    resumer = CountingIdentity()
    resumed = evaluate(resumer, data=layout, out=out, device="cpu", batch_size=2, progress=False)
    assert resumer.frames == len(lines["cache.rank1.jsonl"]) - 1  # only the dead rank's unfinished frames
    pd.testing.assert_frame_equal(
        resumed.records.drop(columns="seconds"), single.records.drop(columns="seconds")
    )
