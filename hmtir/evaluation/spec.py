"""What an evaluation *is*: one frozen run spec, checked once, that names its results and keys their reuse.

Everything that can change a score is in the spec (method, weights, options, data, subsets, metric
definitions, convention, prompts, seed, device, batch size); the number of processes is not, because a
sharded run writes exactly the records a single process writes. Two runs with equal specs are the same
evaluation, so a finished one is loaded instead of recomputed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hmtir.errors import HmtirError
from hmtir.io.safety import check_seed

CONVENTIONS = ("float", "uint8")
PROMPT_MODES = ("oracle", "auto")
DEFAULT_RESULTS_DIR = Path("results")


def check_options(convention: str, batch_size: int, seed: int, prompts: str) -> None:
    """Refuse bad run options in the library's words (the CLI adds nothing but parsing)."""
    if convention not in CONVENTIONS:
        raise HmtirError(f"unknown convention '{convention}' (use {' or '.join(CONVENTIONS)})")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise HmtirError(f"batch size must be at least 1 (got {batch_size})")
    check_seed(seed, "seed")
    if prompts not in PROMPT_MODES:
        raise HmtirError(f"unknown prompts mode '{prompts}' (use {' or '.join(PROMPT_MODES)})")


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines an evaluation's records (see the module docstring)."""

    method: str
    weights_sha256: str | None
    method_options: dict[str, Any]
    data_root: str  # resolved absolute path
    data_kind: str  # "paired" | "real"
    manifest_sha256: str | None
    subsets: tuple[str, ...]
    metrics: dict[str, Any]  # name -> definition (as recorded in results)
    convention: str
    prompts: str
    seed: int
    device: str
    batch_size: int
    frames_sha256: str  # digest of the evaluated (subset, frame name) list, in order
    estimator_sha256: str | None = None  # prompts "auto": the estimator's weights
    raw_range: str = "auto"  # how real (unpaired) frames map to display
    method_source: dict[str, Any] | None = None  # a method from outside hmtir: code sha256, distribution

    def as_dict(self) -> dict[str, Any]:
        spec = json.loads(json.dumps(asdict(self), default=str))
        if spec["method_source"] is None:  # hmtir's own methods: the spec (and its digest) as before
            del spec["method_source"]
        return spec

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def differences(self, recorded: dict[str, Any]) -> list[str]:
        """Fields whose recorded value differs from this spec (names only, for a one-line message)."""
        mine = self.as_dict()
        return sorted(k for k in set(mine) | set(recorded) if mine.get(k) != recorded.get(k))

    def default_out(self) -> Path:
        """``results/<method>/<data>__<metrics>[__<subsets>]-<8 hex>``: readable, and unique per spec.

        The same command always lands in the same folder (so it resumes, or loads when finished), while any
        change that can move a score gets its own folder.
        """
        data = Path(self.data_root).name or "data"
        parts = [f"real-{data}" if self.data_kind == "real" else data, "-".join(self.metrics)]
        if self.data_kind == "paired":
            short = [s.split("/")[-1] for s in self.subsets]
            if len(short) < 5:
                parts.append("-".join(short))
        if self.convention != "float":
            parts.append(self.convention)
        if self.prompts != "oracle":
            parts.append(f"prompts-{self.prompts}")
        if self.data_kind == "real" and self.raw_range != "auto":
            parts.append(f"range-{self.raw_range}")
        label = _slug("__".join(parts))
        return DEFAULT_RESULTS_DIR / _slug(self.method) / f"{label}-{self.digest[:8]}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"
