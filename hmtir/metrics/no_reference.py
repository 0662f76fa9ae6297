"""No-reference metrics (NIQE, NIMA, MUSIQ, BRISQUE) computed by pyiqa's networks with locally resolved weights.

Why not ``pyiqa.create_metric``: it downloads weights on first use (and NIMA's backbone pulls ImageNet
weights from the Hugging Face hub even when a checkpoint is given), so an offline machine hangs for ~47 s
of retries before failing. Here the weights file is found first (explicit ``weights=`` path,
``$HMTIR_WEIGHTS`` / ``hmtir.paths.weights_dir()``, then pyiqa's own cache ``<torch hub dir>/pyiqa``); a
missing file is an immediate one-line :class:`~hmtir.errors.HmtirError`, and the network is built with
every download disabled before the checkpoint is loaded. Settings are pyiqa's defaults for the paper's
metric names: ``niqe`` (original NIQE model parameters), ``nima`` (inception_resnet_v2 trained on AVA),
``musiq`` (KonIQ-10k), ``brisque`` (the piq/LIVE SVM).

Inputs are tensors, never file paths (pyiqa reads 16-bit PNGs as all-ones without complaint). One-channel
images are replicated to three channels for the networks that need RGB (NIMA, MUSIQ); NIQE and BRISQUE
score the single channel directly (three-channel input is converted to luma by pyiqa, as upstream).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmtir.data.sources import pyiqa_cache_dir
from hmtir.errors import HmtirError
from hmtir.io.atomic import atomic_path
from hmtir.metrics import METRICS, Metric, MetricMeta
from hmtir.paths import weights_dir
from hmtir.weights import resolve_weights, sha256_file

NIQE_FEATURES = 36
_NIQE_BLOCK = 96  # NIQE's patch size: smaller images have no complete block to score


def _load_checkpoint(path: Path) -> Any:
    """Load a checkpoint without executing pickled code (``weights_only``); a bad file is a one-line error."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated/foreign/unsafe files
        raise HmtirError(
            f"cannot read weights file {path} ({type(err).__name__}); delete it and get it again"
        ) from None


