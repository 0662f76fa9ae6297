"""Evaluation results that cannot be relabelled, hostile JSON, and test lists that name a frame twice.

A results folder's ``summary.json`` is bound to its records (the records files' sha256 and a digest over the
summary itself), so editing either is refused at load — by ``load_result``/``load_results``, ``hmtir
compare``, ``hmtir leaderboard build --results`` and a re-run of ``hmtir evaluate`` — in one line that says
to re-run with ``--overwrite``. Every JSON file read from a user's folder goes through one rule
(``hmtir.io.json_file``). Every list of frame names read from a file refuses a name listed twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate, load_result, load_results
from hmtir.evaluation.results import summary_digest
from hmtir.io.json_file import MAX_JSON_DEPTH, JsonProblem, parse_json, read_json, read_json_lines
from tests.test_evaluate import SHAPES, make_layout
from tests.trees import tree_digest

SUBSET = "composited/normal"


def run(layout: Path, out: Path, **kwargs) -> object:
    return evaluate(
        "identity", data=layout, subsets="normal", out=out, device="cpu", progress=False, **kwargs
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(layout, a finished identity run on it), made once; tests work on copies."""
    root = tmp_path_factory.mktemp("integrity")
    layout = make_layout(root / "bench")
    run(layout, root / "results" / "identity")
    return layout, root / "results" / "identity"


@pytest.fixture()
def result(finished: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "results" / "identity"
    shutil.copytree(finished[1], copy)
    return copy


def edit_summary(folder: Path, change: Callable[[dict], None], *, redigest: bool = False) -> None:
    """Apply ``change`` to the summary; ``redigest``: as a forger would, make its digest match again."""
    path = folder / "summary.json"
    summary = json.loads(path.read_text())
    change(summary)
    if redigest:
        summary["digest"] = summary_digest(summary)
    path.write_text(json.dumps(summary, indent=2))


def relabel(summary: dict) -> None:
    summary["method"]["name"] = "ppfn"
    summary["run"]["method"] = "ppfn"


def mismatch(folder: Path, why: str) -> str:
    return f"results {folder}: summary.json does not match its records ({why}); re-run with --overwrite"


def rerun_identity(layout: Path, result: Path) -> list[str]:
    """The command line that re-runs the fixture's evaluation into ``result`` (device added by the caller)."""
    return [
        "evaluate",
        "--method",
        "identity",
        "--data",
        str(layout),
        "--subset",
        "normal",
        "--out",
        str(result),
    ]


def one_error(args: list[str]) -> str:
    outcome = CliRunner().invoke(cli, args)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), outcome.output
    return lines[0].removeprefix("Error: ")


def test_an_untouched_result_loads_and_equals_what_evaluate_returned(finished, result: Path) -> None:
    layout, _ = finished
    loaded = load_result(result)
    assert loaded.summary["digest"] == summary_digest(loaded.summary)
    assert set(loaded.summary["records_sha256"]) == {"records.parquet", "records.csv"}
    again = run(layout, result)  # the same spec: loaded, not recomputed, and the check passes
    assert again.loaded and again.summary == loaded.summary


def test_a_relabelled_summary_is_refused_everywhere_it_is_read(
    finished, result: Path, tmp_path: Path
) -> None:
    edit_summary(result, relabel)
    expected = mismatch(result, "summary.json was edited after it was written")
    for load in (load_result, load_results, lambda f: load_results([f])):
        with pytest.raises(HmtirError) as info:
            load(result)
        assert str(info.value) == expected
    site = tmp_path / "site"
    before = tree_digest(result.parent)
    assert (
        one_error(["leaderboard", "build", "--results", str(result.parent), "--out", str(site)]) == expected
    )
    assert one_error(["compare", str(result), "--baseline", "identity"]) == expected
    layout, _ = finished
    rerun = rerun_identity(layout, result)
    assert one_error([*rerun, "--device", "cpu"]) == expected
    assert not site.exists() and tree_digest(result.parent) == before  # nothing written, nothing touched
    assert CliRunner().invoke(cli, [*rerun, "--device", "cpu", "--overwrite"]).exit_code == 0
    assert load_result(result).summary["method"]["name"] == "identity"


