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
from hmtir.io.safety import check_seed
from hmtir.io.yaml_file import read_yaml
from hmtir.models.config_schema import Bool, Choice, Float, Int, Spec, check_model_config, trainable_models

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
        """Every option checked for type and range before anything is read or allocated (one line each)."""
        from hmtir.degrade.presets import preset_names

        for key, spec in option_specs().items():
            value = getattr(self, key)
            if not (value is None and key in OPTIONAL) and not spec.ok(value):
                raise HmtirError(f"{option_name(key)} must be {spec.describe()} (got {value!r})")
        self.seed = check_seed(self.seed)
        if self.lr_min > self.lr:
            raise HmtirError(f"recipe key 'lr_min' must be at most --lr {self.lr:g} (got {self.lr_min:g})")
        if not isinstance(self.presets, list) or not self.presets:
            raise HmtirError(f"--preset needs at least one degradation preset (got {self.presets!r})")
        known = preset_names()
        for key, name in [
            *(("--preset", p) for p in self.presets),
            ("recipe key 'val_preset'", self.val_preset),
        ]:
            if name not in known:
                raise HmtirError(f"{key}: unknown degradation preset {name!r} (known: {', '.join(known)})")
        self.optimizer = check_optimizer(self.optimizer)
        if self.exposure is not None:
            self.exposure = check_exposure(self.exposure)
        if self.restretch is not None:
            self.restretch = check_restretch(self.restretch)
        self.model_config = check_model_config(self.model, self.model_config)

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


MANY = 10**12  # bound of counts that only cost time (steps, intervals)
MAX_WORKERS = 64  # DataLoader worker processes per training process
OPTIONAL = ("iterations", "warmup_epochs", "epochs")  # None selects a default behaviour
RECIPE_ONLY = ("lr_min", "loss", "flips", "val_preset", "val_crop", "val_max_frames", "model_config")


def option_specs() -> dict[str, Spec]:
    """The type and range of every scalar option (lists and sections have their own checks below)."""
    from hmtir.degrade.ops import TRAINING_MIXES

    return {
        "model": Choice(tuple(trainable_models())),
        "spt": Bool(),
        "iterations": Choice(SPT_ITERATIONS),
        "mix": Choice(tuple(TRAINING_MIXES)),
        "gate": Float(0.0, 1.0),
        "loss": Choice(("l1",)),
        "lr": Float(0.0, 1.0, low_open=True),
        "lr_min": Float(0.0, 1.0),
        "warmup_steps": Int(0, MANY),
        "warmup_epochs": Int(0, MANY),
        "batch_size": Int(1, MANY),  # the frames bound it (one batch per process)
        "crop": Int(1, MANY),  # the frames bound it (hmtir.train.batches.check_windows)
        "degrade_size": Int(0, MANY),
        "flips": Bool(),
        "steps": Int(1, MANY),
        "epochs": Int(1, MANY),
        "workers": Int(0, MAX_WORKERS),
        "log_every": Int(1, MANY),
        "val_every": Int(1, MANY),
        "val_crop": Int(0, MANY),  # cut to each frame
        "val_max_frames": Int(1, 10**6),
        "ckpt_every": Int(1, MANY),
        "amp": Choice(AMP_MODES),
        "threads": Int(0, 4096),
    }


def option_name(key: str) -> str:
    """How a user names option ``key``: its command-line flag, or the recipe key it only has."""
    return f"recipe key {key!r}" if key in RECIPE_ONLY else f"--{key.replace('_', '-')}"


def check_optimizer(value: Any) -> dict[str, Any]:
    """Adam's settings: ``name: adam``, ``betas`` two numbers in [0, 1), ``weight_decay`` ≥ 0."""
    where = "recipe key 'optimizer'"
    if not isinstance(value, dict):
        raise HmtirError(
            f"{where} must be a mapping such as {{name: adam, betas: [0.9, 0.999]}} (got {value!r})"
        )
    unknown = sorted(map(str, set(value) - {"name", "betas", "weight_decay"}))
    if unknown:
        raise HmtirError(f"{where}: unknown key {unknown[0]!r} (known: name, betas, weight_decay)")
    if str(value.get("name", "adam")).lower() != "adam":
        raise HmtirError(f"recipe key 'optimizer.name': only 'adam' is implemented (got {value['name']!r})")
    beta = Float(0.0, 1.0)
    betas = value.get("betas", [0.9, 0.999])
    if (
        not isinstance(betas, (list, tuple))
        or len(betas) != 2
        or not all(beta.ok(b) and b < 1 for b in betas)
    ):
        raise HmtirError(
            f"recipe key 'optimizer.betas' must be two numbers from 0 to below 1 (got {betas!r})"
        )
    decay = value.get("weight_decay", 0.0)
    if not Float(0.0, 1.0).ok(decay):
        raise HmtirError(
            f"recipe key 'optimizer.weight_decay' must be {Float(0.0, 1.0).describe()} (got {decay!r})"
        )
    return dict(value)


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
