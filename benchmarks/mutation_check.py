"""Mutation check: how many single-line breakages of key behaviours does the test suite notice?

    python benchmarks/mutation_check.py [--list benchmarks/mutations.yaml] [--only ID[,ID...]]
        [--workdir DIR] [--results benchmarks/mutation_results.json] [--timeout 900] [--check]

Each entry of the list (``benchmarks/mutations.yaml``, versioned data) names a file, an exact ``old`` text
that must occur exactly once and its ``new`` text, or a ``replace_with`` Python snippet that writes a
substitute for the whole file (e.g. a checkpoint with random weights); the test files (and optional
``-k``) that concern it; and the one behaviour it breaks. For every entry, one at a time and in list
order, the runner

1. applies the change to a *private copy* of the working tree (``--workdir``, default a sibling folder
   ``<repo>-mutants``; tracked and untracked-but-not-ignored files, re-synchronised at every start, so
   the shared tree is never touched),
2. checks the mutated module still imports (otherwise the mutant is ``invalid``, counted apart),
3. runs the targeted tests there (``pytest -x`` with ``PYTHONPATH`` = the copy, ``--timeout`` wall
   clock) and records ``caught`` (a test failed or errored, or the run hung past the limit) or
   ``survived`` (every selected test passed),
4. restores the file byte for byte (and drops its bytecode) before the next one.

Before the first mutant of a test selection the selection is run unmutated once: a selection that fails
on its own makes its mutants ``invalid`` (a failure there would prove nothing). Results go to
``--results`` (JSON, rewritten after every mutant) and a Markdown table beside it. A mutant is skipped
when the results already hold an outcome for the same key: the sha256 of the file it mutates, of the
mutation itself and of the test files it runs. So an interrupted run resumes, and after a test is
strengthened only the mutants of that test run again. ``--check`` validates the list against the tree
without running anything. Files under the list's ``others`` prefixes are areas other engineers own:
they are scored separately.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LIST = REPO / "benchmarks" / "mutations.yaml"
DEFAULT_RESULTS = REPO / "benchmarks" / "mutation_results.json"
RESULTS_FORMAT = "hmtir-mutation-check/1"
OUTCOMES = ("caught", "survived", "invalid")
TAIL_CHARS = 1500  # of a run's output kept in the results, for a reader who wants to see why


@dataclass(frozen=True)
class Mutation:
    id: str
    area: str
    file: str
    tests: tuple[str, ...]
    breaks: str
    old: str | None = None
    new: str | None = None
    replace_with: str | None = None  # Python snippet; writes the substitute file to $MUTANT_FILE
    k: str | None = None
    timeout: float | None = None

    @property
    def selection(self) -> tuple[str, ...]:
        return (*self.tests, *(("-k", self.k) if self.k else ()))

    def spec_digest(self) -> str:
        spec = {"file": self.file, "old": self.old, "new": self.new, "replace_with": self.replace_with}
        return _sha(json.dumps({**spec, "selection": self.selection}, sort_keys=True).encode())


@dataclass
class MutationList:
    version: int
    others: tuple[str, ...]
    mutations: list[Mutation] = field(default_factory=list)

    def owner(self, mutation: Mutation) -> str:
        return "others" if any(mutation.file.startswith(p) for p in self.others) else "mine"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_list(path: Path) -> MutationList:
    """Parse and validate the mutation list (structure only; see :func:`check_against` for the tree)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("mutations"), list):
        raise SystemExit(f"{path}: expected a mapping with a 'mutations' list")
    known = {f for f in Mutation.__dataclass_fields__}
    mutations, seen = [], set()
    for i, item in enumerate(raw["mutations"]):
        where = f"{path}: mutation #{i + 1}"
        if not isinstance(item, dict):
            raise SystemExit(f"{where}: not a mapping")
        unknown = sorted(set(item) - known)
        if unknown:
            raise SystemExit(f"{where}: unknown key(s) {', '.join(unknown)}")
        missing = [k for k in ("id", "area", "file", "tests", "breaks") if not item.get(k)]
        if missing:
            raise SystemExit(f"{where}: missing {', '.join(missing)}")
        if item["id"] in seen:
            raise SystemExit(f"{where}: id {item['id']!r} is used twice")
        seen.add(item["id"])
        textual = "old" in item or "new" in item
        if textual == ("replace_with" in item) or (textual and not ("old" in item and "new" in item)):
            raise SystemExit(f"{where} ({item['id']}): give either old+new or replace_with")
        if textual and item["old"] == item["new"]:
            raise SystemExit(f"{where} ({item['id']}): old and new are the same text")
        tests = item["tests"] if isinstance(item["tests"], list) else [item["tests"]]
        mutations.append(Mutation(**{**item, "tests": tuple(str(t) for t in tests)}))
    return MutationList(int(raw.get("version", 1)), tuple(raw.get("others") or ()), mutations)


