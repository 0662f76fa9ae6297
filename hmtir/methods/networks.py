"""Learned-network methods: ``ppfn`` (PPFN + SPT) and the prompt-free "Baseline" rows ``restormer``/``nafnet``.

Weights, for every entry: ``weights=None`` → the compact checkpoints shipped in ``hmtir/models/weights``,
the pair chosen per data set (:func:`choose_variant`, when an evaluation shows the method its benchmark;
``agc`` until then); ``weights="agc"`` or ``"dim"`` (``ppfn``, ``nafnet``) → that shipped pair, for
full-range or darker frames, never switched; ``weights="official"`` (``ppfn`` only) → the released
Restormer-PPFN and its prompt bank from the weights dir (``hmtir download ppfn-official``); ``weights=PATH`` → an hmtir checkpoint or a
bare/official state_dict (its network and size are inferred from its tensors and said in one line on
stderr; :mod:`hmtir.models.infer`).

Inference options, for every entry (defaults reproduce the fp32 eager numerics of the release):
``precision`` (``fp32``/``bf16``/``fp16`` autocast), ``channels_last`` (NHWC weights and inputs) and
``compile`` (``torch.compile`` with a persistent kernel cache); see :mod:`hmtir.models.accel`.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from hmtir.errors import HmtirError
from hmtir.methods import METHODS
from hmtir.methods.base import Method, MethodMeta
from hmtir.models.accel import (
    InferenceOptions,
    autocast,
    bank_on_device,
    channels_last_input,
    compile_module,
    to_channels_last,
)
from hmtir.models.checkpoint import LoadedModel, check_bank, load_checkpoint
from hmtir.models.ppfn import pad_to_multiple
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import input_statistics, spt_restore
from hmtir.registry import WeightsSpec
from hmtir.weights import resolve_weights, sha256_file

SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"
#: The shipped pairs, by weights tag; within a pair, PPFN and its baseline share recipe and budget, and the
#: two pairs learned different brightness priors. No single compact network serves dark (narrow-band) and
#: full-range (AGC) frames alike, because a contrast step cannot be told from a darker scene in one frame
#: (MODEL_CARD.md). ``agc``: frames that fill the grey range (camera AGC, public 8-bit datasets, hmtir's own
#: 16-bit path); ``dim``: frames in a darker band, e.g. HM-TIR's exposure.
SHIPPED_VARIANTS = {
    "agc": {
        "ppfn": SHIPPED_WEIGHTS_DIR / "ppfn_nafnet_spt_agc.pt",
        "nafnet": SHIPPED_WEIGHTS_DIR / "nafnet_baseline_agc.pt",
    },
    "dim": {
        "ppfn": SHIPPED_WEIGHTS_DIR / "ppfn_nafnet_spt.pt",
        "nafnet": SHIPPED_WEIGHTS_DIR / "nafnet_baseline.pt",
    },
}
#: What ``weights=None`` loads before it has seen any data (``hmtir enhance``, a bare ``load_method``): the
#: camera pair. An evaluation then lets :func:`choose_variant` pick the pair for its data set.
DEFAULT_VARIANT = "agc"
SHIPPED = SHIPPED_VARIANTS[DEFAULT_VARIANT]
#: The per-data-set rule (``benchmarks/weights_rule.py``, fitted on hmtir's own benches of held-out HIT-UAV
#: frames and procedural scenes, never on HM-TIR frames): a set whose statistic is at least ``threshold``
#: gets ``above``, else ``below``. One frame cannot tell a darker scene from a contrast loss, but the contrast
#: draws average out over a set's frames, so a set statistic keeps what its clean frames share.
SET_RULE: dict[str, Any] = {"statistic": "mean", "threshold": 0.476, "above": "agc", "below": "dim"}
#: Frames read for the set statistics: evenly spaced over the sorted names, so the choice is deterministic.
SET_FRAMES = 64
#: Where the set statistics are read: the composited subsets (both presets average the contrast draws).
SET_SUBSETS = ("composited/normal", "composited/hard")
# The released PPFN checkpoint (Google Drive, via `hmtir download ppfn-official`); a {"state_dict": ...} dict.
OFFICIAL_PPFN_WEIGHTS = WeightsSpec(filename="Restormer_PPFN.pth", source="ppfn-official", license="MIT")


class NetworkMethod(Method):
    """Runs a loaded network (SPT for PPFN models, one pass otherwise) at any input size."""

    #: Set by the factories: the shipped method whose pair this instance may still choose per data set
    #: (``weights=None`` only; a tag, ``official`` or a PATH is the user's choice and stays).
    choosable: str | None = None
    #: The shipped pair loaded (``agc``/``dim``), None for ``official`` or a PATH.
    variant: str | None = None
    #: What :meth:`fit_to_data` chose and why (recorded in results), None until it ran.
    weights_choice: dict[str, Any] | None = None

    def __init__(
        self,
        meta: MethodMeta,
        loaded: LoadedModel,
        weights_sha256: str | None,
        options: InferenceOptions | None = None,
    ) -> None:
        self.meta = meta
        self.loaded = loaded
        self.weights_sha256 = weights_sha256
        self.options = options or InferenceOptions()
        if self.options.channels_last:
            to_channels_last(self.loaded.model)
        self._network: torch.nn.Module = loaded.model
        self._bank = loaded.bank
        self._runner: Any = None  # a hmtir.engines runner when another engine than torch runs the passes
        self.engine_info: Any = None  # hmtir.engines.EngineInfo once on a device

    def to(self, device: str) -> Method:
        self.loaded.model.to(device)
        self._bank = bank_on_device(self.loaded.bank, device)  # no host→device prompt copy per pass
        if self.options.compile:
            self._network, _ = compile_module(self.loaded.model, device, precision=self.options.precision)
        from hmtir.engines import resolve

        options = self.options
        runner, self.engine_info = resolve(
            options.engine, self.loaded.model, self._bank, options.precision, device, network=self._network
        )
        self._runner = None if self.engine_info.name == "torch" else runner
        return super().to(device)

    def engine_options(self) -> dict[str, Any]:
        """The engine that ran (``auto`` resolved) and its version, to key results; {} for torch, whose
        results keep the keys they always had."""
        info = self.engine_info
        if info is None or info.name == "torch":
            return {}
        return {"engine": info.name, "engine_version": info.version}

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        x = batch.to(self.device, torch.float32)
        frame_stats = input_statistics(self.loaded.model, x)  # of the frame, not of its padding
        padded, (height, width) = pad_to_multiple(x, self.loaded.model.size_multiple)
        if self._runner is not None:
            from hmtir.engines import restore

            out = restore(self._runner, padded, degradation, scenario, frame_stats)
            return out[..., :height, :width].to(self.device)
        if self.options.channels_last:
            padded = channels_last_input(padded)
        with torch.inference_mode(), autocast(self.device, self.options.precision):
            # every pass then gets an inference tensor; a plain first input makes torch.compile trace twice
            padded = padded if padded.is_inference() else padded.clone()
            out = spt_restore(
                self._network, self._bank, padded, degradation, scenario, clamp=True, frame_stats=frame_stats
            )
        return out[..., :height, :width].float()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        bank = self.loaded.bank
        info.update(
            model=self.loaded.name,
            model_config=self.loaded.config,
            prompt_bank=None if bank is None else bank.origin,
            checkpoint=None if self.loaded.path is None else self.loaded.path.name,
            architecture=self.loaded.architecture,
            architecture_inferred=self.loaded.inferred,
            inference=self.options.as_dict(),
        )
        if self.engine_info is not None:
            info["engine"] = self.engine_info.as_dict()
        if self.weights_choice is not None:
            info["weights_choice"] = dict(self.weights_choice)
        return info

    def fit_to_data(self, root: Path | None) -> dict[str, Any] | None:
        """Load the pair :func:`choose_variant` picks for the benchmark at ``root``; returns the choice.

        ``root=None``: unpaired camera frames, which reach display through the percentile AGC, so the camera
        pair. Only a method loaded with default weights chooses; its name stays untagged (``ppfn``) and the
        choice goes into :meth:`describe`, while the weights sha256 (run spec, cache keys) follows it.
        """
        if self.choosable is None:
            return None
        if root is None:
            choice = {"variant": DEFAULT_VARIANT, "rule": "unpaired frames reach display by AGC: camera pair"}
        else:
            choice = choose_variant(root)
        if choice["variant"] != self.variant:
            from hmtir.methods import load_method

            tagged = f"{self.choosable}.{choice['variant']}"
            swapped = load_method(tagged, device=self.device, **self.options.as_dict())
            assert isinstance(swapped, NetworkMethod)
            self.loaded, self.weights_sha256 = swapped.loaded, swapped.weights_sha256
            self._network, self._bank, self.variant = swapped._network, swapped._bank, choice["variant"]
            self._runner, self.engine_info = swapped._runner, swapped.engine_info
        self.weights_choice = choice
        return choice


def set_frames(root: Path) -> list[Path]:
    """The degraded frames the set statistics read: :data:`SET_SUBSETS` (or, without them, every paired
    subset present), at most :data:`SET_FRAMES`, evenly spaced over the sorted names."""
    from hmtir.data.layout import list_images
    from hmtir.vocabulary import SUBSETS

    for subsets in (SET_SUBSETS, tuple(name for name, s in SUBSETS.items() if s.paired)):
        paths = [root / subset / name for subset in subsets for name in list_images(root / subset)]
        if paths:
            step = -(-len(paths) // SET_FRAMES)
            return paths[::step]
    return []


def set_statistics(root: Path) -> dict[str, float]:
    """Medians over :func:`set_frames` of each frame's grey mean, std and 5th / 50th / 95th percentiles.

    Read from the degraded inputs alone: a rule on them never looks at the clean targets."""
    import numpy as np

    from hmtir.io.image import read_image

    frames = set_frames(Path(root))
    if not frames:
        raise HmtirError(f"{root} has no degraded frames to choose weights from (no subset folders)")
    rows = []
    for path in frames:
        x = read_image(path).data
        p5, p50, p95 = np.percentile(x, (5, 50, 95))
        rows.append((float(x.mean()), float(x.std()), float(p5), float(p50), float(p95)))
    medians = np.median(np.array(rows), axis=0)
    return {key: round(float(v), 4) for key, v in zip(("mean", "std", "p5", "p50", "p95"), medians)}


def choose_variant(root: Path) -> dict[str, Any]:
    """The shipped pair :data:`SET_RULE` picks for the benchmark at ``root``, with the number it read."""
    stats = set_statistics(root)
    rule = SET_RULE
    value = stats[rule["statistic"]]
    variant = rule["above"] if value >= rule["threshold"] else rule["below"]
    return {
        "variant": variant,
        "rule": f"{rule['statistic']} >= {rule['threshold']} → {rule['above']}, else {rule['below']}",
        "value": value,
        "frames": len(set_frames(Path(root))),
        "source": "degraded frames of " + ", ".join(SET_SUBSETS) + " (median over frames)",
    }


def shipped_file(method: str, variant: str | None = None) -> Path:
    """The shipped checkpoint of ``method`` (``variant``: None for the default, or a SHIPPED_VARIANTS name)."""
    path = SHIPPED.get(method) if variant is None else SHIPPED_VARIANTS[variant].get(method)
    if path is None:
        shipped = "no weights" if variant is None else f"no '{variant}' weights"
        raise HmtirError(
            f"method '{method}' ships {shipped}: pass --weights PATH (an hmtir checkpoint or a state_dict)"
        )
    if not path.is_file():
        raise HmtirError(
            f"the shipped checkpoint {path.name} for method '{method}' is missing from {path.parent}; "
            f"reinstall hmtir or pass --weights PATH"
        )
    return path


def _load(method: str, weights: str | Path | None) -> tuple[LoadedModel, str]:
    bank: PromptBank | None = None
    if weights == "official":
        if method != "ppfn":
            raise HmtirError(f"--weights official exists only for method 'ppfn' (not '{method}')")
        path = resolve_weights(OFFICIAL_PPFN_WEIGHTS)
        bank = PromptBank.official()
    elif weights is None or weights in SHIPPED_VARIANTS:
        path = shipped_file(method, weights)
    else:
        path = resolve_weights(WeightsSpec(filename=Path(weights).name), explicit=weights)
    loaded = load_checkpoint(path, bank=bank)
    if loaded.model.uses_prompts and loaded.bank is None:
        loaded.bank = PromptBank.official()  # a bare state_dict of a PPFN model: the release's bank
    check_bank(loaded)
    return loaded, sha256_file(path)


def _check_fits(method: str, loaded: LoadedModel, prompts: bool, model_name: str | None = None) -> None:
    if loaded.model.uses_prompts != prompts or (model_name is not None and loaded.name != model_name):
        wanted = "a PPFN (prompted) model" if prompts else f"the prompt-free '{model_name}' model"
        raise HmtirError(
            f"checkpoint {loaded.path} holds model '{loaded.name}', but method '{method}' needs {wanted}"
        )
    if loaded.inferred:  # accepted: say which network and size the user's state_dict was read as
        print(loaded.architecture, file=sys.stderr)


def _run_name(method: str, weights: str | Path | None) -> str:
    """``ppfn.dim`` for a weights tag named explicitly: its results never pass for the default's."""
    return f"{method}.{weights}" if weights in SHIPPED_VARIANTS else method


