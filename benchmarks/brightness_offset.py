"""How much of a model's composite error is a global grey-level offset (the contrast step's brightness prior).

For every ``--every``-th frame of a synthesized held-out benchmark (``normal`` and ``hard``) it runs a PPFN
checkpoint (SPT, composite prompts) and a prompt-free one, and reports per preset: input PSNR, each model's PSNR,
the PPFN output's PSNR after the best per-frame affine grey map onto the clean frame (an oracle: what is left
when only brightness/contrast is corrected), the mean grey offset ``mean(out − clean)`` and the std ratio.

    python benchmarks/brightness_offset.py --bench /work/runs/ref/heldout_bench \\
        --ppfn hmtir/models/weights/ppfn_nafnet_spt.pt --baseline hmtir/models/weights/nafnet_baseline.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / max(float(((a - b) ** 2).mean()), 1e-12)))


def restore(loaded: Any, image: Any) -> np.ndarray:
    """SPT with composite prompts on a 1×1×H×W tensor, cropped back and clamped, as float64."""
    import torch

    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import spt_restore

    padded, (height, width) = pad_to_multiple(image, loaded.model.size_multiple)
    with torch.inference_mode():
        out = spt_restore(loaded.model, loaded.bank, padded, "composite", "composite")
    return out[..., :height, :width].clamp(0, 1)[0, 0].double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bench", type=Path, required=True, help="an HM-TIR tree with composited/normal|hard"
    )
    parser.add_argument("--ppfn", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--every", type=int, default=6)
    args = parser.parse_args()
    import torch

    from hmtir.data.layout import CLEAN_DIR, list_images
    from hmtir.io.image import read_image
    from hmtir.models.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    ppfn, baseline = load_checkpoint(args.ppfn), load_checkpoint(args.baseline)
    for subset in ("composited/normal", "composited/hard"):
        rows = []
        for name in list_images(args.bench / subset)[:: args.every]:
            degraded = read_image(args.bench / subset / name).data
            clean = read_image(args.bench / CLEAN_DIR / name).data.astype(np.float64)
            x = torch.from_numpy(degraded)[None, None]
            out, plain = restore(ppfn, x), restore(baseline, x)
            design = np.stack([out.ravel(), np.ones(out.size)], 1)
            coef, *_ = np.linalg.lstsq(design, clean.ravel(), rcond=None)
            rows.append(
                (
                    psnr(degraded.astype(np.float64), clean),
                    psnr(out, clean),
                    psnr((design @ coef).reshape(clean.shape), clean),
                    psnr(plain, clean),
                    out.mean() - clean.mean(),
                    plain.mean() - clean.mean(),
                    out.std() / clean.std(),
                    plain.std() / clean.std(),
                )
            )
        m = np.mean(rows, axis=0)
        print(
            f"{subset} ({len(rows)} frames): input {m[0]:.2f} | ppfn {m[1]:.2f}, affine-corrected {m[2]:.2f} | "
            f"baseline {m[3]:.2f} | mean offset ppfn {m[4]:+.3f} baseline {m[5]:+.3f} | "
            f"std ratio ppfn {m[6]:.2f} baseline {m[7]:.2f}"
        )


if __name__ == "__main__":
    main()
