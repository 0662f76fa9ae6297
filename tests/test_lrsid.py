"""LRSID: its proximal operators, the ADMM solver's behaviour, and destriping quality.

Margins measured on 2026-11-27 (defaults, max_iter 15, synthetic 128×160 scene of tests/test_wfaf.py, gain
std 0.06, offset std 3 grey levels, seeds 0-4, both orientations): PSNR gain 10.1-13.8 dB; stripe-free
scene → 56.9 dB PSNR vs itself; real 256×320 crops of REAL_FRAMES → 7.1-12.7 dB; objective ratio 0.20.
Asserted margins sit below.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hmtir.methods import load_method
from hmtir.methods.destripe import classical_params
from hmtir.methods.lrsid import lrsid_columns, singular_value_threshold, soft_threshold
from tests.test_wfaf import AXES, add_stripes, psnr, real_crops, restore_one, stripe_gain, synthetic_scene

SOLVER_KEYS = ("tau", "lambda1", "lambda2", "mu", "mu_growth", "mu_max", "max_iter", "tol")


@pytest.fixture(scope="module")
def lrsid():
    return load_method("lrsid", max_iter=15)


def solver_params(**overrides) -> dict:
    params = classical_params("lrsid", **overrides)
    return {key: params[key] for key in SOLVER_KEYS}


def test_soft_threshold() -> None:
    x = torch.tensor([-3.0, -0.5, 0.0, 0.2, 2.0])
    assert torch.equal(soft_threshold(x, 1.0), torch.tensor([-2.0, 0.0, 0.0, 0.0, 1.0]))


@pytest.mark.parametrize("shape", [(20, 30), (30, 20)])
def test_singular_value_threshold_matches_the_svd_definition(shape: tuple[int, int]) -> None:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) + 2.0
    u, s, vh = torch.linalg.svd(x.double(), full_matrices=False)
    threshold = float(s[3])  # keeps exactly three singular values
    expected = (u * (s - threshold).clamp(min=0)) @ vh
    result = singular_value_threshold(x, threshold)
    assert result.dtype == x.dtype
    torch.testing.assert_close(result.double(), expected, rtol=0, atol=2e-5)
    assert torch.linalg.matrix_rank(result.double(), atol=1e-3) == 3


def lrsid_objective(observed: torch.Tensor, stripes: torch.Tensor, params: dict) -> float:
    """The LRSID model's cost of a stripe layer (periodic differences, as the solver uses)."""
    height, width = observed.shape
    clean = observed - stripes

    def l1_grad(u: torch.Tensor, dim: int) -> float:
        return float((torch.roll(u, -1, dims=dim) - u).abs().sum())

    nuclear = float(torch.linalg.svdvals(stripes.double()).sum())
    return (
        params["tau"] * (l1_grad(clean, 1) + l1_grad(clean, 0))
        + params["lambda1"] * l1_grad(stripes, 0)
        + params["lambda2"] * (height * width) ** 0.5 * nuclear
    )


def test_solver_lowers_its_own_objective() -> None:
    clean = synthetic_scene()
    observed = torch.from_numpy(add_stripes(clean, "column", 4))
    params = solver_params(max_iter=15)
    restored, _ = lrsid_columns(observed, **params)
    stripes = observed - restored
    at_zero = lrsid_objective(observed, torch.zeros_like(observed), params)
    assert lrsid_objective(observed, stripes, params) < 0.3 * at_zero


def test_stops_on_relative_change_or_iteration_cap() -> None:
    observed = torch.from_numpy(add_stripes(synthetic_scene(), "column", 4))
    _, capped = lrsid_columns(observed, **solver_params(max_iter=7, tol=0.0))
    assert capped == 7
    _, early = lrsid_columns(observed, **solver_params(max_iter=50, tol=0.05))
    assert 1 < early < 50


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("seed", [0, 3])
def test_removes_synthetic_stripes(lrsid, axis: str, seed: int) -> None:
    assert stripe_gain(lrsid, synthetic_scene(), axis, seed) > 9.0


def test_nearly_identity_without_stripes(lrsid) -> None:
    clean = synthetic_scene()
    assert psnr(clean, restore_one(lrsid, clean)) > 53.0


def test_on_real_frames(lrsid, hit_uav_dir: Path) -> None:
    for i, crop in enumerate(real_crops(hit_uav_dir)):
        for axis in AXES:
            assert stripe_gain(lrsid, crop, axis, 10 + i) > 6.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="machine: needs a CUDA device")
def test_runs_on_the_input_device_and_matches_cpu(lrsid) -> None:
    degraded = torch.from_numpy(add_stripes(synthetic_scene(), "row", 1))[None, None]
    on_gpu = lrsid.restore(degraded.cuda(), "noise", "single")
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), lrsid.restore(degraded, "noise", "single"), rtol=0, atol=1e-3)
