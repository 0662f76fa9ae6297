"""Methods from outside hmtir: ``--method my_pkg.module:factory``, ``--method path/to/file.py:factory`` and
entry-point plugins (:mod:`hmtir.plugins`).

The factory returns a :class:`~hmtir.methods.base.Method`, or any ``torch.nn.Module`` mapping ``B×1×H×W``
in [0, 1] to the same shape, which :class:`ModuleMethod` puts under the restore contract. Every refusal is
one line naming the factory: a module that does not import, a factory that raises or returns something
else, a module whose output has the wrong shape or is not finite on a probe batch (checked when loaded,
so before any result folder exists).

The method's identity in results is its *source*: the sha256 of the code (the file, or every ``.py``
file of the module's top-level package) and, for an installed distribution, its name and version.
Evaluate records it in ``summary.json`` and keys the result cache and the results folder with it, so a
cached score never outlives an edit to the code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import keyword
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hmtir.errors import HmtirError
from hmtir.methods.base import Method, MethodMeta
from hmtir.plugins import Plugin, distribution_of, source_sha256

if TYPE_CHECKING:
    import torch

PROMPT_ARGUMENTS = ("degradation", "scenario")
PROBE_SHAPE = (1, 1, 64, 64)  # every U-Net multiple up to 64 divides it


def is_external(name: str) -> bool:
    """``module:factory`` or ``file.py:factory`` (a colon), unlike registry names and weights tags."""
    return ":" in name


def run_name(label: str) -> str:
    """A results-folder-safe method name for ``label``: lowercase slug, at most 64 characters, no dots
    (a dot would read as a weights tag), e.g. ``my_pkg.filters:build`` → ``my_pkg-filters-build``."""
    slug = re.sub(r"[^a-z0-9_+-]+", "-", label.lower()).strip("-_+") or "external"
    if len(slug) > 64:
        slug = f"{slug[:55].rstrip('-_+')}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"
    return slug


def _import_file(spec: str, path: Path) -> ModuleType:
    """``path`` imported under a module name unique to its absolute path (two ``model.py`` never collide)."""
    if not path.is_file():
        raise HmtirError(f"method {spec}: {path} does not exist")
    if path.suffix != ".py":
        raise HmtirError(f"method {spec}: {path} is not a Python file (.py)")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"hmtir_external_{digest}_{stem}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise HmtirError(f"method {spec}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module  # dataclasses, pickling and typing look the module up by name
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(name, None)
        raise HmtirError(f"method {spec}: {path} does not import ({type(err).__name__}: {err})") from None
    return module


def _import_module(spec: str, module_name: str) -> ModuleType:
    parts = module_name.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise HmtirError(
            f"method {spec}: {module_name!r} is neither a module path (my_pkg.module) nor a .py file"
        )
    # as `python -m` would: a module in the current folder is found (the hmtir script's sys.path lacks it)
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except Exception as err:
        raise HmtirError(
            f"method {spec}: module {module_name} does not import ({type(err).__name__}: {err})"
        ) from None
    finally:
        if added:
            sys.path.remove(os.getcwd())


def _attribute(spec: str, module: ModuleType, attribute: str, where: str) -> Any:
    found: Any = module
    for part in attribute.split("."):
        if not part.isidentifier():
            raise HmtirError(f"method {spec}: {attribute!r} is not a factory name")
        try:
            found = getattr(found, part)
        except AttributeError:
            raise HmtirError(f"method {spec}: {where} has no attribute {attribute}") from None
    if not callable(found):
        raise HmtirError(f"method {spec}: {attribute} is a {type(found).__name__}, not a factory")
    return found


def resolve_external(spec: str) -> tuple[Any, dict[str, Any]]:
    """The factory ``spec`` names and the identity of its source (see the module docstring)."""
    where, _, attribute = spec.rpartition(":")
    where, attribute = where.strip(), attribute.strip()
    if not where or not attribute:
        raise HmtirError(f"method {spec}: expected my_pkg.module:factory or path/to/file.py:factory")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where).expanduser().resolve()
        module = _import_file(spec, path)
        data = path.read_bytes()
        source: dict[str, Any] = {
            "kind": "file",
            "target": f"{path}:{attribute}",  # ./f.py:x and f.py:x are one method
            "file": str(path),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    else:
        module = _import_module(spec, where)
        sha, files = source_sha256(module)
        source = {"kind": "module", "target": spec, "file": getattr(module, "__file__", None)}
        source.update(sha256=sha, files=files)
        dist = distribution_of(where)
        if dist is not None:
            source.update(distribution=dist[0], version=dist[1])
    return _attribute(spec, module, attribute, where), source


def plugin_source(plugin: Plugin, factory: Any) -> dict[str, Any]:
    """The identity of an entry-point plugin: distribution, version, entry point and its code's sha256."""
    module = sys.modules.get(getattr(factory, "__module__", "") or "")
    sha, files = source_sha256(module) if module is not None else (None, 0)
    file = getattr(module, "__file__", None)
    return {"kind": "plugin", "target": plugin.name, **plugin.describe(), "file": file, "sha256": sha,
            "files": files}  # fmt: skip


def call_factory(label: str, factory: Any, kwargs: dict[str, Any]) -> Any:
    """``factory(**kwargs)``; whatever it raises becomes one line naming ``label``."""
    try:
        return factory(**kwargs)
    except HmtirError as err:
        raise HmtirError(f"method {label}: {err}") from None
    except Exception as err:
        raise HmtirError(f"method {label}: the factory raised {type(err).__name__}: {err}") from None


def load_external(spec: str, device: str, **kwargs: Any) -> Method:
    """``load_method("my_pkg.module:factory")`` and ``load_method("path/file.py:factory")``."""
    factory, source = resolve_external(spec)
    _check_options(spec, factory, kwargs)
    built = call_factory(spec, factory, kwargs)
    return adopt(built, external_name(spec), spec, source, device)


