"""Flicker on synthesised thermal clips: one decision per clip vs per-frame decisions, and a smoothed AGC.

A procedural scene (``hmtir.data.scenes``) is panned under a fixed sensor window, ``--frames`` frames of
``--size``; one draw of the ``normal`` cascade with every step applied (``gate`` 1) degrades each frame,
its contrast, blur, non-uniformity and stripe field held fixed (they belong to the optics and the
sensor), the Gaussian noise redrawn per frame. The 8-bit clip goes through:

* ``enhance`` — what ``hmtir enhance clip`` does (:mod:`hmtir.clips`): the estimator's median over up to
  16 sampled frames, one decision for the clip, the shipped PPFN;
* ``per-frame`` — the estimator's decision on each frame (what enhancing the frames as PNGs did);
* per-frame WFAF and LRSID, and the input itself.

Reported: PSNR against the clean frame, and stability — mean |x[t] − x[t−1]| of the output divided by
that of the clean clip and of the input (:mod:`hmtir.metrics.temporal`); decision switches between
consecutive frames. A second part puts the clip into raw 16-bit counts (7000 + 2400·x, a narrow band, with
a slow 3-count/frame offset drift) and compares the display input under per-frame AGC with the smoothed AGC.

    .venv/bin/python benchmarks/bench_video.py [--frames 24] [--size 128x160] [--scene street] [--seed 0]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def _clip_frames(scene: str, seed: int, frames: int, size: tuple[int, int]) -> np.ndarray:
    from hmtir.data.scenes import render_scene

    h, w = size
    big = render_scene(scene, seed, (h, w + 2 * frames))
    return np.stack([big[:, 2 * t : 2 * t + w] for t in range(frames)])


def _degrade(clean: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    from hmtir.degrade.ops import apply
    from hmtir.degrade.presets import sample_params

    rng = np.random.default_rng(seed)
    params = sample_params("normal", rng, clean.shape[1:], gate=1.0)
    out = []
    for t, frame in enumerate(clean):
        p = copy.deepcopy(params)
        p["ops"]["gaussian"]["noise_seed"] = int(seed * 1000 + t)  # noise redrawn; stripes, NU, blur fixed
        out.append(apply(frame, p))
    return np.stack(out), params


def _write(path: Path, frames: np.ndarray, rate: int = 15) -> Path:
    import av

    fmt = "gray" if frames.dtype == np.uint8 else "gray16le"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=rate)
        stream.height, stream.width = frames.shape[1:]
        stream.pix_fmt = fmt
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def line_profile(frame: np.ndarray, axis: str, window: int = 9) -> np.ndarray:
    """The fixed-pattern offset of each column (or row) of ``frame``: the median over the other axis of its
    difference from a median filter across lines (a stripe is narrow across lines, the scene is not)."""
    from scipy.ndimage import median_filter

    size = (1, window) if axis == "column" else (window, 1)
    residual = frame - median_filter(frame, size=size, mode="reflect")
    return np.median(residual, axis=0 if axis == "column" else 1)


def remove_lines(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``frame`` less the column and row patterns estimated on ``reference`` (the frame itself, or the clip's
    temporal mean: fixed-pattern noise stays while the scene and the temporal noise move)."""
    columns = line_profile(reference, "column")
    rows = line_profile(reference - columns[None, :], "row")
    return np.clip(frame - columns[None, :] - rows[:, None], 0, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    rmse = float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))
    return 20 * np.log10(1 / rmse) if rmse > 0 else float("inf")


def _row(
    name: str, out: np.ndarray, clean: np.ndarray, noisy: np.ndarray, seconds: float, switches: str
) -> dict:
    from hmtir.metrics.temporal import mean_frame_difference

    mad = mean_frame_difference(out)
    return {
        "method": name,
        "decisions": switches,
        "psnr": round(float(np.mean([_psnr(o, c) for o, c in zip(out, clean)])), 2),
        "mad": round(mad, 5),
        "stability_vs_clean": round(mad / mean_frame_difference(clean), 3),
        "stability_vs_input": round(mad / mean_frame_difference(noisy), 3),
        "s_per_frame": round(seconds / len(out), 4),
    }


