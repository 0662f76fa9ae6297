"""Leaderboard results schema, ranking rules, reported rows, evaluate → result, rendering and compare."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile.corpus import make_valid
from test_browser import DEMO_SUBSETS, _entry, _write

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.leaderboard.benchmarks import get_benchmark
from hmtir.leaderboard.columns import leaderboard_metric_metas, leaderboard_metrics, metric_meta
from hmtir.leaderboard.compare import compare_grid, detailed_crop, parse_crop
from hmtir.leaderboard.json_schema import load_schema
from hmtir.leaderboard.plots import pareto_front
from hmtir.leaderboard.ranking import competition_ranks, rank
from hmtir.leaderboard.render import build_site
from hmtir.leaderboard.schema import check_metrics_block, validate_result
from hmtir.leaderboard.scoring import result_from_evaluation, score_submission
from hmtir.leaderboard.seed import build_demo_data, reported_entries
from hmtir.leaderboard.store import load_results
from hmtir.leaderboard.tables import markdown, markdown_text, site_data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_data(get_benchmark("demo"), tmp_path_factory.mktemp("bench") / "demo")


def test_competition_ranks_share_ties_at_display_precision() -> None:
    assert competition_ranks([30.004, 29.0, 30.001, None], lower_better=False, decimals=2) == [1, 3, 1, None]
    assert competition_ranks([8.47, 8.78, 8.47], lower_better=True, decimals=2) == [1, 3, 1]


def test_missing_subset_is_empty_not_averaged_and_groups_stay_apart() -> None:
    full = {s: 30.0 for s in DEMO_SUBSETS}
    entries = [
        _entry("alpha", "learned", "verified", full, 0.5, 10),
        _entry("bravo", "classical", "recomputed", {**full, "single/noise": 31.0}, 0.1, 0),
        _entry("delta", "learned", "verified", {"composited/normal": 99.0}, 1.0, 10),
        _entry("echo", "learned", "reported", {"composited/normal": 50.0}, None, None),
        _entry("foxtrot", "learned", "reported", {"composited/normal": 20.0}, None, None, bench="hm-tir"),
    ]
    for e in entries:
        e["records"] = (
            None if e["trust"] == "reported" else {"file": "records/x.csv", "sha256": "0" * 64, "rows": 1}
        )
    groups = {(g.benchmark.name, g.group): g for g in rank(entries)}
    assert set(groups) == {("demo", "measured"), ("demo", "reported"), ("hm-tir", "reported")}
    measured = {r.method: r for r in groups[("demo", "measured")].rows}
    assert measured["delta"].subset_ranks["composited/normal"] == 1
    assert measured["delta"].mean_rank is None and measured["delta"].averages["psnr"] is None
    assert measured["delta"].overall_rank is None
    assert (
        measured["alpha"].subset_ranks["single/noise"] == 2
        and measured["bravo"].subset_ranks["single/noise"] == 1
    )
    # normal: delta 1, alpha and bravo tie at 2; hard/contrast/blur: alpha and bravo tie at 1; noise: bravo 1
    assert measured["bravo"].mean_rank == pytest.approx((2 + 1 + 1 + 1 + 1) / 5)
    assert measured["alpha"].mean_rank == pytest.approx((2 + 1 + 1 + 1 + 2) / 5)
    assert measured["bravo"].averages["psnr"] == pytest.approx(30.2)
    assert [r.method for r in groups[("demo", "measured")].rows] == ["bravo", "alpha", "delta"]
    assert [r.method for r in groups[("demo", "reported")].rows] == [
        "echo"
    ]  # 50 dB never outranks measured rows


def test_rows_scored_on_different_data_are_not_ranked_together() -> None:
    a = _entry("alpha", "learned", "verified", {"composited/normal": 30.0}, 0.5, 10)
    b = _entry("bravo", "learned", "verified", {"composited/normal": 31.0}, 0.5, 10)
    b["benchmark"]["manifest_sha256"] = "cd" * 32
    with pytest.raises(HmtirError, match="alpha was scored on data fef0a9739320 but bravo on cdcdcdcdcdcd"):
        rank([a, b])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["subsets"]["composited/normal"]["metrics"].update(psnr=math.nan),
            "metrics.psnr: expected number or null, got nan",
        ),
        (
            lambda e: e["subsets"]["composited/normal"]["metrics"].pop("musiq"),
            "missing required field 'musiq'",
        ),
        (lambda e: e.update(trust="trusted"), "trust: must be one of recomputed, verified, user, reported"),
        (
            lambda e: e["subsets"].update({"single/rain": e["subsets"]["composited/normal"]}),
            "not part of benchmark demo",
        ),
        (lambda e: e.update(records=None), "a verified row needs its per-image records file"),
        (lambda e: e["benchmark"].update(version="2"), "is not the current version 1"),
        (lambda e: e["method"].update(name="../x"), "method.name: '../x' does not match"),
        (lambda e: e["method"].update(name="alpha\n"), "method.name: 'alpha\\n' does not match"),
        (
            lambda e: e["records"].update(file="records/wfaf__demo-v1.csv"),
            "its records file must be records/alpha__demo-v1.csv, not records/wfaf__demo-v1.csv",
        ),
        (lambda e: e.update(trust="recomputed"), "a recomputed row needs provenance.submission"),
        (
            lambda e: e["provenance"].update(submission="alpha"),
            "a verified row must not have provenance.submission",
        ),
        (
            lambda e: e["benchmark"].update(manifest_sha256="cd" * 32),
            "scored on data cdcdcdcdcdcd, but benchmark demo-v1 is the data fef0a9739320",
        ),
    ],
)
def test_invalid_results_are_rejected_with_the_field_named(mutate, message: str) -> None:
    entry = _entry("alpha", "learned", "verified", {"composited/normal": 30.0}, 0.5, 10)
    entry["records"] = {"file": "records/alpha__demo-v1.csv", "sha256": "0" * 64, "rows": 1}
    validate_result(entry, "x.json")
    mutate(entry)
    with pytest.raises(HmtirError, match=re.escape(message)):
        validate_result(entry, "x.json")


def test_tampered_records_file_is_detected(tmp_path: Path) -> None:
    _write(tmp_path, _entry("alpha", "learned", "verified", {"composited/normal": 30.0}, 0.5, 10))
    assert len(load_results(tmp_path)) == 1
    record = tmp_path / "records" / "alpha__demo-v1.csv"
    record.write_text(record.read_text().replace("30.000000", "35.000000"))
    with pytest.raises(HmtirError, match="does not match its recorded sha256"):
        load_results(tmp_path)


def test_reported_rows_hold_exactly_the_papers_numbers() -> None:
    rows = {e["method"]["name"]: e for e in reported_entries(REPO / "leaderboard" / "reported.yaml")}
    assert set(rows) == {"restormer", "ppfn", "wfaf", "lrsid", "daclip", "diffuir"}
    assert all(e["trust"] == "reported" and e["benchmark"]["name"] == "hm-tir" for e in rows.values())
    normal = {m: rows[m]["subsets"]["composited/normal"]["metrics"] for m in ("restormer", "ppfn")}
    assert (normal["restormer"]["psnr"], normal["restormer"]["ssim"]) == (23.28, 0.796)
    assert (normal["ppfn"]["psnr"], normal["ppfn"]["ssim"]) == (25.32, 0.818)
    iray = {
        m: tuple(e["subsets"]["real/iray"]["metrics"][k] for k in ("nima", "musiq", "niqe"))
        for m, e in rows.items()
    }
    assert iray == {
        "wfaf": (3.73, 25.13, 10.35), "lrsid": (3.57, 24.21, 8.68), "daclip": (3.70, 27.79, 9.19),
        "diffuir": (3.59, 26.81, 9.34), "restormer": (3.58, 27.78, 8.78), "ppfn": (3.83, 30.91, 8.47),
    }  # fmt: skip
    assert rows["wfaf"]["subsets"]["real/iray"]["metrics"]["psnr"] is None  # unpaired: no PSNR, explicitly
    [group] = rank(list(rows.values()))
    ranked = {r.method: r for r in group.rows}
    assert ranked["ppfn"].subset_ranks == {"composited/normal": 1, "real/iray": 1}  # MUSIQ ranks real/iray
    assert ranked["ppfn"].overall_rank == 1 and ranked["wfaf"].overall_rank is None


def test_verified_evaluation_and_recomputed_submission_agree(tmp_path: Path, demo: Path) -> None:
    """identity evaluated by the engine (verified) == the same images submitted and recomputed."""
    from hmtir.evaluation import evaluate

    result = evaluate("identity", data=demo, subsets="composited/normal", metrics="psnr,ssim", device="cpu",
                      out=tmp_path / "run", progress=False)  # fmt: skip
    verified = result_from_evaluation(result.out, "demo", trust="verified", parameters=0).entry
    recomputed = score_submission(make_valid(tmp_path / "sub", demo), demo, None).entry
    for metric in ("psnr", "ssim"):
        a = verified["subsets"]["composited/normal"]["metrics"][metric]
        assert a == pytest.approx(result.mean(metric), abs=1e-12)
        assert a == pytest.approx(recomputed["subsets"]["composited/normal"]["metrics"][metric], abs=1e-6)
    assert verified["trust"] == "verified" and verified["runtime"]["measured_by"] == "hmtir"
    assert verified["benchmark"]["manifest_sha256"] == recomputed["benchmark"]["manifest_sha256"]


def test_site_markdown_and_downloads(tmp_path: Path) -> None:
    board = tmp_path / "board"
    full = {s: 30.0 for s in DEMO_SUBSETS}
    _write(board, _entry("alpha", "learned", "verified", full, 0.5, 2_000_000))
    _write(board, _entry("bravo", "classical", "verified", {s: 31.0 for s in DEMO_SUBSETS}, 0.05, 0))
    _write(board, _entry("echo", "learned", "reported", {"composited/normal": 40.0}, None, None))
    report = build_site(board, tmp_path / "site")
    site = report.out
    for rel in ("index.html", "app.js", "style.css", "data.js", "leaderboard.csv", "leaderboard.json", "LEADERBOARD.md",
                "methods/alpha.html", "plots/demo-v1-psnr-runtime.svg", "plots/demo-v1-psnr-parameters.svg"):  # fmt: skip
        assert (site / rel).is_file(), rel
    page = (site / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loaded from outside
    md = (site / "LEADERBOARD.md").read_text()
    assert "| 1 | BRAVO | verified | 1.00 | 31.00 | 31.00 | 31.00 | 31.00 | 31.00 | 31.00 | 0.050 | 0 |" in md
    assert "| 2 | ALPHA | verified | 2.00 | 30.00 |" in md and "reported in papers" in md
    rows = list(csv.DictReader(io.StringIO((site / "leaderboard.csv").read_text())))
    assert len(rows) == 5 + 5 + 1 and {r["trust"] for r in rows} == {"verified", "reported"}
    data = json.loads(
        (site / "data.js").read_text().removeprefix("window.HMTIR_LEADERBOARD = ").rstrip(";\n")
    )
    assert data == json.loads((site / "leaderboard.json").read_text())
    assert markdown(report.groups, report.pairs) == md
    result = CliRunner().invoke(
        cli, ["leaderboard", "build", "--leaderboard", str(board), "--out", str(tmp_path / "s2")]
    )
    assert result.exit_code == 0, result.output
    assert "BRAVO" in result.output


def test_pareto_front() -> None:
    points = [(0.1, 20.0), (1.0, 25.0), (0.5, 19.0), (2.0, 24.0), (0.1, 18.0)]
    assert pareto_front(points) == [0, 1]


def test_compare_grid_scores_and_crop(tmp_path: Path, demo: Path) -> None:
    scores = compare_grid(demo, "street_000.png", ["identity"], tmp_path / "grid.png")
    assert scores["identity"] == scores["degraded"]
    assert (tmp_path / "grid.png").read_bytes().startswith(b"\x89PNG")
    assert parse_crop("4,5,30,20") == (4, 5, 30, 20)
    with pytest.raises(HmtirError, match="must be four integers"):
        parse_crop("1,2,3")
    with pytest.raises(HmtirError, match="does not fit the 160×128 image"):
        compare_grid(demo, "street_000.png", ["identity"], tmp_path / "bad.png", crop=(150, 0, 20, 20))
    assert not (tmp_path / "bad.png").exists()
    args = [
        "compare",
        "--data",
        str(demo),
        "--image",
        "street_000.png",
        "--methods",
        "identity",
        "--crop",
        "10,10,40,32",
    ]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "cli.png")])
    assert result.exit_code == 0, result.output
    assert f"{scores['degraded'][0]:.2f}" in result.output and (tmp_path / "cli.png").is_file()
    import numpy as np

    image = np.zeros((64, 80), np.float32)
    image[40:56, 50:70] = np.indices((16, 20)).sum(0) % 2  # a checkerboard patch: the only detail
    x, y, w, h = detailed_crop(image)
    assert (w, h) == (20, 16) and 45 <= x <= 55 and 36 <= y <= 44


def test_committed_leaderboard_is_valid() -> None:
    results = REPO / "leaderboard" / "results"
    if not results.is_dir():
        pytest.skip("no leaderboard/results in this checkout")
    groups = rank(load_results(REPO / "leaderboard"))
    assert {g.benchmark.name for g in groups} >= {"hm-tir"}


# ------------------------------------------------------------------ metric facts come from MetricMeta


def test_leaderboard_metric_facts_come_from_the_metric_registry() -> None:
    from hmtir.metrics import METRICS

    on_board = [e.meta for e in METRICS if e.meta.leaderboard]
    assert (
        set(leaderboard_metrics()) == {m.name for m in on_board} == {"psnr", "ssim", "niqe", "nima", "musiq"}
    )
    assert [metric_meta(m).mode for m in leaderboard_metrics()][:2] == ["FR", "FR"]  # FR columns first
    for meta in on_board:
        assert metric_meta(meta.name).lower_better == meta.lower_better
    data = site_data(rank([_entry("alpha", "learned", "verified", {"composited/normal": 30.0}, 0.5, 10)]))
    assert data["metric_order"] == list(leaderboard_metrics())
    assert data["metrics"]["ssim"] == {"lower_better": False, "decimals": 4}
    assert data["metrics"]["niqe"] == {"lower_better": True, "decimals": 2}


def test_result_schema_metric_block_is_checked_against_metric_metadata() -> None:
    """The packaged result.schema.json agrees with MetricMeta; one more leaderboard metric breaks that."""
    from dataclasses import replace

    from hmtir.metrics import METRICS

    schema = load_schema("result")
    metas = leaderboard_metric_metas()
    check_metrics_block(schema, metas)  # the shipped file agrees
    assert schema["properties"]["subsets"]["additionalProperties"]["properties"]["metrics"][
        "required"
    ] == list(leaderboard_metrics())
    brisque = replace(METRICS.meta("brisque"), leaderboard=True)
    with pytest.raises(HmtirError, match=r"result.schema.json disagrees with the metric registry.*brisque"):
        check_metrics_block(schema, (*metas, brisque))
    with pytest.raises(HmtirError, match="disagrees"):
        check_metrics_block(schema, tuple(replace(m, decimals=m.decimals) for m in metas[:-1]))
    flipped = tuple(replace(m, score_range=(0.0, 1.0)) if m.name == "psnr" else m for m in metas)
    with pytest.raises(HmtirError, match="disagrees"):  # an FR range is a schema bound, so it must agree too
        check_metrics_block(schema, flipped)


def test_ranking_ties_at_the_primary_metrics_own_decimals() -> None:
    """30.001 and 30.004 dB tie: PSNR's MetricMeta.decimals is 2 (a third decimal would split them)."""
    a = _entry("alpha", "learned", "verified", {"composited/normal": 30.001}, 0.5, 10)
    b = _entry("bravo", "learned", "verified", {"composited/normal": 30.004}, 0.5, 10)
    [group] = rank([a, b])
    assert {r.method: r.subset_ranks["composited/normal"] for r in group.rows} == {"alpha": 1, "bravo": 1}
    assert metric_meta("ssim").decimals == 4 and metric_meta("psnr").decimals == 2


