"""Architecture from a state_dict: which registered network a checkpoint's tensors are, and its config.

An official or third-party checkpoint is only tensors, so a Restormer-PPFN trained at another size than
the release's (dim 16, blocks [1, 2, 2, 1] …) would not load into the released configuration. Each backbone
family reads its settings back from key names and shapes (:func:`infer_config`); the inferred config is
then rebuilt (on the meta device, nothing allocated) and accepted only when the rebuilt network's keys and
shapes equal the checkpoint's exactly (:func:`fit_architecture`). Anything else is one line naming the
nearest registered architecture and the first keys that differ.

What the tensors cannot show keeps the catalog default: ``global_residual`` (True), and for PPFN prompts
the fusion (``concat`` unless there is no scenario branch) and activation (``relu``), as released.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from hmtir.errors import HmtirError

StateDict = Mapping[str, torch.Tensor]

#: Display names of the registered networks a checkpoint can be inferred as.
LABELS = {
    "restormer": "Restormer",
    "ppfn_restormer": "Restormer-PPFN",
    "focalnet": "FocalNet-style U-Net",
    "ppfn_focalnet": "FocalNet-PPFN",
    "nafnet": "NAFNet",
    "ppfn_nafnet": "PPFN-NAFNet",
}
_SHOWN = 3  # keys named in a "does not fit" line


def _defaults(name: str) -> dict[str, Any]:
    from hmtir.models import MODELS

    return dict(MODELS.meta(name).params or {})


def _shape(sd: StateDict, key: str) -> tuple[int, ...] | None:
    tensor = sd.get(key)
    return None if tensor is None else tuple(tensor.shape)


def _dim(sd: StateDict, key: str, axis: int, default: int) -> int:
    shape = _shape(sd, key)
    return shape[axis] if shape is not None and len(shape) > axis else default


def block_count(sd: StateDict, prefix: str) -> int:
    """Blocks of the ``nn.Sequential`` at ``prefix``: its largest index + 1 (0 when it has no keys)."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    found = [int(m.group(1)) for key in sd if (m := pattern.match(key))]
    return max(found) + 1 if found else 0


def ffn_factor(pairs: list[tuple[int, int]], preferred: float) -> float | None:
    """A factor ``f`` with ``int(channels·f) == hidden`` for every (channels, hidden) pair, or None.

    The GDFN stores only ``hidden = int(dim·f)``, so ``f`` is known to an interval; ``preferred`` (the
    release's 2.66) is taken when it fits, else the value of that interval with the fewest decimals.
    """

    def fits(f: float) -> bool:
        return all(int(channels * f) == hidden for channels, hidden in pairs)

    if not pairs or fits(preferred):
        return preferred
    low = max(hidden / channels for channels, hidden in pairs)
    high = min((hidden + 1) / channels for channels, hidden in pairs)
    if low >= high:
        return None
    for digits in range(7):
        scale = 10**digits
        start = math.ceil(low * scale - 1e-9)
        for candidate in (start / scale, (start + 1) / scale):
            candidate = round(candidate, digits)
            if candidate > 0 and fits(candidate):
                return candidate
    return None


def infer_prompt(sd: StateDict) -> dict[str, Any] | None:
    """The PPFN prompt config from the prompt units' tensors, or None for a prompt-free network."""
    if not any(key.startswith("F_ext_net") for key in sd):
        return None
    from hmtir.models.catalog import PROMPT_DEFAULTS

    prompt = dict(PROMPT_DEFAULTS)
    conv1 = "F_ext_net1.F_ext.conv1.weight"
    prompt["dim"] = _dim(sd, conv1, 0, prompt["dim"])
    prompt["map_channels"] = _dim(sd, conv1, 1, prompt["map_channels"])
    if any(key.startswith("F_ext_net1.T_ext.") for key in sd):
        prompt["scenario_dim"] = _dim(sd, "F_ext_net1.T_ext.layer1.weight", 1, prompt["scenario_dim"])
    elif any(key.startswith("F_ext_net1.") for key in sd):
        prompt["fusion"] = "degradation"  # no scenario branch
    return prompt


#: Restormer stages: (prefix, channels as a multiple of dim, index into heads/num_blocks or None).
_RESTORMER_STAGES = (
    ("encoder_level1", 1, 0),
    ("encoder_level2", 2, 1),
    ("encoder_level3", 4, 2),
    ("latent", 8, 3),
    ("decoder_level3", 4, 2),
    ("decoder_level2", 2, 1),
    ("decoder_level1", 2, 0),
    ("refinement", 2, 0),
)


