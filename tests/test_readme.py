"""README.md's promises stay true: CI runs its exact test command, and its library example runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.S | re.M)
    assert match is not None, f"README.md has no '## {title}' section"
    return match.group(1)


def _fenced(language: str, section: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(section), flags=re.S)


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    blocks = _fenced("bash", "Two commands")
    commands = [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    setup_demo, setup_tests = commands
    assert setup_demo.endswith("hmtir demo") and setup_tests.endswith("python -m pytest")
    assert setup_tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_library_example_runs(tmp_path, monkeypatch) -> None:
    from hmtir.data.scenes import make_scenes
    from hmtir.io.image import write_image

    monkeypatch.chdir(tmp_path)
    make_scenes("clean_frames", per_category=1, size=(64, 80))
    (tmp_path / "clean_frames" / "scenes.csv").unlink()  # the example works on any folder of frames
    write_image("frame.tiff", np.full((16, 16), 0.25, dtype=np.float32), bit_depth=16)
    [example] = _fenced("python", "What's inside")
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    result = namespace["result"]
    assert np.isfinite(result.mean("psnr", "composited/normal"))  # type: ignore[attr-defined]
    assert namespace["bit_depth"] == 16 and namespace["method"].meta.name == "lrsid"  # type: ignore[attr-defined]
    records, table = namespace["records"], namespace["table"]
    assert set(records["method"]) == {"ppfn", "identity"} and len(records) == 2 * 5 * 8  # type: ignore[index]
    assert set(table["method"]) == {"ppfn"} and len(table) == 5  # type: ignore[index]


def test_readme_leaderboard_tables_are_the_ones_leaderboard_build_generates() -> None:
    """The README's ranking tables are copied from ``hmtir leaderboard build``'s LEADERBOARD.md over the
    shipped rows: after ``hmtir leaderboard seed`` they must be copied again."""
    from hmtir.leaderboard.ranking import rank
    from hmtir.leaderboard.store import load_results
    from hmtir.leaderboard.tables import markdown

    def tables(text: str) -> dict[str, str]:
        found = re.findall(r"^#+ ([^\n]+)\n\n(\| Rank \|.*?)\n\n", text, flags=re.S | re.M)
        return {heading: table for heading, table in found}

    generated = tables(markdown(rank(load_results(ROOT / "leaderboard"))))
    embedded = tables(README)
    assert embedded and set(embedded) == set(generated)
    for heading, table in embedded.items():
        assert table == generated[heading], f"README table '{heading}' differs: copy it from LEADERBOARD.md"
