"""The numpy reference cascade: preset data, sampled statistics, op semantics, real-frame PSNR ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hmtir.data.layout import list_images
from hmtir.degrade.ops import OPS, apply, apply_steps, radial_mask
from hmtir.degrade.presets import load_preset, preset_names, sample_params
from hmtir.degrade.synthesize import frame_stats, image_rng
from hmtir.errors import HmtirError
from hmtir.vocabulary import PRESET_TO_SUBSET, STEPS

SHAPE = (48, 64)
N_DRAWS = 2000


def only(op: str, **params: object) -> dict:
    """Parameters applying a single op with given values (the rest of the record as sample_params makes it)."""
    record = sample_params("hard", np.random.default_rng(0), SHAPE, gate=1.0)
    record["ops"] = {op: {**record["ops"][op], **params, "applied": True}}
    return record


def test_presets_are_the_documented_set_and_map_to_subsets() -> None:
    assert preset_names() == ["hard", "normal", "single-contrast", "single-blur", "single-noise"]
    assert set(preset_names()) == set(PRESET_TO_SUBSET)
    assert load_preset("single-noise").ops == ("nonuniformity", "stripe", "gaussian")
    assert load_preset("single-noise").steps == ("noise",)
    assert load_preset("hard").ops == tuple(OPS.names()[i] for i in (1, 0, 3, 4, 2))
    with pytest.raises(HmtirError, match="unknown degradation preset 'medium' \\(available: hard, normal"):
        load_preset("medium")


def test_registry_records_physical_order_and_step() -> None:
    order = sorted(OPS.names(), key=lambda n: OPS.meta(n).order)
    assert order == ["contrast", "blur", "nonuniformity", "stripe", "gaussian"]
    assert [OPS.meta(n).step for n in order] == ["contrast", "blur", "noise", "noise", "noise"]


@pytest.fixture(scope="module")
def hard_draws() -> list[dict]:
    rng = np.random.default_rng(123)
    return [sample_params("hard", rng, SHAPE, gate=0.8)["ops"] for _ in range(N_DRAWS)]


def test_hard_ranges_match_the_official_script(hard_draws: list[dict]) -> None:
    def values(op: str, key: str) -> np.ndarray:
        return np.array([d[op][key] for d in hard_draws], dtype=float)

    c, beta = values("contrast", "c"), values("contrast", "beta")
    assert -0.8 <= c.min() < -0.79 and -0.21 < c.max() <= -0.2
    assert 0.2 <= beta.min() < 0.21 and 0.39 < beta.max() <= 0.4
    assert np.allclose(values("contrast", "alpha"), 1 + c)
    assert set(values("blur", "ksize").astype(int)) == set(range(7, 24, 2))
    sigma = values("blur", "sigma")
    assert 1.0 <= sigma.min() < 1.05 and 2.95 < sigma.max() <= 3.0
    assert set(values("nonuniformity", "delta").astype(int)) == set(range(15, 76))
    variance = values("gaussian", "variance")
    assert 25 <= variance.min() < 27 and 398 < variance.max() <= 400
    gain, offset = values("stripe", "gain_std"), values("stripe", "offset_std")
    assert 0.03 <= gain.min() < 0.031 and 0.099 < gain.max() <= 0.10
    assert 0.0 <= offset.min() < 0.05 and 4.95 < offset.max() <= 5.0
    # 50/50 choices: within 4 binomial standard deviations
    tolerance = 4 * math.sqrt(0.25 / N_DRAWS)
    assert abs(np.mean([d["stripe"]["axis"] == "column" for d in hard_draws]) - 0.5) < tolerance
    assert abs(np.mean([d["nonuniformity"]["inverted"] for d in hard_draws]) - 0.5) < tolerance


@pytest.mark.parametrize("gate", [0.8, 0.3])
def test_each_op_is_gated_independently_with_probability_gate(gate: float) -> None:
    rng = np.random.default_rng(7)
    draws = [sample_params("normal", rng, SHAPE, gate=gate)["ops"] for _ in range(N_DRAWS)]
    applied = np.array([[d[op]["applied"] for op in d] for d in draws], dtype=float)
    tolerance = 4 * math.sqrt(gate * (1 - gate) / N_DRAWS)
    assert np.all(np.abs(applied.mean(axis=0) - gate) < tolerance)
    both = applied[:, 0] * applied[:, 4]  # contrast and gaussian: independent gates
    assert abs(both.mean() - gate**2) < 4 * math.sqrt(gate**2 * (1 - gate**2) / N_DRAWS)


def test_gate_does_not_shift_the_other_draws() -> None:
    a = sample_params("hard", np.random.default_rng(5), SHAPE, gate=0.8)
    b = sample_params("hard", np.random.default_rng(5), SHAPE, gate=0.3)
    strip = [
        {op: {k: v for k, v in p.items() if k != "applied"} for op, p in r["ops"].items()} for r in (a, b)
    ]
    assert strip[0] == strip[1]


def test_single_presets_hold_only_their_step_and_always_apply_it() -> None:
    rng = np.random.default_rng(1)
    for name, step in [("single-contrast", "contrast"), ("single-blur", "blur"), ("single-noise", "noise")]:
        for _ in range(50):
            params = sample_params(name, rng, SHAPE, gate=0.8)
            assert params["gate"] == 1.0
            assert {OPS.meta(op).step for op in params["ops"]} == {step}
            assert all(op["applied"] for op in params["ops"].values())


def test_normal_ranges_are_milder_than_hard() -> None:
    hard, normal = load_preset("hard").ranges, load_preset("normal").ranges
    assert normal["contrast"]["beta"][1] < hard["contrast"]["beta"][1]
    assert normal["contrast"]["c"][0] > hard["contrast"]["c"][0]
    assert normal["gaussian"]["variance"][1] < hard["gaussian"]["variance"][1]
    assert normal["nonuniformity"]["delta"][1] < hard["nonuniformity"]["delta"][1]


def test_contrast_formula_is_exact() -> None:
    x = np.linspace(0, 1, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    out = apply(x, only("contrast", alpha=0.5, beta=0.6))
    expected = np.clip(x * np.float32(0.5) + np.float32(0.6), 0, 1)
    assert np.array_equal(out, expected)
    assert out.max() == 1.0  # clipped: 0.5 + 0.6 > 1


def test_blur_preserves_mean_and_constants() -> None:
    x = np.random.default_rng(2).random(SHAPE, dtype=np.float32)
    out = apply(x, only("blur", ksize=23, sigma=3.0))
    assert abs(float(out.mean()) - float(x.mean())) < 2e-3
    assert out.std() < 0.5 * x.std()  # it does blur
    flat = np.full(SHAPE, 0.37, dtype=np.float32)
    assert np.allclose(apply(flat, only("blur", ksize=9, sigma=2.0)), 0.37, atol=1e-6)


@pytest.mark.parametrize("axis", ["column", "row"])
def test_stripes_are_constant_along_the_stripe_axis(axis: str) -> None:
    flat = np.full(SHAPE, 0.5, dtype=np.float32)
    out = apply(flat, only("stripe", axis=axis, gain_std=0.1, offset_std=5.0, noise_seed=11))
    lines = out if axis == "column" else out.T  # rows of `lines` vary only across stripes
    assert np.all(lines == lines[0:1, :])
    assert lines[0].std() > 0.01


def test_nonuniformity_is_radial_about_its_centre() -> None:
    zero = np.zeros((49, 65), dtype=np.float32)
    params = only("nonuniformity", centre_x=0.5, centre_y=0.5, delta=51, inverted=False)
    params["shape"] = [49, 65]
    out = apply(zero, params)
    assert out[24, 32] == pytest.approx(51 / 255, abs=1e-6)  # m = 1 at the centre
    assert np.allclose(out, out[::-1, :], atol=1e-6) and np.allclose(out, out[:, ::-1], atol=1e-6)
    assert out[0, 0] == pytest.approx(0.0, abs=1e-6)  # r = 1 at the farthest corner
    assert np.all(np.diff(out[24, 32:]) <= 1e-7)  # decreasing away from the centre
    params["ops"]["nonuniformity"]["inverted"] = True
    inverted = apply(zero, params)
    assert np.allclose(inverted, 51 / 255 - out, atol=1e-6)
    m = radial_mask((49, 65), 0.5, 0.5)
    assert m[24, 32] == pytest.approx(1.0) and m.min() == pytest.approx(0.0, abs=1e-6)


def test_gaussian_noise_has_the_sampled_variance() -> None:
    flat = np.full((256, 256), 0.5, dtype=np.float32)
    params = only("gaussian", variance=100.0, noise_seed=3)
    params["shape"] = [256, 256]
    out = apply(flat, params)
    assert abs(float((out - 0.5).std()) - 10 / 255) < 0.02 * 10 / 255
    assert np.array_equal(out, apply(flat, params))  # regenerated from the seed


def test_steps_chain_to_the_final_image() -> None:
    x = np.random.default_rng(4).random(SHAPE, dtype=np.float32)
    params = sample_params("hard", np.random.default_rng(9), SHAPE, gate=1.0)
    steps = apply_steps(x, params)
    assert list(steps) == list(STEPS)
    assert np.array_equal(steps["noise"], apply(x, params))
    assert np.array_equal(
        steps["contrast"], apply(x, {**params, "ops": {"contrast": params["ops"]["contrast"]}})
    )
    assert not np.array_equal(steps["contrast"], steps["blur"])


def test_params_are_json_serialisable_and_round_trip() -> None:
    import json

    params = sample_params("hard", np.random.default_rng(0), SHAPE)
    x = np.random.default_rng(4).random(SHAPE, dtype=np.float32)
    assert np.array_equal(apply(x, json.loads(json.dumps(params))), apply(x, params))


def test_wrong_frame_size_is_a_one_line_error() -> None:
    params = sample_params("hard", np.random.default_rng(0), SHAPE)
    with pytest.raises(
        HmtirError, match="frame is 10×10 but its degradation parameters were sampled for 48×64"
    ):
        apply(np.zeros((10, 10), np.float32), params)


def test_real_frames_land_in_the_calibrated_psnr_ranges(hit_uav_dir) -> None:
    """On official-like exposure (frames ×0.45, see CALIBRATION.md): hard well below normal, both in range."""
    from hmtir.io.image import read_image

    names = list_images(hit_uav_dir)[::20]  # 12 frames
    results: dict[str, list[tuple[float, float]]] = {"hard": [], "normal": []}
    for name in names:
        clean = (np.rint(read_image(hit_uav_dir / name).data * 0.45 * 255) / 255).astype(np.float32)
        for preset in results:
            params = sample_params(preset, image_rng(0, name, preset), clean.shape, gate=1.0)
            stats = frame_stats(clean, np.rint(apply(clean, params) * 255) / 255)
            results[preset].append((stats["psnr"], stats["grey_shift"]))
    hard, normal = np.array(results["hard"]), np.array(results["normal"])
    assert 8.0 < hard[:, 0].mean() < 13.0 and hard[:, 1].mean() > 40
    assert 12.5 < normal[:, 0].mean() < 17.3 and 17 < normal[:, 1].mean() < 50
    assert normal[:, 0].mean() > hard[:, 0].mean() + 2
