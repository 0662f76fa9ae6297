"""One output-folder rule for every command that writes a folder (:func:`hmtir.io.safety.check_output_folder`).

The rule under test, command by command and through the library functions the commands call: the
file-system root (any spelling) and the empty string are refused, even with ``--overwrite``; a non-empty
folder hmtir did not create is refused unless ``--overwrite``; a folder hmtir created (it holds
``.hmtir-output``, or the command's own earlier output) is written into again without it. Every refusal
is one ``Error:`` line, exit 1, and leaves the folder as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.io.image import write_image
from hmtir.io.safety import OUTPUT_MARKER, check_output_folder
from tests.trees import tree_digest

REPO = Path(__file__).resolve().parents[2]
ROOT_ERROR = "refusing to write into the root of the file system; name a folder"
FOREIGN_ERROR = "is not empty and was not created by hmtir; choose a new or empty folder, or pass --overwrite to write into it"


def _frame(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.random.default_rng(seed).random((64, 80)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A folder of two clean frames, and the HM-TIR tree synthesised from it (preset normal)."""
    from hmtir.degrade.synthesize import synthesize

    base = tmp_path_factory.mktemp("inputs")
    source = base / "clean"
    for i in range(2):
        _frame(source / f"f{i}.png", i)
    tree = base / "tree"
    synthesize(source, tree, presets=["normal"], progress=False)
    registry = base / "sources.yaml"
    registry.write_text(
        "sources:\n  test-blob:\n    kind: weights\n    files:\n      - name: blob.bin\n"
        '        extract: false\n        mirrors:\n          - {kind: http, url: "http://127.0.0.1:9/w.bin"}\n'
    )
    return {"source": source, "frame": source / "f0.png", "tree": tree, "registry": registry}


#: Every command that writes a folder: (option naming it, argv around it). The refusals below come before
#: any work, so the download's mirror is never contacted and the demo never builds.
COMMANDS: dict[str, tuple[str, Callable[[dict[str, Path], str], list[str]]]] = {
    "synthesize": (
        "--out",
        lambda i, o: ["synthesize", "--source", str(i["source"]), "--preset", "normal", "--out", o],
    ),
    "enhance": ("--out", lambda i, o: ["enhance", str(i["frame"]), "--method", "identity", "--out", o]),
    "evaluate": (
        "--out",
        lambda i, o: [
            "evaluate",
            "--method",
            "identity",
            "--data",
            str(i["tree"]),
            "--metrics",
            "psnr",
            "--device",
            "cpu",
            "--out",
            o,
        ],
    ),
    "train": (
        "--out",
        lambda i, o: ["train", "--data", str(i["source"]), "--steps", "1", "--device", "cpu", "--out", o],
    ),
    "demo": ("--out", lambda i, o: ["demo", "--methods", "identity", "--out", o]),
    "export": ("--out", lambda i, o: ["export", str(i["tree"]), "--out", o]),
    "leaderboard build": (
        "--out",
        lambda i, o: ["leaderboard", "build", "--leaderboard", str(REPO / "leaderboard"), "--out", o],
    ),
    "download": ("--dir", lambda i, o: ["download", "test-blob", "--no-progress", "--dir", o]),
}


def _run(inputs: dict[str, Path], command: str, out: str, *extra: str) -> tuple[int, str]:
    option, argv = COMMANDS[command]
    result = CliRunner().invoke(
        cli, [*argv(inputs, out), *extra], env={"HMTIR_SOURCES": str(inputs["registry"])}
    )
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_root_is_refused_even_with_overwrite(inputs: dict[str, Path], command: str) -> None:
    option = COMMANDS[command][0]
    extra = ("--overwrite",) if command not in ("leaderboard build",) else ()
    code, output = _run(inputs, command, "/", *extra)
    assert code == 1
    assert _error_line(output) == f"Error: {option} /: {ROOT_ERROR}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_empty_string_is_refused(
    inputs: dict[str, Path], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # "" was the current folder: it must stay empty
    code, output = _run(inputs, command, "")
    assert code == 1
    assert _error_line(output) == f"Error: {COMMANDS[command][0]} is empty: name the folder to write into"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_foreign_non_empty_folder_is_refused_and_untouched(
    inputs: dict[str, Path], command: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "thesis.tex").write_text("years of work\n")
    before = tree_digest(folder)
    code, output = _run(inputs, command, str(folder))
    assert code == 1
    line = _error_line(output)
    if command == "leaderboard build":  # replaced as a whole: refused even with --overwrite (own words)
        assert "is not empty and not a leaderboard site built by hmtir" in line
    elif command == "export":  # replaced as a whole: any existing --out needs --overwrite (own words)
        assert (
            line == f"Error: {folder} already exists; choose another --out or pass --overwrite to replace it"
        )
    else:
        assert line == f"Error: {COMMANDS[command][0]} {folder} {FOREIGN_ERROR}"
    assert tree_digest(folder) == before


def test_submit_score_refuses_an_empty_leaderboard_folder(inputs: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        cli, ["submit", "score", str(inputs["tree"]), "--data", str(inputs["tree"]), "--leaderboard", ""]
    )
    assert result.exit_code == 1
    assert _error_line(result.output) == "Error: --leaderboard is empty: name the folder to write into"


