"""PPFN prompts: the prompt banks (what a prompt *is*) and the prompt units (how it becomes a feature).

A prompt unit encodes a degradation prompt (a ``1×S×S`` map) with a small strided conv net and a scenario
prompt (a vector) with an MLP, then fuses the two into one ``dim``-d prompt feature. Its submodule names
(``F_ext``, ``T_ext``, ``layerF``, ``layerT``) follow the released PPFN weights so those load strictly.

Fusion variants (the paper's ablations) are selected by :class:`PromptConfig`:

* ``fusion="concat"`` (default, the released model): ``act(layerF(d) + layerT(t))``. A linear layer on the
  concatenation ``[d; t]`` *is* the sum of two linear layers, so this is "concat → linear → nonlinearity"
  written the way the released weights store it.
* ``fusion="multiply"``: ``act(layerF(d) * layerT(t))``.
* ``fusion="degradation"``: degradation prompt only, ``act(layerF(d))`` (no scenario branch).
* ``activation="none"``: drop the nonlinearity after fusion.

"No prompt at all" is the plain backbone (``create_model("restormer")``), not a prompt unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from hmtir.errors import HmtirError
from hmtir.registry import WeightsSpec
from hmtir.vocabulary import COMPOSITE, SCENARIOS, STEPS  # row orders of the official type7/multi2.npy

FUSIONS = ("concat", "multiply", "degradation")
ACTIVATIONS = ("relu", "none")

# The prompt bank the released PPFN weights were trained with (raw files of github Zihang-Chen/HM-TIR).
OFFICIAL_DEGRADATION_BANK = WeightsSpec(
    filename="type7.npy",
    sha256="d2869baaecfb25a8e8223bf6a87b15a7d9c1e83946955b7da781694b330ef1f5",
    source="ppfn-official",
    license="MIT",
)
OFFICIAL_SCENARIO_BANK = WeightsSpec(
    filename="multi2.npy",
    sha256="cefac35c69910a3b936f431821b858891711d8db8dc0f2a67850aee50e16f34f",
    source="ppfn-official",
    license="MIT",
)

# Our own models draw their bank from this seed; the bank is saved inside every checkpoint anyway.
HMTIR_BANK_SEED = 20251127


@dataclass(frozen=True)
class PromptConfig:
    """How prompts are encoded and fused; stored in checkpoints as a plain dict."""

    dim: int = 64  # width of the encoders and of the fused prompt feature
    map_channels: int = 1  # channels of a degradation prompt map
    scenario_dim: int = 64  # length of a scenario prompt vector
    fusion: str = "concat"
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise HmtirError(f"unknown prompt fusion '{self.fusion}' (available: {', '.join(FUSIONS)})")
        if self.activation not in ACTIVATIONS:
            raise HmtirError(
                f"unknown prompt activation '{self.activation}' (available: {', '.join(ACTIVATIONS)})"
            )

    @classmethod
    def from_any(cls, value: PromptConfig | dict[str, Any] | None) -> PromptConfig:
        if value is None:
            return cls()
        if isinstance(value, PromptConfig):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise HmtirError(
                f"unknown prompt option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DegradationMapEncoder(nn.Module):
    """Three stride-2 convs (7×7, 3×3, 3×3; zero padding 1; ReLU) then a spatial mean → ``dim``-d vector."""

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, dim, 7, stride=2, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(dim, dim, 3, stride=2, padding=1)

    def forward(self, prompt_map: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(prompt_map))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return x.mean(dim=(2, 3))


class ScenarioEncoder(nn.Module):
    """Three linear layers, each followed by ReLU → ``dim``-d vector."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.layer1 = nn.Linear(in_dim, dim)
        self.layer2 = nn.Linear(dim, dim)
        self.layer3 = nn.Linear(dim, dim)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.layer1(prompt))
        x = torch.relu(self.layer2(x))
        return torch.relu(self.layer3(x))


class PromptUnit(nn.Module):
    """Encoders + fusion: (degradation map, scenario vector) → one fused prompt feature ``N×dim``."""

    def __init__(self, config: PromptConfig) -> None:
        super().__init__()
        self.config = config
        self.F_ext = DegradationMapEncoder(config.map_channels, config.dim)
        self.layerF = nn.Linear(config.dim, config.dim)
        if config.fusion != "degradation":
            self.T_ext = ScenarioEncoder(config.scenario_dim, config.dim)
            self.layerT = nn.Linear(config.dim, config.dim)

    def forward(self, degradation_map: torch.Tensor, scenario: torch.Tensor | None) -> torch.Tensor:
        fused = self.layerF(self.F_ext(degradation_map))
        if self.config.fusion != "degradation":
            if scenario is None:
                raise ValueError("this prompt unit fuses a scenario prompt but none was given")
            scenario_feature = self.layerT(self.T_ext(scenario))
            fused = fused + scenario_feature if self.config.fusion == "concat" else fused * scenario_feature
        return torch.relu(fused) if self.config.activation == "relu" else fused


