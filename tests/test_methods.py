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


class _Scripted(Method):
    """A method whose output is whatever the test scripts, to exercise the restore contract."""

    meta = MethodMeta(name="scripted", kind="reference")

    def __init__(self, make_output) -> None:
        self.make_output = make_output
        self.seen: list[tuple[str, str, bool]] = []

    def restore(self, batch, degradation="composite", scenario="composite"):
        self.seen.append((degradation, scenario, torch.is_inference_mode_enabled()))
        return self.make_output(batch)


def test_the_restore_contract_checks_output_shape_and_finiteness_naming_the_frame() -> None:
    batch = torch.rand(2, 1, 8, 10)
    with pytest.raises(
        HmtirError, match=r"^method 'scripted' returned \(2, 1, 4, 5\) for a batch of shape \(2, 1, 8, 10\)$"
    ):
        _Scripted(lambda b: b[..., :4, :5])(batch)
    with pytest.raises(HmtirError, match=r"^method 'scripted' returned ndarray for a batch"):
        _Scripted(lambda b: b.numpy())(batch)

    def nan_in_second(b):
        out = b.clone()
        out[1, 0, 3, 3] = float("nan")
        return out

    with pytest.raises(HmtirError, match=r"^method 'scripted' produced NaN/Inf for b.png; nothing was kept$"):
        _Scripted(nan_in_second)(batch, names=["a.png", "b.png"])


def test_the_restore_contract_checks_inputs_and_prompts_and_clamps() -> None:
    method = _Scripted(lambda b: b * 3 - 1)
    out = method(torch.full((1, 1, 4, 4), 0.5), "blur")
    assert out.dtype == torch.float32 and torch.equal(out, torch.full((1, 1, 4, 4), 0.5))
    assert method.seen == [("blur", "single", True)]  # scenario derived, inference mode on
    with pytest.raises(HmtirError, match=r"expects a B×1×H×W grey batch, got \(1, 3, 4, 4\)"):
        method(torch.rand(1, 3, 4, 4))
    with pytest.raises(HmtirError, match=r"expects float frames in \[0, 1\], got torch.uint8"):
        method(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(HmtirError, match=r"input frame 0 of the batch contains NaN/Inf"):
        method(torch.full((1, 1, 4, 4), float("inf")))
    with pytest.raises(HmtirError, match=r"input values must lie in \[0, 1\], got \[0, 255\]"):
        method(torch.tensor([[[[0.0, 255.0]]]]))
    with pytest.raises(HmtirError, match=r"unknown degradation 'haze'"):
        method(torch.rand(1, 1, 4, 4), "haze")


def test_subclasses_cannot_override_the_contract() -> None:
    with pytest.raises(TypeError, match=r"Sneaky overrides Method.__call__ \(the restore contract\)"):

        class Sneaky(Method):
            def __call__(self, batch, degradation="composite", scenario=None):
                return batch


def test_count_parameters_counts_every_network_a_method_holds_once() -> None:
    from hmtir.runtime import count_parameters

    shared = torch.nn.Linear(3, 2)  # 8 parameters

    class Holder:
        def __init__(self) -> None:
            self.net = shared

    class Twice(Method):
        meta = MethodMeta(name="twice", kind="learned")

        def __init__(self) -> None:
            self.first, self.again, self.inner = shared, shared, Holder()
            self.other = torch.nn.Conv2d(1, 1, 3)  # 10 parameters

    assert count_parameters(Twice()) == 18 and count_parameters(shared) == 8
    assert count_parameters(load_method("identity")) == 0
