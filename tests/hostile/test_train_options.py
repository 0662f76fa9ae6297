"""Issue "Trust, round 3", items 3 and 9 on ``hmtir train``: hostile options and a read-only run folder.

Every option is checked before anything is allocated or written: the model config against its backbone's
typed schema, the crop against the frames' headers and the network's input multiple, every number for type
and range. Each refusal is one ``Error:`` line naming the option or key, exit 1, and the folder tree
(frames, an earlier run) unchanged. A file system that refuses writes is one line too.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io.image import write_image
from hmtir.models import MODELS
from hmtir.models.config_schema import SCHEMAS, check_model_config
from hmtir.train.config import load_config
from hmtir.train.loop import train
from hostile.corpus import png_declaring
from hostile.test_synthesize_args import read_only
from tests.trees import tree_digest

TINY = {"width": 4, "enc_blocks": [1], "dec_blocks": [1], "middle_blocks": 1, "stem_downsample": 1}
TINY_RUN = ["--model", "ppfn_nafnet", "--batch-size", "2", "--threads", "1", "--warmup-steps", "0"]


@pytest.fixture()
def world(tmp_path: Path) -> Path:
    """``frames/``: six 48×40 frames; the run folder goes beside them."""
    rng = np.random.default_rng(0)
    for i in range(6):
        write_image(tmp_path / "frames" / f"f{i}.png", rng.random((40, 48), dtype=np.float32))
    return tmp_path


def run(world: Path, *args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(
        cli, ["train", "--data", str(world / "frames"), "--out", str(world / "run"), "--steps", "1", *args]
    )
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()], result.output


def refused(world: Path, fragment: str, *args: str) -> str:
    """``hmtir train`` must exit 1 with one ``Error:`` line holding ``fragment`` and leave ``world`` as it was."""
    before = tree_digest(world)
    code, lines, output = run(world, *args)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), output
    assert "Traceback" not in output and fragment in lines[0], lines[0]
    assert tree_digest(world) == before, "a refused run wrote something"
    return lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        # --crop 100000 reflect-padded every frame to 100000² (37 GiB) before failing
        (
            ["--crop", "100000"],
            "--crop 100000 is larger than the smallest training frame (f0.png: 48×40); use at most 40",
        ),
        (
            ["--crop", "64"],
            "--crop 64 is larger than the smallest training frame (f0.png: 48×40); use at most 40",
        ),
        (
            ["--crop", "32", "--degrade-size", "64"],
            "--degrade-size 64 is larger than the smallest training frame",
        ),
        (
            ["--crop", "36"],
            "--crop 36 must be a multiple of 32 for --model ppfn_nafnet (the factor its U-Net downsamples by); use 32 or 64",
        ),
        (["--crop", "8"], "--crop 8 must be a multiple of 32 for --model ppfn_nafnet"),
        (
            ["--crop", "32", "--batch-size", "7"],
            "6 training frames cannot fill one batch of 7 on each of 1 process(es)",
        ),
        (
            ["--crop", "32", "--workers", "100000"],
            "--workers must be a whole number from 0 to 64 (got 100000)",
        ),
        (["--crop", "32", "--seed", "-1"], "--seed must be a whole number from 0 to 2**63-1, got -1"),
        (
            ["--crop", "32", "--preset", "nope"],
            "--preset: unknown degradation preset 'nope' (known: hard, normal",
        ),
        (["--crop", "32", "--exposure", "nan,1"], "--exposure must satisfy 0 < LOW <= HIGH <= 2 (got nan,1)"),
        (["--crop", "32", "--lr", "2"], "--lr must be a number above 0 and at most 1 (got 2.0)"),
        (["--crop", "32", "--gate", "nan"], "--gate must be a number from 0 to 1 (got nan)"),
        (
            ["--crop", "32", "--max-minutes", "nan"],
            "--max-minutes must be a finite number of minutes (got nan)",
        ),
        # not a restoration U-Net: refused by name (the estimator's constructor ran before, on the meta device)
        (
            ["--crop", "32", "--model", "estimator"],
            "--model must be one of 'focalnet', 'nafnet', 'ppfn_focalnet'",
        ),
        (
            ["--crop", "32", "--model", "nafnet"],
            "--model nafnet has no prompt units: SPT trains a ppfn_ model",
        ),
    ],
)
def test_numeric_options_are_checked_against_the_frames_and_the_network(
    world: Path, args: list[str], fragment: str
) -> None:
    refused(world, fragment, *TINY_RUN[:2], *args)


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        ("bomb", "f9.png: 10000×10000 = 100,000,000 pixels is over the limit of"),  # from its header alone
        ("corrupt", "cannot read image {frames}/f9.png: not a valid image file"),
        ("pipe", "cannot read image {frames}/f9.png: not a regular file"),  # a FIFO must not block the read
    ],
)
def test_hostile_frames_are_refused_while_sizing_the_frames(world: Path, frame: str, fragment: str) -> None:
    target = world / "frames" / "f9.png"
    if frame == "bomb":
        target.write_bytes(png_declaring(10_000, 10_000))
    elif frame == "corrupt":
        target.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    else:
        os.mkfifo(target)
    refused(world, fragment.format(frames=world / "frames"), *TINY_RUN[:2], "--crop", "32")


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ('{"width": -1}', "--model-config: 'width' must be a whole number from 1 to 1024 (got -1)"),
        ("[1, 2]", "--model-config must be a mapping of settings (got a list, [1, 2])"),
        ('"width"', "--model-config must be a mapping of settings (got text, 'width')"),
        ("8", "--model-config must be a mapping of settings (got int, 8)"),
        ('{"widht": 8}', "--model-config: unknown key 'widht' (known: in_channels, out_channels, width,"),
        ('{"width": "8"}', "--model-config: 'width' must be a whole number from 1 to 1024 (got '8')"),
        ('{"width": true}', "--model-config: 'width' must be a whole number from 1 to 1024 (got True)"),
        ('{"width": 8.5}', "--model-config: 'width' must be a whole number from 1 to 1024 (got 8.5)"),
        ('{"in_channels": 3}', "--model-config: 'in_channels' must be 1 (got 3)"),
        ('{"enc_blocks": [1, -1]}', "'enc_blocks' must be a list of 1 to 6 whole numbers from 0 to 64"),
        (
            '{"enc_blocks": [1, 1]}',
            "'dec_blocks' must be as long as 'enc_blocks' (2: one entry per U-Net level)",
        ),
        ('{"stem_downsample": 0}', "'stem_downsample' must be a whole number from 1 to 8 (got 0)"),
        ('{"range_head": "yes"}', "'range_head' must be true or false (got 'yes')"),
        ('{"prompt": [1]}', "--model-config key 'prompt' must be a mapping of settings (got a list, [1])"),
        (
            '{"prompt": {"dim": 0}}',
            "--model-config: 'prompt.dim' must be a whole number from 1 to 1024 (got 0)",
        ),
        (
            '{"prompt": {"fusion": "sum"}}',
            "'prompt.fusion' must be one of 'concat', 'multiply', 'degradation'",
        ),
        (
            '{"prompt": {"colour": 1}}',
            "--model-config: unknown key 'prompt.colour' (known: dim, map_channels,",
        ),
        # within every per-key range, but 1.4 trillion parameters together: sized on the meta device first
        (
            '{"width": 1024, "enc_blocks": [64, 64, 64, 64, 64, 64], "dec_blocks": [64, 64, 64, 64, 64, 64]}',
            "parameters, over the limit of 250,000,000; make it smaller",
        ),
    ],
)
def test_model_config_is_checked_against_the_schema_of_its_backbone(
    world: Path, config: str, fragment: str
) -> None:
    refused(world, fragment, *TINY_RUN[:2], "--crop", "32", "--model-config", config)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (
            '{"dim": 8, "heads": [3, 2, 4, 8]}',
            "'heads' must be divisors of each level's channels (dim·2^level: 8 at level 0)",
        ),
        (
            '{"num_blocks": [1, 1]}',
            "'num_blocks' must be a list of 4 whole numbers from 0 to 64 (got [1, 1])",
        ),
        (
            '{"ffn_expansion_factor": NaN}',
            "'ffn_expansion_factor' must be a number above 0 and at most 16 (got nan)",
        ),
        (
            '{"ffn_expansion_factor": 0.01}',
            "'ffn_expansion_factor' must be large enough for at least one hidden",
        ),
        (
            '{"LayerNorm_type": "Other"}',
            "'LayerNorm_type' must be one of 'WithBias', 'BiasFree' (got 'Other')",
        ),
    ],
)
def test_restormer_configs_are_checked_too(world: Path, config: str, fragment: str) -> None:
    refused(world, fragment, "--model", "ppfn_restormer", "--crop", "32", "--model-config", config)


def test_prompt_flags_do_not_crash_on_a_config_that_is_not_a_mapping(world: Path) -> None:
    refused(world, "--model-config must be a mapping of settings (got a list", "--model-config", "[1]",
            "--prompt-fusion", "multiply")  # fmt: skip
    refused(world, "--model-config is not valid JSON: nested too deeply", "--model-config", "[" * 100_000)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("lr: .nan", "--lr must be a number above 0 and at most 1 (got nan)"),
        ("lr: '1e-4'", "--lr must be a number above 0 and at most 1 (got '1e-4')"),
        ("lr_min: 1.0", "recipe key 'lr_min' must be at most --lr 8e-05 (got 1)"),
        ("crop: big", "--crop must be a whole number from 1 to 1000000000000 (got 'big')"),
        ("ckpt_every: 1.5", "--ckpt-every must be a whole number from 1 to 1000000000000 (got 1.5)"),
        ("batch_size: true", "--batch-size must be a whole number"),
        ("workers: -1", "--workers must be a whole number from 0 to 64 (got -1)"),
        ("presets: []", "--preset needs at least one degradation preset (got [])"),
        ("presets: hard", "--preset needs at least one degradation preset (got 'hard')"),
        ("val_preset: [hard]", "recipe key 'val_preset': unknown degradation preset ['hard']"),
        ("optimizer: [adam]", "recipe key 'optimizer' must be a mapping"),
        (
            "optimizer: {betas: [0.9, 1.5]}",
            "recipe key 'optimizer.betas' must be two numbers from 0 to below 1",
        ),
        ("optimizer: {momentum: 0.9}", "recipe key 'optimizer': unknown key 'momentum'"),
        ("model_config: 7", "--model-config must be a mapping of settings (got int, 7)"),
        (
            "model: 7",
            "--model must be one of 'focalnet', 'nafnet', 'ppfn_focalnet', 'ppfn_nafnet', 'ppfn_restormer'",
        ),
        ("gate: 2", "--gate must be a number from 0 to 1 (got 2)"),
        ("iterations: 2", "--iterations must be one of 1, 3 (got 2)"),
        ("flips: 1", "recipe key 'flips' must be true or false (got 1)"),
    ],
)
def test_recipe_values_are_typed_and_ranged(world: Path, line: str, fragment: str) -> None:
    recipe = world / "recipe.yaml"
    recipe.write_text(f"model: ppfn_nafnet\ncrop: 32\nbatch_size: 2\n{line}\n")
    refused(world, fragment, "--recipe", str(recipe))


def test_a_refused_option_leaves_an_earlier_run_untouched_even_with_overwrite(world: Path) -> None:
    """The checks come before ``--overwrite`` deletes the earlier run's outputs."""
    code, _, output = run(world, *TINY_RUN, "--crop", "32", "--model-config", json.dumps(TINY))
    assert code == 0, output
    refused(world, "--crop 64 is larger", *TINY_RUN, "--crop", "64", "--overwrite")
    missing = world / "nope"
    refused(world, f"--val-data {missing} is not a folder of clean frames", *TINY_RUN, "--crop", "32",
            "--model-config", json.dumps(TINY), "--val-data", str(missing), "--overwrite")  # fmt: skip
    refused(
        world, "'width' must be", *TINY_RUN, "--crop", "32", "--model-config", '{"width": 0}', "--overwrite"
    )


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda s: s.pop("scheduler"), "(KeyError: 'scheduler')"),
        (
            lambda s: s["optimizer"]["state"][0].update(exp_avg=torch.zeros(3)),
            "optimizer state 'exp_avg' does not fit",
        ),
        (lambda s: s["optimizer"]["state"][0].pop("exp_avg_sq"), "optimizer state 'exp_avg_sq' does not fit"),
        (lambda s: s.update(rng={"python": 5}), "(TypeError: cannot unpack non-iterable int object)"),
        (lambda s: s.update(step="x"), "(ValueError: invalid literal for int()"),
    ],
)
def test_a_tampered_training_checkpoint_is_refused_on_resume(world: Path, tamper, fragment: str) -> None:  # noqa: ANN001
    """A file that passes as a training checkpoint but lacks a part (or holds one of another shape) was a
    KeyError at load, or inside ``optimizer.step()`` when Adam had copied moments of the wrong shape."""
    args = [*TINY_RUN, "--crop", "32", "--model-config", json.dumps(TINY)]
    code, _, output = run(world, *args)
    assert code == 0, output
    last = world / "run" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    tamper(state)
    torch.save(state, last)
    line = refused(world, fragment, *args, "--steps", "2", "--resume")
    assert line.startswith(f"Error: --resume: {last} is not a usable training checkpoint ("), line


