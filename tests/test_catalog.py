"""``hmtir list``: every catalog is listed, and a missing one is one clear line, not a crash."""

from __future__ import annotations

import json
import re

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