@dataclass
class PromptBank:
    """Named prompt tensors: degradation maps ``C×S×S`` and scenario vectors ``D`` (float32, CPU)."""

    degradation: dict[str, torch.Tensor]
    scenario: dict[str, torch.Tensor]
    origin: str = "custom"

    def prompts(
        self,
        degradation: str,
        scenario: str,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``1×C×S×S`` map and ``1×D`` vector for one (degradation, scenario) pair; they broadcast over a batch."""
        return (
            self._pick(self.degradation, degradation, "degradation")[None].to(device, dtype),
            self._pick(self.scenario, scenario, "scenario")[None].to(device, dtype),
        )

    def batch(
        self, degradations: list[str], scenarios: list[str], device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample prompts for a mixed training batch: ``B×C×S×S`` and ``B×D``."""
        maps = torch.stack([self._pick(self.degradation, d, "degradation") for d in degradations])
        vectors = torch.stack([self._pick(self.scenario, s, "scenario") for s in scenarios])
        return maps.to(device), vectors.to(device)

    @staticmethod
    def _pick(table: dict[str, torch.Tensor], name: str, kind: str) -> torch.Tensor:
        try:
            return table[name]
        except KeyError:
            raise HmtirError(f"unknown {kind} prompt '{name}' (available: {', '.join(table)})") from None

    def to_dict(self) -> dict[str, Any]:
        """Checkpoint form: plain dicts of tensors, so a checkpoint carries the bank it was trained with."""
        return {
            "degradation": {k: v.clone() for k, v in self.degradation.items()},
            "scenario": {k: v.clone() for k, v in self.scenario.items()},
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptBank:
        def tensors(table: dict[str, Any]) -> dict[str, torch.Tensor]:
            return {k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in table.items()}

        try:
            return cls(
                tensors(data["degradation"]), tensors(data["scenario"]), str(data.get("origin", "custom"))
            )
        except (KeyError, TypeError) as err:
            raise HmtirError(
                f"checkpoint prompt bank is malformed ({err}); expected 'degradation' and 'scenario' tables"
            ) from None

    @classmethod
    def from_arrays(cls, degradation_rows: np.ndarray, scenario_rows: np.ndarray, origin: str) -> PromptBank:
        """Bank from the official array layout: ``type7`` rows 0..2 and ``multi2`` rows 0..1."""
        deg = torch.as_tensor(np.asarray(degradation_rows, dtype=np.float32))
        scen = torch.as_tensor(np.asarray(scenario_rows, dtype=np.float32))
        if deg.ndim == 3:
            deg = deg[:, None]  # rows are single-channel maps
        if deg.ndim != 4 or deg.shape[0] < len(STEPS) or scen.ndim != 2 or scen.shape[0] < 2:
            raise HmtirError(
                f"prompt arrays have shapes {tuple(deg.shape)} and {tuple(scen.shape)}; expected (>=3, S, S) and (2, D)"
            )
        return cls(
            {name: deg[i] for i, name in enumerate(STEPS)},
            {name: scen[i] for i, name in enumerate(SCENARIOS)},
            origin,
        )

    @classmethod
    def seeded(cls, seed: int = HMTIR_BANK_SEED, map_size: int = 128, scenario_dim: int = 64) -> PromptBank:
        """hmtir's own bank: uniform [0, 1) maps and vectors from ``seed`` (the official bank's recipe).

        It also holds a ``composite`` degradation map, drawn after the others so they stay as they were,
        for the one-pass ablation (``iterations=1``), which the official bank cannot run.
        """
        rng = np.random.RandomState(seed)
        maps = rng.rand(len(STEPS), map_size, map_size)
        vectors = rng.rand(len(SCENARIOS), scenario_dim)
        bank = cls.from_arrays(maps, vectors, origin=f"seeded:{seed}")
        bank.degradation[COMPOSITE] = torch.as_tensor(rng.rand(1, map_size, map_size), dtype=torch.float32)
        return bank

    @classmethod
    def official(cls) -> PromptBank:
        """The released weights' bank, read from the weights dir (``hmtir download ppfn-official``)."""
        from hmtir.weights import resolve_weights

        deg = np.load(resolve_weights(OFFICIAL_DEGRADATION_BANK), allow_pickle=False)
        scen = np.load(resolve_weights(OFFICIAL_SCENARIO_BANK), allow_pickle=False)
        return cls.from_arrays(deg[: len(STEPS)], scen, origin="official")