def check_against(mutation: Mutation, root: Path) -> str | None:
    """Why ``mutation`` cannot be applied to the tree at ``root`` (None when it can)."""
    target = root / mutation.file
    if not target.is_file():
        return f"{mutation.file} does not exist"
    for test in mutation.tests:
        if not (root / test.split("::")[0]).is_file():
            return f"test file {test} does not exist"
    if mutation.old is not None:
        count = target.read_text(encoding="utf-8").count(mutation.old)
        if count != 1:
            return f"old text occurs {count} times in {mutation.file} (must be exactly once)"
    return None


# --- the private copy --------------------------------------------------------------------------------


def tree_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files of the checkout at ``root`` (what a commit could hold)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", "surrogateescape")
    return sorted({name for name in out.split("\0") if name and (root / name).is_file()})


def sync_copy(source: Path, copy: Path) -> list[str]:
    """Make ``copy`` hold exactly the files of ``source`` (changed files copied, extra files removed)."""
    names = tree_files(source)
    wanted = set(names)
    copy.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, dst = source / name, copy / name
        st = src.stat()
        try:
            dt = dst.stat()
            if dt.st_size == st.st_size and dt.st_mtime_ns == st.st_mtime_ns:
                continue
        except FileNotFoundError:
            pass
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        _drop_bytecode(dst)
    remove_extras(copy, wanted)
    return names


def remove_extras(copy: Path, wanted: set[str]) -> None:
    """Delete whatever a test run left in the copy outside ``wanted`` (bytecode caches are kept)."""
    for dirpath, dirnames, filenames in os.walk(copy, topdown=True):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), copy)
            if rel not in wanted:
                os.unlink(os.path.join(dirpath, name))
    for dirpath, dirnames, filenames in os.walk(copy, topdown=False):
        if not dirnames and not filenames and Path(dirpath) != copy:
            os.rmdir(dirpath)
        elif Path(dirpath).name == "__pycache__" and not any(Path(dirpath).parent.glob("*.py")):
            shutil.rmtree(dirpath, ignore_errors=True)


def _drop_bytecode(path: Path) -> None:
    """A same-size edit within the same second would otherwise let Python reuse the stale .pyc."""
    if path.suffix == ".py":
        for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            pyc.unlink(missing_ok=True)


