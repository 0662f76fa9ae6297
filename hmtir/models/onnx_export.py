"""Export hmtir's networks to ONNX: one pass of the network, with PPFN's prompts as inputs.

SPT is a loop over passes whose prompts depend on the frame's degradation, and a range-head model reads the
statistics of the frame as it came in, not of each pass's input. So the graph is *one pass* and the loop
stays outside, in :class:`hmtir.methods.onnx.OnnxMethod`, exactly as :func:`hmtir.models.spt.spt_restore`
runs it in torch: the prompts are two int64 indices into the prompt bank (stored in the graph, so the file
is self-contained), a range-head model takes the frame's statistics as a third input and applies its
correction only on the passes that undo the contrast step, and padding to the network's size multiple is
done by the caller (the multiple is in the metadata). Height, width and batch are dynamic.

Every file carries ``hmtir.*`` metadata (:data:`META_KEYS`): what it is, the weights it came from, its
inputs, the opset, and that passes are not unrolled; :class:`~hmtir.methods.onnx.OnnxMethod` reads them.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hmtir import __version__
from hmtir.errors import HmtirError
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import RANGE_PASSES
from hmtir.vocabulary import DEGRADATIONS, SCENARIOS, SPT_ORDER

#: The ONNX opset of every export (the dynamo exporter's translation target in torch 2.14).
OPSET = 18
FORMAT = "hmtir-onnx/1"
IMAGE, DEGRADATION, SCENARIO, FRAME_STATS = "image", "degradation", "scenario", "frame_stats"
OUTPUT = "restored"
#: The metadata every export carries (values are strings; lists are comma-separated).
META_KEYS = (
    "hmtir.format",
    "hmtir.version",
    "hmtir.method",
    "hmtir.model",
    "hmtir.weights_sha256",
    "hmtir.inputs",
    "hmtir.prompt_inputs",
    "hmtir.degradations",
    "hmtir.scenarios",
    "hmtir.frame_stats",
    "hmtir.range_passes",
    "hmtir.spt_unrolled",
    "hmtir.spt_order",
    "hmtir.size_multiple",
    "hmtir.padding",
    "hmtir.opset",
    "hmtir.exporter",
)


class OnePass(nn.Module):
    """One forward pass of ``model`` with the inputs an ONNX graph can take (see the module docstring)."""

    def __init__(self, model: nn.Module, bank: PromptBank | None) -> None:
        super().__init__()
        self.model = model
        self.prompted = bool(getattr(model, "uses_prompts", False))
        self.stats = bool(getattr(model, "uses_frame_stats", False))
        if self.prompted:
            if bank is None:
                raise HmtirError("a PPFN model needs its prompt bank to be exported")
            self.register_buffer("degradation_bank", torch.stack([bank.degradation[d] for d in DEGRADATIONS]))
            self.register_buffer("scenario_bank", torch.stack([bank.scenario[s] for s in SCENARIOS]))
            flags = [1.0 if d in RANGE_PASSES else 0.0 for d in DEGRADATIONS]
            self.register_buffer("range_flags", torch.tensor(flags))

    @property
    def input_names(self) -> list[str]:
        return [
            IMAGE,
            *([DEGRADATION, SCENARIO] if self.prompted else []),
            *([FRAME_STATS] if self.stats else []),
        ]

    def forward(self, image: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        if not self.prompted:
            return self.model(image, frame_stats=rest[0]) if self.stats else self.model(image)
        degradation, scenario = rest[0], rest[1]
        deg = self.degradation_bank.index_select(0, degradation)
        scen = self.scenario_bank.index_select(0, scenario)
        if not self.stats:
            return self.model(image, deg, scen)
        stats = rest[2]
        out = self.model(image, deg, scen, frame_stats=stats, range_correction=False)
        corrected = self.model.range_correct(out, image, stats, deg, scen, True)
        flag = self.range_flags.index_select(0, degradation).view(1, 1, 1, 1)
        return torch.where(flag > 0, corrected, out)


def _reason(err: BaseException) -> str:
    """The first line of the innermost cause of ``err`` (the exporter wraps the real reason in layers)."""
    while err.__cause__ is not None:
        err = err.__cause__
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0][:300]}" if lines else type(err).__name__


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote: the file, its inputs, opset, metadata and size."""

    path: Path
    inputs: list[str]
    opset: int
    metadata: dict[str, str]
    size_bytes: int
    seconds: float
    checks: list[dict[str, Any]] = field(default_factory=list)