# --------------------------------------------------------------------------------------- score_pairs


def test_score_pairs_scores_fr_and_nr_per_image_in_float64(demo: Path) -> None:
    import numpy as np
    import torch

    from hmtir.io.image import read_image
    from hmtir.metrics import create_metric
    from hmtir.metrics.pairs import score_pairs

    names = sorted(p.name for p in (demo / "composited/normal").glob("*.png"))[:3]
    preds = [read_image(demo / "composited/normal" / n).data for n in names]
    truths = [read_image(demo / "imgs" / n).data for n in names]
    psnr_metric, ssim_metric = create_metric("psnr"), create_metric("ssim")
    singles = list(score_pairs([psnr_metric, ssim_metric], zip(preds, truths)))
    direct = [float(psnr_metric(torch.from_numpy(p)[None, None], torch.from_numpy(t)[None, None])[0])
              for p, t in zip(preds, truths)]  # fmt: skip
    assert [s["psnr"] for s in singles] == direct  # exactly Metric.__call__'s float64
    batch = (torch.from_numpy(np.stack(preds))[:, None], torch.from_numpy(np.stack(truths))[:, None])
    batched = list(score_pairs([psnr_metric, ssim_metric], [batch]))
    assert len(batched) == 3
    assert [s["psnr"] for s in batched] == pytest.approx(direct, abs=1e-9)
    assert [s["ssim"] for s in batched] == pytest.approx([s["ssim"] for s in singles], abs=1e-7)
    unpaired = list(score_pairs([psnr_metric], [(preds[0], None)]))
    assert unpaired == [{"psnr": None}]  # a full-reference metric has nothing to compare against
    same = list(score_pairs([psnr_metric], [(truths[0], truths[0])]))
    assert same[0]["psnr"] == math.inf  # the true value, left to the caller's aggregation
    with pytest.raises(HmtirError, match="metric psnr requested twice"):
        list(score_pairs([psnr_metric, psnr_metric], [(preds[0], truths[0])]))
    with pytest.raises(HmtirError, match=r"prediction \(1, 1, 128, 160\) and target \(1, 1, 64, 80\) differ"):
        list(score_pairs([psnr_metric], [(preds[0], truths[0][::2, ::2])]))
    with pytest.raises(HmtirError, match="prediction must be a float image in \\[0, 1\\], got uint8"):
        list(score_pairs([psnr_metric], [(np.zeros((4, 4), np.uint8), None)]))


