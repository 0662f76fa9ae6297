"""Full-reference metrics and the metric registry: exact agreement with pytorch_msssim / scikit-image."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pytorch_msssim import ssim as msssim_ssim
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hmtir.errors import HmtirError
from hmtir.metrics import METRICS, create_metric, psnr, ssim

TOL = 1e-5


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )


def _random_pairs(seed: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen)
    pred = (target + 0.15 * torch.randn(shape, generator=gen)).clamp(0, 1)
    return pred, target


def _hit_uav_pairs(hit_uav_dir: Path, count: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Real LWIR frames and degraded versions of them (blur + noise), plus a pair of different frames."""
    from hmtir.io.image import read_image

    frames = [read_image(p).data for p in sorted(hit_uav_dir.glob("*.jpg"))[:count]]
    assert frames, f"no frames in {hit_uav_dir}"
    rng = np.random.default_rng(0)
    targets = np.stack(frames)
    kernel = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16
    blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 2, targets)
    preds = np.clip(blurred + rng.normal(0, 0.03, targets.shape), 0, 1).astype(np.float32)
    preds[-1] = targets[0]  # two unrelated real frames
    return torch.from_numpy(preds)[:, None], torch.from_numpy(targets)[:, None]


def test_import_is_cheap() -> None:
    code = (
        "import sys, hmtir.metrics as m; a = 'torch' in sys.modules; "
        "m.METRICS.names(); m.create_metric('psnr'); print(a, 'pyiqa' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_registry_metadata() -> None:
    assert METRICS.names() == ["brisque", "musiq", "nima", "niqe", "psnr", "ssim"]
    modes = {entry.meta.name: entry.meta.mode for entry in METRICS}
    assert modes == {"psnr": "FR", "ssim": "FR", "niqe": "NR", "nima": "NR", "musiq": "NR", "brisque": "NR"}
    assert {e.meta.name for e in METRICS if e.meta.lower_better} == {"niqe", "brisque"}
    assert {e.meta.name for e in METRICS if e.meta.weights is not None} == {
        "niqe",
        "nima",
        "musiq",
        "brisque",
    }
    assert METRICS.meta("nima").weights.filename == "NIMA_InceptionV2_ava-b0c77c00.pth"
    assert METRICS.meta("musiq").weights.filename == "musiq_koniq_ckpt-e95806b9.pth"
    with pytest.raises(
        HmtirError, match=r"unknown metric 'lpips' \(available: brisque, musiq, nima, niqe, psnr, ssim\)"
    ):
        create_metric("lpips")


@pytest.mark.parametrize("shape", [(3, 1, 64, 80), (2, 1, 11, 37), (2, 3, 40, 33), (1, 1, 512, 640)])
def test_ssim_matches_pytorch_msssim_and_skimage_on_random_pairs(shape: tuple[int, ...]) -> None:
    pred, target = _random_pairs(1, shape)
    ours = create_metric("ssim")(pred, target)
    assert ours.shape == (shape[0],) and ours.dtype == torch.float64
    reference = msssim_ssim(pred, target, data_range=1, size_average=False).double()
    assert (ours - reference).abs().max().item() <= TOL
    for i in range(shape[0]):
        if shape[1] == 1:
            assert abs(ours[i].item() - _skimage_ssim(pred[i, 0].numpy(), target[i, 0].numpy())) <= TOL


def test_ssim_and_psnr_on_real_frames(hit_uav_dir: Path) -> None:
    pred, target = _hit_uav_pairs(hit_uav_dir)
    ours_ssim = create_metric("ssim")(pred, target)
    reference = msssim_ssim(pred, target, data_range=1, size_average=False).double()
    assert (ours_ssim - reference).abs().max().item() <= TOL
    ours_psnr = create_metric("psnr")(pred, target)
    for i in range(pred.shape[0]):
        a, b = pred[i, 0].numpy(), target[i, 0].numpy()
        assert abs(ours_ssim[i].item() - _skimage_ssim(a, b)) <= TOL
        assert ours_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-4)
        assert psnr(a, b) == ours_psnr[i].item() and ssim(a, b) == pytest.approx(
            ours_ssim[i].item(), abs=1e-7
        )
    # measured: degraded frames 0.73-0.78 SSIM / ~29.5 dB, the unrelated pair 0.27 / 10.2 dB
    assert ours_ssim[:-1].min() > 0.6 > 0.4 > ours_ssim[-1]
    assert ours_psnr[:-1].min() > 25 > 15 > ours_psnr[-1]


def test_psnr_definition() -> None:
    pred, target = _random_pairs(2, (4, 1, 30, 50))
    expected = [
        20 * math.log10(1 / math.sqrt(np.mean((p.double().numpy() - t.double().numpy()) ** 2)))
        for p, t in zip(pred, target)
    ]
    assert create_metric("psnr")(pred, target).tolist() == pytest.approx(expected, abs=1e-10)
    # identical images: +inf, reported as such
    assert create_metric("psnr")(target, target).tolist() == [math.inf] * 4
    # out-of-range outputs are clamped before scoring
    assert create_metric("psnr")(target * 0 + 1.7, target * 0 + 1.0).tolist() == [math.inf] * 4