def example_inputs(one_pass: OnePass, height: int = 64, width: int = 96) -> tuple[torch.Tensor, ...]:
    """Inputs of one pass on a random ``2×1×height×width`` batch (composite prompts, for tracing)."""
    from hmtir.models.range_head import frame_statistics

    image = torch.rand(2, 1, height, width)
    rest: list[torch.Tensor] = []
    if one_pass.prompted:
        rest += [torch.tensor([DEGRADATIONS.index("noise")]), torch.tensor([SCENARIOS.index("composite")])]
    if one_pass.stats:
        rest.append(frame_statistics(image))
    return (image, *rest)


def _network(method_or_model: Any) -> tuple[nn.Module, PromptBank | None, str, str, str | None]:
    """(network, bank, method name, model name, weights sha256) of a network method or a bare network."""
    from hmtir.methods.base import Method

    if isinstance(method_or_model, Method):
        loaded = getattr(method_or_model, "loaded", None)
        if loaded is None or not isinstance(getattr(loaded, "model", None), nn.Module):
            raise HmtirError(
                f"method '{method_or_model.name}' cannot be exported to ONNX: it is not one network "
                f"({method_or_model.meta.kind}; only ppfn, nafnet, restormer and other hmtir networks are)"
            )
        return loaded.model, loaded.bank, method_or_model.name, loaded.name, method_or_model.weights_sha256
    if isinstance(method_or_model, nn.Module):
        name = type(method_or_model).__name__
        return method_or_model, None, name, name, None
    raise HmtirError(
        f"cannot export {type(method_or_model).__name__} to ONNX: expected a method or a network"
    )


def export_onnx(
    method_or_model: Any,
    path: str | Path,
    *,
    bank: PromptBank | None = None,
    check: bool = True,
    check_sizes: tuple[tuple[int, int], ...] = ((37, 45), (64, 80)),
    tolerance: float = 1e-4,
) -> ExportReport:
    """Export a network method (``load_method("ppfn")``) or a bare network to ``path``, atomically.

    ``bank``: the prompt bank of a bare PPFN network (a method brings its own). With ``check``, the file is
    run through :class:`~hmtir.methods.onnx.OnnxMethod` on random frames of ``check_sizes`` (odd sizes test
    the padding) for every prompt pair and compared with the torch method; a max abs difference above
    ``tolerance`` is an error and nothing is written. A network the exporter cannot translate is one line
    naming the model and the exporter's reason.
    """
    import time

    import onnx

    from hmtir.io.atomic import atomic_path

    if not hasattr(torch.export, "Dim") or not hasattr(torch.export.Dim, "DYNAMIC"):
        raise HmtirError(
            f"ONNX export needs torch >= 2.6 (the dynamo exporter); this is torch {torch.__version__}"
        )
    model, own_bank, method_name, model_name, digest = _network(method_or_model)
    one_pass = OnePass(model, bank if bank is not None else own_bank).eval()
    inputs = one_pass.input_names
    dim = torch.export.Dim.DYNAMIC  # any batch, height and width (the caller pads to size_multiple)
    # specs of OnePass.forward(image, *rest): only the image and the statistics vary
    rest: list[Any] = [None, None] if one_pass.prompted else []
    rest += [{0: dim}] if one_pass.stats else []
    dynamic = ({0: dim, 2: dim, 3: dim}, tuple(rest)) if rest else ({0: dim, 2: dim, 3: dim},)
    metadata = {
        "hmtir.format": FORMAT,
        "hmtir.version": __version__,
        "hmtir.method": method_name,
        "hmtir.model": model_name,
        "hmtir.weights_sha256": digest or "",
        "hmtir.inputs": ",".join(inputs),
        "hmtir.prompt_inputs": f"{DEGRADATION},{SCENARIO}" if one_pass.prompted else "",
        "hmtir.degradations": ",".join(DEGRADATIONS),
        "hmtir.scenarios": ",".join(SCENARIOS),
        "hmtir.frame_stats": "hmtir.models.range_head.frame_statistics of the unpadded frame"
        if one_pass.stats
        else "",
        "hmtir.range_passes": ",".join(RANGE_PASSES) if one_pass.stats and one_pass.prompted else "",
        "hmtir.spt_unrolled": "false",
        "hmtir.spt_order": ",".join(SPT_ORDER) if one_pass.prompted else "",
        "hmtir.size_multiple": str(int(getattr(model, "size_multiple", 1))),
        "hmtir.padding": "bottom/right to size_multiple, reflect (replicate when the pad exceeds the frame)",
        "hmtir.opset": str(OPSET),
        "hmtir.exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
    }
    target = Path(path)
    if not target.parent.is_dir():  # atomic_path would create it: a failed export must leave nothing behind
        raise HmtirError(f"cannot write {target}: folder {target.parent} does not exist")
    start = time.perf_counter()
    with atomic_path(target, suffix=".onnx") as tmp:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    one_pass,
                    example_inputs(one_pass),
                    str(tmp),
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=inputs,
                    output_names=[OUTPUT],
                    dynamic_shapes=dynamic,
                    external_data=False,
                    verbose=False,
                    optimize=False,
                )
        except HmtirError:
            raise
        except Exception as err:  # the exporter's failures have many types; the innermost names the reason
            raise HmtirError(f"model '{model_name}' cannot be exported to ONNX: {_reason(err)}") from None
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in metadata.items():
            proto.metadata_props.add(key=key, value=value)
        proto.doc_string = (
            f"hmtir {__version__}: {model_name} ({method_name}), one pass; see hmtir.* metadata"
        )
        onnx.save(proto, str(tmp))
        seconds = time.perf_counter() - start
        report = ExportReport(tmp, inputs, OPSET, metadata, tmp.stat().st_size, seconds)
        if check:
            report.checks = compare_with_torch(
                tmp, method_or_model, bank=bank, sizes=check_sizes, tolerance=tolerance
            )
    report.path = target
    return report


