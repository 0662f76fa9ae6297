"""Output without a terminal (SLURM, nohup, CI): progress as periodic lines, tables at full width, and
nothing printed after an error but the error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hmtir import console
from hmtir.console import LOG_WIDTH, progress
from hmtir.io.image import write_image


def test_log_progress_lines_count_only_this_runs_work_and_stop_at_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0, 1.0, 2.0, 3.0]  # add_task, two advances, the closing line
    monkeypatch.setattr(console.time, "monotonic", lambda: clock.pop(0) if clock else 100.0)
    with progress(True, every=0) as bar:  # captured stderr is not a terminal: the line form
        task = bar.add_task("frames", total=10, completed=4)  # 4 done by an earlier run: not in the rate
        bar.advance(task)
        bar.advance(task, 5)
    assert capsys.readouterr().err.splitlines() == [
        "frames: 5/10 (50%), ETA 0m05s, 1/s",
        "frames: 10/10 (100%), 3/s",  # said once: the closing line repeats nothing
    ]
    with pytest.raises(RuntimeError), progress(True, every=3600) as bar:
        bar.add_task("frames", total=3)
        raise RuntimeError("boom")
    assert capsys.readouterr().err == ""  # no final line: the error is the last word


def test_log_progress_in_bytes_restarts_and_reads_its_interval_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMTIR_PROGRESS_SECONDS", "3600")
    with progress(True, unit="bytes") as bar:
        task = bar.add_task("hit-uav: frames.zip", total=None)
        bar.update(task, advance=1_000_000, total=4_000_000)
        bar.reset(task, total=4_000_000)  # a transfer restarted from the first byte
        bar.update(task, advance=4_000_000)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hit-uav: frames.zip: 4.0 MB/4.0 MB (100%), ")
    assert lines[0].endswith(" MB/s")
    with pytest.raises(ValueError, match="progress unit 'frames'"), progress(True, unit="frames"):
        pass


def test_synthesize_in_a_log_prints_progress_lines_and_a_full_width_table(tmp_path: Path) -> None:
    source = tmp_path / "clean"
    source.mkdir()
    for k in range(6):
        write_image(source / f"f{k}.png", np.full((40, 48), 0.1 + 0.1 * k, np.float32))
    out = tmp_path / ("an-output-folder-with-a-long-name-" * 3) / "hmtir"  # a title wider than 80 columns
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"HMTIR_PROGRESS_SECONDS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "hmtir", "synthesize", "--source", str(source), "--out", str(out)],
        capture_output=True,  # pipes, not a terminal: what a SLURM or nohup log receives
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "━" not in done.stderr  # no bar drawn into the log (progress goes to stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("synthesizing: ")]
    expected = [f"synthesizing: {k}/6 ({100 * k / 6:.0f}%)" for k in range(1, 7)]
    assert [line.split(",")[0] for line in lines] == expected, done.stderr
    table = done.stdout.splitlines()
    assert f"HM-TIR synthesis → {out}" in table[0]  # the whole path on one line, not folded at 80 columns
    assert 80 < max(map(len, table)) <= LOG_WIDTH
    header = next(line for line in table if "subset" in line)
    assert "mean PSNR (dB)" in header and "mean grey shift" in header
    rows = [line for line in table if re.match(r"^│ (composited|single)/", line)]
    assert len(rows) == 5 and all(re.search(r"│\s+6 │", row) for row in rows)
    assert table[-1] == "6 frames: 30 outputs written, 0 already complete."
