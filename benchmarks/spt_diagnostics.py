"""Where a PPFN + SPT model loses PSNR, pass by pass, on held-out real frames (inference only, minutes).

The held-out HIT-UAV groups (0_80, 1_60, 1_120) are degraded exactly as ``hmtir synthesize --seed 0`` does
(same per-image parameters), keeping the cascade's intermediate frames, and the PPFN model and its
prompt-free baseline are run with variations that each isolate one candidate cause:

* ``p1_vs_blur_stage``, ``p2_vs_contrast_stage``: each SPT pass against its own training target;
* ``oracle_p2``/``oracle_p3``: a pass fed the true intermediate frame instead of the previous pass's output
  (how much of the final error is inherited from earlier passes);
* ``no_clamp``: no clamp between passes;
* ``tiled``: every pass run on ``--crop``-sized tiles (the training crop size), and ``tiled_pass{k}``: only
  pass k tiled; ``tlc``: whole frames, but every channel-attention pool averages over a ``--crop``-sized
  window (NAFNet's test-time local converter) instead of the whole frame — the statistics the network saw
  in training;
* ``err_low``/``err_high``: PSNR of the error's low-frequency part (Gaussian σ = 16 px) and of the rest;
* ``without_<op>``: the same frames with one op of the cascade switched off.

    python benchmarks/spt_diagnostics.py --data ../shared/data/hit-uav --every 3 --out /work/runs/diag.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

OPS_OFF = ("nonuniformity", "stripe", "gaussian", "blur", "contrast")


def psnr(a: Any, b: Any) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float(10 * np.log10(1 / max(mse, 1e-12)))


def local_pool(size: int) -> Any:
    """Channel-attention pooling over a ``size`` window (NAFNet's TLC), for ``AdaptiveAvgPool2d(1)``."""
    import torch
    import torch.nn.functional as F

    class LocalPool(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            kh, kw = min(size, x.shape[-2]), min(size, x.shape[-1])
            if kh == x.shape[-2] and kw == x.shape[-1]:
                return x.mean(dim=(2, 3), keepdim=True)
            padded = F.pad(x, (kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2), mode="replicate")
            return F.avg_pool2d(padded, (kh, kw), stride=1)

    return LocalPool()


def set_local_pooling(model: Any, crop: int | None) -> None:
    """TLC on a NAFNet: each level's pool window = that level's feature size for a ``crop`` input."""
    import torch

    stem = model.config.get("stem_downsample", 1)
    levels = len(model.encoders)

    def put(blocks: Any, level: int) -> None:
        for block in blocks:
            block.sca[0] = (
                local_pool(max(1, (crop // stem) >> level)) if crop else torch.nn.AdaptiveAvgPool2d(1)
            )

    for level, encoder in enumerate(model.encoders):
        put(encoder, level)
    put(model.middle, levels)
    for index, decoder in enumerate(model.decoders):
        put(decoder, levels - 1 - index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/hit-uav"))
    parser.add_argument("--ppfn", type=Path, default=None, help="PPFN checkpoint (default: shipped)")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="prompt-free checkpoint (default: shipped)"
    )
    parser.add_argument("--presets", default="normal,hard")
    parser.add_argument("--every", type=int, default=1, help="use every k-th held-out frame")
    parser.add_argument("--crop", type=int, default=128, help="the training crop size")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    import cv2
    import torch

    from hmtir.degrade.ops import apply, apply_steps
    from hmtir.degrade.presets import sample_params
    from hmtir.degrade.synthesize import image_rng, output_name
    from hmtir.io.image import read_image
    from hmtir.methods.networks import SHIPPED
    from hmtir.models.checkpoint import load_checkpoint
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import run_pass

    torch.set_num_threads(1)
    from train_reference import GROUP, HELD_OUT_GROUPS

    names = sorted(
        p.name
        for p in args.data.glob("*.jpg")
        if (m := GROUP.match(p.name)) is not None and f"{m[1]}_{m[2]}" in HELD_OUT_GROUPS
    )[:: args.every]
    ppfn = load_checkpoint(args.ppfn or SHIPPED["ppfn"])
    base = load_checkpoint(args.baseline or SHIPPED["nafnet"])
    model, bank = ppfn.model, ppfn.bank

    def run(net: Any, x: torch.Tensor, degradation: str | None = None, tile: int = 0) -> torch.Tensor:
        if tile:
            out = torch.empty_like(x)
            for top in range(0, x.shape[-2], tile):
                for left in range(0, x.shape[-1], tile):
                    window = (..., slice(top, top + tile), slice(left, left + tile))
                    out[window] = run(net, x[window], degradation)
            return out
        padded, (height, width) = pad_to_multiple(x, net.size_multiple)
        with torch.inference_mode():
            y = net(padded) if degradation is None else run_pass(net, bank, padded, degradation, "composite")
        return y[..., :height, :width]

    def chain(x: torch.Tensor, tiled: tuple[int, ...] = (), clamp: bool = True) -> list[torch.Tensor]:
        outs = []
        for k, stage in enumerate(("noise", "blur", "contrast")):
            x = run(model, x, stage, args.crop if k in tiled else 0)
            x = x.clamp(0, 1) if clamp else x
            outs.append(x)
        return outs

    def low(e: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(cv2.GaussianBlur(e[0, 0].numpy(), (0, 0), 16))[None, None]

    results: dict[str, Any] = {}
    started = time.time()
    for preset in args.presets.split(","):
        acc: dict[str, list[float]] = {}

        def add(key: str, value: float, acc: dict[str, list[float]] = acc) -> None:
            acc.setdefault(key, []).append(value)

        for name in names:
            clean_np = read_image(args.data / name).data.astype(np.float32)
            params = sample_params(preset, image_rng(0, output_name(name), preset), clean_np.shape, 0.8)
            stages = apply_steps(clean_np, params)

            def tensor(a: np.ndarray) -> torch.Tensor:
                return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]

            clean, contrast, blur = tensor(clean_np), tensor(stages["contrast"]), tensor(stages["blur"])
            x = tensor(np.rint(stages["noise"] * 255) / 255)  # as written by synthesize (8-bit)
            add("identity", psnr(x, clean))
            b = run(base.model, x).clamp(0, 1)
            add("baseline", psnr(b, clean))
            p1, p2, p3 = chain(x)
            add("ppfn", psnr(p3, clean))
            add("p1_vs_blur_stage", psnr(p1, blur))
            add("input_vs_blur_stage", psnr(x, blur))
            add("p2_vs_contrast_stage", psnr(p2, contrast))
            add("oracle_p2_vs_contrast_stage", psnr(run(model, blur, "blur").clamp(0, 1), contrast))
            add("oracle_p3", psnr(run(model, contrast, "contrast").clamp(0, 1), clean))
            add("ppfn_no_clamp", psnr(chain(x, clamp=False)[-1].clamp(0, 1), clean))
            add("ppfn_tiled", psnr(chain(x, tiled=(0, 1, 2))[-1], clean))
            add("baseline_tiled", psnr(run(base.model, x, tile=args.crop).clamp(0, 1), clean))
            for k in range(3):
                add(f"ppfn_tiled_pass{k + 1}", psnr(chain(x, tiled=(k,))[-1], clean))
            for label, err in (("ppfn", p3 - clean), ("baseline", b - clean), ("p1", p1 - blur)):
                lo = low(err)
                add(f"{label}_err_low", psnr(lo, torch.zeros_like(lo)))
                add(f"{label}_err_high", psnr(err - lo, torch.zeros_like(lo)))
            set_local_pooling(model, args.crop)
            set_local_pooling(base.model, args.crop)
            add("ppfn_tlc", psnr(chain(x)[-1], clean))
            add("baseline_tlc", psnr(run(base.model, x).clamp(0, 1), clean))
            set_local_pooling(model, None)
            set_local_pooling(base.model, None)
            for op in OPS_OFF:
                if not params["ops"][op]["applied"]:
                    continue  # only frames where switching the op off changes something
                off = json.loads(json.dumps(params))
                off["ops"][op]["applied"] = False
                x_off = tensor(np.rint(apply(clean_np, off) * 255) / 255)
                add(f"without_{op}:identity", psnr(x_off, clean))
                add(f"without_{op}:baseline", psnr(run(base.model, x_off).clamp(0, 1), clean))
                add(f"without_{op}:ppfn", psnr(chain(x_off)[-1], clean))
                add(f"with_{op}:baseline", psnr(b, clean))
                add(f"with_{op}:ppfn", psnr(p3, clean))
        results[preset] = {k: {"mean": round(float(np.mean(v)), 3), "frames": len(v)} for k, v in acc.items()}
        for key, value in results[preset].items():
            print(f"{preset:7s} {key:34s} {value['mean']:7.3f} dB  ({value['frames']} frames)", flush=True)
    report = {
        "frames": len(names),
        "crop": args.crop,
        "ppfn": str(args.ppfn or SHIPPED["ppfn"]),
        "baseline": str(args.baseline or SHIPPED["nafnet"]),
        "seconds": round(time.time() - started),
        "date": time.strftime("%Y-%m-%d"),
        "results": results,
    }
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
