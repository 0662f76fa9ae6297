"""The paper's ablation ladder at CPU scale, plus the rows that test why PPFN trails the prompt-free baseline.

Every row trains the compact NAFNet backbone (``ppfn_nafnet`` / ``nafnet``) on the same HIT-UAV training
groups with the same seed and the same budget recipe (the ``paper`` recipe with the CPU overrides of the
shipped models: 128² crops, lr 4e-4, 50 warm-up steps, presets normal and hard alternating), changing one
thing (the paper's rows, and rows that test a cause: data mix, gate, crop size, where the degradation is
drawn), and is scored on the held-out groups 0_80, 1_60, 1_120 (``hmtir.synthesize`` presets normal and
hard, seed 0, gate 0.8; PSNR/SSIM of ``hmtir.metrics`` on full 640×512 frames). Rows with a non-standard
pass schedule (one SPT iteration, naive iteration) are scored with that schedule, so every row goes
through the same scorer; ``--cross-check`` compares it with ``hmtir.evaluate`` on the standard rows.

Equal steps is not equal cost (an SPT step runs ~3 passes), so each row records its CPU seconds
(``time.process_time`` of a one-thread run: what the row costs, whatever else shares the machine) and the
``baseline_equal_cpu`` row gives the baseline the CPU time of the PPFN row.

    python benchmarks/ablation_ladder.py --data ../shared/data/hit-uav --work /work/runs/ladder --steps 1200

Interrupted? Run the same command again: finished rows are kept, a row in progress resumes from its last
checkpoint (``hmtir train --resume``), and the table (``WORK/ladder.md``, ``WORK/ladder.json``) is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_reference import HELD_OUT_GROUPS, split_groups  # noqa: E402

SUBSETS = ("composited/normal", "composited/hard")
# The budget recipe of the shipped CPU models (see hmtir/models/weights/MODEL_CARD.md), on top of `paper`.
BUDGET: dict[str, Any] = {
    "model": "ppfn_nafnet",
    "crop": 128,
    "batch_size": 4,
    "lr": 4e-4,
    "warmup_steps": 50,
    "presets": ["normal", "hard"],
    "threads": 1,
    "log_every": 10,
    "val_every": 10**9,
    "seed": 0,
}
# name -> (what it tests, overrides of the budget recipe).
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "ppfn_3_iterations": ("PPFN + SPT, 3 iterations (the paper's full model)", {}),
    "baseline": ("Baseline: plain NAFNet, one pass, same samples", {"spt": False}),
    "ppfn_frame_degrade": (
        "PPFN + SPT, degradations drawn on a 512² window, trained on a 128² crop of it",
        {"degrade_size": 512},
    ),
    "baseline_frame_degrade": (
        "Baseline, degradations on a 512² window",
        {"spt": False, "degrade_size": 512},
    ),
    "baseline_composite_only": (
        "Baseline trained on chains only (the data of the baseline shipped until 2026-12-02)",
        {"spt": False, "mix": "composite"},
    ),
    "ppfn_composite_only": ("PPFN + SPT trained on chains only", {"mix": "composite"}),
    "ppfn_official_mix": (
        "PPFN + SPT on the released data: all-steps singles, chains at p = 1",
        {"mix": "all_steps", "gate": 1.0},
    ),
    "ppfn_crop256_batch1": (
        "PPFN + SPT, 256² crops, batch 1 (the pixels of a 4×128² step)",
        {"crop": 256, "batch_size": 1},
    ),
    "baseline_crop256_batch1": (
        "Baseline, 256² crops, batch 1",
        {"spt": False, "crop": 256, "batch_size": 1},
    ),
    "ppfn_3_iterations_seed1": ("PPFN + SPT, seed 1 (noise level)", {"seed": 1}),
    "baseline_seed1": ("Baseline, seed 1 (noise level)", {"spt": False, "seed": 1}),
    "naive_iteration": (
        "Naive iteration: plain NAFNet run 3×, SPT targets, no prompts",
        {"spt": False, "iterations": 3},
    ),
    "ppfn_1_iteration": ("PPFN, 1 iteration (composite prompt, one pass)", {"iterations": 1}),
    "degradation_prompt_only": (
        "Degradation prompt only (no scenario prompt)",
        {"model_config": {"prompt": {"fusion": "degradation"}}},
    ),
    "dual_prompt_no_nonlinearity": (
        "Dual prompt without the nonlinearity",
        {"model_config": {"prompt": {"activation": "none"}}},
    ),
    "multiply_fusion": ("Dual prompt, multiply fusion", {"model_config": {"prompt": {"fusion": "multiply"}}}),
    "baseline_equal_cpu": (
        "Baseline given the CPU seconds of ppfn_3_iterations",
        {"spt": False, "equal_cpu_to": "ppfn_3_iterations"},
    ),
    "baseline_frame_degrade_equal_cpu": (
        "Baseline, degradations on a 512² window, given the CPU seconds of ppfn_frame_degrade",
        {
            "spt": False,
            "degrade_size": 512,
            "equal_cpu_to": "ppfn_frame_degrade",
            "cost_row": "baseline_frame_degrade",
        },
    ),
}


def row_config(name: str, steps: int, done: dict[str, Any]) -> dict[str, Any]:
    from hmtir.train.config import load_config

    overrides = dict(ROWS[name][1])
    reference = overrides.pop("equal_cpu_to", None)
    cost_row = overrides.pop("cost_row", "baseline")  # the same network's row that gives its CPU s/step
    row_steps = steps
    if reference is not None:  # steps that cost what the reference row cost, at this row's CPU s/step
        plain = done.get(cost_row)
        if reference not in done or plain is None:
            raise SystemExit(f"{name} needs the rows {reference} and {cost_row} first")
        row_steps = round(plain["steps"] * done[reference]["cpu_seconds"] / plain["cpu_seconds"])
    config = load_config("paper", **{**BUDGET, **overrides, "steps": row_steps, "ckpt_every": 250})
    return config.as_dict()


def train_row(name: str, config: dict[str, Any], train_dir: Path, out: Path) -> dict[str, Any]:
    """Train (or resume, or keep) one row; returns its steps and wall/CPU seconds."""
    from hmtir.train.checkpointing import last_checkpoint
    from hmtir.train.config import TrainConfig
    from hmtir.train.loop import SUMMARY_FILE, train

    record = out / "ladder_row.json"
    if record.is_file():
        kept = json.loads(record.read_text())
        if kept["config"] == config:
            return kept
    resume = last_checkpoint(out).is_file()
    spent = json.loads((out / "cpu_seconds.json").read_text())["cpu_seconds"] if resume else 0.0
    print(f"[{name}] {'resuming' if resume else 'training'} {config['steps']} steps", flush=True)

    def on_step(step: int, total: int, _: dict) -> None:
        if step % config["ckpt_every"] == 0:  # a checkpoint was just written: keep the CPU count with it
            (out / "cpu_seconds.json").write_text(
                json.dumps({"cpu_seconds": spent + time.process_time() - t0})
            )

    t0 = time.process_time()
    result = train(
        TrainConfig(**config),
        train_dir,
        out,
        resume=resume,
        overwrite=not resume,
        device="cpu",
        on_step=on_step,
    )
    cpu = spent + time.process_time() - t0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    kept = {"config": config, "steps": result.steps, "cpu_seconds": cpu, "wall_seconds": summary["seconds"]}
    record.write_text(json.dumps(kept, indent=1))
    return kept


def score(model_path: Path, passes: int, bench: Path) -> dict[str, dict[str, float]]:
    """Mean PSNR/SSIM per subset with the row's own pass schedule (the metrics hmtir.evaluate uses)."""
    import torch

    from hmtir.data.layout import CLEAN_DIR, list_images
    from hmtir.io.image import read_image
    from hmtir.metrics import create_metric
    from hmtir.models.checkpoint import load_checkpoint
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import spt_restore

    loaded = load_checkpoint(model_path)
    metrics = {name: create_metric(name) for name in ("psnr", "ssim")}
    table: dict[str, dict[str, float]] = {}
    for subset in SUBSETS:
        names = list_images(bench / subset)
        totals = dict.fromkeys(metrics, 0.0)
        for name in names:
            x = torch.from_numpy(read_image(bench / subset / name).data)[None, None]
            clean = torch.from_numpy(read_image(bench / CLEAN_DIR / name).data)[None, None]
            padded, (height, width) = pad_to_multiple(x, loaded.model.size_multiple)
            with torch.inference_mode():
                out = spt_restore(
                    loaded.model, loaded.bank, padded, "composite", "composite", iterations=passes
                )
            out = out[..., :height, :width].clamp(0, 1)
            for metric_name, metric in metrics.items():
                totals[metric_name] += float(metric(out, clean)[0])
        table[subset] = {k: v / len(names) for k, v in totals.items()}
    return table