def _load_state_dict(net: torch.nn.Module, path: Path, key: str | None) -> None:
    from pyiqa.archs.arch_util import clean_state_dict

    checkpoint = _load_checkpoint(path)
    if key is not None and isinstance(checkpoint, dict) and key in checkpoint:
        checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise HmtirError(f"weights file {path} does not hold a state dict for {type(net).__name__}")
    try:
        net.load_state_dict(clean_state_dict(checkpoint), strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise HmtirError(f"weights file {path} does not fit {type(net).__name__}: {first}") from None


_TIMM_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _timm_without_download() -> Iterator[None]:
    """pyiqa's NIMA asks timm for an ImageNet-pretrained backbone (a hub download) even though the NIMA
    checkpoint overwrites every backbone weight; build the backbone untrained instead."""
    from pyiqa.archs import nima_arch

    original = nima_arch.timm
    real_create = original.create_model

    class _OfflineTimm:
        @staticmethod
        def create_model(*args: Any, **kwargs: Any) -> Any:
            kwargs["pretrained"] = False
            return real_create(*args, **kwargs)

    with _TIMM_PATCH_LOCK:
        nima_arch.timm = _OfflineTimm  # type: ignore[assignment]
        try:
            yield
        finally:
            nima_arch.timm = original


def _build_nima() -> torch.nn.Module:
    from pyiqa.archs.nima_arch import NIMA

    with _timm_without_download():
        return NIMA(
            base_model_name="inception_resnet_v2", train_dataset="ava", num_classes=10, pretrained=False
        )


def _build_musiq() -> torch.nn.Module:
    from pyiqa.archs.musiq_arch import MUSIQ

    return MUSIQ(num_class=1, pretrained=False)  # KonIQ head: one MOS output


# Networks whose weights are a state dict: (builder, key holding the state dict in pyiqa's checkpoints).
_NETWORKS: dict[str, tuple[Callable[[], torch.nn.Module], str | None]] = {
    "nima": (_build_nima, "params"),
    "musiq": (_build_musiq, None),
}


def bare_network(name: str) -> torch.nn.Module:
    """The untrained pyiqa network behind ``name`` (``nima`` or ``musiq``), built without any download.

    This is the exact module real checkpoints are loaded into; saving its ``state_dict`` (under ``params``
    for NIMA, as pyiqa's files do) gives a file that loads through the same path as real weights.
    """
    builder, _ = _NETWORKS[name]
    return builder()


class PyiqaMetric(Metric):
    """A pyiqa network or model scored in eval mode; ``rgb`` networks get 1-channel input replicated to 3."""

    def __init__(
        self,
        meta: MetricMeta,
        net: torch.nn.Module,
        weights_path: Path,
        *,
        rgb: bool,
        min_size: int = 1,
        quantize_8bit: bool = False,
        extra_settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(meta, quantize_8bit=quantize_8bit)
        self.net = net.eval()
        self.rgb = rgb
        self.min_size = min_size
        self.weights_path = weights_path
        self.weights_sha256 = sha256_file(weights_path)
        self.extra_settings = extra_settings or {}

    def _move(self, device: str) -> None:
        self.net.to(device)
        # pyiqa's NIQE/BRISQUE keep their model parameters as plain attributes and move them per call.

    def _score(self, pred: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        height, width = pred.shape[-2:]
        if min(height, width) < self.min_size:
            raise HmtirError(
                f"metric '{self.name}' needs images of at least {self.min_size}×{self.min_size} px, got {height}×{width}"
            )
        if self.rgb and pred.shape[1] == 1:
            pred = pred.expand(-1, 3, -1, -1)
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
            return self.net(pred).reshape(pred.shape[0])

    def settings(self) -> dict[str, Any]:
        return {
            "implementation": f"pyiqa {package_version('pyiqa')}",
            "arch": type(self.net).__name__,
            "one_channel_input": "replicated to RGB" if self.rgb else "scored as luma",
            **self.extra_settings,
        }

    def weights_info(self) -> dict[str, str]:
        return {"filename": self.weights_path.name, "sha256": self.weights_sha256}


def _resolve(name: str, weights: str | Path | None) -> tuple[MetricMeta, Path]:
    meta = METRICS.meta(name)
    assert meta.weights is not None
    return meta, resolve_weights(meta.weights, explicit=weights, extra_dirs=[pyiqa_cache_dir()])


def _guard(path: Path, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Turn pyiqa's assorted load failures (scipy, torch, shape asserts) into one line naming the file."""
    try:
        return build()
    except HmtirError:
        raise
    except Exception as err:
        raise HmtirError(
            f"cannot load weights file {path} ({type(err).__name__}: {err}); delete it and get it again"
        ) from None


def _niqe(weights: str | Path | None = None, quantize_8bit: bool = False) -> PyiqaMetric:
    meta, path = _resolve("niqe", weights)

    def build() -> torch.nn.Module:
        from pyiqa.archs.niqe_arch import NIQE

        return NIQE(test_y_channel=True, pretrained_model_path=str(path))

    return PyiqaMetric(
        meta, _guard(path, build), path, rgb=False, min_size=_NIQE_BLOCK, quantize_8bit=quantize_8bit,
        extra_settings={"block_size": _NIQE_BLOCK, "color_space_for_rgb": "yiq"},
    )  # fmt: skip


def _brisque(weights: str | Path | None = None, quantize_8bit: bool = False) -> PyiqaMetric:
    meta, path = _resolve("brisque", weights)
    _load_checkpoint(path)  # proves the file is tensors only before pyiqa unpickles it without weights_only

    def build() -> torch.nn.Module:
        from pyiqa.archs.brisque_arch import BRISQUE

        return BRISQUE(test_y_channel=True, pretrained_model_path=str(path))

    return PyiqaMetric(meta, _guard(path, build), path, rgb=False, min_size=8, quantize_8bit=quantize_8bit)


def _network_metric(name: str, weights: str | Path | None, quantize_8bit: bool) -> PyiqaMetric:
    meta, path = _resolve(name, weights)
    builder, key = _NETWORKS[name]
    net = builder()
    _load_state_dict(net, path, key)
    return PyiqaMetric(meta, net, path, rgb=True, min_size=32, quantize_8bit=quantize_8bit)


def _nima(weights: str | Path | None = None, quantize_8bit: bool = False) -> PyiqaMetric:
    return _network_metric("nima", weights, quantize_8bit)


def _musiq(weights: str | Path | None = None, quantize_8bit: bool = False) -> PyiqaMetric:
    return _network_metric("musiq", weights, quantize_8bit)


# A MAT 5 file opens with 116 bytes of free text (then subsystem offset, version, endianness).
_MAT_HEADER = (
    b"MATLAB 5.0 MAT-file, NIQE pristine model converted by hmtir from BasicSR niqe_pris_params.npz".ljust(
        116, b" "
    )
)


def niqe_params_from_basicsr(npz_path: str | Path, out_path: str | Path | None = None) -> Path:
    """Convert BasicSR's ``niqe_pris_params.npz`` into the ``.mat`` file pyiqa's NIQE reads.

    BasicSR (Apache-2.0; e.g. the ``basicsr==1.4.2`` source archive on PyPI, file
    ``basicsr/metrics/niqe_pris_params.npz``) ships the same pristine NIQE model pyiqa downloads, so this
    makes ``niqe`` usable and verifiable fully offline (``hmtir download pyiqa-niqe`` does it from PyPI).
    Writes ``out_path`` (default: ``weights_dir()``/``niqe_modelparameters.mat``, where
    ``create_metric("niqe")`` looks) atomically and returns it; the same input always gives the same bytes,
    so the weights sha256 that results record is the same on every machine.
    """
    import scipy.io

    npz_path = Path(npz_path)
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            mu = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
            cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as err:
        raise HmtirError(
            f"{npz_path} is not BasicSR's niqe_pris_params.npz ({type(err).__name__}: {err})"
        ) from None
    if mu.shape != (NIQE_FEATURES,) or cov.shape != (NIQE_FEATURES, NIQE_FEATURES):
        raise HmtirError(
            f"{npz_path}: expected a {NIQE_FEATURES}-vector mu_pris_param and a {NIQE_FEATURES}x{NIQE_FEATURES} "
            f"cov_pris_param, got {mu.shape} and {cov.shape}"
        )
    target = Path(out_path) if out_path is not None else weights_dir() / "niqe_modelparameters.mat"
    with atomic_path(target) as tmp:
        scipy.io.savemat(tmp, {"mu_prisparam": mu[None, :], "cov_prisparam": cov})
        with open(tmp, "r+b") as fh:  # scipy stamps the creation time: a fixed text keeps the sha256 stable
            fh.write(_MAT_HEADER)
    return target