def test_a_read_only_run_folder_is_one_line(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_digest(world)
    read_only(monkeypatch, world / "run")
    code, lines, output = run(world, *TINY_RUN, "--crop", "32", "--model-config", json.dumps(TINY))
    assert code == 1 and len(lines) == 1 and "Traceback" not in output, output
    assert lines[0] == f"Error: cannot write the training run in {world / 'run'}: Read-only file system"
    monkeypatch.undo()
    assert tree_digest(world) == before


def test_a_file_system_turning_read_only_mid_run_is_one_line_and_leaves_no_half_file(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step-2 checkpoint is the first write after the file system turns read-only (after step 1)."""
    out = world / "run"
    config = load_config(model="ppfn_nafnet", model_config=TINY, crop=32, batch_size=2, steps=3, ckpt_every=2)

    def turn_read_only(step: int, total: int, scalars: dict) -> None:
        if step == 1:
            read_only(monkeypatch, out)

    with pytest.raises(HmtirError) as info:
        train(config, world / "frames", out, device="cpu", on_step=turn_read_only)
    assert str(info.value) == f"cannot write the training run in {out}: Read-only file system"
    monkeypatch.undo()
    assert not (out / "checkpoints").exists() and not (out / "model.pt").exists()
    assert not [p for p in out.rglob("*") if ".part" in p.name]


# ------------------------------------------------------------------ the schemas cover the networks


BUILDERS = {"nafnet": "hmtir.models.nafnet:NAFNet", "restormer": "hmtir.models.restormer:Restormer",
            "focalnet": "hmtir.models.restormer:Restormer"}  # fmt: skip


@pytest.mark.parametrize("backbone", sorted(SCHEMAS))
def test_each_schema_names_every_constructor_setting_and_accepts_the_catalog_defaults(backbone: str) -> None:
    import importlib

    module, cls = BUILDERS[backbone].split(":")
    settings = set(inspect.signature(getattr(importlib.import_module(module), cls)).parameters) - {"prompt"}
    assert set(SCHEMAS[backbone].settings) == settings
    for name in (backbone, f"ppfn_{backbone}"):
        assert check_model_config(name, dict(MODELS.meta(name).params)) == dict(MODELS.meta(name).params)


def test_every_trainable_catalog_model_has_a_schema() -> None:
    """A backbone added to the catalog (``_backbone``) without a schema would train unchecked."""
    prompted = {name.removeprefix("ppfn_") for name in MODELS.names() if name.startswith("ppfn_")}
    assert prompted == set(SCHEMAS)
