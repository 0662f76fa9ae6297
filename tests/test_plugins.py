"""Methods from outside hmtir (``module:factory``, ``file.py:factory``) and entry-point plugins.

Nothing is installed: a plugin is a ``*.dist-info`` (METADATA + entry_points.txt) and its package in a
temporary folder put on ``sys.path``, which is all ``importlib.metadata`` reads. The registries rediscover
plugins whenever ``sys.path`` changes, so each test sees exactly the plugins it made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.errors import HmtirError
from hmtir.evaluation import evaluate
from hmtir.methods import METHODS, load_method
from hmtir.metrics import create_metric
from tests.test_evaluate import make_layout

METHODS_PY = '''
import torch


class Sharpen(torch.nn.Module):
    """Adds a fraction of the Laplacian back (a fixed-kernel test network)."""

    def __init__(self, amount=0.5):
        super().__init__()
        kernel = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]) * amount
        kernel[1, 1] += 1.0
        self.register_buffer("kernel", kernel.view(1, 1, 3, 3))

    def forward(self, x):
        return torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel)


class Prompted(torch.nn.Module):
    seen = []

    def forward(self, x, degradation, scenario="composite"):
        Prompted.seen.append((degradation, scenario))
        return x


class Narrow(torch.nn.Module):
    def forward(self, x):
        return x[..., 1:]


class Poisoned(torch.nn.Module):
    def forward(self, x):
        return x / 0.0 * 0.0


class NeedsMore(torch.nn.Module):
    def forward(self, x, mask):
        return x


def sharpen(amount=0.5):
    return Sharpen(amount)


def prompted():
    return Prompted()


def narrow():
    return Narrow()


def poisoned():
    return Poisoned()


def needs_more():
    return NeedsMore()


def raises():
    raise RuntimeError("no weights here")


def text():
    return "not a method"


def method():
    from hmtir.methods import Method, MethodMeta

    class Halve(Method):
        def __init__(self):
            self.meta = MethodMeta(name="halve", kind="classical", summary="halves every value")

        def restore(self, batch, degradation="composite", scenario="composite"):
            return batch * 0.5

    return Halve()
'''

METRICS_PY = """
from hmtir.metrics import Metric, MetricMeta


class Mean(Metric):
    def _score(self, pred, target):
        return pred.flatten(1).mean(1)


def mean(quantize_8bit=False):
    return Mean(MetricMeta(name="whatever", mode="NR", summary="mean grey level"), quantize_8bit=quantize_8bit)


def broken(quantize_8bit=False):
    return 42
"""

BENCH_PY = """
DEFINITION = {
    "version": 1,
    "title": "A plugin's benchmark",
    "description": "two subsets of somebody's frames",
    "subsets": ["composited/normal", "single/noise"],
    "primary_metric": {"composited/normal": "psnr", "single/noise": "psnr"},
}
"""


def make_package(root: Path, package: str) -> Path:
    """A package ``package`` (methods, metrics, bench modules) under ``root``."""
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "methods.py").write_text(METHODS_PY)
    (folder / "metrics.py").write_text(METRICS_PY)
    (folder / "bench.py").write_text(BENCH_PY)
    return folder


def make_dist(root: Path, name: str, version: str, entry_points: str) -> Path:
    """A distribution's installed metadata: what ``pip install`` would leave in site-packages."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return info


def add_dist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, version: str, entry_points: str
) -> None:
    """One more distribution in its own folder on ``sys.path`` (as a second site-packages would be)."""
    root = tmp_path / f"site-{name}"
    make_dist(root, name, version, entry_points)
    monkeypatch.syspath_prepend(str(root))


@pytest.fixture
def plugin_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.fixture
def plugin(plugin_root: Path, request: pytest.FixtureRequest) -> str:
    """One plugin distribution with a method, a prompted method, a metric and a benchmark; its package name."""
    package = f"plug_{abs(hash(request.node.nodeid)) % 10**8}"
    make_package(plugin_root, package)
    make_dist(
        plugin_root,
        "hmtir-test-plugin",
        "1.2.3",
        f"""
        [hmtir.methods]
        plug-sharpen = {package}.methods:sharpen
        plug-prompted = {package}.methods:prompted
        plug-broken = {package}.methods:text
        [hmtir.metrics]
        plug-mean = {package}.metrics:mean
        plug-broken = {package}.metrics:broken
        [hmtir.benchmarks]
        plug-bench = {package}.bench:DEFINITION
        """,
    )
    return package


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return make_layout(tmp_path / "bench")


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    path = folder / "filters.py"
    path.write_text(METHODS_PY)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