def test_a_forged_digest_does_not_make_the_summary_say_what_the_records_do_not(result: Path) -> None:
    edit_summary(result, relabel, redigest=True)
    with pytest.raises(HmtirError) as info:
        load_result(result)
    assert str(info.value) == mismatch(result, "method ppfn in the summary, identity in the records")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: s["subsets"][SUBSET]["metrics"]["psnr"].update(mean=99.0), f"the statistics of {SUBSET}"),
        (lambda s: s["subsets"][SUBSET].update(images=1), f"the statistics of {SUBSET}"),
        (lambda s: s["run"].update(frames_sha256="0" * 64), "the records hold other frames than the run"),
        (lambda s: s["subsets"].update({"single/blur": s["subsets"][SUBSET]}), "subsets composited/normal, "),
        (lambda s: s.update(method="ppfn"), "the summary lacks its run, method or metrics"),
        (lambda s: s["run"].update(subsets=5), "subsets composited/normal in the summary, "),
        (lambda s: s["run"].update(metrics=["psnr", "ssim"]), "the run's metrics and the summary's differ"),
        (lambda s: s["subsets"].update({SUBSET: 5}), "a subset's entry is not a table"),
        (lambda s: s["metrics"].update(lpips=s["metrics"]["psnr"]), "the records have no column lpips"),
    ],
)
def test_every_consistently_forged_summary_field_is_checked_against_the_records(
    result: Path, change, why
) -> None:
    edit_summary(result, change, redigest=True)
    with pytest.raises(HmtirError) as info:
        load_result(result)
    message = str(info.value)
    assert message.startswith(f"results {result}: summary.json does not match its records ({why}")
    assert message.endswith("; re-run with --overwrite")


@pytest.mark.parametrize("name", ["records.parquet", "records.csv"])
def test_swapped_or_missing_records_are_refused(finished, result: Path, tmp_path: Path, name: str) -> None:
    layout, _ = finished
    other = run(layout, tmp_path / "other", seed=1)  # same frames and scores, other timings: other bytes
    shutil.copyfile(other.out / name, result / name)
    with pytest.raises(HmtirError) as info:
        load_result(result)
    assert str(info.value) == mismatch(result, f"{name} changed after the summary was written")
    (result / name).unlink()
    with pytest.raises(HmtirError) as info:
        load_results(result)
    assert str(info.value) == mismatch(result, f"{name} is missing")