# ------------------------------------------------------------------------------ compare's contract


def test_compare_refuses_a_method_output_of_the_wrong_shape(
    tmp_path: Path, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: compare checked NaN only, so a cropped output was drawn and scored against a wider truth."""
    import hmtir.methods
    from hmtir.methods.base import Method, MethodMeta

    class Cropping(Method):
        meta = MethodMeta(name="cropping", kind="reference")

        def restore(self, batch, degradation="composite", scenario="composite"):  # noqa: ANN001, ANN201
            return batch[..., 1:, :]

    class Poisoned(Cropping):
        meta = MethodMeta(name="poisoned", kind="reference")

        def restore(self, batch, degradation="composite", scenario="composite"):  # noqa: ANN001, ANN201
            return batch * float("nan")

    methods = {"cropping": Cropping(), "poisoned": Poisoned()}
    monkeypatch.setattr(hmtir.methods, "load_method", lambda name, device="cpu": methods[name])
    cases = [
        ("cropping", "method 'cropping' returned (1, 1, 127, 160) for a batch of shape (1, 1, 128, 160)"),
        ("poisoned", "method 'poisoned' produced NaN/Inf for composited/normal/street_000.png"),
    ]
    for name, message in cases:
        out = tmp_path / f"{name}.png"
        with pytest.raises(HmtirError, match=re.escape(message)):
            compare_grid(demo, "street_000.png", [name], out)
        result = CliRunner().invoke(
            cli,
            [
                "compare",
                "--data",
                str(demo),
                "--image",
                "street_000.png",
                "--methods",
                name,
                "--out",
                str(out),
            ],
        )
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"Error: {message}"), lines
        assert not out.exists()


def test_markdown_text_is_one_inert_table_cell() -> None:
    plain = "PPFN + SPT (shipped compact)"
    assert markdown_text(plain) == plain
    hostile = "a|b\nc\r\x00d `e` [f](g) *h* _i_ ~j~ $k$ \\ <b>&amp; \"'"
    assert markdown_text(hostile) == (
        "a\\|b c d \\`e\\` \\[f\\](g) \\*h\\* \\_i\\_ \\~j\\~ \\$k\\$ \\\\ &lt;b&gt;&amp;amp; &quot;&#x27;"
    )
