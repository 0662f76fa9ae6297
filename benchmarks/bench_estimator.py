"""Measure the estimator and ``auto`` prompts on held-out frames (issue 14 §2); writes JSON + Markdown tables.

    python benchmarks/bench_estimator.py --data ../shared/data/hit-uav --work /work/runs/estimator/bench

Sets (each synthesised with ``hmtir.synthesize``, every preset, gate 0.8, seed 0):

* ``hit-uav``: the 48 HIT-UAV frames of the groups no shipped model was trained on (0_80, 1_60, 1_120);
* ``hit-uav-x0.45``: the same frames at the official-like exposure (×0.45, ``hmtir/degrade/CALIBRATION.md``),
  i.e. clean frames darker and flatter than any HIT-UAV frame;
* ``scenes``: 48 procedural ground-level scenes (8 categories × 6, seed 3; the estimator saw seeds 1–2).

Measured per set: (1) the confusion matrix of the estimator's label against the subset's label (``clean``
for ``imgs/``) and against the steps the manifest says were actually applied (a gate-0.8 composite can be a
partial cascade); (2) PSNR (20·log10(1/RMSE), float [0, 1]) against the clean frame for the degraded input,
the shipped ``ppfn`` with oracle prompts (the subset's) and with ``auto`` prompts (:func:`hmtir.estimate.
restore_auto`; clean frames unchanged); (3) the product path on clean frames: ``hmtir.enhance_paths`` with
its defaults (auto prompts, auto range) on ``imgs/``, PSNR of the written 8-bit output vs its input;
(4) raw twins: each ``hit-uav`` frame as 16-bit counts in the issue's band (7564 + x·(9928−7564)/255), run
through the auto range + auto prompts, mapped back to the 8-bit scale and compared with the 8-bit path.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

HELD_OUT_GROUPS = ("0_80", "1_60", "1_120")
GROUP = re.compile(r"^([01])_(\d+)_")
SUBSETS = ("imgs", "composited/normal", "composited/hard", "single/contrast", "single/blur", "single/noise")
NOISE_OPS = ("nonuniformity", "stripe", "gaussian")
BAND = (7564, 9928)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 20 * np.log10(1.0 / np.sqrt(mse))


def prepare(work: Path, data: Path) -> dict[str, Path]:
    """Clean source folders for the three sets and their synthesised benchmarks (resumable)."""
    from hmtir.data.scenes import make_scenes
    from hmtir.degrade.synthesize import synthesize
    from hmtir.io.image import read_image, write_image

    sources = {name: work / "sources" / name for name in ("hit-uav", "hit-uav-x0.45", "scenes")}
    for folder in sources.values():
        folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(data.glob("*.jpg")):
        match = GROUP.match(path.name)
        if match is None or f"{match[1]}_{match[2]}" not in HELD_OUT_GROUPS:
            continue
        target = sources["hit-uav"] / path.with_suffix(".png").name
        if not target.is_file():
            write_image(target, read_image(path, luminance=True).data, 8)
        dark = sources["hit-uav-x0.45"] / target.name
        if not dark.is_file():
            write_image(dark, read_image(target).data * 0.45, 8)
    make_scenes(sources["scenes"], per_category=6, seed=3)
    benches = {}
    for name, folder in sources.items():
        bench = work / "bench" / name
        synthesize(folder, bench, presets="all", gate=0.8, seed=0, progress=False)
        benches[name] = bench
    return benches


def applied_label(record: dict[str, Any]) -> str:
    from hmtir.estimate import decide

    ops = record["params"]["ops"]
    present = []
    if ops.get("contrast", {}).get("applied"):
        present.append("contrast")
    if ops.get("blur", {}).get("applied"):
        present.append("blur")
    if any(ops.get(op, {}).get("applied") for op in NOISE_OPS):
        present.append("noise")
    return decide(present)


def subset_label(subset: str) -> str:
    from hmtir.vocabulary import SUBSETS as TABLE

    return "clean" if subset == "imgs" else TABLE[subset].degradation


def measure_set(bench: Path, estimator: Any, method: Any, psnr_on: bool) -> dict[str, Any]:
    import torch
    from rich.progress import Progress

    from hmtir.data.layout import list_images
    from hmtir.estimate import restore_auto
    from hmtir.io.image import read_image

    manifest = {}
    for line in (bench / "meta" / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        manifest[(record["subset"], record["name"])] = record
    names = list_images(bench / "imgs")
    rows: list[dict[str, Any]] = []
    with Progress(transient=True) as bar:
        task = bar.add_task(bench.name, total=len(SUBSETS) * len(names))
        for subset in SUBSETS:
            for name in names:
                clean = read_image(bench / "imgs" / name).data
                x = read_image(bench / subset / name).data
                estimate = estimator([x])[0]
                row: dict[str, Any] = {
                    "subset": subset,
                    "name": name,
                    "truth_subset": subset_label(subset),
                    "truth_applied": "clean" if subset == "imgs" else applied_label(manifest[(subset, name)]),
                    "predicted": estimate.verdict,
                    "action": estimate.degradation,
                    "scores": estimate.scores,
                }
                if psnr_on:
                    batch = torch.from_numpy(x)[None, None]
                    oracle_deg = subset_label(subset)
                    if oracle_deg == "clean":
                        oracle = x
                    else:
                        oracle = method(batch, oracle_deg)[0, 0].numpy()
                    if estimate.degradation == oracle_deg:  # the action, after the confidence gate
                        auto = oracle
                    else:
                        auto = restore_auto(method, batch, estimates=[estimate])[0][0, 0].numpy()
                    row.update(
                        psnr_input=psnr(x, clean),
                        psnr_oracle=psnr(oracle, clean),
                        psnr_auto=psnr(auto, clean),
                    )
                rows.append(row)
                bar.advance(task)
    return {"rows": rows}


def confusion(rows: list[dict[str, Any]], truth_key: str) -> dict[str, dict[str, int]]:
    from hmtir.estimate import LABELS

    table = {t: dict.fromkeys((*LABELS, "unjudged"), 0) for t in LABELS}
    for r in rows:
        table[r[truth_key]][r["predicted"] or "unjudged"] += 1
    return {t: counts for t, counts in table.items() if sum(counts.values())}


def enhance_clean(bench: Path, work: Path) -> dict[str, Any]:
    """The product path with its defaults on the clean frames: PSNR of each written output vs its input."""
    from hmtir.enhance import enhance_paths, plan_outputs
    from hmtir.io.image import read_image

    out = work / "enhance_clean" / bench.name
    shutil.rmtree(out, ignore_errors=True)
    results = enhance_paths(plan_outputs([bench / "imgs"], out), device="cpu")
    values, unchanged, labels = [], 0, {}
    for r in results:
        a, b = read_image(r.source).data, read_image(r.target).data
        value = psnr(b, a)
        values.append(value)
        unchanged += int(np.array_equal(a, b))
        labels[r.degradation] = labels.get(r.degradation, 0) + 1
    finite = [v for v in values if np.isfinite(v)]
    return {
        "frames": len(values),
        "unchanged": unchanged,
        "labels": labels,
        "min_psnr": min(values) if values else None,
        "mean_psnr_changed": float(np.mean(finite)) if finite else None,
        "frames_below_30db": int(sum(v < 30 for v in values)),
    }


def _shown(x: np.ndarray) -> np.ndarray:
    """How a viewer shows a frame: its 0.5-99.5 percentiles stretched to black and white."""
    low, high = np.percentile(x, (0.5, 99.5))
    return np.clip((x - low) / max(high - low, 1e-9), 0, 1)


def raw_twins(bench: Path, estimator: Any, method: Any, per_subset: int) -> dict[str, Any]:
    """8-bit frame vs its 16-bit narrow-band twin through auto range + auto prompts, on the 8-bit scale."""
    import torch

    from hmtir.data.layout import list_images
    from hmtir.estimate import restore_auto
    from hmtir.io.image import read_pixels
    from hmtir.io.radiometric import choose_mapping

    low, high = BAND
    out: dict[str, Any] = {}
    for subset in SUBSETS:
        agree, values, shown = 0, [], []
        names = list_images(bench / "imgs")[:per_subset]
        for name in names:
            x8 = read_pixels(bench / subset / name)
            counts = np.rint(low + x8.astype(np.float64) * (high - low) / 255).astype(np.uint16)
            results = []
            for pixels in (x8, counts):
                mapping = choose_mapping(pixels)
                display = mapping.to_display(pixels)
                batch = torch.from_numpy(display)[None, None]
                restored, (estimate,) = restore_auto(method, batch, estimator=estimator)
                back = mapping.from_display(restored[0, 0].numpy()).astype(np.float64)
                if pixels.dtype == np.uint16:
                    back = (back - low) * 255 / (high - low)
                results.append((estimate.degradation, back / 255))
            agree += int(results[0][0] == results[1][0])
            values.append(psnr(results[1][1], results[0][1]))
            shown.append(psnr(_shown(results[1][1]), _shown(results[0][1])))
        finite = [v for v in values if np.isfinite(v)]
        out[subset] = {
            "frames": len(names),
            "same_label": agree,
            "identical": len(values) - len(finite),
            "min_psnr": min(values),
            "median_psnr": float(np.median(values)),
            "min_display_psnr": min(shown),
            "median_display_psnr": float(np.median(shown)),
            "mean_psnr_finite": float(np.mean(finite)) if finite else None,
        }
    return out


def robustness(benches: dict[str, Path], estimator: Any) -> dict[str, Any]:
    """How the verdict moves when a frame is changed the way another camera or pipeline would change it.

    Clean held-out frames (hit-uav + scenes): share still judged ``clean`` after each change; degraded
    ones (single/blur, single/noise, composited/normal): share whose label is unchanged by crops/resizes.
    """
    import cv2

    from hmtir.data.layout import list_images
    from hmtir.io.image import read_image

    rng = np.random.default_rng(0)

    def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", np.rint(x * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32) / 255

    def q8(x: np.ndarray) -> np.ndarray:
        return (np.rint(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)

    def stretch(x: np.ndarray) -> np.ndarray:
        low, high = np.percentile(x, (0.5, 99.5))
        return q8((x - low) / max(high - low, 1e-3))

    changes = {
        "as is": lambda x: x,
        "noise σ 1": lambda x: q8(x + rng.normal(0, 1 / 255, x.shape)),
        "noise σ 2": lambda x: q8(x + rng.normal(0, 2 / 255, x.shape)),
        "noise σ 3": lambda x: q8(x + rng.normal(0, 3 / 255, x.shape)),
        "noise σ 4": lambda x: q8(x + rng.normal(0, 4 / 255, x.shape)),
        "JPEG q75": lambda x: jpeg(x, 75),
        "centre crop 50 %": lambda x: x[
            x.shape[0] // 4 : -x.shape[0] // 4, x.shape[1] // 4 : -x.shape[1] // 4
        ],
        "downscale ×0.5": lambda x: cv2.resize(x, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "upscale ×1.5": lambda x: cv2.resize(x, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR),
        "gamma 0.7": lambda x: q8(x**0.7),
        "gamma 1.4": lambda x: q8(x**1.4),
        "stretch to 0-1": stretch,
        "exposure ×0.45": lambda x: q8(x * 0.45),
    }
    out: dict[str, Any] = {"clean": {}, "stable": {}}
    frames = {
        subset: [
            read_image(benches[name] / subset / n).data
            for name in ("hit-uav", "scenes")
            for n in list_images(benches[name] / "imgs")
        ]
        for subset in ("imgs", "single/blur", "single/noise", "composited/normal")
    }
    for label, change in changes.items():
        verdicts = estimator([change(x) for x in frames["imgs"]])
        out["clean"][label] = {
            "frames": len(verdicts),
            "clean": sum(e.verdict == "clean" for e in verdicts),
            "labels": {d: sum(e.verdict == d for e in verdicts) for d in {e.verdict for e in verdicts}},
        }
    for subset in ("single/blur", "single/noise", "composited/normal"):
        base = [e.verdict for e in estimator(frames[subset])]
        out["stable"][subset] = {}
        for label in ("centre crop 50 %", "downscale ×0.5", "upscale ×1.5", "JPEG q75"):
            moved = [e.verdict for e in estimator([changes[label](x) for x in frames[subset]])]
            out["stable"][subset][label] = sum(a == b for a, b in zip(base, moved)) / len(base)
    return out


def markdown(results: dict[str, Any]) -> str:
    from hmtir.estimate import LABELS

    lines = [
        f"Measured {results['date']} with `python benchmarks/bench_estimator.py` ({results['machine']}); "
        f"estimator sha256 `{results['estimator_sha256'][:16]}…`, ppfn weights sha256 "
        f"`{results['ppfn_sha256'][:16]}…`.",
        "",
    ]
    for name, data in results["sets"].items():
        for key, title in (("truth_subset", "subset label"), ("truth_applied", "steps actually applied")):
            lines += [f"**{name}: confusion vs {title}** (rows truth, columns estimate)", ""]
            matrix = data[f"confusion_{key}"]
            lines.append("| truth \\ estimate | " + " | ".join((*LABELS, "unjudged")) + " | correct |")
            lines.append("|---|" + "---:|" * (len(LABELS) + 2))
            for truth, counts in matrix.items():
                total = sum(counts.values())
                lines.append(
                    f"| {truth} | "
                    + " | ".join(str(counts[c]) for c in (*LABELS, "unjudged"))
                    + f" | {counts[truth] / total:.0%} |"
                )
            lines += ["", f"overall: **{data[f'accuracy_{key}']:.1%}** of {data['frames']} frames", ""]
        if "psnr" in data:
            lines += [f"**{name}: PSNR (dB) vs clean**", ""]
            lines.append("| subset | input | ppfn oracle prompts | ppfn auto prompts | auto − oracle |")
            lines.append("|---|---:|---:|---:|---:|")
            for subset, p in data["psnr"].items():
                lines.append(
                    f"| {subset} | {p['input']:.2f} | {p['oracle']:.2f} | {p['auto']:.2f} | {p['auto'] - p['oracle']:+.2f} |"
                )
            lines.append("")
        if "enhance_clean" in data:
            e = data["enhance_clean"]
            lines += [
                f"**{name}: `enhance` defaults on clean frames**: {e['unchanged']}/{e['frames']} left unchanged; "
                f"labels {e['labels']}; lowest PSNR {e['min_psnr']:.2f} dB; {e['frames_below_30db']} below 30 dB.",
                "",
            ]
    if "raw_twins" in results:
        lines += ["**Raw 16-bit twins (hit-uav): auto range + auto prompts vs the 8-bit path**", ""]
        lines.append(
            "| subset | frames | same label | PSNR min / median (8-bit scale) | PSNR min / median (both shown by AGC) |"
        )
        lines.append("|---|---:|---:|---:|---:|")
        for subset, t in results["raw_twins"].items():
            lines.append(
                f"| {subset} | {t['frames']} | {t['same_label']} | {t['min_psnr']:.2f} / {t['median_psnr']:.2f} "
                f"| {t['min_display_psnr']:.2f} / {t['median_display_psnr']:.2f} |"
            )
        lines.append("")
    if "robustness" in results:
        r = results["robustness"]
        lines += [
            "**Clean held-out frames (hit-uav + scenes) changed as another camera would: judged clean**",
            "",
        ]
        lines.append("| change | clean | other labels |")
        lines.append("|---|---:|---|")
        for label, c in r["clean"].items():
            others = ", ".join(f"{k} {v}" for k, v in sorted(c["labels"].items()) if k != "clean")
            lines.append(f"| {label} | {c['clean']}/{c['frames']} | {others} |")
        lines += ["", "**Label unchanged after a crop / resize / JPEG (degraded held-out frames)**", ""]
        kinds = list(next(iter(r["stable"].values())))
        lines.append("| subset | " + " | ".join(kinds) + " |")
        lines.append("|---|" + "---:|" * len(kinds))
        for subset, row in r["stable"].items():
            lines.append(f"| {subset} | " + " | ".join(f"{row[k]:.0%}" for k in kinds) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/work/runs/estimator/bench"))
    parser.add_argument("--estimator", default=None, help="estimator checkpoint (default: shipped)")
    parser.add_argument("--no-psnr", action="store_true", help="confusion matrices only (no ppfn runs)")
    parser.add_argument("--twins", type=int, default=16, help="raw twins per subset (0: skip)")
    parser.add_argument("--sets", default="hit-uav,hit-uav-x0.45,scenes")
    parser.add_argument("--robustness-only", action="store_true", help="only the camera-change table")
    parser.add_argument("--twins-only", action="store_true", help="only the raw 16-bit twin table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import hmtir
    from hmtir.estimate import load_estimator
    from hmtir.leaderboard.scoring import hardware_description
    from hmtir.methods import load_method

    print(f"hmtir from {hmtir.__file__}", flush=True)
    benches = prepare(args.work, args.data)
    estimator = load_estimator(args.estimator)
    method = load_method("ppfn", device="cpu")
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": hardware_description("cpu") + ", 1 thread",
        "estimator_sha256": estimator.weights_sha256,
        "ppfn_sha256": method.weights_sha256,
        "sets": {},
    }
    if args.twins_only:
        results["raw_twins"] = raw_twins(benches["hit-uav"], estimator, method, args.twins)
        (args.work / "twins.json").write_text(json.dumps(results, indent=1, default=float))
        print(markdown(results))
        return
    if args.robustness_only:
        results["robustness"] = robustness(benches, estimator)
        (args.work / "robustness.json").write_text(json.dumps(results, indent=1, default=float))
        print(markdown(results))
        return
    for name in args.sets.split(","):
        start = time.perf_counter()
        data = measure_set(benches[name], estimator, method, not args.no_psnr)
        rows = data["rows"]
        entry: dict[str, Any] = {"frames": len(rows), "rows": rows}
        for key in ("truth_subset", "truth_applied"):
            entry[f"confusion_{key}"] = confusion(rows, key)
            entry[f"accuracy_{key}"] = float(np.mean([r["predicted"] == r[key] for r in rows]))
        if not args.no_psnr:
            entry["psnr"] = {
                subset: {
                    k: float(np.mean([r[f"psnr_{k}"] for r in rows if r["subset"] == subset]))
                    for k in ("input", "oracle", "auto")
                }
                for subset in SUBSETS
                if subset != "imgs"
            }
            entry["enhance_clean"] = enhance_clean(benches[name], args.work)
        entry["seconds"] = round(time.perf_counter() - start, 1)
        results["sets"][name] = entry
        print(
            f"{name}: {entry['accuracy_truth_subset']:.3f} / {entry['accuracy_truth_applied']:.3f}",
            flush=True,
        )
    if args.twins and not args.no_psnr and "hit-uav" in benches:
        results["raw_twins"] = raw_twins(benches["hit-uav"], estimator, method, args.twins)
    results["robustness"] = robustness(benches, estimator)
    (args.work / "bench_results.json").write_text(json.dumps(results, indent=1, default=float))
    text = markdown(results)
    (args.work / "bench_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