# --- file.py:factory and module:factory ---------------------------------------------------------------


def test_a_file_factory_returning_a_module_runs_under_the_restore_contract(code: Path) -> None:
    method = load_method(f"{code}:sharpen")
    assert method.name == "filters-sharpen"  # a folder-safe slug, no dot (a dot would read as a weights tag)
    assert method.meta.summary.startswith("Adds a fraction of the Laplacian")
    batch = torch.rand(2, 1, 12, 16)
    out = method(batch, "blur")
    assert out.shape == batch.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert not torch.equal(out, batch)
    source = method.describe()["source"]
    import hashlib

    assert source["kind"] == "file" and source["sha256"] == hashlib.sha256(code.read_bytes()).hexdigest()
    assert method.weights_sha256 is not None  # the module's buffers are its weights
    assert load_method(f"{code}:sharpen", amount=1.0).weights_sha256 != method.weights_sha256


def test_prompts_are_passed_only_to_a_forward_that_takes_them(code: Path) -> None:
    method = load_method(f"{code}:prompted")
    assert method.meta.uses_prompts
    module = method.module  # type: ignore[attr-defined]
    type(module).seen.clear()
    method(torch.rand(1, 1, 8, 8), "blur")
    assert type(module).seen == [("blur", "single")]
    assert not load_method(f"{code}:sharpen").meta.uses_prompts  # forward(x): called with x alone


def test_a_module_factory_returning_a_method_keeps_it_and_names_the_run_after_the_target(
    plugin_root: Path,
) -> None:
    make_package(plugin_root, "mod_target_pkg")
    method = load_method("mod_target_pkg.methods:method")
    assert method.name == "mod_target_pkg-methods-method" and method.meta.kind == "classical"
    assert torch.allclose(method(torch.full((1, 1, 4, 4), 0.8)), torch.full((1, 1, 4, 4), 0.4))
    source = method.describe()["source"]
    assert source["kind"] == "module" and source["files"] == 4 and len(source["sha256"]) == 64


def test_a_weights_tag_is_still_a_registry_name_and_the_colon_form_is_not() -> None:
    with pytest.raises(HmtirError, match="unknown method 'nosuch'"):
        load_method("nosuch.dim")
    with pytest.raises(HmtirError, match=r"method nosuch\.dim:x: module nosuch\.dim does not import"):
        load_method("nosuch.dim:x")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_pkg.mod:factory", "method no_such_pkg.mod:factory: module no_such_pkg.mod does not import"),
        ("{code}:raises", "method {code}:raises: the factory raised RuntimeError: no weights here"),
        (
            "{code}:text",
            "method {code}:text: the factory returned str, not a hmtir Method or a torch.nn.Module",
        ),
        ("{code}:narrow", "method {code}:narrow: output has shape (1, 1, 64, 63) for input (1, 1, 64, 64)"),
        ("{code}:poisoned", "method {code}:poisoned produced NaN/Inf"),
        ("{code}:needs_more", "method {code}:needs_more: NeedsMore.forward needs mask"),
        ("{code}:absent", "method {code}:absent: {code} has no attribute absent"),
        ("{missing}:factory", "method {missing}:factory: {missing} does not exist"),
        ("{syntax}:factory", "method {syntax}:factory: {syntax} does not import (SyntaxError"),
    ],
)
def test_bad_external_methods_are_one_line_a_nonzero_exit_and_nothing_written(
    code: Path, layout: Path, tmp_path: Path, target: str, message: str
) -> None:
    syntax = code.with_name("broken.py")
    syntax.write_text("def factory(:\n")
    names = {"code": code, "missing": code.with_name("missing.py"), "syntax": syntax}
    out = tmp_path / "out"
    status, output = invoke(
        "evaluate", "--method", target.format(**names), "--data", str(layout), "--device", "cpu",
        "--metrics", "psnr", "--out", str(out),
    )  # fmt: skip
    assert status == 1
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert message.format(**names) in output
    assert not out.exists()


