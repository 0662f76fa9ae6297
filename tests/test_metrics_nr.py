"""No-reference metrics: NIQE checked offline against pyiqa's published calibration; NIMA/MUSIQ/BRISQUE
loaded from locally saved random-init weights through the same path as real weights; missing weights fail
at once, before any network code runs.
"""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hmtir.errors import HmtirError
from hmtir.metrics import METRICS, create_metric
from hmtir.metrics.no_reference import bare_network, niqe_params_from_basicsr
from hmtir.paths import weights_dir
from hmtir.weights import sha256_file

REPO = Path(__file__).resolve().parents[1]
CALIBRATION_IMAGES = ["I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"]
# NIQE amplifies float32 rounding: nudging half the input pixels by one float32 ulp moves a score by up to
# 6.9e-3 (5 draws, benchmarks/RESULTS.md), so any CPU whose kernels round differently may differ by that much.
# Measured |Δ| against pyiqa 0.1.16's "niqe(ours)" row: 6e-4 on one x86 machine, 2.0e-3 on an AMD EPYC with
# AVX512 (unchanged by OPENBLAS_CORETYPE, ATEN_CPU_CAPABILITY, DNNL ISA caps, MKL_CBWR, 1 or 2 threads).
NIQE_CALIBRATION_TOL = 1e-2
# pip's words for an unreachable registry (anything else is a real failure, not a reason to skip)
_OFFLINE_HINTS = (
    "newconnectionerror",
    "failed to establish a new connection",
    "name resolution",
    "network is unreachable",
    "timed out",
    "proxyerror",
)


@pytest.fixture(scope="session")
def download_cache() -> Path:
    path = Path(os.environ.get("HMTIR_TEST_CACHE") or REPO / ".cache" / "test-downloads")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _source_archive(name: str, version: str, cache: Path) -> Path:
    """The PyPI source archive of ``name==version``, downloaded once with pip and kept in ``cache``.

    pip prepares an sdist's metadata before saving it: pyiqa needs an isolated build (its version comes
    from the build backend), basicsr a non-isolated one (its build requirements import torch).
    """
    archive = cache / f"{name}-{version}.tar.gz"
    stderr = ""
    for isolation in ([], ["--no-build-isolation"]):
        if archive.is_file():
            return archive
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", *isolation,
               "--retries", "1", "--timeout", "15", "-d", str(cache), f"{name}=={version}"]  # fmt: skip
        stderr += subprocess.run(cmd, capture_output=True, text=True).stderr
    if archive.is_file():
        return archive
    message = (stderr.strip().splitlines() or ["pip failed"])[-1]
    if any(hint in stderr.lower() for hint in _OFFLINE_HINTS):
        pytest.skip(f"pip cannot reach the package registry to fetch {name}=={version}: {message}")
    pytest.fail(f"pip download {name}=={version} failed: {message}")


def _member_bytes(archive: Path, suffix: str) -> bytes:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(suffix):
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise AssertionError(f"{suffix} not in {archive}")