def _shipped_choice(method: NetworkMethod, name: str, weights: str | Path | None) -> NetworkMethod:
    """Mark which shipped pair ``method`` holds, and whether it may still choose one per data set."""
    if weights is None or weights in SHIPPED_VARIANTS:
        method.variant = DEFAULT_VARIANT if weights is None else str(weights)
    method.choosable = name if weights is None else None
    return method


def _prompt_free(
    name: str, weights: str | Path | None, precision: str, channels_last: bool, compile: bool, engine: str
) -> Method:
    """A backbone without prompts or SPT (the paper's "Baseline" rows) as a method; method name = model name."""
    options = InferenceOptions(precision, channels_last, compile, engine)
    loaded, digest = _load(name, weights)
    _check_fits(name, loaded, prompts=False, model_name=name)
    meta = replace(METHODS.meta(name), name=_run_name(name, weights))
    return _shipped_choice(NetworkMethod(meta, loaded, digest, options), name, weights)


def ppfn(
    weights: str | Path | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    engine: str = "torch",
) -> Method:
    """PPFN + SPT; ``weights``: shipped (default: the pair for the data set) | ``"agc"`` | ``"dim"`` |
    ``"official"`` | PATH. ``engine``: torch | onnxruntime | openvino | auto (:mod:`hmtir.engines`)."""
    options = InferenceOptions(precision, channels_last, compile, engine)
    loaded, digest = _load("ppfn", weights)
    _check_fits("ppfn", loaded, prompts=True)
    backbone = loaded.name.removeprefix("ppfn_")
    meta = replace(METHODS.meta("ppfn"), name=_run_name("ppfn", weights), backbone=backbone)
    return _shipped_choice(NetworkMethod(meta, loaded, digest, options), "ppfn", weights)


def restormer(
    weights: str | Path | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    engine: str = "torch",
) -> Method:
    """Restormer without prompts or SPT (the paper's Baseline row); needs ``weights=PATH``."""
    return _prompt_free("restormer", weights, precision, channels_last, compile, engine)


def nafnet(
    weights: str | Path | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    engine: str = "torch",
) -> Method:
    """Compact NAFNet without prompts or SPT (Baseline row); ``weights``: shipped (default: the pair for the
    data set) | ``"agc"`` | ``"dim"`` | PATH."""
    return _prompt_free("nafnet", weights, precision, channels_last, compile, engine)
