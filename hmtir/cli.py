"""The ``hmtir`` command: a thin click shell over the library.

Subcommands live in ``hmtir.commands.*`` and are imported only when invoked, so ``hmtir --help`` stays
fast and never imports torch. Every :class:`hmtir.errors.HmtirError` becomes a one-line error and exit 1.
"""

from __future__ import annotations

import importlib
import os

import click

from hmtir import __version__
from hmtir.errors import HmtirError

# name -> (module:attribute, one-line help shown by `hmtir --help` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "hmtir.commands.demo:demo",
        "Build the embedded demo benchmark and evaluate on it (no network, no GPU).",
    ),
    "synthesize": (
        "hmtir.commands.synthesize:synthesize",
        "Degrade clean TIR frames into the HM-TIR layout.",
    ),
    "evaluate": ("hmtir.commands.evaluate:evaluate", "Run a method on a benchmark and score it."),
    "enhance": ("hmtir.commands.enhance:enhance", "Enhance your own TIR frames with a method."),
    "estimate": (
        "hmtir.commands.estimate:estimate",
        "Judge which degradations (contrast, blur, noise) frames show.",
    ),
    "train": ("hmtir.commands.train:train", "Train a PPFN/backbone model (single process or torchrun)."),
    "download": ("hmtir.commands.download:download", "Download datasets and weights."),
    "verify": ("hmtir.commands.verify:verify", "Check an HM-TIR tree for missing or broken files."),
    "export": ("hmtir.commands.export:export", "Export an HM-TIR tree as a Hugging Face dataset."),
    "export-model": (
        "hmtir.commands.export_model:export_model",
        "Export a network method (PPFN, NAFNet, Restormer) to ONNX.",
    ),
    "list": (
        "hmtir.commands.catalog:list_entries",
        "List registered methods, metrics, models, presets, sources.",
    ),
    "submit": ("hmtir.commands.submit:submit", "Validate and score leaderboard submissions."),
    "leaderboard": ("hmtir.commands.leaderboard:leaderboard", "Build the leaderboard site and tables."),
    "compare": ("hmtir.commands.compare:compare", "Side-by-side visual comparison of methods on one image."),
}


class OneLineUsageError(click.UsageError):
    """A usage error printed as one line (the full usage is one ``--help`` away), like every other error."""

    def show(self, file: object = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", err=True)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except HmtirError as err:
            raise click.ClickException(str(err)) from None
        except click.UsageError as err:
            if isinstance(err, OneLineUsageError):
                raise
            raise OneLineUsageError(err.format_message(), err.ctx) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hmtir")
def cli() -> None:
    """hmtir: benchmark thermal-infrared image enhancement (HM-TIR, PPFN/SPT and baselines)."""


def main() -> None:
    # OpenMP threads that spin while waiting turn a shared machine (other jobs on the cores, SLURM nodes,
    # CI) into a crawl: `hmtir demo` took 131 s with libgomp's default and 21-24 s with passive waiting on
    # the loaded 2-core sandbox (benchmarks/RESULTS.md). Set before torch is imported; the user's value wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cli(prog_name="hmtir")