def _env(copy: Path, mutant: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["HMTIR_MUTANT"] = mutant
    env.pop("HMTIR_CI", None)  # skips stay skips: a mutant is judged by failures only
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str, float]:
    """(return code or None on timeout, combined output, seconds); the whole process group is ended on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's group, by its id
        output, _ = proc.communicate()
        code = None
    return code, output.decode("utf-8", "replace"), time.monotonic() - start


def pytest_cmd(python: str, selection: tuple[str, ...], per_test: float) -> list[str]:
    return [
        python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
        "-o", "addopts=", f"--timeout={int(per_test)}", *selection,
    ]  # fmt: skip


def first_failure(output: str) -> str | None:
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    if match:
        return match.group(1)
    if "Timeout" in output:
        return "timeout"
    match = re.search(r"^E\s+(.*)$", output, re.MULTILINE)
    return match.group(1)[:200] if match else None


def module_name(file: str) -> str | None:
    if not file.endswith(".py"):
        return None
    parts = Path(file).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# --- running -----------------------------------------------------------------------------------------


class Checker:
    def __init__(
        self,
        listing: MutationList,
        copy: Path,
        results_path: Path,
        python: str,
        timeout: float,
        package: str = "hmtir",
    ):
        self.listing = listing
        self.package = package
        self.copy = copy
        self.results_path = results_path
        self.python = python
        self.timeout = timeout
        self.results: dict[str, Any] = self._load_results()
        self.baselines: dict[str, dict[str, Any]] = self.results.setdefault("baselines", {})
        self.wanted: set[str] = set()

    def _load_results(self) -> dict[str, Any]:
        if self.results_path.is_file():
            data = json.loads(self.results_path.read_text(encoding="utf-8"))
            if data.get("format") == RESULTS_FORMAT:
                return data
        return {"format": RESULTS_FORMAT, "mutants": {}, "baselines": {}}

    def key(self, mutation: Mutation) -> str:
        parts = [mutation.spec_digest(), _sha((self.copy / mutation.file).read_bytes())]
        parts += [_sha((self.copy / t.split("::")[0]).read_bytes()) for t in mutation.tests]
        conftest = self.copy / "tests" / "conftest.py"
        parts.append(_sha(conftest.read_bytes()) if conftest.is_file() else "")
        return _sha("\n".join(parts).encode())

    def baseline_key(self, mutation: Mutation) -> str:
        """The unmutated selection: its test files and the package it tests."""
        digest = hashlib.sha256(json.dumps(mutation.selection).encode())
        for name in sorted(self.wanted):
            if name.startswith((f"{self.package}/", "tests/")):
                digest.update(name.encode() + b"\0" + _sha((self.copy / name).read_bytes()).encode())
        return digest.hexdigest()

    def save(self) -> None:
        """Write the results and the Markdown table beside them; entries of mutants no longer listed are
        dropped, and of the baselines only the latest of each selection still in use is kept."""
        listed = {m.id for m in self.listing.mutations}
        selections = {repr(list(m.selection)) for m in self.listing.mutations}
        self.results["mutants"] = {k: v for k, v in self.results["mutants"].items() if k in listed}
        newest: dict[str, tuple[float, str]] = {}  # selection -> (time, key) of its latest baseline
        for key, record in self.baselines.items():
            sel = repr(record["selection"])
            if sel in selections and record.get("at", 0) >= newest.get(sel, (-1.0, ""))[0]:
                newest[sel] = (record.get("at", 0), key)
        self.baselines = {key: self.baselines[key] for _, key in newest.values()}
        self.results["baselines"] = self.baselines
        self.results["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        tmp = self.results_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.results_path)
        write_markdown(self.listing, self.results, self.results_path.with_suffix(".md"))

    def baseline(self, mutation: Mutation, per_test: float) -> dict[str, Any]:
        key = self.baseline_key(mutation)
        if key not in self.baselines:
            code, output, seconds = _run(
                pytest_cmd(self.python, mutation.selection, per_test),
                self.copy,
                _env(self.copy, "baseline"),
                self.timeout,
            )
            self.baselines[key] = {
                "selection": list(mutation.selection),
                "passed": code == 0,
                "seconds": round(seconds, 1),
                "at": round(time.time(), 1),
                "tail": "" if code == 0 else output[-TAIL_CHARS:],
            }
            remove_extras(self.copy, self.wanted)
            self.save()
        return self.baselines[key]

    def run_one(self, mutation: Mutation) -> dict[str, Any]:
        target = self.copy / mutation.file
        problem = check_against(mutation, self.copy)
        record: dict[str, Any] = {"id": mutation.id, "area": mutation.area, "file": mutation.file}
        record["owner"] = self.listing.owner(mutation)
        if problem is not None:
            return {**record, "outcome": "invalid", "why": problem, "key": None}
        key = self.key(mutation)
        previous = self.results["mutants"].get(mutation.id)
        if previous is not None and previous.get("key") == key:
            return previous
        timeout = float(mutation.timeout or self.timeout)
        per_test = max(30.0, min(300.0, timeout - 10))
        base = self.baseline(mutation, per_test)
        record["key"] = key
        if not base["passed"]:
            return {**record, "outcome": "invalid", "why": "the selected tests fail without the mutation"}
        original = target.read_bytes()
        start = time.monotonic()
        try:
            why = self._apply(mutation, target, original)
            if why is None:
                why = self._imports(mutation)
            if why is not None:
                return {**record, "outcome": "invalid", "why": why}
            code, output, seconds = _run(
                pytest_cmd(self.python, mutation.selection, per_test),
                self.copy,
                _env(self.copy, mutation.id),
                timeout,
            )
        finally:
            target.write_bytes(original)
            _drop_bytecode(target)
            remove_extras(self.copy, self.wanted)
        if code == 0:
            outcome, why = "survived", "every selected test passed"
        elif code in (4, 5):
            outcome, why = "invalid", f"pytest exit {code} (bad selection or no tests collected)"
        else:
            outcome = "caught"
            why = "timeout" if code is None else first_failure(output) or f"pytest exit {code}"
        return {
            **record,
            "outcome": outcome,
            "why": why,
            "seconds": round(time.monotonic() - start, 1),
            "test_seconds": round(seconds, 1),
            "tail": "" if outcome == "caught" else output[-TAIL_CHARS:],
        }

    def _apply(self, mutation: Mutation, target: Path, original: bytes) -> str | None:
        if mutation.old is not None:
            text = original.decode("utf-8")
            if text.count(mutation.old) != 1:
                return f"old text occurs {text.count(mutation.old)} times"
            target.write_text(text.replace(mutation.old, mutation.new or ""), encoding="utf-8")
        else:
            env = {**_env(self.copy, mutation.id), "MUTANT_FILE": str(target)}
            code, output, _ = _run([self.python, "-c", mutation.replace_with or ""], self.copy, env, 600)
            if code != 0:
                return f"replace_with snippet failed: {output.strip().splitlines()[-1:]}"
            if target.read_bytes() == original:
                return "replace_with snippet left the file unchanged"
        _drop_bytecode(target)
        return None

    def _imports(self, mutation: Mutation) -> str | None:
        module = module_name(mutation.file)
        if module is None:
            return None
        code, output, _ = _run(
            [self.python, "-c", f"import importlib; importlib.import_module({module!r})"],
            self.copy,
            _env(self.copy, mutation.id),
            300,
        )
        if code != 0:
            last = output.strip().splitlines()[-1] if output.strip() else f"exit {code}"
            return f"the mutant does not import: {last[:200]}"
        return None


def score(listing: MutationList, results: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Counts per owner and in total; only mutants of the current list count."""
    counts: dict[str, dict[str, int]] = {who: dict.fromkeys(OUTCOMES, 0) for who in ("mine", "others", "all")}
    for m in listing.mutations:
        record = results["mutants"].get(m.id)
        if record is None:
            continue
        for who in (listing.owner(m), "all"):
            counts[who][record["outcome"]] += 1
    return counts