def _torch_reference(method_or_model: Any, bank: PromptBank | None) -> Any:
    """A callable ``(batch, degradation, scenario) → restored`` running the torch network as hmtir does."""
    from hmtir.methods.base import Method
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.spt import input_statistics, spt_restore

    if isinstance(method_or_model, Method):
        return method_or_model
    model = method_or_model.eval()

    def run(batch: torch.Tensor, degradation: str, scenario: str) -> torch.Tensor:
        stats = input_statistics(model, batch)
        padded, (height, width) = pad_to_multiple(batch, int(getattr(model, "size_multiple", 1)))
        with torch.inference_mode():
            out = spt_restore(model, bank, padded, degradation, scenario, clamp=True, frame_stats=stats)
        return out[..., :height, :width].clamp(0, 1)

    return run


def compare_with_torch(
    onnx_path: str | Path,
    method_or_model: Any,
    *,
    bank: PromptBank | None = None,
    sizes: tuple[tuple[int, int], ...] = ((37, 45), (64, 80)),
    frames: list[tuple[str, torch.Tensor]] | None = None,
    tolerance: float | None = 1e-4,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Max abs difference, per input and prompt pair, between ``onnx_path`` under ONNX Runtime and torch.

    ``frames``: (label, ``B×1×H×W`` batch) pairs to compare on; default random frames of ``sizes``. Every
    prompt pair a benchmark uses is run (composite = the three SPT passes). Above ``tolerance`` (when given)
    is an error naming the worst case.
    """
    from hmtir.methods.onnx import OnnxMethod
    from hmtir.vocabulary import SUBSETS

    onnx_method = OnnxMethod(Path(onnx_path))
    reference = _torch_reference(method_or_model, bank)
    if frames is None:
        generator = torch.Generator().manual_seed(seed)
        frames = [(f"random {h}×{w}", torch.rand(2, 1, h, w, generator=generator)) for h, w in sizes]
    pairs = sorted({(s.degradation, s.scenario) for s in SUBSETS.values()})
    if not onnx_method.prompted:
        pairs = pairs[:1]  # a prompt-free network ignores them: one pass whatever the subset
    rows = []
    for label, batch in frames:
        for degradation, scenario in pairs:
            expected = reference(batch, degradation, scenario)
            got = onnx_method(batch, degradation, scenario)
            diff = float((expected - got).abs().max())
            rows.append(
                {"frames": label, "degradation": degradation, "scenario": scenario, "max_abs_diff": diff}
            )
    worst = max(rows, key=lambda row: row["max_abs_diff"])
    if tolerance is not None and worst["max_abs_diff"] > tolerance:
        raise HmtirError(
            f"the ONNX export differs from torch by {worst['max_abs_diff']:.3g} (> {tolerance:g}) on "
            f"{worst['frames']}, {worst['degradation']}/{worst['scenario']}; nothing was written"
        )
    return rows
