"""``hmtir train``: a thin shell over :func:`hmtir.train.loop.train` (options, progress bar, summary table).

Also the entry of ``python -m hmtir.train`` and ``torchrun --nproc_per_node N -m hmtir.train``; under
torchrun only rank 0 draws the progress bar and prints.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from hmtir.commands._output import OutFolder
from hmtir.errors import HmtirError


@click.command()
@click.option("--model", default=None, help="Model name (see `hmtir list models`) [recipe: ppfn_nafnet].")
@click.option(
    "--data",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder of clean frames, or an HM-TIR root (imgs/ + meta/train.txt).",
)
@click.option(
    "--out",
    type=OutFolder(path_type=Path),
    default=Path("runs/train"),
    show_default=True,
    help="Run folder: checkpoints/last.pt, model.pt, scalars.csv, tensorboard/.",
)
@click.option(
    "--val-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Held-out clean frames, degraded once with a fixed seed, scored (PSNR/SSIM) every --val-every steps.",
)
@click.option(
    "--recipe",
    default="official",
    show_default=True,
    help="official (what the released code does), paper (what the paper states), or a YAML file.",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps [recipe].")
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="Epochs over --data (overrides --steps)."
)
@click.option(
    "--no-spt",
    is_flag=True,
    help="Plain backbone, no prompts, one pass to clean, same samples (the Baseline row; --mix composite: chains only).",
)
@click.option(
    "--iterations",
    type=click.Choice(["1", "3"]),
    default=None,
    help="Passes per composite sample: 3 = SPT (prompt-free: naive iteration), 1 = straight to clean.",
)
@click.option(
    "--mix",
    type=click.Choice(["all_steps", "one_step", "composite"]),
    default=None,
    help="Training mix [recipe: all_steps]: single samples train every step, one random step, or none.",
)
@click.option(
    "--gate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Per-op probability in a training chain [official: 1.0, paper: 0.8].",
)
@click.option(
    "--prompt-fusion",
    type=click.Choice(["concat", "multiply", "degradation"]),
    default=None,
    help="PPFN prompt fusion (ablations): concat (released), multiply, degradation prompt only.",
)
@click.option(
    "--prompt-activation",
    type=click.Choice(["relu", "none"]),
    default=None,
    help="Nonlinearity after prompt fusion (ablation: none).",
)
@click.option(
    "--amp", type=click.Choice(["none", "bf16"]), default=None, help="Mixed precision [recipe: none]."
)
@click.option("--resume", is_flag=True, help="Continue exactly from OUT/checkpoints/last.pt.")
@click.option(
    "--overwrite", is_flag=True, help="Start again in an OUT that already holds a run (deletes it)."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Per-process batch [recipe: 4].")
@click.option("--crop", type=click.IntRange(min=8), default=None, help="Random crop size [recipe: 256].")
@click.option(
    "--degrade-size",
    type=click.IntRange(min=0),
    default=None,
    help="Degrade an N×N window of each frame, then train on a --crop of it (frame-scale degradations).",
)
@click.option(
    "--exposure",
    default=None,
    metavar="LOW,HIGH",
    help=(
        "Scale each clean frame by k ~ U(LOW, HIGH) before degrading it (exposure augmentation; above 1 "
        "highlights clip at white) [recipe: off]."
    ),
)
@click.option(
    "--restretch",
    default=None,
    metavar="BLACK_MAX,WHITE_MIN",
    help=(
        "Map each clean frame's 0.5/99.5th grey percentiles to a black level ~ U(0, BLACK_MAX) and a white "
        "level ~ U(WHITE_MIN, 1) before degrading it (AGC augmentation) [recipe: off]."
    ),
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Peak learning rate [recipe: 8e-5].",
)
@click.option(
    "--warmup-steps",
    type=click.IntRange(min=0),
    default=None,
    help="Linear warm-up steps, lr updated every step (replaces the recipe's per-epoch schedule).",
)
@click.option(
    "--warmup-epochs",
    type=click.IntRange(min=0),
    default=None,
    help="Warm-up epochs of the release's per-epoch schedule [official: 3].",
)
@click.option(
    "--preset", "presets", multiple=True, help="On-the-fly degradation preset(s), cycled [recipe: hard]."
)
@click.option("--seed", type=int, default=None, help="Run seed [recipe: 0].")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="DataLoader workers per process.")
@click.option(
    "--threads", type=click.IntRange(min=0), default=None, help="CPU threads per process (0: split cores)."
)
@click.option(
    "--log-every", type=click.IntRange(min=1), default=None, help="Scalar logging interval (steps)."
)
@click.option("--val-every", type=click.IntRange(min=1), default=None, help="Validation interval (steps).")
@click.option("--ckpt-every", type=click.IntRange(min=1), default=None, help="Checkpoint interval (steps).")
@click.option(
    "--model-config", default=None, help="JSON overrides of the model config, e.g. '{\"width\": 8}'."
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop (and checkpoint) after this wall-clock budget.",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda (torchrun: one GPU per rank)."
)
@click.option(
    "--compile",
    "compile_",
    is_flag=True,
    help="torch.compile the network (fused kernels; the first step pays the compile, cached on disk).",
)
def train(
    model: str | None,
    data: Path,
    out: Path,
    val_data: Path | None,
    recipe: str,
    steps: int | None,
    epochs: int | None,
    no_spt: bool,
    iterations: str | None,
    mix: str | None,
    gate: float | None,
    prompt_fusion: str | None,
    prompt_activation: str | None,
    amp: str | None,
    resume: bool,
    overwrite: bool,
    batch_size: int | None,
    crop: int | None,
    degrade_size: int | None,
    exposure: str | None,
    restretch: str | None,
    lr: float | None,
    warmup_steps: int | None,
    warmup_epochs: int | None,
    presets: tuple[str, ...],
    seed: int | None,
    workers: int | None,
    threads: int | None,
    log_every: int | None,
    val_every: int | None,
    ckpt_every: int | None,
    model_config: str | None,
    max_minutes: float | None,
    device: str,
    compile_: bool,
) -> None:
    """Train PPFN with SPT (or, with --no-spt, the plain backbone) on clean TIR frames, degraded on the fly."""
    import json

    from hmtir.train.config import load_config

    try:
        overrides_model = json.loads(model_config) if model_config else None
    except json.JSONDecodeError as err:
        raise HmtirError(f"--model-config is not valid JSON: {err}") from None
    except RecursionError:
        raise HmtirError("--model-config is not valid JSON: nested too deeply") from None
    if resume and overwrite:
        raise HmtirError("--resume continues a run and --overwrite replaces it; pass one of them")
    prompt = {
        k: v for k, v in (("fusion", prompt_fusion), ("activation", prompt_activation)) if v is not None
    }
    if prompt:
        if no_spt:
            raise HmtirError("--prompt-fusion/--prompt-activation need a prompted model (drop --no-spt)")
        overrides_model = with_prompt_flags(overrides_model, prompt)
    config = load_config(
        recipe,
        model=model,
        model_config=overrides_model,
        spt=False if no_spt else None,
        iterations=int(iterations) if iterations is not None else None,
        mix=mix,
        gate=gate,
        amp=amp,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        crop=crop,
        degrade_size=degrade_size,
        exposure=exposure.split(",") if exposure is not None else None,
        restretch=restretch.split(",") if restretch is not None else None,
        lr=lr,
        warmup_steps=warmup_steps,
        warmup_epochs=warmup_epochs,
        presets=list(presets) or None,
        seed=seed,
        workers=workers,
        threads=threads,
        log_every=log_every,
        val_every=val_every,
        ckpt_every=ckpt_every,
    )
    if max_minutes is not None and not math.isfinite(max_minutes):
        raise HmtirError(f"--max-minutes must be a finite number of minutes (got {max_minutes})")
    max_seconds = None if max_minutes is None else max_minutes * 60
    _run(config, data, out, val_data, resume, device, max_seconds, compile_, overwrite)


def with_prompt_flags(model_config: object, prompt: dict[str, str]) -> object:
    """``--model-config`` with the prompt flags merged into its ``prompt`` section; a config or section that
    is not a mapping is passed on unchanged, for the schema check to refuse in one line."""
    config = {} if model_config is None else model_config
    section = config.get("prompt") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(section or {}, dict):
        return config
    return {**config, "prompt": {**(section or {}), **prompt}}


def _run(
    config: Any,
    data: Path,
    out: Path,
    val_data: Path | None,
    resume: bool,
    device: str,
    max_seconds: float | None,
    compile_: bool = False,
    overwrite: bool = False,
) -> None:
    from rich.table import Table

    from hmtir.console import console, progress
    from hmtir.train.loop import train as run_training

    is_main = int(os.environ.get("RANK", "0")) == 0
    with progress(is_main) as bar:  # a bar on a terminal, periodic lines in a log, nothing before an error
        task = bar.add_task("train", total=None)

        def on_step(step: int, total: int, scalars: dict[str, float]) -> None:
            info = " ".join(f"{k.removeprefix('val/')}={v:.4g}" for k, v in scalars.items())
            bar.update(task, completed=step, total=total, description=f"train {info}")

        result = run_training(
            config,
            data,
            out,
            val_data=val_data,
            resume=resume,
            device=device,
            on_step=on_step,
            max_seconds=max_seconds,
            compile=compile_,
            overwrite=overwrite,
        )
    if not is_main:
        return
    table = Table(title="hmtir train")
    table.add_column("item")
    table.add_column("value")
    rows = [
        (
            "model",
            f"{config.model if config.spt else config.plain_model} ({'SPT' if config.spt else 'no prompts'})",
        ),
        ("steps", str(result.steps)),
        ("last loss", f"{result.losses[-1]:.4f}" if result.losses else "-"),
        *((k, f"{v:.4f}") for k, v in result.validation.items()),
        ("seconds", f"{result.seconds:.1f}"),
        ("model", str(result.final_model)),
        ("resume checkpoint", str(result.last_checkpoint)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


def main() -> None:
    """Console entry for ``python -m hmtir.train`` with the CLI's one-line error handling."""
    try:
        train.main(standalone_mode=False)
    except HmtirError as err:
        raise SystemExit(f"Error: {err}") from None
    except click.ClickException as err:
        err.show()
        raise SystemExit(err.exit_code) from None
    except click.exceptions.Abort:
        raise SystemExit(1) from None