# ------------------------------------------------------------------------------ writing where allowed


def test_overwrite_writes_into_a_foreign_folder_and_keeps_its_files(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work\n")
    code, output = _run(inputs, "enhance", str(folder), "--overwrite")
    assert code == 0, output
    assert (folder / "thesis.tex").read_text() == "years of work\n"
    assert (folder / "f0.png").is_file() and (folder / OUTPUT_MARKER).is_file()
    code, output = _run(inputs, "synthesize", str(folder))  # now hmtir's: no --overwrite needed
    assert code == 0, output


def test_a_folder_hmtir_created_is_resumed_without_overwrite(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "tree"
    for _ in range(2):
        code, output = _run(inputs, "synthesize", str(out))
        assert code == 0, output
    assert "0 outputs written" in output  # the second run resumed (everything already complete)
    assert (out / OUTPUT_MARKER).is_file()


def test_enhance_more_frames_into_its_own_folder(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "enhanced"
    assert _run(inputs, "enhance", str(out))[0] == 0
    other = _frame(tmp_path / "more" / "g.png", 5)
    result = CliRunner().invoke(cli, ["enhance", str(other), "--method", "identity", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "g.png").is_file()


def test_a_refused_run_leaves_no_marker(inputs: dict[str, Path], tmp_path: Path) -> None:
    """The marker is written with the first output, so a refusal after the check leaves nothing behind."""
    out = tmp_path / "new"
    code, _ = _run(inputs, "enhance", str(out), "--range", "5,1")
    assert code == 1
    assert not out.exists()


def test_evaluate_resumes_its_result_folder(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results"
    for _ in range(2):
        code, output = _run(inputs, "evaluate", str(out))
        assert code == 0, output
    assert (out / OUTPUT_MARKER).is_file() and (out / "summary.json").is_file()


def test_evaluate_results_from_before_the_marker_are_still_its_own(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    assert _run(inputs, "evaluate", str(out))[0] == 0
    (out / OUTPUT_MARKER).unlink()  # as a run of an earlier hmtir left it
    code, output = _run(inputs, "evaluate", str(out))
    assert code == 0, output


# ------------------------------------------------------------------------------ the library, directly


def _root_spellings(tmp_path: Path) -> list[str]:
    link = tmp_path / "to-root"
    link.symlink_to("/")
    return ["/", "//", "/.", "/./", str(Path(tmp_path.anchor) / "tmp" / ".."), str(link), str(link) + "/"]


def test_every_spelling_of_the_root_is_refused(tmp_path: Path) -> None:
    for spelling in _root_spellings(tmp_path):
        with pytest.raises(HmtirError, match=f"^--out .*: {ROOT_ERROR}$"):
            check_output_folder(spelling, overwrite=True)


@pytest.mark.parametrize("empty", ["", b""])
def test_empty_is_refused_as_text_or_bytes(empty: str | bytes) -> None:
    with pytest.raises(HmtirError, match="^--out is empty: name the folder to write into$"):
        check_output_folder(empty, overwrite=True)


def test_a_marker_that_is_a_link_does_not_count(tmp_path: Path) -> None:
    elsewhere = tmp_path / "marker"
    elsewhere.write_text("x")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / OUTPUT_MARKER).symlink_to(elsewhere)
    with pytest.raises(HmtirError, match=FOREIGN_ERROR):
        check_output_folder(folder)


def _library_calls(inputs: dict[str, Path]) -> dict[str, Callable[[str], object]]:
    from hmtir.data.download import download
    from hmtir.data.export import export_hf
    from hmtir.degrade.synthesize import synthesize
    from hmtir.demo import run_demo
    from hmtir.enhance import plan_outputs
    from hmtir.evaluation import evaluate
    from hmtir.leaderboard.render import build_site
    from hmtir.train.config import load_config
    from hmtir.train.loop import train

    return {
        "synthesize": lambda out: synthesize(inputs["source"], out, presets=["normal"], progress=False),
        "enhance": lambda out: plan_outputs([inputs["frame"]], out),
        "evaluate": lambda out: evaluate(
            "identity", data=inputs["tree"], metrics=["psnr"], device="cpu", out=out, progress=False
        ),
        "train": lambda out: train(load_config(), inputs["source"], out),
        "demo": lambda out: run_demo(out, methods=["identity"], progress=False),
        "export": lambda out: export_hf(inputs["tree"], out),
        "leaderboard build": lambda out: build_site(REPO / "leaderboard", out),
        "download": lambda out: download(["test-blob"], dir=out, progress=False),
    }


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_library_holds_the_same_rule(
    inputs: dict[str, Path], command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebooks get the rule too: it lives in the functions the commands call, not in click."""
    monkeypatch.setenv("HMTIR_SOURCES", str(inputs["registry"]))
    monkeypatch.chdir(tmp_path)
    call = _library_calls(inputs)[command]
    for out, fragment in (
        ("", "is empty" if command != "synthesize" else "must be a path"),
        ("/", ROOT_ERROR),
    ):
        with pytest.raises(HmtirError, match=fragment):
            call(out)
    assert list(tmp_path.iterdir()) == []
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(HmtirError, match="is not empty and|already exists"):
        call(str(foreign))
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
