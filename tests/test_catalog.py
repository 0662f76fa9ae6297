"""``hmtir list``: every catalog is listed, and a missing one is one clear line, not a crash."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.commands import catalog


def test_list_methods_shows_identity_with_its_kind() -> None:
    result = CliRunner().invoke(cli, ["list", "methods"])
    assert result.exit_code == 0, result.output
    assert "methods (" in result.output
    assert "identity" in result.output and "reference" in result.output


def test_list_json_carries_full_metadata() -> None:
    result = CliRunner().invoke(cli, ["list", "methods", "--json"])
    assert result.exit_code == 0, result.output
    identity = json.loads(result.output)["methods"]["identity"]
    assert identity["kind"] == "reference" and identity["license"] == "MIT" and identity["weights"] is None


def test_missing_catalog_is_reported_and_others_still_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(catalog.CATALOGS, "metrics", ("hmtir.no_such_module", "METRICS"))
    result = CliRunner().invoke(cli, ["list", "metrics", "methods"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert (
        "metrics: not available (hmtir.no_such_module.METRICS could not be loaded: "
        "ModuleNotFoundError: No module named 'hmtir.no_such_module')" in result.output
    )
    assert "identity" in result.output


def test_mapping_catalogs_are_listed_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(catalog.CATALOGS, "presets", ("hmtir.vocabulary", "SUBSETS"))
    rows = catalog.load_catalog("presets")
    assert rows["composited/hard"] == {
        "name": "composited/hard",
        "kind": "paired",
        "preset": "hard",
        "degradation": "composite",
        "scenario": "composite",
    }


def test_unknown_kind_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["list", "widgets"])
    assert result.exit_code == 2
    assert "Invalid value for" in result.output


def test_list_all_names_every_catalog_even_when_some_are_missing() -> None:
    result = CliRunner().invoke(cli, ["list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for kind in catalog.CATALOGS:
        assert re.search(rf"^{kind} \(\d+\)|^{kind}: not available \(", result.output, re.MULTILINE), kind


def test_list_fits_80_columns_one_line_per_entry_and_long_shows_more() -> None:
    result = CliRunner().invoke(cli, ["list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    from hmtir.methods import METHODS

    methods = CliRunner().invoke(cli, ["list", "methods"], env={"COLUMNS": "80"}).output.splitlines()
    for name in METHODS.names():  # each entry is exactly one table line
        assert sum(1 for line in methods if line.startswith(f"│ {name} ")) == 1, name
    long = CliRunner().invoke(cli, ["list", "methods", "--long"], env={"COLUMNS": "200"})
    assert "license" in long.output and "weights" in long.output and "universal-ir.pth" in long.output
    assert "license" not in result.output


_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # `import torch` now fails, as in an environment without it
sys.argv = ["hmtir", "list", *sys.argv[1:]]
from hmtir.cli import cli
try:
    cli()
finally:
    loaded = sorted(m for m in ("torch", "pyiqa", "torchvision") if sys.modules.get(m) is not None)
    print("heavy modules loaded:", loaded, file=sys.stderr)
"""


def _list_without_torch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_list_without_torch_shows_every_declared_method_metric_and_model_with_its_metadata() -> None:
    from hmtir.registry import LazyFactory

    done = _list_without_torch("methods", "metrics", "models", "--json")
    assert done.returncode == 0, done.stderr
    assert "heavy modules loaded: []" in done.stderr
    listed = json.loads(done.stdout)
    for kind in ("methods", "metrics", "models"):
        registry = catalog._source(kind)
        declared = {e.meta.name for e in registry if isinstance(e.factory, LazyFactory)}
        expected = json.loads(json.dumps(catalog.load_catalog(kind), default=str))  # this process has torch
        assert {"identity", "ppfn", "psnr", "niqe", "ppfn_nafnet", "restormer"} & set(expected)
        assert {name: expected[name] for name in declared} == listed[kind], kind
    assert len(listed["methods"]) == 9 and len(listed["metrics"]) == 6 and len(listed["models"]) == 10


def test_a_registering_module_that_fails_to_import_is_named_not_silently_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hmtir.models
    from hmtir.models import MODELS
    from hmtir.registry import EntryMeta, LazyFactory, Registry

    assert all(isinstance(e.factory, LazyFactory) for e in MODELS)  # shipped models: all declared
    broken: Registry[EntryMeta] = Registry("model", modules=["hmtir.no_such_module_for_test"])
    broken.declare("tiny", "hmtir.no_such_module_for_test:tiny", summary="declared, so still listed")
    monkeypatch.setattr(hmtir.models, "BROKEN_FOR_TEST", broken, raising=False)
    monkeypatch.setitem(catalog.CATALOGS, "models", ("hmtir.models", "BROKEN_FOR_TEST"))
    why = "ModuleNotFoundError: No module named 'hmtir.no_such_module_for_test'"
    table = CliRunner().invoke(cli, ["list", "models"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert (
        "tiny" in table.output
        and f"models: entries of hmtir.no_such_module_for_test not listed ({why})" in (table.output)
    )
    as_json = CliRunner().invoke(cli, ["list", "models", "--json"])
    assert as_json.exit_code == 0 and list(json.loads(as_json.stdout)["models"]) == ["tiny"]
    assert "not listed" in as_json.stderr


@pytest.mark.parametrize(("preset", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_cli_asks_openmp_to_wait_passively_unless_told_otherwise(
    preset: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.cli import main

    if preset is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", preset)
    monkeypatch.setattr("sys.argv", ["hmtir", "--version"])
    with pytest.raises(SystemExit):
        main()
    import os

    assert os.environ["OMP_WAIT_POLICY"] == expected