def _rate(c: dict[str, int]) -> str:
    valid = c["caught"] + c["survived"]
    pct = f"{100 * c['caught'] / valid:.1f} %" if valid else "n/a"
    return f"{c['caught']}/{valid} caught ({pct}), {c['invalid']} invalid"


def write_markdown(listing: MutationList, results: dict[str, Any], path: Path) -> None:
    counts = score(listing, results)
    lines = [
        "# Mutation check — `python benchmarks/mutation_check.py`",
        "",
        f"Updated {results.get('updated', '?')}. Score: **{_rate(counts['all'])}**; "
        f"areas of this list's owner: {_rate(counts['mine'])}; areas owned by others: {_rate(counts['others'])}.",
        "",
        "| # | id | area | owner | file | behaviour it breaks | outcome | first failing test / why | s |",
        "|---:|---|---|---|---|---|---|---|---:|",
    ]
    for i, m in enumerate(listing.mutations, 1):
        r = results["mutants"].get(m.id, {})
        why = str(r.get("why", "")).replace("|", "\\|")
        lines.append(
            f"| {i} | {m.id} | {m.area} | {listing.owner(m)} | `{m.file}` | {m.breaks} | "
            f"{r.get('outcome', 'not run')} | {why} | {r.get('seconds', '')} |"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", type=Path, default=DEFAULT_LIST)
    parser.add_argument("--only", default="", help="comma-separated mutant ids (default: all)")
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to copy (default: this one)")
    parser.add_argument("--workdir", type=Path, default=None, help="private copy (default <repo>-mutants)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--timeout", type=float, default=900.0, help="wall-clock seconds per test run")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--package", default="hmtir", help="the package the copy must import (probe)")
    parser.add_argument("--check", action="store_true", help="validate the list against the tree and stop")
    args = parser.parse_args(argv)

    listing = load_list(args.list)
    source = args.source.resolve()
    if args.check:
        problems = [(m.id, check_against(m, source)) for m in listing.mutations]
        for mid, problem in problems:
            if problem:
                print(f"{mid}: {problem}")
        print(f"{len(listing.mutations)} mutations, {sum(p is not None for _, p in problems)} not applicable")
        return 1 if any(p for _, p in problems) else 0

    copy = (args.workdir or source.parent / f"{source.name}-mutants").resolve()
    if copy == source or source in copy.parents:
        raise SystemExit(f"--workdir {copy} must lie outside {source}")
    wanted = set(sync_copy(source, copy))
    probe = f"import {args.package}; print({args.package}.__file__)"
    code, output, _ = _run([args.python, "-c", probe], copy, _env(copy, "probe"), 300)
    if code != 0 or not output.strip().startswith(str(copy)):
        raise SystemExit(
            f"`import {args.package}` does not resolve to the copy {copy}: {output.strip()[-300:]}"
        )

    checker = Checker(listing, copy, args.results.resolve(), args.python, args.timeout, args.package)
    checker.wanted = wanted
    only = {s for s in args.only.split(",") if s}
    unknown = only - {m.id for m in listing.mutations}
    if unknown:
        raise SystemExit(f"unknown mutant id(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    for m in listing.mutations:
        if only and m.id not in only:
            continue
        record = checker.run_one(m)
        fresh = checker.results["mutants"].get(m.id) is not record
        checker.results["mutants"][m.id] = record
        if fresh:
            checker.save()
        print(f"{m.id:<38} {record['outcome']:<9} {record.get('why', '')}"[:160], flush=True)
    checker.results["last_run_seconds"] = round(time.monotonic() - started, 1)
    checker.save()
    counts = score(listing, checker.results)
    print(
        f"score: {_rate(counts['all'])} | mine: {_rate(counts['mine'])} | others: {_rate(counts['others'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