def test_psnr_and_ssim_clamp_inputs() -> None:
    pred, target = _random_pairs(3, (2, 1, 40, 40))
    wild = pred * 3 - 1
    for name in ("psnr", "ssim"):
        metric = create_metric(name)
        assert torch.equal(metric(wild, target), metric(wild.clamp(0, 1), target))


def test_batched_scores_equal_single_image_scores() -> None:
    pred, target = _random_pairs(4, (7, 1, 300, 420))  # several CPU chunks
    for name in ("psnr", "ssim"):
        metric = create_metric(name)
        batched = metric(pred, target)
        single = torch.cat([metric(pred[i : i + 1], target[i : i + 1]) for i in range(7)])
        assert torch.allclose(batched, single, rtol=0, atol=1e-7)


def test_quantize_8bit_convention_is_applied_and_recorded() -> None:
    pred, target = _random_pairs(5, (2, 1, 48, 48))
    rounded = torch.from_numpy(np.round(pred.numpy() * 255) / 255).float()
    for name in ("psnr", "ssim"):
        metric = create_metric(name, quantize_8bit=True)
        assert torch.allclose(metric(pred, target), create_metric(name)(rounded, target), rtol=0, atol=1e-12)
        assert metric.definition()["quantize_8bit"] is True
    assert (
        create_metric("psnr")(pred, target)[0] != create_metric("psnr", quantize_8bit=True)(pred, target)[0]
    )


def test_definition_is_json_and_exact() -> None:
    definition = create_metric("ssim").definition()
    json.dumps(definition, allow_nan=False)
    assert definition["settings"]["window_size"] == 11 and definition["settings"]["sigma"] == 1.5
    assert definition["settings"]["filtering"] == "valid" and definition["weights"] is None
    psnr_def = create_metric("psnr").definition()
    json.dumps(psnr_def, allow_nan=False)
    assert psnr_def["score_range"] == [0.0, None] and psnr_def["version"] == "1"


def test_bad_inputs_give_one_line_errors() -> None:
    pred, target = _random_pairs(6, (1, 1, 20, 20))
    metric = create_metric("ssim")
    with pytest.raises(HmtirError, match=r"^metric 'ssim' is full-reference: pass the target image$"):
        metric(pred)
    with pytest.raises(
        HmtirError, match=r"prediction \(1, 1, 20, 20\) and target \(1, 1, 20, 21\) differ in shape"
    ):
        metric(pred, torch.rand(1, 1, 20, 21))
    bad = pred.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(HmtirError, match=r"^metric 'ssim': prediction contains NaN or Inf values$"):
        metric(bad, target)
    with pytest.raises(HmtirError, match=r"must have shape B×1×H×W or B×3×H×W, got \(20, 20\)"):
        metric(pred[0, 0], target[0, 0])
    with pytest.raises(HmtirError, match=r"must be a float tensor"):
        metric((pred * 255).to(torch.uint8), target)
    with pytest.raises(HmtirError, match=r"SSIM needs images of at least 11×11 px, got 10×20"):
        metric(pred[..., :10, :], target[..., :10, :])
    with pytest.raises(HmtirError, match=r"must be an H×W array"):
        ssim(np.zeros((2, 20, 20)), np.zeros((2, 20, 20)))


def test_auto_device_runs_where_torch_says() -> None:
    metric = create_metric("ssim", device="auto")
    assert metric.device == ("cuda" if torch.cuda.is_available() else "cpu")
    pred, target = _random_pairs(7, (2, 1, 32, 32))
    assert torch.allclose(metric(pred, target).cpu(), create_metric("ssim")(pred, target), atol=1e-6)


@pytest.mark.parametrize("kernel", ["torch", "host"])
def test_both_kernels_give_the_definition_on_cpu_tensors(kernel: str) -> None:
    """The torch path is what a GPU runs: forcing it on CPU tensors checks its formula on every machine."""
    from hmtir.metrics.full_reference import psnr_scores, ssim_scores

    pred, target = _random_pairs(3, (3, 1, 48, 61))
    reference = msssim_ssim(pred, target, data_range=1, size_average=False).double()
    assert (ssim_scores(pred, target, kernel=kernel) - reference).abs().max().item() <= TOL
    expected = [
        20 * math.log10(1 / math.sqrt(np.mean((p.double().numpy() - t.double().numpy()) ** 2)))
        for p, t in zip(pred, target)
    ]
    assert psnr_scores(pred, target, kernel=kernel).tolist() == pytest.approx(expected, abs=1e-10)
    with pytest.raises(ValueError, match="kernel must be one of"):
        ssim_scores(pred, target, kernel="cuda")
