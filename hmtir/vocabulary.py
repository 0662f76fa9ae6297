"""hmtir's shared vocabulary: one definition of each concept every layer imports.

* a **step** is one stage of the physical cascade, in order: ``contrast`` → ``blur`` → ``noise``
  (the ops of :mod:`hmtir.degrade.ops` each belong to one step);
* a **degradation** is what a frame suffers and what a method is told: ``composite`` (every step, the
  cascade) or one step alone — the degradation prompt of PPFN;
* a **scenario** is ``single`` or ``composite`` — the scenario prompt of PPFN;
* a **subset** is a folder of a benchmark: *paired* (degraded frames with clean targets, made by a preset)
  or *real* (unpaired real frames, ``real/<name>``, scored without reference, run as composite).

Nothing here imports anything heavy, so the CLI, the leaderboard and the degradation code share it freely.
"""

from __future__ import annotations

from dataclasses import dataclass

STEPS: tuple[str, ...] = ("contrast", "blur", "noise")
COMPOSITE = "composite"
DEGRADATIONS: tuple[str, ...] = (COMPOSITE, *STEPS)
SCENARIOS: tuple[str, ...] = ("single", COMPOSITE)  # row order of the official scenario prompt bank
SPT_ORDER: tuple[str, ...] = tuple(reversed(STEPS))  # SPT undoes the cascade last step first
REAL_PREFIX = "real/"


def scenario_of(degradation: str) -> str:
    """The scenario a degradation implies: the composite cascade, or a single step."""
    return COMPOSITE if degradation == COMPOSITE else "single"


@dataclass(frozen=True)
class Subset:
    """A benchmark subset: its folder name, whether it has clean targets, and the prompts it implies."""

    name: str  # e.g. "composited/normal" (also its folder inside a benchmark)
    kind: str  # "paired" | "real"
    degradation: str
    scenario: str
    preset: str | None = None  # the degradation preset that synthesises a paired subset

    @property
    def paired(self) -> bool:
        return self.kind == "paired"


SUBSETS: dict[str, Subset] = {
    s.name: s
    for s in (
        Subset("composited/normal", "paired", COMPOSITE, COMPOSITE, "normal"),
        Subset("composited/hard", "paired", COMPOSITE, COMPOSITE, "hard"),
        Subset("single/contrast", "paired", "contrast", "single", "single-contrast"),
        Subset("single/blur", "paired", "blur", "single", "single-blur"),
        Subset("single/noise", "paired", "noise", "single", "single-noise"),
    )
}
PRESET_TO_SUBSET: dict[str, str] = {s.preset: s.name for s in SUBSETS.values() if s.preset}


def is_real(name: str) -> bool:
    """``real/<name>`` (and the bare ``real`` of ``evaluate --real``) are unpaired real-frame subsets."""
    return name == REAL_PREFIX.rstrip("/") or name.startswith(REAL_PREFIX)


def subset_info(name: str) -> Subset:
    """The :class:`Subset` called ``name``: a paired subset of the table, or any ``real/...`` subset."""
    if name in SUBSETS:
        return SUBSETS[name]
    if is_real(name):
        return Subset(name, "real", COMPOSITE, COMPOSITE)
    from hmtir.errors import HmtirError

    raise HmtirError(f"unknown subset '{name}' (paired: {', '.join(SUBSETS)}; or real/<name>)")