@pytest.fixture(scope="session")
def niqe_weights(download_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = _source_archive("basicsr", "1.4.2", download_cache)
    npz = tmp_path_factory.mktemp("basicsr") / "niqe_pris_params.npz"
    npz.write_bytes(_member_bytes(archive, "basicsr/metrics/niqe_pris_params.npz"))
    return niqe_params_from_basicsr(npz, tmp_path_factory.mktemp("niqe") / "niqe_modelparameters.mat")


@pytest.fixture(scope="session")
def pyiqa_calibration(download_cache: Path) -> tuple[dict[str, dict[str, float]], torch.Tensor]:
    """pyiqa's published calibration table and its five distorted calibration images (from its sdist)."""
    archive = _source_archive("pyiqa", package_version("pyiqa"), download_cache)
    table_text = _member_bytes(archive, "ResultsCalibra/calibration_summary.csv").decode()
    table = {
        row["Method"]: {k: float(v) for k, v in row.items() if k != "Method"}
        for row in csv.DictReader(io.StringIO(table_text))
    }
    images = [
        np.asarray(
            Image.open(io.BytesIO(_member_bytes(archive, f"ResultsCalibra/dist_dir/{n}"))).convert("RGB")
        )
        for n in CALIBRATION_IMAGES
    ]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
    return table, batch


def test_niqe_reproduces_pyiqa_calibration(niqe_weights: Path, pyiqa_calibration: tuple) -> None:
    table, batch = pyiqa_calibration
    scores = create_metric("niqe", weights=niqe_weights)(batch)
    expected = [table["niqe(ours)"][name] for name in CALIBRATION_IMAGES]
    assert scores.shape == (5,) and scores.dtype == torch.float64
    assert np.abs(scores.numpy() - np.array(expected)).max() <= NIQE_CALIBRATION_TOL


def test_niqe_scores_a_one_channel_frame_as_its_luma(niqe_weights: Path, hit_uav_dir: Path) -> None:
    from hmtir.io.image import read_image

    frame = torch.from_numpy(read_image(sorted(hit_uav_dir.glob("*.jpg"))[0]).data)[None, None]
    metric = create_metric("niqe", weights=niqe_weights)
    grey = metric(frame)
    assert torch.isfinite(grey).all() and 0 < grey.item() < 100
    assert grey.item() == pytest.approx(metric(frame.expand(-1, 3, -1, -1)).item(), abs=1e-6)


def test_niqe_weights_found_in_hmtir_and_pyiqa_folders(
    niqe_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = torch.rand(1, 1, 100, 130, generator=torch.Generator().manual_seed(0))
    expected = create_metric("niqe", weights=niqe_weights)(image)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for folder in (weights_dir(), tmp_path / "torch" / "hub" / "pyiqa"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "niqe_modelparameters.mat").write_bytes(niqe_weights.read_bytes())
        metric = create_metric("niqe")
        assert torch.equal(metric(image), expected)
        assert metric.definition()["weights"] == {
            "filename": "niqe_modelparameters.mat",
            "sha256": sha256_file(niqe_weights),
        }
        (folder / "niqe_modelparameters.mat").unlink()


def test_niqe_params_conversion_rejects_foreign_files(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, mu_pris_param=np.zeros(5), cov_pris_param=np.eye(5))
    with pytest.raises(HmtirError, match=r"expected a 36-vector mu_pris_param and a 36x36 cov_pris_param"):
        niqe_params_from_basicsr(bogus, tmp_path / "out.mat")
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(HmtirError, match=r"junk.npz is not BasicSR's niqe_pris_params.npz"):
        niqe_params_from_basicsr(tmp_path / "junk.npz", tmp_path / "out.mat")
    assert not (tmp_path / "out.mat").exists()


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-init checkpoints under the real file names, in pyiqa's own checkpoint layouts."""
    folder = tmp_path_factory.mktemp("random-weights")
    paths = {}
    for name, key in (("nima", "params"), ("musiq", None)):
        torch.manual_seed(0)
        state = bare_network(name).state_dict()
        paths[name] = folder / METRICS.meta(name).weights.filename
        torch.save({key: state} if key else state, paths[name])
    gen = torch.Generator().manual_seed(0)
    paths["brisque"] = folder / METRICS.meta("brisque").weights.filename
    torch.save((torch.randn(40, generator=gen, dtype=torch.float64), torch.rand(40, 36, generator=gen, dtype=torch.float64)), paths["brisque"])  # fmt: skip
    return paths


@pytest.mark.parametrize("name", ["nima", "musiq", "brisque"])
def test_random_init_networks_score_through_the_real_loading_path(name: str, random_weights: dict) -> None:
    metric = create_metric(name, weights=random_weights[name])
    images = torch.rand(2, 1, 96, 128, generator=torch.Generator().manual_seed(1))
    scores = metric(images)
    assert scores.shape == (2,) and scores.dtype == torch.float64 and torch.isfinite(scores).all()
    # deterministic and batch-independent; networks see grey replicated to RGB (BRISQUE scores the grey)
    again = metric(images[1:] if name == "brisque" else images[1:].expand(-1, 3, -1, -1))
    assert again.item() == pytest.approx(scores[1].item(), abs=1e-5)
    if name == "nima":
        assert ((scores >= 1) & (scores <= 10)).all()  # mean of a 10-bin distribution
    assert metric.definition()["weights"]["sha256"] == sha256_file(random_weights[name])


def test_network_weights_found_in_hmtir_weights(
    random_weights: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HMTIR_WEIGHTS", str(random_weights["musiq"].parent))
    metric = create_metric("musiq")
    assert metric.definition()["weights"]["filename"] == "musiq_koniq_ckpt-e95806b9.pth"
    assert metric.definition()["settings"]["one_channel_input"] == "replicated to RGB"


def test_wrong_or_corrupt_weights_are_one_line_errors(random_weights: dict, tmp_path: Path) -> None:
    with pytest.raises(HmtirError, match=r"weights file .*musiq_koniq_ckpt-e95806b9.pth does not fit NIMA: "):
        create_metric("nima", weights=random_weights["musiq"])
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(
        HmtirError, match=r"^cannot read weights file .*junk.pth \(\w+\); delete it and get it again$"
    ):
        create_metric("musiq", weights=junk)
    with pytest.raises(HmtirError, match=r"^weights file not found: .*nowhere.pth$"):
        create_metric("brisque", weights=tmp_path / "nowhere.pth")


@pytest.mark.parametrize("name", ["niqe", "nima", "musiq", "brisque"])
def test_missing_weights_fail_before_any_network_access(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    attempts: list[object] = []

    def no_network(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    filename = METRICS.meta(name).weights.filename
    source = METRICS.meta(name).weights.source
    expected = (
        f"missing weights {filename}: run `hmtir download {source}`, or put the file in {weights_dir()} "
        f"(searched: {weights_dir()}, {tmp_path / 'torch' / 'hub' / 'pyiqa'})"
    )
    with pytest.raises(HmtirError, match=f"^{re.escape(expected)}$"):
        create_metric(name)
    assert attempts == []