def infer_restormer(sd: StateDict) -> tuple[str, dict[str, Any]]:
    """Restormer skeleton (MDTA Restormer or the focal-modulation U-Net), with or without PPFN prompts."""
    mixer = "focal" if any(".attn.f.weight" in key for key in sd) else "mdta"
    family = "focalnet" if mixer == "focal" else "restormer"
    config = _defaults(family)
    config["inp_channels"] = _dim(sd, "patch_embed.proj.weight", 1, config["inp_channels"])
    dim = config["dim"] = _dim(sd, "patch_embed.proj.weight", 0, config["dim"])
    config["out_channels"] = _dim(sd, "output.weight", 0, config["out_channels"])
    config["num_blocks"] = [block_count(sd, prefix) for prefix, _, _ in _RESTORMER_STAGES[:4]]
    config["num_refinement_blocks"] = block_count(sd, "refinement")
    heads, read = list(config["heads"]), set()
    pairs: list[tuple[int, int]] = []
    for prefix, multiple, level in _RESTORMER_STAGES:
        for block in range(block_count(sd, prefix)):
            temperature = _shape(sd, f"{prefix}.{block}.attn.temperature")
            if level not in read and temperature:  # MDTA: one temperature per head
                heads[level] = temperature[0]
                read.add(level)
            hidden = _dim(sd, f"{prefix}.{block}.ffn.project_in.weight", 0, 0) // 2
            if hidden:
                pairs.append((dim * multiple, hidden))
    if mixer == "mdta":
        config["heads"] = heads
    factor = ffn_factor(pairs, config["ffn_expansion_factor"])
    config["ffn_expansion_factor"] = config["ffn_expansion_factor"] if factor is None else factor
    config["bias"] = "output.bias" in sd
    norms = [key for key in sd if re.search(r"\.norm[12]\.body\.weight$", key)]
    if norms:
        with_bias = all(key.removesuffix("weight") + "bias" in sd for key in norms)
        config["LayerNorm_type"] = "WithBias" if with_bias else "BiasFree"
    return _named(family, config, infer_prompt(sd))


