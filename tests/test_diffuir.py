"""DiffUIR: strict loading of the release layout, golden runs of the official code, 1→3→1, determinism."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.methods import load_method
from hmtir.models.diffuir import (
    RELEASE,
    SCHEDULE_BUFFERS,
    DiffuirRestorer,
    DiffuirUNet,
    config_from_state_dict,
    diffuir_unet,
    load_unet,
    release_schedule,
    unet_state_dict,
)

TINY = {"dim": 8, "dim_mults": [1, 2]}


@pytest.fixture(scope="module")
def reference(shared_reference: Callable[[str], Path]) -> Path:
    return shared_reference("diffuir")


@pytest.fixture(scope="module")
def golden(reference: Path) -> dict:
    return torch.load(reference / "tiny_golden.pt", weights_only=True)


@pytest.fixture(scope="module")
def manifest(reference: Path) -> dict:
    return json.loads((reference / "state_dict_manifest.json").read_text())


def _golden_unet(golden: dict) -> DiffuirUNet:
    state = unet_state_dict(golden["state_dict"])
    unet = DiffuirUNet(**config_from_state_dict(state))
    unet.load_state_dict(state, strict=True)
    return unet.eval()


def _write_release_layout(
    path: Path, unet: DiffuirUNet, online_shift: float = 0.1, old_ema: bool = False
) -> Path:
    """A file laid out like model-300.pt (schedule buffers omitted: the loader ignores them anyway)."""
    ema = {f"model.unet0.{k}": v.clone() for k, v in unet.state_dict().items()}
    online = {k: v + online_shift for k, v in ema.items()}
    flag, step = (
        (torch.ones(1), torch.ones(1, dtype=torch.int64))
        if old_ema
        else (torch.tensor(True), torch.tensor(7))
    )
    checkpoint = {
        "step": 7,
        "model": online,
        "opt0": {},
        "ema": {
            "initted": flag,
            "step": step,
            **{f"online_model.{k}": v for k, v in online.items()},
            **{f"ema_model.{k}": v for k, v in ema.items()},
        },
        "scaler": None,
    }
    torch.save(checkpoint, path)
    return path


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return _write_release_layout(tmp_path / "model-tiny.pt", DiffuirUNet(**TINY))


# --- layout of the released checkpoint -------------------------------------------------------------------


def test_full_size_unet_matches_release_manifest(manifest: dict) -> None:
    with torch.device("meta"):
        unet = diffuir_unet()
    assert (
        sum(p.numel() for p in unet.parameters())
        == manifest["num_params"]["ResidualDiffusion_trainable_params"]
    )
    assert manifest["num_params"]["ResidualDiffusion_trainable_params"] == 36_261_187

    wrapper = {e["key"]: tuple(e["shape"]) for e in manifest["model_state_dict"]}
    assert {k for k in wrapper if not k.startswith("model.unet0.")} == set(SCHEDULE_BUFFERS)
    released = {k: wrapper[f"model.unet0.{k}"] for k in unet_state_dict(wrapper)}
    ours = {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    assert ours == released  # every key and shape, both ways

    ema_keys = [e["key"] for e in manifest["ema_state_dict"]]
    assert ema_keys[:2] == ["initted", "step"]
    assert sorted(ema_keys[2:]) == sorted(
        [f"online_model.{k}" for k in wrapper] + [f"ema_model.{k}" for k in wrapper]
    )

    meta_state = {k: torch.empty(s, device="meta") for k, s in released.items()}
    assert config_from_state_dict(meta_state) == {"dim": 64, "dim_mults": [1, 2, 4, 8], "channels": 3}


@pytest.mark.parametrize("size", ["T", "S", "B", "L"])
def test_released_sizes_parameter_counts(size: str, manifest: dict) -> None:
    with torch.device("meta"):
        unet = diffuir_unet(size)
    expected = manifest["other_released_sizes"][f"DiffUIR-{size}"]
    assert (
        sum(p.numel() for p in unet.parameters())
        == expected["num_params"]
        == RELEASE["sizes"][size]["num_params"]
    )
    assert len(unet.state_dict()) == expected["num_unet_state_keys"]


def test_schedule_constants_match_release(manifest: dict, golden: dict) -> None:
    schedule = release_schedule()
    sampling = manifest["sampling"]
    assert [list(p) for p in schedule.time_pairs] == sampling["time_pairs"]
    for (t, t_next), expected in zip(
        schedule.time_pairs, sampling["per_step_constants_float32"], strict=True
    ):
        assert schedule.time_condition(t, 1, "cpu").item() == expected["time_cond_fed_to_unet"]
        assert schedule.alphas_cumsum[t].item() == expected["alphas_cumsum_t"]
        assert schedule.delta_cumsum[t].item() == expected["delta_cumsum_t"]
        if t_next >= 0:
            alpha = schedule.alphas_cumsum[t] - schedule.alphas_cumsum[t_next]
            delta = schedule.delta_cumsum[t] - schedule.delta_cumsum[t_next]
            assert alpha.item() == expected["alpha_step(A_t-A_next)"]
            assert delta.item() == expected["delta_step(D_t-D_next)"]
    buffers = golden["state_dict"]
    assert torch.equal(schedule.delta_cumsum, buffers["delta_cumsum"])
    # The release sums per-step differences; recomputing A directly differs by ≤1 float32 ulp elsewhere.
    torch.testing.assert_close(schedule.alphas_cumsum, buffers["alphas_cumsum"], rtol=0, atol=1.2e-7)


# --- golden runs of the official code ----------------------------------------------------------------------


@pytest.mark.parametrize("case", ["case_a", "case_b_padding"])
def test_unet_calls_teacher_forced(golden: dict, case: str) -> None:
    unet = _golden_unet(golden)
    for call in golden[case]["unet_calls"]:
        with torch.no_grad():
            out = unet(call["unet_input"], call["time_cond"])
        expected = call["unet_output"]
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["case_a", "case_b_padding"])
def test_loader_picks_ema_and_reproduces_golden(reference: Path, golden: dict, case: str) -> None:
    data = golden[case]
    layout = reference / "tiny_checkpoint_layout.pt"
    assert torch.equal(
        torch.randn(data["input"].shape, generator=torch.Generator().manual_seed(data["sample_seed"])),
        data["noise_draws"][0],
    )

    restorer = DiffuirRestorer(load_unet(layout), release_schedule())
    trajectory: list[torch.Tensor] = []
    out = restorer.restore(data["input"], [data["sample_seed"]], trajectory=trajectory)
    torch.testing.assert_close(out, data["output"], rtol=1e-4, atol=1e-5)
    assert len(trajectory) == len(data["trajectory_0_1"]) == 4
    for state, expected in zip(trajectory, data["trajectory_0_1"], strict=True):
        torch.testing.assert_close((state + 1) / 2, expected, rtol=1e-4, atol=1e-5)

    online = DiffuirRestorer(load_unet(layout, use="online"), release_schedule())
    assert (online.restore(data["input"], [data["sample_seed"]]) - data["output"]).abs().max() > 0.1


def test_loader_tolerates_old_ema_pytorch_and_rejects_missing_ema(tmp_path: Path) -> None:
    torch.manual_seed(1)
    unet = DiffuirUNet(**TINY)
    path = _write_release_layout(tmp_path / "old.pt", unet, old_ema=True)
    loaded = load_unet(path)
    assert loaded.config == unet.config
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), unet.state_dict().values(), strict=True)
    )

    no_ema = tmp_path / "no_ema.pt"
    torch.save({"step": 1, "model": {f"model.unet0.{k}": v for k, v in unet.state_dict().items()}}, no_ema)
    with pytest.raises(HmtirError, match=r"no_ema\.pt has no 'ema' weights"):
        load_unet(no_ema)
    assert load_unet(no_ema, use="online").config == unet.config


def test_loader_is_strict(tmp_path: Path) -> None:
    torch.manual_seed(2)
    state = {f"model.unet0.{k}": v for k, v in DiffuirUNet(**TINY).state_dict().items()}
    state["model.unet1.final_conv.bias"] = torch.zeros(3)
    path = tmp_path / "two_unets.pt"
    torch.save(state, path)
    with pytest.raises(HmtirError, match=r"unexpected keys: model\.unet1\.final_conv\.bias"):
        load_unet(path)


# --- the method ------------------------------------------------------------------------------------------


def test_missing_weights_names_file_and_download_command() -> None:
    with pytest.raises(HmtirError, match=r"missing weights model-300\.pt: run `hmtir download diffuir`"):
        load_method("diffuir")


def test_method_replicates_grey_and_averages_back(tiny_checkpoint: Path) -> None:
    method = load_method("diffuir", weights=tiny_checkpoint, seed=5)
    assert method.meta.kind == "learned" and method.meta.weights.filename == "model-300.pt"
    grey = torch.rand(2, 1, 12, 20, generator=torch.Generator().manual_seed(0))
    out = method.restore(grey)
    assert out.shape == grey.shape and out.dtype == torch.float32
    rgb = method.restorer.restore(grey.expand(-1, 3, -1, -1), [5, 5])
    assert not torch.equal(rgb[:, :1], rgb[:, 1:2])  # the channels really differ, so averaging matters
    torch.testing.assert_close(out, rgb.mean(dim=1, keepdim=True), rtol=0, atol=0)
    assert 0 <= out.min() and out.max() <= 1
    info = method.describe()
    assert info["weights_sha256"] and info["checkpoint"] == "model-tiny.pt" and info["params"]["seed"] == 5


def test_method_is_deterministic_and_batch_independent(tiny_checkpoint: Path) -> None:
    method = load_method("diffuir", weights=tiny_checkpoint, seed=3)
    frames = torch.rand(2, 1, 13, 19, generator=torch.Generator().manual_seed(1))
    first = method.restore(frames)
    assert torch.equal(first, method.restore(frames))
    alone = torch.cat([method.restore(frames[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(first, alone, rtol=0, atol=1e-6)
    other_seed = load_method("diffuir", weights=tiny_checkpoint, seed=4).restore(frames)
    assert (other_seed - first).abs().max() > 1e-3


def test_tiling(tiny_checkpoint: Path) -> None:
    frames = torch.rand(1, 1, 36, 40, generator=torch.Generator().manual_seed(2))
    whole = load_method("diffuir", weights=tiny_checkpoint).restore(frames)
    covering = load_method("diffuir", weights=tiny_checkpoint, tile_size=64).restore(frames)
    assert torch.equal(whole, covering)
    tiled_method = load_method("diffuir", weights=tiny_checkpoint, tile_size=32, tile_overlap=8)
    tiled = tiled_method.restore(frames)
    assert tiled.shape == frames.shape and 0 <= tiled.min() and tiled.max() <= 1
    assert not torch.equal(tiled, whole)  # tiles normalise on their own statistics
    with pytest.raises(HmtirError, match="diffuir tile_size must be ≥ 32"):
        load_method("diffuir", weights=tiny_checkpoint, tile_size=16)
