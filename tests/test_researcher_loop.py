"""README's "Your model, evaluated" section runs as written: its bash block, command by command, in a fresh
folder (the venv's ``bin`` on PATH, ``HMTIR_HOME`` in tmp), with the files its Python blocks show.

Then: the checkpoint's evaluation exists and names the trained weights, ``hmtir compare`` printed the
paired table (the shipped and the trained ``ppfn`` told apart), and the site's LEADERBOARD.md holds the
user's rows with tier ``user``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Your model, evaluated"
VENV_BIN = Path(sys.executable).parent  # the interpreter running the tests is the venv's


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(TITLE)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    if match is None:
        pytest.fail(f"README.md has no '## {TITLE}' section")
    return match.group(1)


def _commands(section: str) -> list[str]:
    """Each command of the section's bash blocks, verbatim (backslash continuations joined)."""
    commands, pending = [], ""
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line
            if line.endswith("\\"):
                pending = pending[:-1]
                continue
            commands.append(pending)
            pending = ""
    assert not pending, f"README section ends inside a continued command: {pending}"
    return commands


def _files(section: str) -> dict[str, str]:
    """The Python blocks whose first line names their file (``# my_model.py — ...``)."""
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        named = re.match(r"#\s*([\w./-]+\.py)\b", block)
        if named:
            files[named.group(1)] = block
    return files


def _option(command: str, name: str) -> str:
    words = shlex.split(command)
    return words[words.index(name) + 1]


def test_section_parses() -> None:
    """Fast check of the shape the slow test relies on."""
    section = _section()
    commands = _commands(section)
    programs = [shlex.split(c)[:2] for c in commands]
    assert all(p[0] == "hmtir" for p in programs), "write the commands as `hmtir ...` (venv bin on PATH)"
    assert {"demo", "train", "evaluate", "compare", "leaderboard"} <= {p[1] for p in programs}
    assert any("--weights" in c for c in commands if shlex.split(c)[1] == "evaluate")
    assert "my_model.py" in _files(section)


@pytest.mark.slow
def test_researcher_loop_runs_as_written(tmp_path: Path) -> None:
    section = _section()
    commands, files = _commands(section), _files(section)
    work = tmp_path / "work"
    work.mkdir()
    for name, text in files.items():
        (work / name).write_text(text)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["HMTIR_HOME"] = str(tmp_path / "home")
    env.pop("HMTIR_WEIGHTS", None)
    env.pop("COLUMNS", None)  # tables at log width: one line per row
    outputs = {}
    for command in commands:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=900
        )
        outputs[command] = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{command}\nexit {proc.returncode}\n{outputs[command][-4000:]}"

    evaluations = [c for c in commands if shlex.split(c)[1] == "evaluate"]
    [mine] = [c for c in evaluations if "--weights" in shlex.split(c)]
    summary = json.loads((work / _option(mine, "--out") / "summary.json").read_text())
    weights = (work / _option(mine, "--weights")).read_bytes()
    assert summary["method"]["name"] == "ppfn"
    assert summary["method"]["weights_sha256"] == hashlib.sha256(weights).hexdigest()

    [compare] = [c for c in commands if shlex.split(c)[1] == "compare"]
    table = outputs[compare]
    assert "Paired differences vs identity" in table and "95 % CI" in table
    label = f"ppfn [{Path(_option(mine, '--out')).name}]"  # the trained ppfn beside the shipped one
    assert label in table, table[-4000:]

    from hmtir.external import external_name
    from hmtir.leaderboard.tables import markdown_text

    [build] = [c for c in commands if shlex.split(c)[1:3] == ["leaderboard", "build"]]
    board = (work / _option(build, "--out") / "LEADERBOARD.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| \d+ \| (.+?) \| (\w+) \|", board, flags=re.M)}
    plugins = [c for c in evaluations if ":" in _option(c, "--method")]
    yours = ["ppfn", *(markdown_text(external_name(_option(c, "--method"))) for c in plugins)]
    assert plugins and all(rows.get(name) == "user" for name in yours), board