def infer_nafnet(sd: StateDict) -> tuple[str, dict[str, Any]]:
    """NAFNet U-Net (levels, blocks per level, width, pixel-unshuffle stem, range head), with or without PPFN."""
    config = _defaults("nafnet")
    config["width"] = _dim(sd, "intro.weight", 0, config["width"])
    stem_channels = _dim(sd, "intro.weight", 1, config["in_channels"] * config["stem_downsample"] ** 2)
    stem = math.isqrt(stem_channels // config["in_channels"]) or 1
    config["stem_downsample"] = stem
    config["out_channels"] = max(1, _dim(sd, "ending.weight", 0, stem * stem) // (stem * stem))
    levels = len({key.split(".")[1] for key in sd if key.startswith("downs.")})
    config["enc_blocks"] = [block_count(sd, f"encoders.{level}") for level in range(levels)]
    config["middle_blocks"] = block_count(sd, "middle")
    dec_levels = len({key.split(".")[1] for key in sd if key.startswith("ups.")})
    config["dec_blocks"] = [block_count(sd, f"decoders.{level}") for level in range(dec_levels)]
    config["range_head"] = any(key.startswith("range_head.") for key in sd)
    return _named("nafnet", config, infer_prompt(sd))


def _named(family: str, config: dict[str, Any], prompt: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if prompt is None:
        config.pop("prompt", None)
        return family, config
    return f"ppfn_{family}", {**config, "prompt": prompt}


#: Backbone families: the key that marks a checkpoint as one of them, and its reader.
FAMILIES: dict[str, tuple[str, Callable[[StateDict], tuple[str, dict[str, Any]]]]] = {
    "restormer": ("patch_embed.proj.weight", infer_restormer),
    "nafnet": ("intro.weight", infer_nafnet),
}


def infer_config(sd: StateDict) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` read from the tensors of ``sd`` (not yet checked: see :func:`fit_architecture`)."""
    for anchor, reader in FAMILIES.values():
        if anchor in sd:
            return reader(sd)
    raise HmtirError("no registered architecture has these tensors")


@dataclass
class Fit:
    """How the network ``name(**config)`` differs from a state_dict, key by key."""

    name: str
    config: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    invalid: str | None = None  # the config schema's refusal, when the config cannot be built

    @property
    def exact(self) -> bool:
        return self.invalid is None and not (self.missing or self.unexpected or self.mismatched)

    @property
    def distance(self) -> int:
        return (
            len(self.missing) + len(self.unexpected) + len(self.mismatched) + (10**9 if self.invalid else 0)
        )

    def differences(self) -> str:
        if self.invalid is not None:
            return self.invalid
        counts = (
            f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
            f"{len(self.mismatched)} mis-shaped key(s)"
        )
        first = (
            [f"missing {k}" for k in self.missing]
            + [f"unexpected {k}" for k in self.unexpected]
            + [f"mis-shaped {k}" for k in self.mismatched]
        )[:_SHOWN]
        return f"{counts}; first: {', '.join(first)}"


def compare(name: str, config: Mapping[str, Any], sd: StateDict) -> Fit:
    """Build ``name(**config)`` on the meta device (no memory) and compare its keys and shapes with ``sd``.

    The config is checked against the backbone's schema first, so tensors of absurd shapes never size a
    network."""
    from hmtir.models import create_model
    from hmtir.models.config_schema import check_model_config

    fit = Fit(name, dict(config))
    try:
        check_model_config(name, dict(config), where="inferred config")
        with torch.device("meta"):
            model = create_model(name, **config)
    except (HmtirError, TypeError, ValueError) as err:
        fit.invalid = str(err).splitlines()[0] if str(err) else type(err).__name__
        return fit
    return differ(fit, model.state_dict(), sd)


def differ(fit: Fit, expected: StateDict, sd: StateDict) -> Fit:
    """``fit`` with the keys of ``expected`` that ``sd`` lacks, adds, or holds in another shape."""
    fit.missing = [k for k in expected if k not in sd]
    fit.unexpected = [k for k in sd if k not in expected]
    fit.mismatched = [
        f"{k} {tuple(sd[k].shape)}≠{tuple(v.shape)}"
        for k, v in expected.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    return fit


def candidates(sd: StateDict) -> list[tuple[str, dict[str, Any]]]:
    """What ``sd`` could be: each family's reading of it, then every family's default configuration."""
    found: list[tuple[str, dict[str, Any]]] = []
    for _, reader in FAMILIES.values():
        try:
            found.append(reader(sd))
        except (HmtirError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            pass  # a reading that breaks on odd tensors is simply no candidate
    for family in ("restormer", "nafnet"):
        found += [(family, _defaults(family)), (f"ppfn_{family}", _defaults(f"ppfn_{family}"))]
    return found


def nearest(sd: StateDict) -> Fit:
    """The registered architecture whose keys and shapes differ least from ``sd``."""
    fits = [compare(name, config, sd) for name, config in candidates(sd)]
    return min(fits, key=lambda fit: fit.distance)


def fit_architecture(sd: StateDict, source: str) -> tuple[str, dict[str, Any]]:
    """The registered network and config that ``sd`` is exactly (strict keys and shapes), else one line."""
    best = nearest(sd)
    if best.exact:
        return best.name, best.config
    try:
        reading = compare(*infer_config(sd), sd)  # the family whose marker key is there
    except (HmtirError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        reading = best
    if reading.invalid is not None:  # tensors of that family, in sizes no network of it can have
        raise HmtirError(f"{source} reads as {reading.name}, but {reading.invalid}")
    raise HmtirError(
        f"{source} fits no registered architecture: nearest is {best.name} "
        f"({describe_config(best.name, best.config)}): {best.differences()}"
    )


def _ints(values: list[int]) -> str:
    return "[" + ",".join(str(v) for v in values) + "]"


def describe_config(name: str, config: Mapping[str, Any]) -> str:
    """The settings that tell one size of ``name`` from another, in one phrase."""
    parts = [LABELS.get(name, name)]
    if "dim" in config:
        parts.append(f"dim {config['dim']}")
        parts.append(f"blocks {_ints(config['num_blocks'])}")
        if config.get("mixer", "mdta") == "mdta":
            parts.append(f"heads {_ints(config['heads'])}")
        parts.append(f"refinement {config['num_refinement_blocks']}")
        parts.append(f"ffn {config['ffn_expansion_factor']:g}")
        if config.get("bias"):
            parts.append("bias")
        if config.get("LayerNorm_type") == "BiasFree":
            parts.append("BiasFree LayerNorm")
    elif "width" in config:
        parts.append(f"width {config['width']}")
        parts.append(f"enc {_ints(config['enc_blocks'])}")
        parts.append(f"middle {config['middle_blocks']}")
        parts.append(f"dec {_ints(config['dec_blocks'])}")
        if config.get("stem_downsample", 1) > 1:
            parts.append(f"stem ×{config['stem_downsample']}")
        if config.get("range_head"):
            parts.append("range head")
    prompt = config.get("prompt")
    if prompt:
        fusion = "" if prompt.get("fusion") == "concat" else f" {prompt.get('fusion')}"
        parts.append(f"prompts {prompt['dim']}/{prompt['scenario_dim']}{fusion}")
    return ", ".join(parts)
