"""The process-pool helper: safe after threads are live in the parent, and workers die with their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hmtir.parallel import process_pool, worker_context

_HELD = threading.Lock()  # held by a parent thread while the pool starts


def _take_lock_and_square(x: int) -> int:
    # Under fork the child inherits _HELD in its locked state and blocks here forever.
    with _HELD:
        return x * x


def _pid(_: int) -> int:
    return os.getpid()


def test_workers_are_never_forked() -> None:
    assert worker_context().get_start_method() == "spawn"


def test_pool_works_while_parent_threads_hold_locks() -> None:
    release = threading.Event()

    def holder() -> None:
        with _HELD:
            release.wait(30)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    try:
        with process_pool(2) as pool:
            assert list(pool.map(_take_lock_and_square, range(6), timeout=60)) == [0, 1, 4, 9, 16, 25]
    finally:
        release.set()
        thread.join()


def test_synthesize_with_workers_after_opencv_and_torch_threads_ran(tmp_path: Path) -> None:
    """The observed hang: a worker pool started after OpenCV and torch had spun up their thread pools."""
    import cv2
    import torch

    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import write_image

    cv2.setNumThreads(2)
    torch.set_num_threads(2)
    busy = threading.Event()

    def churn() -> None:  # keep both libraries' pools busy while the workers start
        image = np.random.default_rng(0).random((512, 640), dtype=np.float32)
        while not busy.is_set():
            cv2.GaussianBlur(image, (15, 15), 3.0)
            torch.ones(256, 256) @ torch.ones(256, 256)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    source = tmp_path / "clean"
    source.mkdir()
    for k in range(4):
        write_image(source / f"f{k}.png", np.full((40, 48), 0.1 + 0.2 * k, dtype=np.float32))
    try:
        report = synthesize(source, tmp_path / "out", presets=["hard"], workers=2, progress=False)
    finally:
        busy.set()
        thread.join()
    assert report.written == 4


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from hmtir.parallel import process_pool
        from test_parallel import _pid

        with process_pool(2) as pool:
            pids = sorted(set(pool.map(_pid, range(16))))
            print(" ".join(map(str, pids)), flush=True)
            time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = parent.stdout.readline()
        workers = [int(p) for p in line.split()]
        assert workers, "the pool reported no worker pids"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in workers if _running(pid)]
            time.sleep(0.1)
        assert not alive, f"workers {alive} outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


if not Path("/proc").is_dir():  # the liveness check reads /proc
    test_workers_exit_when_the_parent_is_killed = pytest.mark.skip("needs /proc")(  # noqa: F811
        test_workers_exit_when_the_parent_is_killed
    )