def forge_records(result: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite both records files and, as a forger would, every hash the summary holds of them."""
    records = change(pd.read_parquet(result / "records.parquet"))
    records.to_parquet(result / "records.parquet", index=False)
    records.to_csv(result / "records.csv", index=False)

    def rehash(summary: dict) -> None:
        for name in summary["records_sha256"]:
            summary["records_sha256"][name] = hashlib.sha256((result / name).read_bytes()).hexdigest()

    edit_summary(result, rehash, redigest=True)


def shifted(records: pd.DataFrame) -> pd.DataFrame:
    records.loc[0, "psnr"] += 5.0
    return records


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (shifted, f"the statistics of {SUBSET} are not those of its records"),
        (lambda r: r.assign(psnr="high"), "its records are not a table of scores: ValueError"),
        (
            lambda r: r.assign(method=[["identity"]] * len(r)),
            "its records are not a table of scores: TypeError",
        ),
        (lambda r: r.assign(method="ppfn"), "method identity in the summary, ppfn in the records"),
        (lambda r: r.iloc[::-1], "the records hold other frames than the run evaluated"),
        (lambda r: r.drop(columns="scene"), "the records have no column scene"),
    ],
    ids=["psnr+5", "text-scores", "list-method", "method", "reordered", "no-scene"],
)
def test_edited_records_with_matching_hashes_still_disagree_with_the_summary(
    result: Path, change, why
) -> None:
    forge_records(result, change)
    with pytest.raises(HmtirError) as info:
        load_result(result)
    assert str(info.value) == mismatch(result, why)


def test_a_summary_without_a_digest_cannot_be_trusted_and_overwrite_replaces_it(
    finished, result: Path
) -> None:
    def old_format(summary: dict) -> None:
        summary["schema"] = "hmtir.evaluation/2"
        del summary["digest"], summary["records_sha256"]

    edit_summary(result, old_format)
    expected = (
        f"results {result}: summary.json carries no digest of its records (written by hmtir 0.1.0), "
        "so its numbers cannot be trusted; re-run with --overwrite"
    )
    with pytest.raises(HmtirError) as info:
        load_results(result)
    assert str(info.value) == expected
    layout, _ = finished
    with pytest.raises(HmtirError) as info:
        run(layout, result)
    assert str(info.value) == expected
    assert not run(layout, result, overwrite=True).loaded
    assert load_result(result).summary["schema"] == "hmtir.evaluation/3"


HOSTILE_JSON = [
    ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_JSON_DEPTH} levels (line 1); flatten it"),
    ('{"seed": 1' + "0" * 400 + "}", "integer 100000000000… (401 digits) is outside ±(2**63-1)"),
    ('{"seed": 9223372036854775808}', "integer 9223372036854775808 is outside ±(2**63-1)"),
    ('{"mean": 1e400}', "number 1e400 is too large for a float"),
    ('{"mean": NaN}', "NaN is not a JSON number (write null for a missing value)"),
    ('{"mean": -Infinity}', "-Infinity is not a JSON number (write null for a missing value)"),
    ('{"method": "wfaf", "method": "ppfn"}', "key 'method' appears twice in one object"),
    ('{"subsets": ', "not valid JSON: Expecting value (line 1, column 13)"),
]


@pytest.mark.parametrize(("text", "problem"), HOSTILE_JSON, ids=[p[:24] for _, p in HOSTILE_JSON])
def test_hostile_summary_json_is_one_line_for_every_reader(
    finished, result: Path, text: str, problem: str
) -> None:
    (result / "summary.json").write_text(text)
    expected = f"evaluation summary {result / 'summary.json'}: {problem}; re-run with --overwrite"
    for load in (load_result, load_results):
        with pytest.raises(HmtirError) as info:
            load(result)
        assert str(info.value) == expected
    assert one_error(["compare", str(result)]) == expected
    layout, _ = finished
    rerun = rerun_identity(layout, result)
    assert one_error([*rerun, "--device", "cpu"]) == expected
    assert CliRunner().invoke(cli, [*rerun, "--device", "cpu", "--overwrite"]).exit_code == 0


def test_json_rule_limits(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(HmtirError, match=r"^thing .*x\.json: not UTF-8 text$"):
        read_json(path, "thing")
    path.write_text('{"a": [1, 2]}')
    with pytest.raises(HmtirError, match=r"^thing .*x\.json: 13 bytes; the limit is 8 bytes$"):
        read_json(path, "thing", max_bytes=8)
    with pytest.raises(HmtirError, match=r"^thing .*x\.json: nested deeper than 1 levels"):
        read_json(path, "thing", max_depth=1)
    with pytest.raises(HmtirError, match=r"^thing .*: not a regular file$"):
        read_json(tmp_path, "thing")
    assert read_json(path, "thing") == {"a": [1, 2]}
    assert parse_json('{"s": "[[[[{{{{"}', max_depth=1) == {"s": "[[[[{{{{"}  # brackets in strings
    assert parse_json("[Infinity]", non_finite=True) == [float("inf")]
    with pytest.raises(JsonProblem, match="too large"):
        parse_json("[1e999]", non_finite=True)
    lines = tmp_path / "x.jsonl"
    lines.write_text('{"a": 1}\n' + "[" * 5000 + "\n" + '{"b": 2}\n')
    assert read_json_lines(lines, "log", skip_bad=True) == [{"a": 1}, {"b": 2}]
    with pytest.raises(HmtirError, match=r"^log .*x\.jsonl, line 2: nested deeper than 32 levels"):
        read_json_lines(lines, "log")


def test_a_hostile_cache_line_is_recomputed_not_a_traceback(finished, tmp_path: Path) -> None:
    layout, reference = finished
    out = tmp_path / "resumed"
    out.mkdir()
    cache = (reference / "cache.jsonl").read_text().splitlines()
    hostile = ["[" * 100_000, '{"key": 1' + "0" * 5000 + "}", '{"key": "k", "row": [1]}', "{"]
    (out / "cache.jsonl").write_text("\n".join([cache[0], *hostile, *cache[1:3]]) + "\n")
    with (out / "cache.jsonl").open("ab") as handle:
        handle.write(b"\xff\xfe not UTF-8\n")
    resumed = run(layout, out)
    expected = load_result(reference).records
    cached = resumed.records["seconds"] == expected["seconds"]
    assert cached.tolist() == [True, True, True, False, False]  # three lines reused, two frames recomputed
    pd.testing.assert_frame_equal(resumed.records.drop(columns="seconds"), expected.drop(columns="seconds"))


# ------------------------------------------------------------------------------ names listed twice


def listed_twice(layout: Path, lines: list[str]) -> str:
    (layout / "meta" / "test.txt").write_text("\n".join(lines) + "\n")
    return str(layout / "meta" / "test.txt")


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([*SHAPES, "a.png"], "'a.png' is listed twice (lines 1 and 6); each frame counts once, remove one"),
        (
            ["a.png", "", "b.png", "a.png  \r"],
            "'a.png' is listed twice (lines 1 and 4); each frame counts once, remove one",
        ),
        (
            ["A.png", "b.png", "a.png"],
            "'a.png' (line 3) and 'A.png' (line 1) name the same file on a "
            "case-insensitive file system; rename one",
        ),  # fmt: skip
    ],
)
def test_a_test_list_naming_a_frame_twice_is_refused(tmp_path: Path, lines: list[str], problem: str) -> None:
    layout = make_layout(tmp_path / "bench")
    listing = listed_twice(layout, lines)
    out = tmp_path / "out"
    args = ["evaluate", "--method", "identity", "--data", str(layout), "--out", str(out), "--device", "cpu"]
    assert one_error(args) == f"{listing}: {problem}"
    assert not out.exists()
    from hmtir.data.datasets import TestSubset

    with pytest.raises(HmtirError, match="listed twice|same file"):
        TestSubset(layout, SUBSET)


def test_scenes_and_subset_lists_refuse_duplicates_too(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "bench")
    scenes = layout / "meta" / "scenes.csv"
    scenes.write_text("name,scene\na.png,urban\nb.png,field\na.png,sea\n")
    args = ["evaluate", "--method", "identity", "--data", str(layout), "--device", "cpu"]
    out = ["--out", str(tmp_path / "out")]
    expected = f"{scenes}: 'a.png' is listed twice (rows 2 and 4); each frame counts once, remove one"
    assert one_error([*args, *out]) == expected
    scenes.unlink()
    twice = (
        "subset composited/normal is named twice in 'normal,composited/normal'; each subset is evaluated once"
    )
    assert one_error([*args, *out, "--subset", "normal,composited/normal"]) == twice
    from hmtir.data.datasets import TestSubset

    with pytest.raises(HmtirError, match=r"^TestSubset names: 'b.png' is listed twice \(items 1 and 3\)"):
        TestSubset(layout, SUBSET, names=["b.png", "a.png", "b.png"])
    assert not (tmp_path / "out").exists()
