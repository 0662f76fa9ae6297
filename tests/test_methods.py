"""The method interface: registry metadata, the single loading door, prompt validation, identity."""

from __future__ import annotations

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.methods import DEGRADATIONS, METHODS, SCENARIOS, Method, MethodMeta, check_prompts, load_method


def test_identity_is_registered_with_typed_metadata() -> None:
    meta = METHODS.meta("identity")
    assert isinstance(meta, MethodMeta)
    assert (meta.kind, meta.license, meta.weights, meta.needs_gpu, meta.uses_prompts) == (
        "reference",
        "MIT",
        None,
        False,
        False,
    )


def test_identity_returns_its_input_unchanged() -> None:
    method = load_method("identity")
    batch = torch.rand(2, 1, 8, 12, generator=torch.Generator().manual_seed(0))
    for degradation in DEGRADATIONS:
        for scenario in SCENARIOS:
            assert torch.equal(method.restore(batch, degradation=degradation, scenario=scenario), batch)


def test_describe_records_metadata_weights_and_device() -> None:
    info = load_method("identity", device="cpu").describe()
    assert info["name"] == "identity"
    assert info["kind"] == "reference"
    assert info["weights_sha256"] is None
    assert info["device"] == "cpu"


def test_unknown_method_lists_the_available_ones() -> None:
    with pytest.raises(HmtirError, match=r"unknown method 'nope' \(available: .*identity"):
        load_method("nope")


def test_options_a_factory_does_not_take_are_one_line_errors() -> None:
    with pytest.raises(HmtirError, match=r"^method 'identity' does not take weights \(its options: none\)$"):
        load_method("identity", weights="model.pt")


def test_invalid_kind_is_rejected_when_registering() -> None:
    with pytest.raises(ValueError, match="kind 'magic' is not one of classical, learned, reference"):
        MethodMeta(name="x", kind="magic")


def test_check_prompts_rejects_unknown_values() -> None:
    check_prompts("blur", "single")
    with pytest.raises(
        HmtirError, match=r"unknown degradation 'haze' \(expected one of: composite, contrast, blur, noise\)"
    ):
        check_prompts("haze", "single")
    with pytest.raises(HmtirError, match=r"unknown scenario 'mixed'"):
        check_prompts("blur", "mixed")


def test_a_method_without_restore_says_so() -> None:
    class Empty(Method):
        meta = MethodMeta(name="empty", kind="classical")

    with pytest.raises(NotImplementedError, match="Empty does not implement restore"):
        Empty().restore(torch.zeros(1, 1, 2, 2))
