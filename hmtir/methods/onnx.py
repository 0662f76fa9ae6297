"""``onnx``: any single-input grey ONNX model, or hmtir's own PPFN exports, under ONNX Runtime.

A foreign model gets one pass per frame (prompts ignored), padded to nothing unless it says otherwise. An
hmtir export (:mod:`hmtir.models.onnx_export`) says in its ``hmtir.*`` metadata which prompt inputs it
takes; this method then runs SPT around the one-pass graph exactly as :func:`hmtir.models.spt.spt_restore`
runs the torch network (the same schedule, clamping between passes, statistics of the unpadded frame, the
same padding), so both score the same. The weights identity is the file's sha256: a cached score never
outlives an edit of the file.

Models hmtir cannot feed are refused when loaded, in one line naming the file: an input that is not
``B×1×H×W`` float, or several inputs that are not an hmtir export's. A fixed height/width is honoured only
for frames of that size (checked against a benchmark's frames before an evaluation writes anything).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.methods import METHODS
from hmtir.methods.base import Method

if TYPE_CHECKING:
    import torch

_FLOAT = "tensor(float)"


def _dims(shape: list[Any]) -> str:
    return "×".join(str(d) if isinstance(d, int) else (d or "?") for d in shape)


class OnnxMethod(Method):
    """An ONNX model as a method (see the module docstring); ``path`` is the ``.onnx`` file."""

    def __init__(self, path: Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        from hmtir.weights import sha256_file

        self.path = Path(path)
        self.weights_sha256 = sha256_file(self.path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        available = ort.get_available_providers()
        self._providers = providers or ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=self._providers)
        except Exception as err:  # onnxruntime raises its own exception types for unreadable files
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HmtirError(f"{self.path} is not a model ONNX Runtime can load: {reason[:300]}") from None
        self._available = available
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.output = self.session.get_outputs()[0].name
        self._check_inputs()
        image = self.inputs[self.image_input]
        self.fixed = {axis: image.shape[axis] for axis in (0, 2, 3) if isinstance(image.shape[axis], int)}
        self.prompted = bool(self.metadata.get("hmtir.prompt_inputs"))
        self.frame_stats = "frame_stats" in self.inputs
        try:
            self.size_multiple = max(1, int(self.metadata.get("hmtir.size_multiple", "1")))
        except ValueError:
            raise HmtirError(
                f"{self.path}: metadata hmtir.size_multiple is {self.metadata['hmtir.size_multiple']!r}, not a number"
            ) from None
        self.meta = replace(
            METHODS.meta("onnx"), uses_prompts=self.prompted, backbone=self.metadata.get("hmtir.model")
        )

    def _check_inputs(self) -> None:
        """Refuse, in one line, what this method cannot feed."""
        names = list(self.inputs)
        declared = [n for n in self.metadata.get("hmtir.inputs", "").split(",") if n]
        if len(names) > 1:
            from hmtir.models.onnx_export import FORMAT

            if self.metadata.get("hmtir.format") != FORMAT or names != declared:
                raise HmtirError(
                    f"{self.path} has {len(names)} inputs ({', '.join(names)}): hmtir runs single-input grey "
                    "models and its own exports (inputs image, degradation, scenario[, frame_stats])"
                )
        self.image_input = names[0] if names else ""
        if not names:
            raise HmtirError(f"{self.path} has no inputs: hmtir feeds it B×1×H×W grey frames")
        image = self.inputs[self.image_input]
        shape = list(image.shape) if image.shape is not None else []
        if len(shape) != 4:
            raise HmtirError(
                f"{self.path}: input '{image.name}' has rank {len(shape)} ({_dims(shape)}); hmtir feeds "
                "B×1×H×W grey frames (rank 4)"
            )
        if isinstance(shape[1], int) and shape[1] != 1:
            raise HmtirError(
                f"{self.path}: input '{image.name}' takes {shape[1]} channels ({_dims(shape)}); hmtir feeds "
                "grey frames (1 channel)"
            )
        if image.type != _FLOAT:
            raise HmtirError(f"{self.path}: input '{image.name}' is {image.type}; hmtir feeds float32 frames")

    def check_size(self, height: int, width: int, batch: int | None = None) -> None:
        """Refuse frames of ``height×width`` (after padding) that a fixed-shape model cannot take."""
        m = self.size_multiple  # restore pads to a multiple of this (hmtir.models.ppfn.pad_to_multiple)
        padded = (-(-height // m) * m, -(-width // m) * m)
        for axis, size in ((2, padded[0]), (3, padded[1])):
            if axis in self.fixed and self.fixed[axis] != size:
                fixed = f"{self.fixed.get(2, 'H')}×{self.fixed.get(3, 'W')}"
                raise HmtirError(
                    f"{self.path} takes frames of exactly {fixed} (fixed shape), not {height}×{width}: "
                    "export it with dynamic height/width"
                )
        if batch is not None and self.fixed.get(0, 1) not in (1, batch):
            raise HmtirError(f"{self.path} takes batches of exactly {self.fixed[0]} frames, not {batch}")

    def fit_to_data(self, root: Path | None) -> None:
        """Check every frame size of the benchmark at ``root`` against a fixed-shape model, before any
        result is written (the evaluator calls this first); a dynamic model reads nothing."""
        if root is None or not ({2, 3} & set(self.fixed)):
            return None
        from PIL import Image

        from hmtir.data.layout import list_images
        from hmtir.vocabulary import SUBSETS

        seen: set[tuple[int, int]] = set()
        for subset in SUBSETS:
            folder = Path(root) / subset
            for name in list_images(folder) if folder.is_dir() else []:
                with Image.open(folder / name) as image:
                    width, height = image.size
                if (height, width) not in seen:
                    seen.add((height, width))
                    self.check_size(height, width)
        return None

    def to(self, device: str) -> Method:
        """CUDA provider on a GPU device when ONNX Runtime has it, else the CPU provider."""
        super().to(device)
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if self.device.startswith("cuda") and "CUDAExecutionProvider" in self._available:
            if self.session.get_providers()[0] != "CUDAExecutionProvider":
                index = self.device.split(":")[1] if ":" in self.device else "0"
                self.session.set_providers(wanted, [{"device_id": index}, {}])
        elif self.session.get_providers()[0] != "CPUExecutionProvider":
            self.session.set_providers(["CPUExecutionProvider"])
        return self

    def _run(self, image: Any, degradation: str, scenario: str, stats: Any) -> Any:
        import numpy as np

        feed = {self.image_input: image}
        if self.prompted:
            degradations = self.metadata["hmtir.degradations"].split(",")
            scenarios = self.metadata["hmtir.scenarios"].split(",")
            feed["degradation"] = np.array([degradations.index(degradation)], dtype=np.int64)
            feed["scenario"] = np.array([scenarios.index(scenario)], dtype=np.int64)
        if self.frame_stats:
            feed["frame_stats"] = stats
        try:
            return self.session.run([self.output], feed)[0]
        except Exception as err:  # onnxruntime's failures (a shape it cannot take) as one line
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HmtirError(
                f"{self.path} failed on a {_dims(list(image.shape))} batch: {reason[:300]}"
            ) from None

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        import numpy as np
        import torch

        from hmtir.models.ppfn import pad_to_multiple
        from hmtir.models.range_head import frame_statistics
        from hmtir.models.spt import pass_schedule

        x = batch.detach().to("cpu", torch.float32)
        height, width = x.shape[-2:]
        self.check_size(height, width, x.shape[0])
        schedule = pass_schedule(degradation, scenario) if self.prompted else [("none", "none")]
        stats = frame_statistics(x).numpy() if self.frame_stats else None
        padded, _ = pad_to_multiple(x, self.size_multiple)
        chunk = 1 if self.fixed.get(0) == 1 else x.shape[0]
        outputs = []
        for start in range(0, x.shape[0], chunk):
            out = np.ascontiguousarray(padded[start : start + chunk].numpy())
            part = None if stats is None else stats[start : start + chunk]
            for deg, scen in schedule:
                result = self._run(out, deg, scen, part)
                if result.shape != out.shape:
                    raise HmtirError(
                        f"{self.path} returned {_dims(list(result.shape))} for a {_dims(list(out.shape))} batch"
                    )
                out = np.clip(result.astype(np.float32, copy=False), 0.0, 1.0)
            outputs.append(torch.from_numpy(out))
        return torch.cat(outputs)[..., :height, :width].to(batch.device)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            onnx_file=self.path.name,
            onnx_inputs={name: _dims(list(i.shape)) for name, i in self.inputs.items()},
            onnx_metadata=dict(self.metadata),
            providers=self.session.get_providers(),
        )
        return info


def onnx(weights: str | Path | None = None) -> Method:
    """Run the ONNX model at ``weights`` (``--weights model.onnx``) under ONNX Runtime."""
    from hmtir.registry import WeightsSpec
    from hmtir.weights import resolve_weights

    if weights is None:
        raise HmtirError("method 'onnx' needs --weights MODEL.onnx (the ONNX file to run)")
    path = resolve_weights(WeightsSpec(filename=Path(weights).name), explicit=weights)
    return OnnxMethod(Path(path))
