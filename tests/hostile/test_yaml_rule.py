"""One YAML rule for every YAML file hmtir reads: aliases, nesting and size are refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io.yaml_file import MAX_YAML_DEPTH, read_yaml

# Nine levels of ten-fold aliases: 10**9 items once expanded, 500-odd bytes on disk.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def test_alias_bomb_refused_from_the_event_stream(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("sources:\n  x: 1\n" + ALIAS_BOMB)
    assert path.stat().st_size < 1000
    with pytest.raises(HmtirError) as err:
        read_yaml(path, "source registry")
    assert str(err.value) == f"source registry {path}: YAML aliases (*name) are not allowed (line 4)"


def test_deep_nesting_and_size_and_non_files(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(HmtirError, match=rf"^recipe {deep}: nested deeper than {MAX_YAML_DEPTH} levels"):
        read_yaml(deep, "recipe")
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 100)
    with pytest.raises(HmtirError, match=rf"^recipe {big}: 103 bytes; the limit is 50 bytes$"):
        read_yaml(big, "recipe", max_bytes=50)
    with pytest.raises(HmtirError, match=rf"^recipe {tmp_path}: not a regular file$"):
        read_yaml(tmp_path, "recipe")
    assert read_yaml(big, "recipe") == {"a": "x" * 100}


@pytest.mark.parametrize(
    ("argv", "env_name", "what"),
    [
        (["list", "sources"], "HMTIR_SOURCES", "source registry"),
        (["train", "--data", "{tmp}", "--out", "{tmp}/run", "--recipe", "{file}"], None, "recipe"),
    ],
)
def test_every_cli_yaml_reader_refuses_aliases(
    tmp_path: Path, argv: list[str], env_name: str | None, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    if env_name:
        monkeypatch.setenv(env_name, str(bomb))
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path, file=bomb) for a in argv])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert lines == [f"Error: {what} {bomb}: YAML aliases (*name) are not allowed (line 2)"]
    assert not (tmp_path / "run").exists()
