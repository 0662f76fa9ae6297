"""Training configuration: a recipe YAML (data, shipped in the package) plus command-line overrides.

Two shipped recipes read the HM-TIR release two ways, and the recipe is the single source of the
defaults: ``official`` is what the released training code does (``train.py``/``dataset.py`` of github
Zihang-Chen/HM-TIR), ``paper`` what the paper's text states. Every run records the resolved config in its
checkpoints and summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.yaml_file import read_yaml

RECIPES_DIR = Path(__file__).with_name("recipes")
DEFAULT_RECIPE = "official"
AMP_MODES = ("none", "bf16")
SPT_ITERATIONS = (1, 3)  # passes per composite sample: one to clean, or SPT's noise → blur → contrast


@dataclass
class TrainConfig:
    """Everything that determines a training run (its identity when resuming); defaults follow ``official``."""

    model: str = "ppfn_restormer"
    model_config: dict[str, Any] = field(default_factory=dict)
    spt: bool = True  # prompted model (False: the plain backbone, the Baseline row)
    iterations: int | None = None  # passes per composite sample; None: 3 with prompts, 1 without
    mix: str = "all_steps"  # hmtir.degrade.ops.TRAINING_MIXES; a plain backbone sees the same samples
    presets: list[str] = field(default_factory=lambda: ["hard"])
    gate: float = 1.0  # per-op probability inside a training chain
    loss: str = "l1"
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "adam", "betas": [0.9, 0.999]})
    lr: float = 8e-5
    lr_min: float = 1e-6
    warmup_steps: int = 0
    warmup_epochs: int | None = 3  # set: the release's per-epoch schedule (lr fixed within an epoch)
    batch_size: int = 16
    crop: int = 256
    degrade_size: int = 0  # N > crop: degrade an N×N window, train on a crop of it (0: degrade the crop)
    exposure: list[float] | None = None  # [low, high]: scale each clean frame by k ~ U(low, high) first
    restretch: list[float] | None = None  # [black_max, white_min]: re-map each frame's grey range first
    flips: bool = True
    steps: int = 300000
    epochs: int | None = None  # the recipes set the budget (official: 300 epochs); set: overrides steps
    seed: int = 1234
    workers: int = 0
    log_every: int = 10
    val_every: int = 5000
    val_preset: str = "hard"
    val_crop: int = 0
    val_max_frames: int = 64
    ckpt_every: int = 5000
    amp: str = "none"
    threads: int = 0  # CPU threads per process; 0 = all cores shared among this node's processes

    def __post_init__(self) -> None:
        if self.amp not in AMP_MODES:
            raise HmtirError(f"--amp must be one of {', '.join(AMP_MODES)} (got '{self.amp}')")
        from hmtir.degrade.ops import TRAINING_MIXES

        if self.mix not in TRAINING_MIXES:
            raise HmtirError(
                f"recipe key 'mix' must be one of {', '.join(TRAINING_MIXES)} (got '{self.mix}')"
            )
        if self.iterations is not None and self.iterations not in SPT_ITERATIONS:
            raise HmtirError(f"--iterations must be 1 or 3 (got {self.iterations})")
        if not 0.0 <= float(self.gate) <= 1.0:
            raise HmtirError(f"--gate must be between 0 and 1 (got {self.gate})")
        if self.warmup_epochs is not None and self.warmup_epochs < 0:
            raise HmtirError(f"recipe key 'warmup_epochs' must be at least 0 (got {self.warmup_epochs})")
        if self.loss != "l1":
            raise HmtirError(f"recipe key 'loss': only 'l1' is implemented (got '{self.loss}')")
        if str(self.optimizer.get("name", "adam")).lower() != "adam":
            raise HmtirError(
                f"recipe key 'optimizer.name': only 'adam' is implemented (got '{self.optimizer['name']}')"
            )
        if self.degrade_size < 0:
            raise HmtirError(f"--degrade-size must be 0 or a window size in pixels (got {self.degrade_size})")
        if self.exposure is not None:
            self.exposure = check_exposure(self.exposure)
        if self.restretch is not None:
            self.restretch = check_restretch(self.restretch)
        for key in ("batch_size", "crop", "log_every", "ckpt_every", "val_every"):
            if int(getattr(self, key)) < 1:
                raise HmtirError(f"--{key.replace('_', '-')} must be at least 1 (got {getattr(self, key)})")
        if self.steps < 1 and self.epochs is None:
            raise HmtirError(f"--steps must be at least 1 (got {self.steps})")
        if self.epochs is not None and self.epochs < 1:
            raise HmtirError(f"--epochs must be at least 1 (got {self.epochs})")
        if not self.presets:
            raise HmtirError("recipe key 'presets' needs at least one degradation preset")

    @property
    def plain_model(self) -> str:
        """The backbone trained when SPT/prompts are off (the paper's Baseline row)."""
        return self.model.removeprefix("ppfn_")

    @property
    def passes(self) -> int:
        """Passes per composite sample (3: SPT, or the prompt-free "naive iteration"; 1: straight to clean)."""
        return self.iterations if self.iterations is not None else (3 if self.spt else 1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_EXPOSURE = 2.0  # brighter than twice a frame's own exposure is mostly clipped white


def check_exposure(value: Any) -> list[float]:
    """Validate an exposure range: two scale factors 0 < low ≤ high ≤ 2 (above 1, highlights clip at white,
    as on a camera whose AGC saturates hot objects)."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise HmtirError(f"--exposure must be two numbers LOW,HIGH (got {value!r})") from None
    if not (0.0 < low <= high <= MAX_EXPOSURE):
        raise HmtirError(
            f"--exposure must satisfy 0 < LOW <= HIGH <= {MAX_EXPOSURE:g} (got {low:g},{high:g})"
        )
    return [low, high]


def check_restretch(value: Any) -> list[float]:
    """Validate a restretch: black level ≤ BLACK_MAX < WHITE_MIN ≤ white level, both in [0, 1]."""
    try:
        black_max, white_min = (float(v) for v in value)
    except (TypeError, ValueError):
        raise HmtirError(f"--restretch must be two numbers BLACK_MAX,WHITE_MIN (got {value!r})") from None
    if not (0.0 <= black_max < white_min <= 1.0):
        raise HmtirError(
            f"--restretch must satisfy 0 <= BLACK_MAX < WHITE_MIN <= 1 (got {black_max:g},{white_min:g})"
        )
    return [black_max, white_min]


def recipe_path(recipe: str | Path) -> Path:
    """A shipped recipe by name (``official``, ``paper``) or a YAML file path."""
    path = Path(recipe)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise HmtirError(f"recipe file {path} does not exist")
        return path
    shipped = RECIPES_DIR / f"{recipe}.yaml"
    if not shipped.is_file():
        names = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise HmtirError(f"unknown recipe '{recipe}' (shipped: {names}; or pass a .yaml path)")
    return shipped


def load_config(recipe: str | Path = DEFAULT_RECIPE, **overrides: Any) -> TrainConfig:
    """Recipe values, then non-None ``overrides``; unknown keys are refused (typos must not pass silently)."""
    path = recipe_path(recipe)
    data = read_yaml(path, "recipe") or {}
    if not isinstance(data, dict):
        raise HmtirError(f"recipe {path}: must be a mapping of training options")
    data.pop("version", None)
    given = {k: v for k, v in overrides.items() if v is not None}
    if "steps" in given and "epochs" not in given:
        data["epochs"] = None  # an explicit step budget replaces the recipe's epochs
    if "warmup_steps" in given and "warmup_epochs" not in given:
        data["warmup_epochs"] = None  # and an explicit step warm-up the recipe's per-epoch schedule
    data.update(given)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise HmtirError(
            f"recipe {path.name}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return TrainConfig(**data)
