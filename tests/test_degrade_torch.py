"""The batched torch cascade: agreement with the numpy reference, sampled statistics, the training mix."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hmtir.degrade.ops import OPS, apply_steps
from hmtir.degrade.presets import preset_names, sample_params
from hmtir.degrade.torch_ops import (
    ALL_STEPS,
    COMPOSITE,
    MIX_LABELS,
    apply_params,
    degrade,
    sample_batch_params,
)
from hmtir.errors import HmtirError
from hmtir.vocabulary import STEPS

SHAPE = (40, 56)


@pytest.mark.parametrize("preset", preset_names())
def test_torch_matches_numpy_within_one_grey_level(preset: str) -> None:
    rng = np.random.default_rng(0)
    clean = np.random.default_rng(1).random((6, *SHAPE), dtype=np.float32)
    records = [sample_params(preset, rng, SHAPE, gate=0.8) for _ in range(6)]
    batch = apply_params(torch.from_numpy(clean)[:, None], records, keep_steps=True)
    for i, record in enumerate(records):
        reference = apply_steps(clean[i], record)
        for step in STEPS:
            diff = np.abs(batch.steps[step][i, 0].numpy() - reference[step]).max()
            assert diff <= 1 / 255, (preset, i, step, diff)
    assert torch.equal(batch.degraded, batch.steps["noise"])


def test_torch_matches_numpy_with_every_op_and_the_largest_kernel() -> None:
    record = sample_params("hard", np.random.default_rng(3), SHAPE, gate=1.0)
    record["ops"]["blur"].update(ksize=23, sigma=3.0)
    clean = np.random.default_rng(2).random(SHAPE, dtype=np.float32)
    ours = apply_params(torch.from_numpy(clean), record).degraded[0, 0].numpy()
    assert np.abs(ours - apply_steps(clean, record)["noise"]).max() < 1e-4


def test_sampled_batch_statistics_follow_the_preset() -> None:
    g = torch.Generator().manual_seed(0)
    params = sample_batch_params("hard", 4000, (8, 8), g, gate=0.8)
    tolerance = 4 * math.sqrt(0.8 * 0.2 / 4000)
    for op, mask in params.applied.items():
        assert abs(mask.float().mean().item() - 0.8) < tolerance, op
    ops = params.ops
    assert list(ops) == ["contrast", "blur", "nonuniformity", "stripe", "gaussian"]  # physical order
    assert set(ops["blur"]["ksize"].tolist()) == set(range(7, 24, 2))
    assert 0.2 <= ops["contrast"]["alpha"].min() and ops["contrast"]["alpha"].max() <= 0.8
    assert 0.2 <= ops["contrast"]["beta"].min() and ops["contrast"]["beta"].max() <= 0.4
    assert set(ops["nonuniformity"]["delta"].long().tolist()) == set(range(15, 76))
    noise_sd = ops["gaussian"]["noise"].std(dim=(1, 2, 3)) * 255
    assert 5 * 0.5 < noise_sd.min() and noise_sd.max() < 20 * 1.6


def test_single_presets_only_enable_their_ops() -> None:
    g = torch.Generator().manual_seed(1)
    params = sample_batch_params("single-noise", 64, (8, 8), g, gate=0.8)
    assert list(params.applied) == ["nonuniformity", "stripe", "gaussian"]  # contrast/blur never drawn
    assert all(mask.all() for mask in params.applied.values())  # the preset's gate 1.0 wins over 0.8


def test_degrade_is_deterministic_for_a_generator_seed_and_returns_steps() -> None:
    clean = torch.rand(4, 1, *SHAPE, generator=torch.Generator().manual_seed(5))
    a = degrade(clean, "normal", torch.Generator().manual_seed(9), return_steps=True)
    b = degrade(clean, "normal", torch.Generator().manual_seed(9), return_steps=True)
    assert torch.equal(a.degraded, b.degraded)
    assert a.degraded.shape == clean.shape and 0 <= a.degraded.min() and a.degraded.max() <= 1
    assert list(a.steps) == list(STEPS) and torch.equal(a.steps["noise"], a.degraded)


def test_training_mix_half_single_step_samples_with_labels() -> None:
    clean = torch.rand(400, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    out = degrade(clean, "hard", torch.Generator().manual_seed(3), return_steps=True, training_mix=True)
    labels = out.labels
    assert abs((labels == COMPOSITE).float().mean().item() - 0.5) < 4 * math.sqrt(0.25 / 400)
    for step_index, step in enumerate(STEPS):
        single = labels == step_index
        assert single.sum() > 40, MIX_LABELS[step_index]
        for op, mask in out.params.applied.items():
            assert bool(mask[single].all()) == (OPS.meta(op).step == step)
            assert not mask[single].any() or OPS.meta(op).step == step
    contrast_only = labels == STEPS.index("contrast")
    contrast = out.params.ops["contrast"]
    expected = (
        clean * contrast["alpha"].float().view(-1, 1, 1, 1) + contrast["beta"].float().view(-1, 1, 1, 1)
    ).clamp(0, 1)
    assert torch.allclose(out.degraded[contrast_only], expected[contrast_only], atol=1e-6)
    blur_only = labels == STEPS.index("blur")
    assert torch.equal(out.steps["contrast"][blur_only], clean[blur_only])


def test_bad_batch_shape_is_a_clear_error() -> None:
    with pytest.raises(HmtirError, match="degrade expects a B×1×H×W batch, got shape \\(2, 3, 8, 8\\)"):
        degrade(torch.zeros(2, 3, 8, 8), "hard", torch.Generator())


def test_all_steps_mix_degrades_each_step_alone_and_chains_every_op_at_gate_one() -> None:
    """The released training data: a single sample is every step alone on the clean frame (p = 1 each)."""
    clean = torch.rand(200, 1, 24, 24, generator=torch.Generator().manual_seed(4))
    out = degrade(
        clean, "hard", torch.Generator().manual_seed(5), gate=1.0, return_steps=True, training_mix="all_steps"
    )
    single = out.labels == ALL_STEPS
    assert set(out.labels.tolist()) == {COMPOSITE, ALL_STEPS} and 60 < int(single.sum()) < 140
    contrast = out.params.ops["contrast"]
    alpha, beta = contrast["alpha"].float().view(-1, 1, 1, 1), contrast["beta"].float().view(-1, 1, 1, 1)
    assert torch.allclose(out.singles["contrast"], (clean * alpha + beta).clamp(0, 1), atol=1e-6)
    blur_alone = out.singles["blur"]
    assert (blur_alone - clean).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every sample really blurred
    assert torch.allclose(
        blur_alone.mean(dim=(2, 3)), clean.mean(dim=(2, 3)), atol=0.05
    )  # no contrast change
    assert torch.equal(out.degraded[single], out.singles["noise"][single])  # pass 1 of a single sample
    assert torch.equal(out.degraded[~single], out.steps["noise"][~single])  # the chain elsewhere
    assert all(mask.all() for mask in out.params.applied.values())  # gate 1.0: every op of every chain


def test_a_new_op_needs_no_edit_of_the_torch_cascade(monkeypatch: pytest.MonkeyPatch) -> None:
    """A toy op declared here (numpy + torch twins on one class) runs in both paths and they agree."""
    from hmtir.degrade.ops import DegradationOp, Param
    from hmtir.degrade.presets import Preset, load_preset

    monkeypatch.setattr(OPS, "_entries", dict(OPS._entries))  # register into a copy, undone after the test

    @OPS.register(
        "gamma", summary="Toy: x ** g.", order=6, step="noise", schema=(Param("g", float, ranged=True),)
    )
    class Gamma(DegradationOp):
        @staticmethod
        def sample(rng: np.random.Generator, ranges: dict, shape: tuple[int, int]) -> dict:
            return {"g": float(rng.uniform(*ranges["g"]))}

        @staticmethod
        def apply(x: np.ndarray, p: dict) -> np.ndarray:
            return np.clip(np.power(x, np.float32(p["g"]), out=x), 0, 1, out=x)

        def sample_batch(self, generator, ranges, batch, shape):  # noqa: ANN001, ANN201
            low, high = ranges["g"]
            return {"g": low + (high - low) * torch.rand(batch, generator=generator, dtype=torch.float64)}

        def apply_batch(self, x, p):  # noqa: ANN001, ANN201
            return x.pow(p["g"].float().view(-1, 1, 1, 1)).clamp_(0, 1)

    preset = Preset(
        name="toy",
        summary="contrast then gamma",
        source="test",
        ops=("contrast", "gamma"),
        ranges={"contrast": load_preset("hard").ranges["contrast"], "gamma": {"g": (0.4, 2.5)}},
        gate=None,
        version=1,
    )
    clean = np.random.default_rng(6).random((4, *SHAPE), dtype=np.float32)
    rng = np.random.default_rng(7)
    records = [sample_params(preset, rng, SHAPE, gate=1.0) for _ in range(4)]
    ours = apply_params(torch.from_numpy(clean)[:, None], records, keep_steps=True)
    for i, record in enumerate(records):
        reference = apply_steps(clean[i], record)
        assert np.abs(ours.steps["noise"][i, 0].numpy() - reference["noise"]).max() < 1e-5
        assert np.abs(reference["noise"] - reference["contrast"]).max() > 1e-2  # gamma really ran
    sampled = degrade(torch.from_numpy(clean)[:, None], preset, torch.Generator().manual_seed(8), gate=1.0)
    g = sampled.params.ops["gamma"]["g"].float().view(-1, 1, 1, 1)
    contrast = sampled.params.ops["contrast"]
    first = (torch.from_numpy(clean)[:, None] * contrast["alpha"].float().view(-1, 1, 1, 1)).add_(
        contrast["beta"].float().view(-1, 1, 1, 1)
    )
    assert torch.allclose(sampled.degraded, first.clamp(0, 1).pow(g).clamp(0, 1), atol=1e-6)