def identity_scores(bench: Path) -> dict[str, dict[str, float]]:
    import torch

    from hmtir.data.layout import CLEAN_DIR, list_images
    from hmtir.io.image import read_image
    from hmtir.metrics import create_metric

    metrics = {name: create_metric(name) for name in ("psnr", "ssim")}
    table = {}
    for subset in SUBSETS:
        names = list_images(bench / subset)
        totals = dict.fromkeys(metrics, 0.0)
        for name in names:
            x = torch.from_numpy(read_image(bench / subset / name).data)[None, None]
            clean = torch.from_numpy(read_image(bench / CLEAN_DIR / name).data)[None, None]
            for metric_name, metric in metrics.items():
                totals[metric_name] += float(metric(x, clean)[0])
        table[subset] = {k: v / len(names) for k, v in totals.items()}
    return table


def render(results: dict[str, Any], identity: dict[str, Any], header: str) -> str:
    lines = [
        header,
        "",
        "| row | what | steps | CPU s | normal PSNR / SSIM | hard PSNR / SSIM | Δ vs identity (dB) |",
        "|---|---|---:|---:|---|---|---|",
    ]
    idn, idh = identity["composited/normal"], identity["composited/hard"]
    lines.append(
        f"| identity | degraded input | — | — | {idn['psnr']:.2f} / {idn['ssim']:.3f} | "
        f"{idh['psnr']:.2f} / {idh['ssim']:.3f} | 0 / 0 |"
    )
    for name, row in results.items():
        n, h = row["scores"]["composited/normal"], row["scores"]["composited/hard"]
        lines.append(
            f"| {name} | {ROWS[name][0]} | {row['steps']} | {row['cpu_seconds']:.0f} | "
            f"{n['psnr']:.2f} / {n['ssim']:.3f} | {h['psnr']:.2f} / {h['ssim']:.3f} | "
            f"{n['psnr'] - idn['psnr']:+.2f} / {h['psnr'] - idh['psnr']:+.2f} |"
        )
    return "\n".join(lines) + "\n"


