"""``Method.__call__`` as a contract, at its edges: the [0, 1] input range with float round-off, the clamp
of every output value, float32 on the method's device, and the grey↔RGB bridge of visible-light models."""

from __future__ import annotations

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.methods import Method, MethodMeta


class _Scripted(Method):
    meta = MethodMeta(name="scripted", kind="reference")

    def __init__(self, make_output) -> None:
        self.make_output = make_output

    def restore(self, batch, degradation="composite", scenario="composite"):
        return self.make_output(batch)


def _frame(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


@pytest.mark.parametrize("value", [1.001, 1.0 + 2e-6, -0.001, -2e-6])
def test_inputs_just_outside_the_unit_range_are_refused(value: float) -> None:
    identity = _Scripted(lambda b: b)
    with pytest.raises(HmtirError, match=r"^method 'scripted': input values must lie in \[0, 1\], got \["):
        identity(_frame(0.5, value))


def test_float_round_off_at_the_range_ends_is_accepted_and_clamped() -> None:
    out = _Scripted(lambda b: b)(_frame(-5e-7, 0.25, 1 + 5e-7))
    assert out.tolist() == [[[[0.0, 0.25, 1.0]]]]


def test_every_output_value_is_clamped_to_the_unit_range() -> None:
    out = _Scripted(lambda b: b * 4 - 1)(_frame(0.0, 0.1, 0.25, 0.4, 0.6, 1.0))
    assert out.tolist() == [[[[0.0, 0.0, 0.0, 0.6000000238418579, 1.0, 1.0]]]]
    assert out.dtype == torch.float32


def test_outputs_come_back_as_float32_whatever_restore_returns() -> None:
    out = _Scripted(lambda b: b.double() / 2)(_frame(0.5, 1.0))
    assert out.dtype == torch.float32 and out.tolist() == [[[[0.25, 0.5]]]]


def test_an_rgb_model_sees_three_equal_channels_and_returns_their_clamped_mean() -> None:
    seen = []

    def run_rgb(rgb: torch.Tensor) -> torch.Tensor:
        seen.append(rgb.clone())
        return torch.cat([rgb, rgb * 2, rgb - 0.5], dim=1)  # channels the model changed differently

    class _Rgb(Method):
        meta = MethodMeta(name="rgb", kind="learned")

        def restore(self, batch, degradation="composite", scenario="composite"):
            return self.restore_with_rgb_model(batch, run_rgb)

    grey = _frame(0.2, 0.4, 0.8)
    out = _Rgb()(grey)
    assert seen[0].shape == (1, 3, 1, 3) and all(torch.equal(seen[0][:, c : c + 1], grey) for c in range(3))
    # per pixel: mean of (x, min(2x, 1), max(x - 0.5, 0))
    expected = [(0.2 + 0.4 + 0.0) / 3, (0.4 + 0.8 + 0.0) / 3, (0.8 + 1.0 + 0.3) / 3]
    assert out.flatten().tolist() == pytest.approx(expected, abs=1e-6)