def external_name(spec: str) -> str:
    """The name results are filed under: ``dir/unsharp.py:build`` → ``unsharp-build``,
    ``my_pkg.filters:build`` → ``my_pkg-filters-build``."""
    where, _, attribute = spec.rpartition(":")
    where = where.strip()
    if where.endswith(".py") or "/" in where or "\\" in where:
        where = Path(where.replace("\\", "/")).stem
    return run_name(f"{where}-{attribute.strip()}")


def _check_options(label: str, factory: Any, kwargs: dict[str, Any]) -> None:
    if not kwargs:
        return
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unexpected = sorted(k for k in kwargs if k not in params)
    if unexpected:
        raise HmtirError(
            f"method {label} does not take {', '.join(unexpected)} (its options: {', '.join(params) or 'none'})"
        )


def adopt(built: Any, name: str, label: str, source: dict[str, Any], device: str) -> Method:
    """``built`` (a factory's result) as a :class:`Method` named ``name`` carrying ``source``, on ``device``.

    A ``Method`` keeps its own restore and metadata (renamed: results are filed under ``name``); an
    ``nn.Module`` is wrapped and probed. Anything else is refused naming ``label``."""
    if isinstance(built, Method):
        meta = getattr(built, "meta", None)
        if not isinstance(meta, MethodMeta):
            raise HmtirError(f"method {label}: the Method it returned has no MethodMeta (set self.meta)")
        built.meta = replace(meta, name=name)
        method: Method = built
    else:
        torch = sys.modules.get("torch")
        if torch is None or not isinstance(built, torch.nn.Module):
            raise HmtirError(
                f"method {label}: the factory returned {type(built).__name__}, not a hmtir Method "
                "or a torch.nn.Module"
            )
        method = ModuleMethod(built, name, label)
    method.source = source
    method.to(device)
    if isinstance(method, ModuleMethod):
        method.probe()
    return method


def _module_sha256(module: torch.nn.Module) -> str:
    """sha256 of a module's parameters and buffers (names, dtypes, shapes, bytes): its weights' identity."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{key}\0{value.dtype}\0{tuple(value.shape)}\0".encode())
        digest.update(value.reshape(-1).view(-1).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


class ModuleMethod(Method):
    """A ``torch.nn.Module`` under the restore contract.

    It is called as ``module(x)``, with ``degradation=``/``scenario=`` only when its ``forward`` takes
    parameters of those names (or ``**kwargs``): a prompt-blind network is never handed arguments it does
    not expect. The module's parameters and buffers are hashed into ``weights_sha256``.
    """

    def __init__(self, module: torch.nn.Module, name: str, label: str) -> None:
        self.module = module.eval()
        self.label = label
        try:
            params = inspect.signature(module.forward).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.prompts = tuple(a for a in PROMPT_ARGUMENTS if a in params or var_kw)
        positional = [
            p
            for p in params.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        unfilled = [
            p.name
            for p in [
                *positional[1:],
                *(q for q in params.values() if q.kind is inspect.Parameter.KEYWORD_ONLY),
            ]
            if p.default is inspect.Parameter.empty and p.name not in PROMPT_ARGUMENTS
        ]
        if not positional and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values()):
            raise HmtirError(f"method {label}: {type(module).__name__}.forward takes no input batch")
        if unfilled:
            raise HmtirError(
                f"method {label}: {type(module).__name__}.forward needs {', '.join(unfilled)}, which hmtir "
                f"cannot pass (it passes the batch, and {' and '.join(PROMPT_ARGUMENTS)} by name)"
            )
        doc = inspect.getdoc(type(module)) or ""
        learned = any(True for _ in module.parameters())
        self.meta = MethodMeta(
            name=name,
            summary=(doc.strip().splitlines() or [f"{type(module).__name__} from {label}"])[0],
            kind="learned" if learned else "classical",
            uses_prompts=bool(self.prompts),
        )
        self.weights_sha256 = _module_sha256(module) if module.state_dict() else None

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        given = {"degradation": degradation, "scenario": scenario}
        try:
            output = self.module(batch, **{k: given[k] for k in self.prompts})
        except HmtirError:
            raise
        except Exception as err:
            raise HmtirError(
                f"method {self.label}: {type(self.module).__name__} raised {type(err).__name__}: {err}"
            ) from None
        return self._checked(output, batch)

    def _checked(self, output: Any, batch: torch.Tensor) -> torch.Tensor:
        """The module's output refused in one line naming the factory: not a tensor, another shape, NaN."""
        import torch

        if not isinstance(output, torch.Tensor):
            raise HmtirError(
                f"method {self.label}: output is a {type(output).__name__}, not a tensor, for input "
                f"{tuple(batch.shape)}"
            )
        if tuple(output.shape) != tuple(batch.shape):
            raise HmtirError(
                f"method {self.label}: output has shape {tuple(output.shape)} for input {tuple(batch.shape)} "
                "(it must keep B×1×H×W)"
            )
        if not output.is_floating_point() or not bool(torch.isfinite(output).all()):
            what = "NaN/Inf" if output.is_floating_point() else f"{output.dtype} values"
            raise HmtirError(
                f"method {self.label} produced {what} for an input of shape {tuple(batch.shape)}"
            )
        return output

    def probe(self) -> None:
        """One small batch through the contract, so a broken module fails before anything is written."""
        import torch

        generator = torch.Generator().manual_seed(0)
        batch = torch.rand(PROBE_SHAPE, generator=generator)
        self(batch, "composite")

    def to(self, device: str) -> ModuleMethod:
        self.module.to(device)
        super().to(device)
        return self