def test_results_name_the_code_and_an_edit_never_reuses_a_cached_score(
    code: Path, layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"{code}:sharpen"
    first = evaluate(target, data=layout, metrics="psnr", device="cpu", progress=False)
    assert first.out.parts[:2] == ("results", "filters-sharpen")
    recorded = first.summary["method"]["source"]
    assert recorded == first.summary["run"]["method_source"] and recorded["file"] == str(code)
    again = evaluate(target, data=layout, metrics="psnr", device="cpu", progress=False)
    assert again.loaded and again.out == first.out
    code.write_text(
        METHODS_PY.replace("return torch.nn.functional.conv2d(", "return 0.9 * torch.nn.functional.conv2d(")
    )
    edited = evaluate(target, data=layout, metrics="psnr", device="cpu", progress=False)
    assert not edited.loaded and edited.out != first.out
    assert edited.summary["method"]["source"]["sha256"] != recorded["sha256"]
    assert edited.records["psnr"].tolist() != first.records["psnr"].tolist()
    # an interrupted run of the old code (its cache kept, no summary) resumed after the edit: the cache key
    # covers the code, so not one stale score is served
    (first.out / "summary.json").unlink()
    for name in ("records.parquet", "records.csv"):
        (first.out / name).unlink(missing_ok=True)
    resumed = evaluate(target, data=layout, metrics="psnr", device="cpu", progress=False, out=first.out)
    assert resumed.records["psnr"].tolist() == edited.records["psnr"].tolist()


# --- entry-point plugins ----------------------------------------------------------------------------


def test_plugins_are_listed_with_distribution_and_version_without_being_imported(plugin: str) -> None:
    status, output = invoke("list", "methods", "metrics", "benchmarks", "--json")
    assert status == 0, output
    listed = json.loads(output)
    row = listed["methods"]["plug-sharpen"]
    assert row["distribution"] == "hmtir-test-plugin" and row["version"] == "1.2.3"
    assert row["entry_point"] == f"{plugin}.methods:sharpen"
    assert listed["metrics"]["plug-mean"]["plugin"] == "hmtir-test-plugin 1.2.3"
    assert listed["benchmarks"]["plug-bench"]["plugin"] == "hmtir-test-plugin 1.2.3"
    assert f"{plugin}.methods" not in sys.modules and f"{plugin}.metrics" not in sys.modules
    status, table = invoke("list", "methods")
    assert status == 0 and "plug-sharpen" in table and "hmtir-test-plugin 1.2.3" in table


def test_listing_plugins_needs_no_torch(plugin: str, plugin_root: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["torch"] = None
        sys.path.insert(0, {str(plugin_root)!r})
        sys.argv = ["hmtir", "list", "methods", "metrics", "--json"]
        from hmtir.cli import cli
        try:
            cli()
        finally:
            print("loaded:", [m for m in ("torch", {plugin + ".methods"!r}) if sys.modules.get(m)], file=sys.stderr)
        """
    )
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stderr
    assert json.loads(done.stdout)["methods"]["plug-sharpen"]["version"] == "1.2.3"


def test_a_plugin_method_and_metric_evaluate_and_record_their_distribution(
    plugin: str, plugin_root: Path, layout: Path, tmp_path: Path
) -> None:
    result = evaluate("plug-sharpen", data=layout, metrics="psnr,plug-mean", device="cpu", progress=False,
                      out=tmp_path / "r")  # fmt: skip
    source = result.summary["method"]["source"]
    assert source["kind"] == "plugin" and source["distribution"] == "hmtir-test-plugin"
    assert source["version"] == "1.2.3" and source["entry_point"] == f"{plugin}.methods:sharpen"
    assert result.summary["run"]["method_source"] == source
    metric = result.summary["metrics"]["plug-mean"]
    assert metric["mode"] == "NR" and metric["definition"]["source"]["version"] == "1.2.3"
    assert set(result.records["method"]) == {"plug-sharpen"} and result.records["plug-mean"].notna().all()
    # editing any file of the plugin's package changes its identity: the run is not loaded again
    (plugin_root / plugin / "bench.py").write_text(BENCH_PY + "\n# edited\n")
    again = evaluate("plug-sharpen", data=layout, metrics="psnr,plug-mean", device="cpu", progress=False,
                     out=tmp_path / "r2")  # fmt: skip
    assert again.summary["method"]["source"]["sha256"] != source["sha256"]


def test_a_plugin_factory_of_the_wrong_type_is_one_line(plugin: str, layout: Path, tmp_path: Path) -> None:
    with pytest.raises(
        HmtirError, match=r"plug-broken \(plugin hmtir-test-plugin 1.2.3\): the factory returned str"
    ):
        load_method("plug-broken")
    with pytest.raises(
        HmtirError, match=r"metric plug-broken \(plugin hmtir-test-plugin 1.2.3\).*returned int"
    ):
        create_metric("plug-broken")


def test_a_plugin_module_that_does_not_import_is_one_line_naming_the_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_dist(
        tmp_path, monkeypatch, "ghost-plugin", "0.1", "[hmtir.methods]\nghost = ghost_pkg_absent.mod:build\n"
    )
    with pytest.raises(
        HmtirError, match=r"plugin ghost-plugin 0.1: ghost = ghost_pkg_absent.mod:build does not load"
    ):
        load_method("ghost")


def test_a_name_clashing_with_a_built_in_is_refused_in_one_line(
    plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_dist(tmp_path, monkeypatch, "rogue", "2.0", f"[hmtir.methods]\nidentity = {plugin}.methods:sharpen\n")
    status, output = invoke("list", "methods")
    assert status == 1
    line = "plugin rogue 2.0: method 'identity' clashes with hmtir's built-in method 'identity'"
    assert output.strip().splitlines()[-1].startswith(f"Error: {line}")
    with pytest.raises(HmtirError, match=line):
        load_method("identity")


def test_a_name_two_plugins_claim_is_refused_naming_both(plugin: str, plugin_root: Path) -> None:
    make_dist(
        plugin_root, "second-plugin", "0.9", f"[hmtir.methods]\nplug-sharpen = {plugin}.methods:narrow\n"
    )
    with pytest.raises(HmtirError) as err:
        load_method("plug-sharpen")
    message = str(err.value)
    assert "method 'plug-sharpen' is claimed by two plugins" in message and "\n" not in message
    assert "hmtir-test-plugin 1.2.3" in message and "second-plugin 0.9" in message
    assert load_method("plug-prompted").name == "plug-prompted"  # the rest of the plugin still works


def test_a_plugin_registering_a_name_twice_is_refused(
    plugin: str, layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    twice = f"[hmtir.methods]\ntwin = {plugin}.methods:sharpen\ntwin = {plugin}.methods:narrow\n"
    add_dist(tmp_path, monkeypatch, "twice", "1.0", twice)
    out = tmp_path / "out"
    status, output = invoke("evaluate", "--method", "twin", "--data", str(layout), "--device", "cpu",
                            "--metrics", "psnr", "--out", str(out))  # fmt: skip
    assert status == 1 and output.count("\n") == 1
    assert "plugin twice 1.0 registers method 'twin' twice" in output
    assert not out.exists()


def test_a_plugin_name_that_is_not_a_slug_is_refused(
    plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_dist(
        tmp_path, monkeypatch, "dotted", "1.0", f"[hmtir.methods]\nmy.method = {plugin}.methods:sharpen\n"
    )
    with pytest.raises(HmtirError, match=r"plugin dotted 1.0: method name 'my.method'.*no '\.'"):
        load_method("my.method")  # refused as a plugin name before it could read as a weights tag


def test_a_plugin_benchmark_is_registered_and_a_clash_with_a_shipped_one_refused(
    plugin: str, plugin_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.leaderboard.benchmarks import benchmarks, get_benchmark

    bench = get_benchmark("plug-bench")
    assert bench.subsets == ("composited/normal", "single/noise") and bench.source.startswith("plugin ")
    add_dist(
        tmp_path, monkeypatch, "rogue-bench", "3.0", f"[hmtir.benchmarks]\ndemo = {plugin}.bench:DEFINITION\n"
    )
    with pytest.raises(
        HmtirError, match="plugin rogue-bench 3.0: benchmark 'demo' clashes with hmtir's built-in"
    ):
        benchmarks()


def test_without_the_plugin_on_the_path_its_names_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "gone"
    make_package(root, "gone_pkg")
    make_dist(root, "gone-plugin", "1.0", "[hmtir.methods]\ngone-method = gone_pkg.methods:sharpen\n")
    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(root))
        assert "gone-method" in METHODS.names()
    assert "gone-method" not in METHODS.names()


def test_a_module_in_the_current_folder_is_found_as_python_m_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here_model_x.py").write_text(METHODS_PY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    method = load_method("here_model_x:sharpen")
    assert method.name == "here_model_x-sharpen" and method.describe()["source"]["files"] == 1
    assert str(tmp_path) not in sys.path  # only while importing
