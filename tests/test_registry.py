"""The registry idiom itself, and that every shipped registry loads without a broken module."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta, LazyFactory, Registry

ROOT = Path(__file__).resolve().parents[1]


def test_register_create_and_metadata() -> None:
    reg: Registry[EntryMeta] = Registry("widget")

    @reg.register("double", paper="Doe 2020", params={"k": 2})
    def double(k: int = 2) -> int:
        return 21 * k

    assert reg.names() == ["double"]
    assert reg.create("double") == 42
    assert reg.create("double", k=1) == 21
    assert reg.meta("double").paper == "Doe 2020"
    assert reg.meta("double").as_dict()["params"] == {"k": 2}
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("double")(double)


def test_unknown_name_lists_available_and_broken_modules() -> None:
    reg: Registry[EntryMeta] = Registry("widget", modules=["hmtir.no_such_module_for_test"])
    with pytest.raises(HmtirError) as err:
        reg.create("nothing")
    assert str(err.value) == (
        "unknown widget 'nothing' (available: none); hmtir.no_such_module_for_test failed to load "
        "(ModuleNotFoundError: No module named 'hmtir.no_such_module_for_test')"
    )


def test_names_are_case_insensitive_where_unambiguous_and_misses_get_a_hint() -> None:
    reg: Registry[EntryMeta] = Registry("widget")
    for name in ("ppfn", "psnr", "Ab", "AB"):
        reg.register(name)(dict)
    assert reg.canonical("PPFN") == "ppfn" and reg.canonical("Psnr") == "psnr"
    assert reg.canonical("AB") == "AB" and reg.canonical("Ab") == "Ab"  # exact spellings win
    with pytest.raises(HmtirError) as err:
        reg.entry("ab")  # two entries fold to it: ambiguous, so no guess
    assert str(err.value) == "unknown widget 'ab' (did you mean 'AB' or 'Ab'? available: AB, Ab, ppfn, psnr)"
    with pytest.raises(HmtirError, match=r"^unknown widget 'ppnf' \(did you mean 'ppfn'\? available: "):
        reg.entry("ppnf")
    with pytest.raises(HmtirError, match=r"^unknown widget 'zzz' \(available: AB, Ab, ppfn, psnr\)$"):
        reg.entry("zzz")


def test_shipped_methods_and_metrics_answer_to_any_case() -> None:
    from hmtir.methods import load_method
    from hmtir.metrics import create_metric

    assert load_method("IDENTITY").name == "identity"
    assert create_metric("PSNR").meta.name == "psnr"
    with pytest.raises(HmtirError, match=r"unknown method 'ppnf' \(did you mean 'ppfn'\?"):
        load_method("ppnf")


def test_shipped_registries_load_cleanly() -> None:
    from hmtir.methods import METHODS
    from hmtir.metrics import METRICS
    from hmtir.models import MODELS

    for registry in (METHODS, METRICS, MODELS):
        registry.names()
        assert registry.load_errors == {}, registry.load_errors


# --- declared entries: metadata without imports, factories imported when built ------------------------


def test_declared_entry_imports_its_module_only_when_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "hmtir_lazy_probe_for_test"
    (tmp_path / f"{module}.py").write_text("def double(k: int = 2) -> int:\n    return 21 * k\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    reg: Registry[EntryMeta] = Registry("widget")
    reg.declare("double", f"{module}:double", paper="Doe 2020", params={"k": 2})
    assert reg.names() == ["double"] and reg.meta("double").params == {"k": 2}
    assert module not in sys.modules  # listing and reading metadata import nothing
    assert list(inspect.signature(reg.entry("double").factory).parameters) == ["k"]  # load_method's check
    assert reg.create("double") == 42 and reg.create("double", k=1) == 21
    assert module in sys.modules


def test_declared_target_that_does_not_resolve_is_a_one_line_error() -> None:
    reg: Registry[EntryMeta] = Registry("widget")
    reg.declare("gone", "hmtir.no_such_module_for_test:build")
    reg.declare("typo", "hmtir.registry:no_such_factory")
    with pytest.raises(HmtirError) as err:
        reg.create("gone")
    assert str(err.value) == (
        "cannot load hmtir.no_such_module_for_test:build "
        "(ModuleNotFoundError: No module named 'hmtir.no_such_module_for_test')"
    )
    with pytest.raises(HmtirError, match=r"^cannot load hmtir.registry:no_such_factory \(AttributeError: "):
        reg.create("typo")
    with pytest.raises(ValueError, match="must look like 'package.module:attribute'"):
        reg.declare("bad", "hmtir.registry.Registry")


def _declared_targets(registry: Registry[Any]) -> set[str]:
    return {entry.factory.target for entry in registry if isinstance(entry.factory, LazyFactory)}


def test_every_declared_factory_resolves_to_a_callable() -> None:
    from hmtir.methods import METHODS
    from hmtir.metrics import METRICS
    from hmtir.models import MODELS

    for registry in (METHODS, METRICS, MODELS):
        assert _declared_targets(registry), registry.kind
        for entry in registry:
            factory = entry.factory
            if isinstance(factory, LazyFactory):
                assert callable(factory.resolve()), factory.target  # raises HmtirError when it is not there


def test_every_method_factory_is_declared() -> None:
    """A public top-level function in hmtir/methods/*.py returning a Method is a method: it must be declared
    in hmtir/methods/catalog.py (and nothing else may be), or it is silently missing from every list."""
    from hmtir.methods import METHODS

    factories = set()
    for path in sorted((ROOT / "hmtir" / "methods").glob("[!_]*.py")):  # __init__ holds load_method
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            returns = getattr(node, "returns", None)
            returned = getattr(returns, "id", getattr(returns, "value", None))
            if isinstance(node, ast.FunctionDef) and returned == "Method" and not node.name.startswith("_"):
                factories.add(f"hmtir.methods.{path.stem}:{node.name}")
    assert len(factories) >= 8
    assert factories == _declared_targets(METHODS)
    assert all(isinstance(entry.factory, LazyFactory) for entry in METHODS)  # none registered on import


# Public functions under hmtir/models that return a network but are not registry entries.
NOT_MODEL_FACTORIES = {
    "hmtir.models.accel:to_channels_last",  # converts a built network
    "hmtir.models.checkpoint:build_model",  # builds a registered model from a checkpoint's record
    "hmtir.models.diffuir.checkpoints:load_unet",  # loads the released checkpoint into diffuir_unet
    "hmtir.models.ppfn:plain_backbone",  # the shared builders of every backbone's two entries
    "hmtir.models.ppfn:prompted_backbone",
}


def _model_modules() -> list[Any]:
    import hmtir.models

    names = [m.name for m in pkgutil.walk_packages(hmtir.models.__path__, "hmtir.models.")]
    return [importlib.import_module(name) for name in ["hmtir.models", *names]]


def test_every_model_factory_and_backbone_class_is_declared() -> None:
    """Every public function under hmtir/models returning a network is a model entry, and every backbone
    class is built by a declared ``<name>`` and ``ppfn_<name>`` pair."""
    import torch

    from hmtir.models import MODELS
    from hmtir.models.ppfn import PromptableNet

    entries = {name: MODELS.entry(name).factory for name in MODELS.names()}
    registered = {  # declared targets, and factories still registered by their module's decorator
        factory.target if isinstance(factory, LazyFactory) else f"{factory.__module__}:{factory.__name__}"
        for factory in entries.values()
    }
    factories, backbones = set(), set()
    for module in _model_modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, PromptableNet) and value is not PromptableNet:
                backbones.add(value)
            if not inspect.isfunction(value) or value.__module__ != module.__name__ or name.startswith("_"):
                continue
            returned = typing.get_type_hints(value).get("return")
            if inspect.isclass(returned) and issubclass(returned, torch.nn.Module):
                factories.add(f"{module.__name__}:{name}")
    assert len(factories) >= 10
    assert factories - NOT_MODEL_FACTORIES == registered
    assert {"Restormer", "NAFNet"} <= {cls.__name__ for cls in backbones}
    for cls in backbones:
        built_by = {
            name
            for name, factory in entries.items()
            if isinstance(factory, LazyFactory) and cls.__name__ in factory.resolve().__code__.co_names
        }
        plain = {name for name in built_by if f"ppfn_{name}" in built_by}
        assert plain, (
            f"backbone {cls.__name__} has no declared <name> + ppfn_<name> pair ({sorted(built_by)})"
        )


def test_backbone_params_are_the_defaults_and_overrides_apply() -> None:
    import torch

    from hmtir.models import MODELS, create_model
    from hmtir.models.catalog import PROMPT_DEFAULTS
    from hmtir.models.prompts import PromptConfig

    assert PromptConfig().as_dict() == PROMPT_DEFAULTS  # what ppfn_<name> lists is what it builds
    with torch.device("meta"):
        plain = create_model("nafnet", width=8, prompt={"dim": 4})  # the plain variant drops any prompt
        prompted = create_model("ppfn_nafnet", width=8, prompt={"dim": 4})
        from_config = create_model("ppfn_nafnet", prompt=PromptConfig(dim=4, fusion="multiply"))
        default = create_model("ppfn_focalnet")
    assert not plain.uses_prompts and prompted.uses_prompts and default.uses_prompts
    assert prompted.F_ext_net1.layerF.out_features == 4
    assert from_config.F_ext_net1.layerF.out_features == 4
    assert plain.intro.out_channels == prompted.intro.out_channels == 8
    assert create_model("nafnet").intro.out_channels == MODELS.meta("nafnet").params["width"] == 16
    assert MODELS.meta("ppfn_restormer").params == {
        **MODELS.meta("restormer").params,
        "prompt": PROMPT_DEFAULTS,
    }
