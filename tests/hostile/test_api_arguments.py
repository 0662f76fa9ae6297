"""The public API checks its arguments as the CLI's parser does: one HmtirError line naming the argument.

``hmtir.evaluate(None)``, ``hmtir.load_method(None)`` and ``hmtir.load_results(None)`` used to end in a raw
TypeError/AttributeError, and ``load_method("wfaf", device="cuda")`` succeeded on a machine without a GPU
and reported device cuda. Here CUDA is made absent (so the cases hold on a GPU machine too) and every door
that places a method on a device (``load_method``, ``Method.to`` of any subclass, ``evaluate``) refuses it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import hmtir
from hmtir.errors import HmtirError
from hmtir.methods import Method, MethodMeta, load_method
from tests.test_evaluate import make_layout

NO_CUDA = "device cuda requested but CUDA is not available; use device cpu or auto"


@pytest.fixture()
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_layout(tmp_path_factory.mktemp("api") / "bench")


def refused(call, message: str) -> None:  # noqa: ANN001 - any callable
    with pytest.raises(HmtirError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": None}, "method: expected a method name such as 'wfaf' or a Method, got None"),
        ({"method": ""}, "method: expected a method name such as 'wfaf' or a Method, got ''"),
        ({"method": 3}, "method: expected a method name such as 'wfaf' or a Method, got int"),
        ({"data": 5}, "data: expected a path, got int"),
        ({"out": ["x"]}, "out: expected a path, got list"),
        ({"weights": b"w.pt"}, "weights: expected a path, got bytes"),
        ({"progress": "yes"}, "progress: expected True or False, got 'yes'"),
        ({"overwrite": 1}, "overwrite: expected True or False, got int"),
        ({"device": None}, "device: expected text, got None"),
        ({"convention": 8}, "convention: expected text, got int"),
        ({"batch_size": True}, "batch size must be at least 1 (got True)"),
        ({"batch_size": 2.5}, "batch size must be at least 1 (got 2.5)"),
        ({"prefetch_batches": -1}, "prefetch_batches: expected a whole number of at least 0, got -1"),
        ({"subsets": None}, "subsets: expected 'all', a comma list or a list of subset names, got None"),
        (
            {"subsets": ["normal", 2]},
            "subsets: expected 'all', a comma list or a list of subset names, got list",
        ),
        ({"metrics": 5}, "metrics: expected a comma list or a list of metric names or objects, got int"),
        (
            {"metrics": [object()]},
            "metrics: expected a comma list or a list of metric names or objects, got list",
        ),
        (
            {"method_options": ["bf16"]},
            "method_options: expected a mapping of option names to values, got list",
        ),
        (
            {"method_options": {1: 2}},
            "method_options: expected a mapping of option names to values, got dict",
        ),
        ({"seed": -1}, "seed must be a whole number from 0 to 2**63-1, got -1"),
        ({"device": "cuda"}, NO_CUDA),
        ({"device": "tpu"}, "unknown device 'tpu' (use auto, cpu, cuda or cuda:N)"),
    ],
    ids=lambda value: str(value)[:30] if isinstance(value, dict) else None,
)
def test_evaluate_arguments_are_one_line_naming_the_argument(
    no_gpu, layout: Path, tmp_path: Path, arguments: dict, message: str
) -> None:
    call = {"method": "identity", "data": layout, "out": tmp_path / "out", "progress": False, **arguments}
    refused(lambda: hmtir.evaluate(**call), message)
    assert not (tmp_path / "out").exists()


def test_load_method_refuses_a_name_that_is_not_text_and_a_missing_gpu(no_gpu) -> None:
    refused(lambda: load_method(None), "method: expected a method name such as 'wfaf', got None")
    refused(lambda: hmtir.load_method(42), "method: expected a method name such as 'wfaf', got int")
    refused(lambda: load_method("  "), "method: expected a method name such as 'wfaf', got '  '")
    refused(lambda: load_method("wfaf", device="cuda"), NO_CUDA)
    refused(lambda: load_method("wfaf", device="cuda:1"), "device cuda:1 requested but CUDA is not available; "
            "use device cpu or auto")  # fmt: skip
    refused(
        lambda: load_method("wfaf", device=0), "device: expected text (auto, cpu, cuda or cuda:N), got int"
    )
    method = load_method("wfaf", device="auto")
    assert method.device == "cpu" and method.describe()["device"] == "cpu"  # auto: the device it runs on


class Moving(Method):
    """A subclass that moves its own state before calling super, as networked methods do."""

    meta = MethodMeta(name="moving", kind="reference")

    def __init__(self) -> None:
        self.moved_to: list[str] = []

    def to(self, device: str) -> Method:
        self.moved_to.append(device)
        return super().to(device)

    def restore(self, batch, degradation="composite", scenario="composite"):  # noqa: ANN001, ANN201
        return batch


def test_every_method_to_resolves_the_device_before_the_subclass_moves_anything(no_gpu) -> None:
    method = Moving()
    refused(lambda: method.to("cuda"), NO_CUDA)
    assert method.moved_to == [] and method.device == "cpu"  # nothing moved, nothing claimed
    assert method.to("auto").device == "cpu" and method.moved_to == ["cpu"]
    refused(lambda: load_method("identity").to(torch.device("cuda")), NO_CUDA)
    refused(lambda: hmtir.evaluate(Moving(), data=None, device="cuda", progress=False), NO_CUDA)


def test_load_results_arguments(tmp_path: Path) -> None:
    refused(
        lambda: hmtir.load_results(None), "results: expected a folder path or a list of them, got NoneType"
    )
    refused(lambda: hmtir.load_results(7), "results: expected a folder path or a list of them, got int")
    refused(
        lambda: hmtir.load_results([tmp_path, None]),
        "results: expected folder paths, got NoneType among them",
    )
    refused(lambda: hmtir.load_results([]), "no evaluation results given")
    refused(
        lambda: hmtir.load_results(tmp_path / "nowhere"),
        f"results path {tmp_path / 'nowhere'} does not exist",
    )
    from hmtir.evaluation import load_result

    refused(lambda: load_result(None), "results: expected a folder path, got NoneType")
