"""The registry idiom itself, and that every shipped registry loads without a broken module."""

from __future__ import annotations

import pytest

from hmtir.errors import HmtirError
from hmtir.registry import EntryMeta, Registry


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
