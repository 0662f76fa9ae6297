"""``benchmarks/mutation_check.py`` on a toy repository: outcomes, restoration, invalid mutants, resume."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.scripts import load_benchmark_script

TOY = {
    "toy/__init__.py": "def add(a, b):\n    return a + b\n\n\ndef sign(x):\n    return 1 if x > 0 else -1 if x < 0 else 0\n",
    "toy/data.txt": "hello\n",
    "tests/test_toy.py": "from toy import add, sign\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_sign():\n    assert sign(3) == 1 and sign(-2) == -1\n",
    "tests/test_data.py": "from pathlib import Path\n\n\ndef test_data():\n"
    "    assert (Path(__file__).parents[1] / 'toy' / 'data.txt').read_text() == 'hello\\n'\n",
    "tests/test_broken.py": "def test_always_fails():\n    assert False\n",
}

LIST = """
version: 1
others: [toy/data.txt]
mutations:
  - {id: add-minus, area: toy, file: toy/__init__.py, old: 'return a + b', new: 'return a - b',
     tests: [tests/test_toy.py], breaks: addition adds}
  - {id: sign-zero, area: toy, file: toy/__init__.py, old: 'else 0', new: 'else 1',
     tests: [tests/test_toy.py], breaks: sign of zero is zero}
  - {id: gone, area: toy, file: toy/__init__.py, old: 'return a * b', new: 'return a / b',
     tests: [tests/test_toy.py], breaks: 'nothing: the text is not there'}
  - {id: no-import, area: toy, file: toy/__init__.py, old: 'def add(a, b):', new: 'def add(a, b)',
     tests: [tests/test_toy.py], breaks: the module imports}
  - {id: bad-baseline, area: toy, file: toy/__init__.py, old: 'return a + b', new: 'return b + a',
     tests: [tests/test_broken.py], breaks: 'a selection that fails on its own proves nothing'}
  - id: data-swap
    area: data
    file: toy/data.txt
    replace_with: |
      import os
      open(os.environ["MUTANT_FILE"], "w").write("bye\\n")
    tests: [tests/test_data.py]
    breaks: the data file is the shipped one
"""


mc = load_benchmark_script("mutation_check")


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    repo = tmp_path / "toy-repo"
    for name, text in TOY.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / "mutations.yaml").write_text(LIST)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return repo


def _run(repo: Path, *extra: str) -> dict[str, Any]:
    results = repo.parent / "results.json"
    argv = ["--list", str(repo / "mutations.yaml"), "--source", str(repo), "--package", "toy"]
    argv += ["--workdir", str(repo.parent / "copy"), "--results", str(results), "--timeout", "120", *extra]
    assert mc.main(argv) == 0
    return json.loads(results.read_text())


def test_outcomes_are_classified_and_every_file_is_restored(toy: Path) -> None:
    sources = {name: (toy / name).read_bytes() for name in TOY}
    results = _run(toy)
    outcomes = {mid: r["outcome"] for mid, r in results["mutants"].items()}
    assert outcomes == {
        "add-minus": "caught",
        "sign-zero": "survived",
        "gone": "invalid",
        "no-import": "invalid",
        "bad-baseline": "invalid",
        "data-swap": "caught",
    }
    mutants = results["mutants"]
    assert mutants["add-minus"]["why"] == "tests/test_toy.py::test_add"
    assert mutants["gone"]["why"] == "old text occurs 0 times in toy/__init__.py (must be exactly once)"
    assert mutants["no-import"]["why"].startswith("the mutant does not import: SyntaxError")
    assert mutants["bad-baseline"]["why"] == "the selected tests fail without the mutation"
    assert (mutants["data-swap"]["owner"], mutants["add-minus"]["owner"]) == ("others", "mine")
    copy = toy.parent / "copy"
    for name, data in sources.items():
        assert (toy / name).read_bytes() == data  # the source checkout is never touched
        assert (copy / name).read_bytes() == data  # and the private copy is restored
    counts = mc.score(mc.load_list(toy / "mutations.yaml"), results)
    assert counts["all"] == {"caught": 2, "survived": 1, "invalid": 3}
    table = (toy.parent / "results.md").read_text()
    assert "Score: **2/3 caught (66.7 %), 3 invalid**" in table
    assert "| 2 | sign-zero | toy | mine | `toy/__init__.py` | sign of zero is zero | survived |" in table


def test_a_rerun_skips_recorded_mutants_and_redoes_those_whose_tests_changed(toy: Path) -> None:
    first = _run(toy)
    with (toy / "tests" / "test_toy.py").open("a") as fh:
        fh.write("\n\ndef test_sign_of_zero():\n    assert sign(0) == 0\n")
    second = _run(toy)
    assert second["mutants"]["sign-zero"]["outcome"] == "caught"
    assert second["mutants"]["sign-zero"]["key"] != first["mutants"]["sign-zero"]["key"]
    # the data mutant's file and tests did not change: its record is reused as it was, not re-measured
    assert second["mutants"]["data-swap"] == first["mutants"]["data-swap"]


def test_check_reports_entries_that_no_longer_apply(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mc.main(["--list", str(toy / "mutations.yaml"), "--source", str(toy), "--check"]) == 1
    assert (
        "gone: old text occurs 0 times in toy/__init__.py (must be exactly once)" in capsys.readouterr().out
    )


def test_the_shipped_list_is_well_formed() -> None:
    listing = mc.load_list(mc.DEFAULT_LIST)
    assert len(listing.mutations) >= 60
    assert all(m.breaks and m.tests for m in listing.mutations)
    assert {listing.owner(m) for m in listing.mutations} == {"mine", "others"}
