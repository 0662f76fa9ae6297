"""``hmtir estimate``: a thin shell over :mod:`hmtir.estimate` (parsing, progress bar, table or JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hmtir.io.radiometric import RANGE_HELP


@click.command("estimate")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout instead of the table.")
@click.option(
    "--range", "range_", default="auto", show_default=True, help=f"Raw → display mapping: {RANGE_HELP}."
)
@click.option("--estimator", "weights", default=None, help="Estimator checkpoint PATH (default: shipped).")
@click.option("--device", default="cpu", show_default=True, help="cpu, auto, cuda or cuda:N.")
def estimate(inputs: tuple[Path, ...], as_json: bool, range_: str, weights: str | None, device: str) -> None:
    """Say per frame which HM-TIR degradations it shows: clean, contrast, blur, noise or composite.

    Composite means two or more of the three steps; those frames get PPFN's three SPT passes. A step the
    estimator is unsure of is shown, but not acted on ("composite → noise": `hmtir enhance` runs one noise
    pass). A frame that cannot be judged (too small, constant, NaN, saturated) gets its reason instead, and
    the exit status is 1.

    A clip (.mp4 .avi .mkv .mov) gets one answer, as `hmtir enhance` takes it: the median of each step's
    probability over up to 16 frames spread over the clip, through the same rule.
    """
    from rich.table import Table

    from hmtir.clips import prepare_clip
    from hmtir.console import console, progress
    from hmtir.errors import HmtirError
    from hmtir.estimate import FrameEstimate, estimate_paths, load_estimator
    from hmtir.io.radiometric import RangeSpec
    from hmtir.io.video import is_video
    from hmtir.runtime import resolve_device

    spec = RangeSpec.parse(range_)
    estimator = load_estimator(weights, device=resolve_device(device))
    with progress(enabled=not as_json, label="estimate") as bar:
        task = bar.add_task("estimate", total=None)
        clips = [path for path in inputs if is_video(path) and path.is_file()]
        frames = [path for path in inputs if path not in clips]
        results = (
            estimate_paths(frames, spec, estimator, on_done=lambda _: bar.advance(task)) if frames else []
        )
        plans = {}
        for path in clips:  # checked whole (truncated, colour, variable rate ...: one line), then judged once
            plan = prepare_clip(path, spec, estimator, refuse_unjudged=False)
            assert plan.estimate is not None
            plans[path] = plan
            size = (plan.info.height, plan.info.width)
            results.append(FrameEstimate(path, plan.estimate, plan.mappings[0], size))
            bar.advance(task)
    failed = [r for r in results if not r.estimate.judged]
    if as_json:
        records = [
            {"file": str(r.path), **r.estimate.as_dict(), **_clip_fields(plans.get(r.path))} for r in results
        ]
        click.echo(json.dumps(records, indent=2))
    else:
        table = Table(
            title=f"hmtir estimate (range {spec}; estimator {(estimator.weights_sha256 or '')[:12]})"
        )
        for column in ("file", "size", "type", "range → display", "degradation", "contrast", "blur", "noise"):
            table.add_column(column, justify="right" if column in ("contrast", "blur", "noise") else "left")
        for r in results:
            size = f"{r.size[1]}×{r.size[0]}" if r.size else ""
            if r.path in plans:
                size += f" ×{plans[r.path].info.frames} frames"
            mapping = r.mapping.describe() if r.mapping is not None else ""
            e = r.estimate
            if e.judged:
                scores = [f"{e.scores[s]:.2f}" for s in ("contrast", "blur", "noise")]
                label = str(e.verdict) if e.verdict == e.degradation else f"{e.verdict} → {e.degradation}"
                table.add_row(
                    str(r.path), size, r.mapping.dtype if r.mapping else "", mapping, label, *scores
                )
            else:
                table.add_row(
                    str(r.path),
                    size,
                    r.mapping.dtype if r.mapping else "",
                    mapping,
                    f"— {e.reason}",
                    "",
                    "",
                    "",
                )
        out = console()
        out.print(table)
        counts: dict[str, int] = {}
        for r in results:
            if r.estimate.judged:
                counts[str(r.estimate.verdict)] = counts.get(str(r.estimate.verdict), 0) + 1
        out.print(
            f"{len(results) - len(plans)} frame(s)"
            + (f" and {len(plans)} clip(s)" if plans else "")
            + ": "
            + (", ".join(f"{n} {d}" for d, n in counts.items()) or "none judged")
        )
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise HmtirError(f"cannot judge {first.path}: {first.estimate.reason}{more}")


def _clip_fields(plan: object) -> dict[str, object]:
    """A clip's frame count and its decision's record (sampled frames, per-frame answers) for --json."""
    if plan is None:
        return {}
    return {"frames": plan.info.frames, "decision": plan.decision_record}  # type: ignore[attr-defined]