def _prompts_and_agc(
    clean: np.ndarray, degraded: np.ndarray, args: argparse.Namespace
) -> tuple[list[dict], dict]:
    """Parts 1 and 2: one decision per clip vs per frame (shipped PPFN), WFAF/LRSID; smoothed vs per-frame AGC."""
    import torch

    from hmtir.clips import enhance_clip, prepare_clip
    from hmtir.estimate import load_estimator
    from hmtir.io.radiometric import choose_mapping
    from hmtir.io.video import probe
    from hmtir.methods import load_method
    from hmtir.metrics.temporal import mean_frame_difference
    from hmtir.vocabulary import scenario_of

    noisy8 = np.rint(degraded * 255).astype(np.uint8)
    noisy = noisy8.astype(np.float32) / 255
    estimator = load_estimator()
    ppfn = load_method("ppfn", device="cpu")
    rows = [_row("input (identity)", noisy, clean, noisy, 0.0, "-")]
    with tempfile.TemporaryDirectory() as tmp:
        source = _write(Path(tmp) / "clip.mkv", noisy8)
        plan = prepare_clip(source, "auto", estimator)
        outcome = enhance_clip(plan, Path(tmp) / "out.mkv", ppfn, str(plan.estimate.degradation))
        written: list[np.ndarray] = []
        probe(Path(tmp) / "out.mkv", lambda _, p: written.append(p.astype(np.float32) / 255))
        rows.append(
            _row(
                "ppfn, one decision per clip (hmtir enhance)",
                np.stack(written),
                clean,
                noisy,
                outcome.wall_seconds,
                f"{plan.estimate.degradation} ×{args.frames}",
            )
        )
    decisions = [str(e.degradation) for e in estimator(list(noisy))]
    start = time.perf_counter()
    per_frame = []
    for frame, chosen in zip(noisy, decisions):
        if chosen == "clean":
            per_frame.append(frame)
            continue
        batch = torch.from_numpy(frame)[None, None]

        per_frame.append(ppfn(batch, chosen, scenario_of(chosen))[0, 0].numpy())
    switches = sum(a != b for a, b in zip(decisions, decisions[1:]))
    counts = {d: decisions.count(d) for d in dict.fromkeys(decisions)}
    label = ", ".join(f"{d} ×{n}" for d, n in counts.items()) + f"; {switches} switches"
    rows.append(
        _row(
            "ppfn, estimator per frame", np.stack(per_frame), clean, noisy, time.perf_counter() - start, label
        )
    )
    for name in ("wfaf", "lrsid"):
        method = load_method(name, device="cpu")
        start = time.perf_counter()
        out = np.stack([method(torch.from_numpy(f)[None, None])[0, 0].numpy() for f in noisy])
        rows.append(_row(f"{name}, per frame", out, clean, noisy, time.perf_counter() - start, "-"))

    # raw counts: per-frame AGC vs the smoothed AGC of hmtir.clips, on the display input
    drift = 3.0 * np.arange(args.frames)[:, None, None]
    counts16 = np.rint(7000 + 2400 * degraded + drift).astype(np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        raw_plan = prepare_clip(_write(Path(tmp) / "raw.mkv", counts16), "auto")
    per_frame_agc = np.stack([choose_mapping(f).to_display(f) for f in counts16])
    smoothed_agc = np.stack([m.to_display(f) for m, f in zip(raw_plan.mappings, counts16)])
    clean_mad = mean_frame_difference(clean)
    agc = {
        "clean_mad": round(clean_mad, 5),
        "per_frame_agc_mad": round(mean_frame_difference(per_frame_agc), 5),
        "smoothed_agc_mad": round(mean_frame_difference(smoothed_agc), 5),
        "window_frames": raw_plan.mapping_record["window_frames"],
        "largest_low_step": raw_plan.mapping_record["largest_frame_to_frame_step"],
    }
    return rows, agc


def main(argv: list[str] | None = None) -> int:
    import torch

    from hmtir.methods import load_method
    from hmtir.metrics.temporal import mean_frame_difference

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="128x160")
    parser.add_argument("--scene", default="street")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--stripes-only", action="store_true", help="only the fixed-stripe comparison")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    torch.set_num_threads(max(1, torch.get_num_threads()))
    clean = _clip_frames(args.scene, args.seed, args.frames, size)  # type: ignore[arg-type]
    degraded, params = _degrade(clean, args.seed)
    rows: list[dict] = []
    agc: dict = {}
    clean_mad = mean_frame_difference(clean)
    if not args.stripes_only:
        rows, agc = _prompts_and_agc(clean, degraded, args)
    # stripes alone: a fixed stripe field (and redrawn noise) removed by a temporal estimate over the clip,
    # by the same estimate on each frame alone, and by WFAF/LRSID per frame
    from hmtir.degrade.ops import apply

    stripe_rows = []
    for axis in ("column", "row"):
        p = copy.deepcopy(params)
        for name, op in p["ops"].items():
            op["applied"] = name in ("stripe", "gaussian")
        p["ops"]["stripe"].update(axis=axis, gain_std=0.06, offset_std=4.0)
        striped, unstriped = [], []
        for t, frame in enumerate(clean):
            q = copy.deepcopy(p)
            q["ops"]["gaussian"]["noise_seed"] = int(args.seed * 1000 + t)
            striped.append(apply(frame, q))
            q["ops"]["stripe"]["applied"] = False  # the same frame and noise without the stripes
            unstriped.append(apply(frame, q))
        striped = np.rint(np.stack(striped) * 255) / 255
        temporal_mean = striped.mean(axis=0)
        candidates = {
            "input": striped,
            "temporal line estimate (clip)": np.stack([remove_lines(f, temporal_mean) for f in striped]),
            "same estimate, one frame": np.stack([remove_lines(f, f) for f in striped]),
        }
        for name in ("wfaf", "lrsid"):
            method = load_method(name, device="cpu")
            candidates[name] = np.stack(
                [method(torch.from_numpy(f.astype(np.float32))[None, None])[0, 0].numpy() for f in striped]
            )
        for name, out in candidates.items():
            stripe_rows.append(
                {
                    "stripes": axis,
                    "method": name,
                    "psnr": round(float(np.mean([_psnr(o, c) for o, c in zip(out, clean)])), 2),
                    "psnr_vs_noisy_without_stripes": round(
                        float(np.mean([_psnr(o, c) for o, c in zip(out, unstriped)])), 2
                    ),
                    "stability_vs_clean": round(mean_frame_difference(out) / clean_mad, 3),
                }
            )
    report = {
        "clip": {"scene": args.scene, "seed": args.seed, "frames": args.frames, "size": list(size)},
        "degradation": {k: v for k, v in params["ops"].items()},
        "rows": rows,
        "raw_agc": agc,
        "stripes": stripe_rows,
        "rate": str(Fraction(15)),
    }
    header = (
        f"{'method':46} {'decisions':34} {'PSNR':>6} {'MAD':>8} {'÷clean':>7} {'÷input':>7} {'s/frame':>8}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['method']:46} {r['decisions']:34} {r['psnr']:6.2f} {r['mad']:8.5f} "
            f"{r['stability_vs_clean']:7.3f} {r['stability_vs_input']:7.3f} {r['s_per_frame']:8.4f}"
        )
    print("raw 16-bit clip, display input MAD:", json.dumps(agc))
    print(f"{'stripes':8} {'method':32} {'PSNR':>6} {'PSNR vs noisy, no stripes':>26} {'÷clean':>7}")
    for r in stripe_rows:
        print(
            f"{r['stripes']:8} {r['method']:32} {r['psnr']:6.2f} {r['psnr_vs_noisy_without_stripes']:26.2f} "
            f"{r['stability_vs_clean']:7.3f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
