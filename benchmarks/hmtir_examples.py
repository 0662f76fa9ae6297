"""Score the shipped weights on the five official HM-TIR example frames (the benchmark hmtir is named after).

The official repository (github.com/Zihang-Chen/HM-TIR, MIT) ships five 640×512 examples in ``example/``:
clean ``imgs/``, degraded ``normal/`` and ``hard/``, and the released model's own restorations
``enh_hard/``. Nothing in hmtir is trained or tuned on them; this script only measures. Pass the folder
(its images are not in this repository)::

    python benchmarks/hmtir_examples.py /work/runs/hmtir-examples --work /work/runs/examples-eval

It copies the frames into an HM-TIR layout (``imgs/``, ``composited/normal``, ``composited/hard``; a
benchmark refuses symlinks) and runs ``hmtir.evaluate`` for identity and every requested method (oracle prompts, PSNR/SSIM on [0, 1]),
then scores ``enh_hard/`` against ``imgs/`` the same way. ``ppfn`` / ``nafnet`` without a tag choose their
weights per data set (hmtir.methods.networks.choose_variant); the table says which pair they chose.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SUBSETS = {"normal": "composited/normal", "hard": "composited/hard"}
DEFAULT_METHODS = "identity,ppfn.agc,ppfn.dim,ppfn,nafnet.agc,nafnet.dim,nafnet"


def layout(examples: Path, work: Path) -> Path:
    """``work/bench``: the examples copied into an HM-TIR layout (a benchmark's frames may not be symlinks)."""
    import shutil

    from hmtir.data.layout import list_images
    from hmtir.errors import HmtirError

    names = list_images(examples / "imgs")
    if not names:
        raise HmtirError(f"{examples} has no imgs/ folder of clean frames (the official example/ folder)")
    bench = work / "bench"
    for folder, subset in (("imgs", "imgs"), *SUBSETS.items()):
        target = bench / subset
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(examples / folder / name, target / name)
    return bench


def released(examples: Path) -> dict[str, float] | None:
    """PSNR/SSIM of the released model's own ``enh_hard`` outputs against ``imgs`` (None when absent)."""
    import torch

    from hmtir.data.layout import list_images
    from hmtir.io.image import read_image
    from hmtir.metrics import create_metric

    names = list_images(examples / "enh_hard")
    if not names:
        return None
    scores: dict[str, list[float]] = {"psnr": [], "ssim": []}
    metrics = {name: create_metric(name, device="cpu") for name in scores}
    for name in names:
        out = torch.from_numpy(read_image(examples / "enh_hard" / name).data)[None, None]
        clean = torch.from_numpy(read_image(examples / "imgs" / name).data)[None, None]
        for metric_name, metric in metrics.items():
            scores[metric_name].append(float(metric(out, clean)[0]))
    return {k: sum(v) / len(v) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "examples", type=Path, help="the official example/ folder (imgs, normal, hard, enh_hard)"
    )
    parser.add_argument("--work", type=Path, default=Path("/work/runs/examples-eval"))
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    args = parser.parse_args()
    import torch

    import hmtir

    torch.set_num_threads(1)
    bench = layout(args.examples, args.work)
    table: dict[str, Any] = {}
    for name in args.methods.split(","):
        result = hmtir.evaluate(
            name, data=bench, subsets=",".join(SUBSETS.values()), device="cpu", progress=False,
            out=args.work / "eval" / name, overwrite=True,
        )  # fmt: skip
        choice = result.summary["method"].get("weights_choice")
        table[name] = {
            "chose": None if choice is None else choice["variant"],
            **{
                f"{short}_{m}": round(result.mean(m, subset), 3)
                for short, subset in SUBSETS.items()
                for m in ("psnr", "ssim")
            },
        }
        print(name, table[name], flush=True)
    release = released(args.examples)
    if release is not None:
        table["released (enh_hard)"] = {
            "hard_psnr": round(release["psnr"], 3),
            "hard_ssim": round(release["ssim"], 3),
        }
    (args.work / "examples.json").write_text(json.dumps(table, indent=1))
    print("| method | weights | normal PSNR / SSIM | hard PSNR / SSIM |\n|---|---|---|---|")
    for name, row in table.items():
        normal = f"{row['normal_psnr']:.2f} / {row['normal_ssim']:.3f}" if "normal_psnr" in row else "—"
        print(
            f"| {name} | {row.get('chose') or '—'} | {normal} | {row['hard_psnr']:.2f} / {row['hard_ssim']:.3f} |"
        )


if __name__ == "__main__":
    main()
