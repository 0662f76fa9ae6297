"""``hmtir export-model NAME [--weights W] --format onnx --out model.onnx``: a thin shell over
:func:`hmtir.models.onnx_export.export_onnx`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export-model")
@click.argument("name")
@click.option(
    "--weights", default=None, help="The method's weights: a shipped tag (agc, dim), official or a PATH."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx"]),
    default="onnx",
    show_default=True,
    help="onnx: one network pass, dynamic batch×H×W; a PPFN takes its prompts as inputs.",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .onnx file to write."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Compare the file under ONNX Runtime with torch on random frames (max abs diff ≤ 1e-4) before it is kept.",
)
def export_model(name: str, weights: str | None, fmt: str, out: Path, overwrite: bool, check: bool) -> None:
    """Export a network method (ppfn, nafnet, restormer) to ONNX; run it back with --method onnx --weights OUT."""
    from rich.table import Table

    from hmtir.console import console
    from hmtir.io.safety import check_new_file, refuse_inputs
    from hmtir.methods import load_method
    from hmtir.models.onnx_export import export_onnx

    check_new_file(out, overwrite, what="ONNX file")
    method = load_method(name, device="cpu", **({"weights": weights} if weights is not None else {}))
    loaded = getattr(method, "loaded", None)
    if loaded is not None and loaded.path is not None:
        refuse_inputs([out], [loaded.path], what="ONNX file")
    report = export_onnx(method, out, check=check)
    meta = report.metadata
    table = Table(
        title=f"{out} ({report.size_bytes / 1e6:.1f} MB, {report.seconds:.0f} s)", show_header=False
    )
    table.add_row("method / model", f"{meta['hmtir.method']} / {meta['hmtir.model']}")
    table.add_row("weights sha256", meta["hmtir.weights_sha256"] or "-")
    table.add_row("opset", f"{report.opset} ({meta['hmtir.exporter']})")
    table.add_row("inputs", ", ".join(report.inputs) + " (batch, height, width dynamic)")
    table.add_row("prompts", meta["hmtir.prompt_inputs"] or "none (one pass)")
    table.add_row("SPT", "run around the graph by --method onnx" if meta["hmtir.prompt_inputs"] else "-")
    table.add_row("pad to a multiple of", meta["hmtir.size_multiple"])
    if report.checks:
        worst = max(row["max_abs_diff"] for row in report.checks)
        sizes = sorted({row["frames"] for row in report.checks})
        table.add_row("vs torch (max abs)", f"{worst:.2e} on {', '.join(sizes)}, every prompt pair")
    console().print(table)
