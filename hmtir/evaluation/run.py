"""Running an evaluation: read ahead, restore through the method's contract, score, remember each frame.

Frames are cut into fixed *chunks* of ``batch_size`` consecutive frames per subset, and each chunk is split
into batches of equal frame size. Chunks, not frames, are what ranks share out (``chunk index % world
size``), so a frame is restored in exactly the batch a single process would have used and a sharded run
writes the same scores. A frame already in the result cache (any rank's, any earlier run's) is not
recomputed, so a run resumes after any rank dies.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmtir.evaluation.cache import ResultCache, image_key
from hmtir.evaluation.plan import Item, Job
from hmtir.io.safety import confined
from hmtir.methods import Method
from hmtir.metrics.pairs import score_pairs
from hmtir.weights import sha256_file

IMAGES_DIR = "images"
_END = object()


def prefetch(source: Iterable[Any], depth: int = 2) -> Iterator[Any]:
    """Yield ``source``'s items while a background thread already produces the next ``depth`` of them.

    Image decoding releases the GIL, so reading batch k+1 overlaps the GPU (or the scorer) working on batch
    k. Items arrive in order; an exception raised while producing is re-raised here, at the item where it
    happened. Closing the consumer early stops the thread.
    """
    if depth < 1:
        yield from source
        return
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer((item, None)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            offer((_END, err))
            return
        offer((_END, None))

    worker = threading.Thread(target=produce, name="hmtir-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, err = slots.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


@dataclass
class Batch:
    """Frames of one size of one subset, stacked into ``B×1×H×W`` tensors by the reading thread."""

    job: Job
    # (item, how to write it back: a bit depth, or a raw frame's RangeMapping; input sha256, target sha256)
    entries: list[tuple[Item, Any, str, str | None]]
    inputs: torch.Tensor
    targets: torch.Tensor | None


@dataclass
class Cached:
    """A frame whose scores the cache already holds."""

    job: Job
    item: Item
    row: dict[str, Any]


@dataclass(frozen=True)
class Runner:
    """How to run a plan (the *what* is in :class:`hmtir.evaluation.spec.RunSpec`)."""

    method: Method
    metrics: Sequence[Any]
    cache: ResultCache
    config_digest: str
    device: str
    batch_size: int
    convention: str
    save_images: bool
    out: Path
    prefetch_batches: int = 2
    rank: int = 0
    world_size: int = 1
    estimator: Any = None  # an hmtir.estimate.Estimator: prompts chosen per frame instead of the subset's
    raw_range: str = "auto"  # how real (unpaired) frames map to display (hmtir.io.radiometric)

    def my_items(self, jobs: Sequence[Job]) -> list[tuple[Job, Item]]:
        """This rank's frames, in plan order."""
        return [(job, item) for job, chunk in self._my_chunks(jobs) for item in chunk]

    def _my_chunks(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, tuple[Item, ...]]]:
        index = 0
        for job in jobs:
            for start in range(0, len(job.items), self.batch_size):
                if index % self.world_size == self.rank:
                    yield job, job.items[start : start + self.batch_size]
                index += 1

    def saved_image_path(self, subset: str, name: str) -> Path:
        """Lossless container for restored images: PNG/TIFF names are kept, anything else becomes ``.png``."""
        path = Path(name)
        if path.suffix.lower() not in (".png", ".tif", ".tiff"):
            name = path.with_suffix(".png").as_posix()
        return confined(self.out / IMAGES_DIR / subset, name, f"saved image of {subset}")

    def _key(self, job: Job, input_sha: str, target_sha: str | None) -> str:
        return image_key(
            self.config_digest, job.subset.degradation, job.subset.scenario, input_sha, target_sha
        )

    def _read(self, job: Job, item: Item) -> tuple[Any, Any]:
        """(display frame float32 H×W, how to write it back). Real frames come in their own units: raw
        counts or Kelvin are mapped to display by :mod:`hmtir.io.radiometric` (the recorded mapping)."""
        if job.subset.paired:
            from hmtir.io.image import read_image

            frame = read_image(item.input_path)
            return frame.data, frame.bit_depth
        from hmtir.io.radiometric import read_raw

        raw = read_raw(item.input_path, self.raw_range)
        return raw.display, raw.mapping

    def _work(self, jobs: Sequence[Job]) -> Iterator[Batch | Cached]:
        """Runs on the reading thread: hash, look up, decode and stack (page-locked for a GPU)."""
        from hmtir.io.image import read_image

        pin = self.device.startswith("cuda")
        for job, chunk in self._my_chunks(jobs):
            pending: list[tuple[Item, Any, Any, str, str | None]] = []
            for item in chunk:
                input_sha = sha256_file(item.input_path)
                target_sha = sha256_file(item.target_path) if item.target_path is not None else None
                row = self.cache.get(self._key(job, input_sha, target_sha))
                lost = self.save_images and not self.saved_image_path(job.name, item.name).exists()
                if row is not None and not lost:
                    yield Cached(job, item, row)
                    continue
                frame, writeback = self._read(job, item)
                target = read_image(item.target_path).data if item.target_path is not None else None
                if target is not None and target.shape != frame.shape:
                    raise _shape_mismatch(item, frame, target)
                if pending and pending[0][1].shape != frame.shape:
                    yield _stack(job, pending, pin)
                    pending = []
                pending.append((item, frame, target, writeback, input_sha, target_sha))
            if pending:
                yield _stack(job, pending, pin)

    def run(self, jobs: Sequence[Job], progress: Any, task: Any) -> list[dict[str, Any]]:
        """Rows of this rank's frames (cached or computed), in plan order."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for work in prefetch(self._work(jobs), self.prefetch_batches):
            if isinstance(work, Cached):
                rows[(work.job.name, work.item.name)] = self._row(work.job, work.item, work.row)
                progress.advance(task)
                continue
            progress.update(task, description=f"{self.method.name} · {work.job.name}")
            for item, row in self._restore_and_score(work):
                rows[(work.job.name, item.name)] = row
                progress.advance(task)
        return [rows[(job.name, item.name)] for job, item in self.my_items(jobs)]

    def _row(self, job: Job, item: Item, scores: dict[str, Any]) -> dict[str, Any]:
        """A record: the scores (cached or fresh) and the frame's identity; ``degradation``/``scenario`` are
        the prompts the method got (the subset's, or the estimator's choice, which the scores carry)."""
        return {
            "degradation": job.subset.degradation,
            "scenario": job.subset.scenario,
            **scores,
            "method": self.method.name,
            "subset": job.name,
            "name": item.name,
            "scene": item.scene,
        }

    def _restore_and_score(self, batch: Batch) -> Iterator[tuple[Item, dict[str, Any]]]:
        from hmtir.io.image import write_image

        job = batch.job
        inputs = batch.inputs.to(self.device, non_blocking=True)
        names = [f"{job.name}/{item.name} ({item.input_path})" for item, *_ in batch.entries]
        start = time.perf_counter()
        prompts: list[dict[str, Any]] = [{}] * len(batch.entries)
        if self.estimator is None:
            output = self.method(inputs, job.subset.degradation, job.subset.scenario, names=names)
        else:
            from hmtir.estimate import restore_auto

            output, estimates = restore_auto(self.method, inputs, estimator=self.estimator, names=names)
            prompts = [_chosen_prompts(e) for e in estimates]
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
        seconds = (time.perf_counter() - start) / len(batch.entries)
        scored = torch.round(output * 255.0) / 255.0 if self.convention == "uint8" else output
        targets = None if batch.targets is None else batch.targets.to(self.device, non_blocking=True)
        scores = list(score_pairs(self.metrics, [(scored, targets)]))  # the leaderboard scores this way too
        for index, (item, writeback, input_sha, target_sha) in enumerate(batch.entries):
            if self.save_images:
                image = output[index, 0].cpu().numpy()
                target = self.saved_image_path(job.name, item.name)
                if isinstance(writeback, int):
                    write_image(target, image, bit_depth=writeback)
                else:  # a raw frame goes back to its own units and sample type
                    from hmtir.io.radiometric import write_raw

                    write_raw(target, image, writeback)
            row = {
                **prompts[index],
                **({} if isinstance(writeback, int) else {"range_mapping": writeback.describe()}),
                **scores[index],
                "seconds": seconds,
                "input_sha256": input_sha,
                "target_sha256": target_sha,
            }
            self.cache.put(self._key(job, input_sha, target_sha), row)
            yield item, self._row(job, item, row)


def _chosen_prompts(estimate: Any) -> dict[str, Any]:
    """The record fields of an estimator's choice: the prompts used (``clean``: left unchanged) and scores."""
    from hmtir.vocabulary import scenario_of

    label = estimate.degradation
    return {
        "degradation": label,
        "scenario": None if label == "clean" else scenario_of(label),
        **{f"estimate_{step}": value for step, value in estimate.scores.items()},
        "estimate_verdict": estimate.verdict,  # before the confidence gate (hmtir.estimate.GATE)
        "estimate_gated": estimate.gated,  # which unsure steps the gate dropped, None when none
    }


def _stack(job: Job, pending: list[tuple[Item, Any, Any, Any, str, str | None]], pin: bool) -> Batch:
    def stack(frames: list[Any]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack(frames))[:, None]
        return batch.pin_memory() if pin else batch  # page-locked: the copy to the GPU can run asynchronously

    targets = [t for _, _, t, _, _, _ in pending]
    return Batch(
        job,
        [(item, writeback, i_sha, t_sha) for item, _, _, writeback, i_sha, t_sha in pending],
        stack([frame for _, frame, _, _, _, _ in pending]),
        stack(targets) if targets[0] is not None else None,
    )


def _shape_mismatch(item: Item, frame: Any, target: Any) -> Exception:
    from hmtir.errors import HmtirError

    return HmtirError(
        f"{item.input_path} is {'×'.join(map(str, frame.shape))} but its target {item.target_path} "
        f"is {'×'.join(map(str, target.shape))}"
    )
