"""A pinned synthesis output: fixed clean frames, seed 0, every preset, gate 0.8 and 1.0.

Run-against-run determinism cannot notice a change that alters every run the same way (``--gate``
ignored, a new per-image seeding), so this pins the result itself: each manifest record's sampled
parameters (rounded) and every written image's pixels (sha256 + a coarse signature, see ``pinned.py``)
in ``tests/golden/synthesize.json``. Pixels, not file bytes, are pinned: a new PNG/TIFF encoder may change
the bytes of identical images.

The fixture is data: after an intended change of the synthesised images (a new preset version, a
different cascade), regenerate it with ``python tests/test_synthesize_golden.py`` and review its diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pinned import levels, mismatches, pin

from hmtir.degrade.presets import load_preset
from hmtir.degrade.synthesize import DEFAULT_PRESETS, synthesize
from hmtir.io.image import read_image, write_image

GOLDEN = Path(__file__).parent / "golden" / "synthesize.json"
GATES = (0.8, 1.0)
SEED = 0
SHAPE = (40, 48)
FRAMES = (("g8.png", 8), ("g16.png", 16), ("g16.tif", 16))


def write_inputs(folder: Path) -> None:
    """Three clean frames from exact arithmetic and numpy's PCG64 (the same on every platform)."""
    rng = np.random.default_rng(20250617)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float64)
    for k, (name, bit_depth) in enumerate(FRAMES):
        frame = 0.15 + 0.5 * xx / SHAPE[1] + 0.2 * yy / SHAPE[0] * k / 2
        frame[10:22, 12 + 8 * k : 30 + 8 * k] += 0.25  # a warm block with hard edges
        frame += 0.04 * rng.random(SHAPE)
        write_image(folder / name, np.clip(frame, 0, 1).astype(np.float32), bit_depth)


def pixel_pin(path: Path) -> dict[str, Any]:
    """The pin of an image file's integer pixels (its bit depth is part of the hash)."""
    image = read_image(path)
    ints = levels(image.data, image.bit_depth)
    return {"bit_depth": image.bit_depth, **pin(ints, ints)}


def rounded(value: Any) -> Any:
    """Floats to 10 decimals, recursively: the pin is the sampled value, not its last printed digit."""
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, dict):
        return {key: rounded(v) for key, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def observe(tmp: Path) -> dict[str, Any]:
    """What the golden pins, for each gate: every manifest record and every written image's pixel hash."""
    source = tmp / "clean"
    write_inputs(source)
    result: dict[str, Any] = {}
    for gate in GATES:
        out = tmp / f"gate{gate}"
        synthesize(source, out, presets="all", gate=gate, seed=SEED, progress=False)
        manifest = [json.loads(line) for line in (out / "meta" / "manifest.jsonl").read_text().splitlines()]
        provenance = json.loads((out / "meta" / "dataset.json").read_text())
        result[str(gate)] = {
            "dataset_gate": provenance["gate"],
            "records": {
                f"{r['subset']}/{r['name']}": {
                    "preset": r["preset"],
                    "seed": r["seed"],
                    "seed_material": r["seed_material"],
                    "bit_depth": r["bit_depth"],
                    "params": rounded(r["params"]),
                }
                for r in manifest
            },
            "pixels": {
                p.relative_to(out).as_posix(): pixel_pin(p)
                for p in sorted(out.rglob("*"))
                if p.is_file() and p.suffix in (".png", ".tif")
            },
        }
    return result


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return observe(tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("gate", [str(g) for g in GATES])
def test_sampled_parameters_match_the_pinned_manifest(observed, golden, gate: str) -> None:
    want, got = golden[gate]["records"], observed[gate]["records"]
    assert sorted(got) == sorted(want)
    assert len(got) == len(FRAMES) * len(DEFAULT_PRESETS)
    for key in want:
        assert got[key] == want[key], key


@pytest.mark.parametrize("gate", [str(g) for g in GATES])
def test_every_written_image_matches_its_pinned_pixels(observed, golden, gate: str) -> None:
    want, got = golden[gate]["pixels"], observed[gate]["pixels"]
    assert {k: v["bit_depth"] for k, v in got.items()} == {k: v["bit_depth"] for k, v in want.items()}
    assert mismatches(got, want) == []


@pytest.mark.parametrize("gate", GATES)
def test_dataset_json_records_the_gate_every_image_was_made_with(observed, gate: float) -> None:
    """The requested gate is in dataset.json and each composite record was sampled with it."""
    run = observed[str(gate)]
    assert run["dataset_gate"] == gate
    for key, record in run["records"].items():
        assert record["params"]["gate"] == load_preset(record["preset"]).effective_gate(gate), key
    composite = [r for k, r in run["records"].items() if k.startswith("composited/")]
    assert composite and all(r["params"]["gate"] == gate for r in composite)


def test_the_two_gates_give_different_composite_images(golden) -> None:
    """Guards the fixture itself: gate 1.0 must not have been generated with 0.8 (nor the reverse)."""
    low, high = golden["0.8"]["pixels"], golden["1.0"]["pixels"]
    differing = [k for k in low if k.startswith("composited/") and low[k]["sha256"] != high[k]["sha256"]]
    assert differing, "composited images are identical at gate 0.8 and 1.0"
    for record in golden["1.0"]["records"].values():
        assert all(op["applied"] for op in record["params"]["ops"].values())


if __name__ == "__main__":  # regenerate the fixture from the current code
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = observe(Path(tmp))
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
