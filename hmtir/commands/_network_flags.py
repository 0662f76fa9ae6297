"""The flags ``hmtir evaluate`` and ``hmtir enhance`` share, declared once: the device and inference speed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hmtir.engines import DEFAULT_ENGINE, ENGINE_CHOICES

device_option = click.option(
    "--device", default="auto", show_default=True, help="auto (cuda if available), cpu, cuda or cuda:N."
)


def network_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--precision``, ``--channels-last``, ``--compile`` and ``--engine`` (for methods built on networks)."""
    options = (
        click.option(
            "--precision",
            type=click.Choice(["fp32", "bf16", "fp16"]),
            default="fp32",
            show_default=True,
            help="Network methods: autocast precision (fp32 reproduces the release's numerics).",
        ),
        click.option(
            "--channels-last", is_flag=True, help="Network methods: NHWC memory format (GPU speed-up)."
        ),
        click.option(
            "--compile", "compile_", is_flag=True, help="Network methods: torch.compile (cached on disk)."
        ),
        click.option(
            "--engine",
            type=click.Choice(ENGINE_CHOICES),
            default=DEFAULT_ENGINE,
            show_default=True,
            help="Network methods: what runs the passes; auto measures the engines on this CPU once (cached) "
            "and keeps the fastest that matches torch fp32.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def network_options(
    precision: str, channels_last: bool, compile_: bool, engine: str = DEFAULT_ENGINE
) -> dict[str, object]:
    """Only the options that differ from the defaults, so methods without them still run by default."""
    options: dict[str, object] = {"precision": precision} if precision != "fp32" else {}
    if channels_last:
        options["channels_last"] = True
    if compile_:
        options["compile"] = True
    if engine != DEFAULT_ENGINE:
        options["engine"] = engine
    return options