def cross_check(results: dict[str, Any], bench: Path, work: Path) -> dict[str, Any]:
    """The ladder's scorer vs hmtir.evaluate, on rows with evaluate's schedule (3-pass PPFN, 1-pass plain)."""
    import hmtir

    checks = {}
    for name, method in (("ppfn_3_iterations", "ppfn"), ("baseline", "nafnet")):
        if name not in results:
            continue
        result = hmtir.evaluate(
            method,
            data=bench,
            subsets="normal,hard",
            weights=str(work / "rows" / name / "model.pt"),
            device="cpu",
            out=work / "cross_check" / name,
            overwrite=True,
            progress=False,
        )
        checks[name] = {
            subset: {
                "evaluate": result.mean("psnr", subset),
                "ladder": results[name]["scores"][subset]["psnr"],
            }
            for subset in SUBSETS
        }
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/hit-uav"))
    parser.add_argument("--work", type=Path, default=Path("/work/runs/ladder"))
    parser.add_argument(
        "--steps", type=int, default=1200, help="optimizer steps of every row (batch 4, 128²)"
    )
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of the rows, in order")
    parser.add_argument(
        "--cross-check", action="store_true", help="also score the standard rows with hmtir.evaluate"
    )
    args = parser.parse_args()
    import torch

    from hmtir.degrade.synthesize import synthesize
    from hmtir.leaderboard.scoring import hardware_description

    torch.set_num_threads(1)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    train_dir, val_dir, train_names, val_names = split_groups(args.data, work)
    bench = work / "heldout_bench"
    synthesize(val_dir, bench, presets=["normal", "hard"], seed=0, progress=False)
    identity = identity_scores(bench)
    state_file = work / "ladder.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    results: dict[str, Any] = state.get("rows", {})
    for name in [r for r in args.rows.split(",") if r]:
        if name not in ROWS:
            raise SystemExit(f"unknown row {name} (rows: {', '.join(ROWS)})")
        config = row_config(name, args.steps, results)
        row = train_row(name, config, train_dir, work / "rows" / name)
        if results.get(name, {}).get("config") != config or "scores" not in results.get(name, {}):
            passes = config["iterations"] or (3 if config["spt"] else 1)
            row["scores"] = score(work / "rows" / name / "model.pt", passes, bench)
            results[name] = row
        print(f"[{name}] {json.dumps(results[name]['scores'])}", flush=True)
        if state_file.is_file():  # rows another ladder process finished meanwhile are kept
            results = {**json.loads(state_file.read_text()).get("rows", {}), **results}
        state = {
            "data": str(args.data),
            "train_frames": len(train_names),
            "held_out": {"groups": list(HELD_OUT_GROUPS), "frames": len(val_names)},
            "device": hardware_description("cpu"),
            "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d"),
            "identity": identity,
            "rows": results,
        }
        tmp = state_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(state_file)
        header = (
            f"Ablation ladder: {len(train_names)} HIT-UAV training frames, held out {len(val_names)} "
            f"({', '.join(HELD_OUT_GROUPS)}); {state['device']}, torch {torch.__version__}, {state['date']}"
        )
        (work / "ladder.md").write_text(render(results, identity, header))
    if args.cross_check:
        state["cross_check"] = cross_check(results, bench, work)
        state_file.write_text(json.dumps(state, indent=1))
        print(json.dumps(state["cross_check"], indent=1))
    print((work / "ladder.md").read_text())


if __name__ == "__main__":
    main()
