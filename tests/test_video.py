"""Thermal video through `hmtir enhance`: tiny clips written in-test with PyAV (gray8 and gray16).

Round trips keep frame count, rate, timestamps and (FFV1) every grey level; a clip gets one prompt decision
and a smoothed AGC, both recorded; bad clips are one line, exit 1, and nothing under the final name;
read-ahead/write-behind keep the order and stop on the first error.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.clips import prepare_clip, sample_indices, smooth
from hmtir.errors import HmtirError
from hmtir.io.video import ClipWriter, check_codec, output_suffix, probe, same_timeline
from hmtir.stream import pipeline


def write_clip(
    path: Path,
    frames: list[np.ndarray],
    rate: int = 15,
    pts: list[int] | None = None,
    codec: str = "ffv1",
    source_format: str | None = None,
) -> Path:
    """A clip of ``frames`` (uint8 → gray, uint16 → gray16le; H×W×3 uint8 → yuv420p colour)."""
    colour = frames[0].ndim == 3
    fmt = source_format or ("rgb24" if colour else "gray" if frames[0].dtype == np.uint8 else "gray16le")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p" if colour else fmt
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, rate)
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format=fmt)
            if pts is not None:
                frame.pts, frame.time_base = pts[index], Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode(path: Path) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    probe(path, lambda _, pixels: frames.append(pixels))
    return frames


def counts16(
    n: int = 8, shape: tuple[int, int] = (32, 40), seed: int = 0, drift: int = 15
) -> list[np.ndarray]:
    """Raw 16-bit counts in a narrow band (7000–9500 of 65535), a warm square, noise, a slow drift."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = 7000 + np.linspace(0, 1500, w)[None, :] + np.linspace(0, 400, h)[:, None]
    base[h // 4 : h // 2, w // 3 : w // 2] += 600
    return [
        np.clip(base + rng.normal(0, 40, shape) + drift * i, 0, 65535).astype(np.uint16) for i in range(n)
    ]


def grey8(n: int = 8, shape: tuple[int, int] = (32, 40), seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = shape
    base = 40 + np.linspace(0, 170, w)[None, :] + np.zeros((h, 1))
    return [np.clip(base + rng.normal(0, 6, shape), 0, 255).astype(np.uint8) for _ in range(n)]


def _enhance(*args: str) -> object:
    return CliRunner().invoke(cli, ["enhance", *args, "--device", "cpu"])


def _one_line_error(result: object, *needles: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert "Traceback" not in output
    for needle in needles:
        assert needle in lines[0], output


@pytest.mark.parametrize("suffix", [".mkv", ".avi", ".mp4"])
@pytest.mark.parametrize("kind", ["gray8", "gray16"])
def test_ffv1_round_trip_keeps_count_rate_timestamps_and_every_grey_level(
    tmp_path: Path, suffix: str, kind: str
) -> None:
    frames = grey8() if kind == "gray8" else counts16()
    source = write_clip(tmp_path / f"in{suffix}", frames)
    info = probe(source)
    assert info.frames == len(frames) and info.rate == 15
    assert info.dtype == ("uint8" if kind == "gray8" else "uint16")
    target = tmp_path / f"out{suffix}"
    with ClipWriter(target, info) as writer:
        for pts, pixels in zip(info.pts, decode(source)):
            writer.write(pixels, pts)
    again = probe(target)
    assert same_timeline(info, again) is None and again.pts == info.pts and again.time_base == info.time_base
    assert again.pix_fmt == info.pix_fmt and again.codec == "ffv1"
    assert all(np.array_equal(a, b) for a, b in zip(decode(target), frames))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, target.name])  # no temporaries


def test_png_codec_keeps_16_bit_and_an_interrupted_writer_leaves_nothing(tmp_path: Path) -> None:
    frames = counts16(6)
    info = probe(write_clip(tmp_path / "in.mkv", frames))
    assert output_suffix("in.mkv", "png") == ".mov" and output_suffix("in.avi", "png") == ".avi"
    assert output_suffix("in.mov") == ".mkv" and output_suffix("in.mp4") == ".mp4"
    with ClipWriter(tmp_path / "png.mov", info, codec="png") as writer:
        for pts, pixels in zip(info.pts, frames):
            writer.write(pixels, pts)
    assert (
        probe(tmp_path / "png.mov").codec == "png"
        and same_timeline(info, probe(tmp_path / "png.mov")) is None
    )
    assert all(np.array_equal(a, b) for a, b in zip(decode(tmp_path / "png.mov"), frames))
    with pytest.raises(RuntimeError), ClipWriter(tmp_path / "cut.mkv", info) as writer:
        writer.write(frames[0], info.pts[0])
        raise RuntimeError("interrupted")
    with pytest.raises(HmtirError, match="2 of 6 frames were written; not kept"):
        with ClipWriter(tmp_path / "short.mkv", info) as writer:
            writer.write(frames[0], info.pts[0])
            writer.write(frames[1], info.pts[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv", "png.mov"]  # no temporaries either


def test_codec_choice_is_checked_against_the_grey_depth() -> None:
    assert check_codec(None, "uint16", "gray16le") == ("ffv1", "gray16le")
    assert check_codec("png", "uint16", "gray16le") == ("png", "gray16be")
    assert check_codec("libx264", "uint8") == ("libx264", "gray")
    with pytest.raises(HmtirError, match="--codec nosuch: no such video encoder is installed"):
        check_codec("nosuch", "uint8")
    with pytest.raises(HmtirError, match="cannot store uint8 grey frames"):
        check_codec("mpeg4", "uint8")
    with pytest.raises(HmtirError, match="cannot store uint16 grey frames"):
        check_codec("libx264", "uint16", "gray16le")


def test_enhance_identity_keeps_the_timeline_and_records_the_smoothed_agc(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    clip16 = write_clip(tmp_path / "in" / "raw.mkv", counts16(10, drift=40))
    clip8 = write_clip(tmp_path / "in" / "agc.avi", grey8(7))
    out = tmp_path / "out"
    result = _enhance(
        str(tmp_path / "in"), "--out", str(out), "--method", "identity", "--degradation", "noise"
    )
    assert result.exit_code == 0, result.output
    assert "2 clip(s), 17 frame(s) written" in result.output and "frames/s" in result.output
    for source, target in ((clip16, out / "in" / "raw.mkv"), (clip8, out / "in" / "agc.avi")):
        assert same_timeline(probe(source), probe(target)) is None
        diff = [np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(decode(source), decode(target))]
        assert max(diff) <= 1  # identity through display and back: rounding only
        record = json.loads(target.with_name(target.name + ".json").read_text())
        assert record["frames"] == probe(source).frames and record["output"] == target.name
        assert record["degradation"] == "noise" and record["stability"]["ratio_to_input"] == pytest.approx(
            1, abs=1e-3
        )
    raw = json.loads((out / "in" / "raw.mkv.json").read_text())
    assert raw["mapping"]["mode"] == "percentile" and raw["mapping"]["window_frames"] == 15
    steps = raw["mapping"]["largest_frame_to_frame_step"]
    assert steps["smoothed_low"] < steps["unsmoothed_low"]
    assert json.loads((out / "in" / "agc.avi.json").read_text())["mapping"]["mode"] == "full"
    # a second run refuses to replace them, and never takes the outputs as inputs
    again = _enhance(
        str(tmp_path / "in"), "--out", str(out), "--method", "identity", "--degradation", "noise"
    )
    _one_line_error(again, "already exists")


def test_smoothing_and_sampling() -> None:
    values = np.array([0.0, 0, 0, 10, 0, 0, 0])
    assert smooth(values, 3).tolist() == pytest.approx([0, 0, 10 / 3, 10 / 3, 10 / 3, 0, 0])
    assert smooth(values, 1).tolist() == values.tolist()
    assert sample_indices(5) == [0, 1, 2, 3, 4]
    picked = sample_indices(100, 16)
    assert len(picked) == 16 and picked[0] == 0 and picked[-1] == 99


def test_auto_decides_once_per_clip_with_the_shipped_ppfn(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    clean = counts16(6, shape=(48, 64), drift=5)
    noisy = [np.clip(f + rng.normal(0, 150, f.shape), 0, 65535).astype(np.uint16) for f in clean]
    source = write_clip(tmp_path / "noisy.mkv", noisy)
    out = tmp_path / "out"
    result = _enhance(str(source), "--out", str(out))
    assert result.exit_code == 0, result.output
    target = out / "noisy.mkv"
    assert same_timeline(probe(source), probe(target)) is None and probe(target).dtype == "uint16"
    record = json.loads((out / "noisy.mkv.json").read_text())
    decision = record["decision"]
    assert decision["sampled_frames"] == [0, 1, 2, 3, 4, 5] and record["method"] == "ppfn"
    assert record["degradation"] == decision["degradation"] == record["estimate"]["degradation"]
    assert sum(decision["per_frame_decisions"].values()) == 6
    assert record["estimator"]["weights_sha256"] and record["stability"]["ratio_to_input"] > 0
    if record["degradation"] != "clean":  # the network changed the frames, within the input's units
        outputs = decode(target)
        assert any(not np.array_equal(a, b) for a, b in zip(outputs, noisy))


def test_prepare_clip_judges_a_sample_and_refuses_an_unjudgeable_clip(tmp_path: Path) -> None:
    from hmtir.estimate import load_estimator

    estimator = load_estimator()
    plan = prepare_clip(write_clip(tmp_path / "ok.mkv", counts16(20, shape=(48, 64))), estimator=estimator)
    assert plan.decision_record is not None and len(plan.decision_record["sampled_frames"]) == 16
    small = write_clip(tmp_path / "small.mkv", counts16(3))
    with pytest.raises(HmtirError, match="cannot choose prompts for .*small.mkv: .*too small"):
        prepare_clip(small, estimator=estimator)


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize(
    "case",
    [
        "truncated-mkv",
        "truncated-avi",
        "random-bytes",
        "zero-frames",
        "colour",
        "variable-rate",
        "codec",
        "mpeg4",
    ],
)
def test_bad_clips_are_one_line_exit_1_and_nothing_written(tmp_path: Path, case: str) -> None:
    extra: list[str] = []
    if case == "truncated-mkv":
        clip, needle = _cut(write_clip(tmp_path / "c.mkv", counts16(10)), 0.7), "truncated or corrupt"
    elif case == "truncated-avi":
        clip, needle = _cut(write_clip(tmp_path / "c.avi", grey8(10)), 0.6), "c.avi"
    elif case == "random-bytes":
        clip, needle = tmp_path / "c.mp4", "not a readable video"
        clip.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif case == "zero-frames":
        clip, needle = tmp_path / "c.avi", "0 frames"
        with av.open(str(clip), "w") as container:
            stream = container.add_stream("ffv1", rate=15)
            stream.width, stream.height, stream.pix_fmt = 40, 32, "gray"
            container.start_encoding()
    elif case == "colour":
        rgb = [np.dstack([g, np.roll(g, 5, 1), 255 - g]) for g in grey8(4)]
        clip, needle = write_clip(tmp_path / "c.mkv", rgb), "colour frame"
    elif case == "variable-rate":
        clip, needle = write_clip(tmp_path / "c.mkv", grey8(6), pts=[0, 1, 2, 4, 5, 9]), "variable frame rate"
    elif case == "codec":
        clip, needle = write_clip(tmp_path / "c.mkv", grey8(4)), "no such video encoder"
        extra = ["--codec", "nosuch"]
    else:
        clip, needle = write_clip(tmp_path / "c.mkv", counts16(4)), "cannot store uint16 grey"
        extra = ["--codec", "libx264"]
    out = tmp_path / "out"
    result = _enhance(str(clip), "--out", str(out), "--method", "identity", "--degradation", "blur", *extra)
    _one_line_error(result, needle)
    assert not out.exists()


def test_an_interrupted_clip_leaves_no_final_file_and_a_rerun_writes_it_whole(tmp_path: Path) -> None:
    from hmtir.enhance import enhance_paths, plan_outputs
    from hmtir.methods import load_method

    source = write_clip(tmp_path / "c.mkv", counts16(8))
    out = tmp_path / "out"
    identity = load_method("identity")
    calls = [0]

    class Failing(type(identity)):  # type: ignore[misc]
        def restore(self, batch, degradation=None, scenario=None):  # type: ignore[no-untyped-def]
            calls[0] += 1
            if calls[0] == 5:
                raise KeyboardInterrupt  # the user pressing Ctrl-C in the middle of the clip
            return batch

    failing = Failing(identity.meta)
    with pytest.raises(KeyboardInterrupt):
        enhance_paths(plan_outputs([source], out), failing, "blur")
    assert calls[0] == 5
    assert sorted(p.name for p in out.iterdir()) == [".hmtir-output"]  # no clip, no record, no temporary
    results = enhance_paths(plan_outputs([source], out), identity, "blur")
    assert results[0].clip is not None and results[0].clip.frames == 8 and probe(out / "c.mkv").frames == 8


def test_pipeline_keeps_order_bounds_memory_and_stops_on_the_first_error() -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def source():  # type: ignore[no-untyped-def]
        for i in range(50):
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            yield i

    seen: list[int] = []

    def sink(x: int) -> None:
        time.sleep(0.001)
        seen.append(x)
        with lock:
            in_flight[0] -= 1

    assert pipeline(source(), lambda x: x * 2, sink, depth=2) == 50
    assert seen == [2 * i for i in range(50)]
    assert most[0] <= 2 + 2 + 3  # two queues of 2, plus one item in each of the three stages

    def bad_source():  # type: ignore[no-untyped-def]
        yield 1
        raise HmtirError("clip.mkv: cannot decode frame 1")

    with pytest.raises(HmtirError, match="cannot decode frame 1"):
        pipeline(bad_source(), lambda x: x, lambda x: None)

    def bad_sink(x: int) -> None:
        if x == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        pipeline(range(1000), lambda x: x, bad_sink)
    with pytest.raises(ZeroDivisionError):
        pipeline(range(10), lambda x: 1 // (x - 4), lambda x: None)
    assert not [t for t in threading.enumerate() if t.name.startswith("hmtir-")]


def test_help_imports_neither_torch_nor_av() -> None:
    code = (
        "import sys; sys.argv = ['hmtir', 'enhance', '--help']\n"
        "from hmtir.cli import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('loaded:', sorted(m for m in ('torch', 'av') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "--codec" in done.stdout and "loaded: []" in done.stderr, done.stderr


def test_a_clip_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_clip(tmp_path / "big.mkv", grey8(3))
    decoded: list[int] = []
    monkeypatch.setenv("HMTIR_MAX_PIXELS", "1000")  # 40×32 = 1280 px
    with pytest.raises(HmtirError, match="big.mkv .one frame.*HMTIR_MAX_PIXELS"):
        probe(clip, lambda index, _: decoded.append(index))
    assert decoded == []
    _one_line_error(_enhance(str(clip), "--out", str(tmp_path / "out"), "--method", "identity"), "big.mkv")
    assert not (tmp_path / "out").exists()


def test_a_folder_of_frames_and_clips_streams_every_frame_in_order(tmp_path: Path) -> None:
    from hmtir.enhance import enhance_paths, plan_outputs
    from hmtir.io.image import read_pixels, write_pixels

    folder = tmp_path / "mixed"
    folder.mkdir()
    frames = grey8(5, seed=4)
    for index, pixels in enumerate(frames):
        write_pixels(folder / f"f{index:02d}.png", pixels)
    write_clip(folder / "clip.mkv", counts16(4))
    seen: list[str] = []
    ticks = [0]
    results = enhance_paths(
        plan_outputs([folder], tmp_path / "out"),
        "identity",
        "blur",
        on_done=lambda r: seen.append(r.source.name),
        on_frame=lambda: ticks.__setitem__(0, ticks[0] + 1),
    )
    names = [f"f{i:02d}.png" for i in range(5)]
    assert seen == [*names, "clip.mkv"] and ticks[0] == 5 + 4
    assert [r.source.name for r in results] == sorted([*names, "clip.mkv"])
    for index, pixels in enumerate(frames):
        assert np.abs(read_pixels(tmp_path / "out" / "mixed" / names[index]).astype(int) - pixels).max() <= 1
    assert probe(tmp_path / "out" / "mixed" / "clip.mkv").frames == 4


def test_a_fixed_window_needs_no_smoothing_and_full_on_narrow_counts_is_flagged(tmp_path: Path) -> None:
    wide = [(5000 + (f.astype(np.int64) - 7000) * 3).astype(np.uint16) for f in counts16(4, drift=200)]
    clip = write_clip(tmp_path / "raw.mkv", wide)  # 8 % of the 16-bit range: narrow, yet > 8 levels
    out = tmp_path / "out"
    result = _enhance(
        str(clip), "--out", str(out), "--method", "identity", "--degradation", "blur", "--range", "full"
    )
    assert result.exit_code == 0, result.output
    assert "1 frame(s) or clip(s) use less than 25%" in " ".join(result.output.split())
    mapping = json.loads((out / "raw.mkv.json").read_text())["mapping"]
    assert mapping["mode"] == "full" and mapping["narrow"] is True and "window_frames" not in mapping
    manual = _enhance(
        str(clip),
        "--out",
        str(tmp_path / "o2"),
        "--method",
        "identity",
        "--range",
        "6000,12000",
        "--degradation",
        "blur",
    )
    assert manual.exit_code == 0, manual.output
    mapping = json.loads((tmp_path / "o2" / "raw.mkv.json").read_text())["mapping"]
    assert mapping["mode"] == "manual" and (mapping["low"], mapping["high"]) == (6000, 12000)


def test_estimate_takes_clips_with_one_answer_each(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "ok.mkv", counts16(5, shape=(48, 64)))
    result = CliRunner().invoke(cli, ["estimate", str(clip), "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.output)
    assert record["file"] == str(clip) and record["frames"] == 5
    assert record["decision"]["sampled_frames"] == [0, 1, 2, 3, 4]
    assert record["degradation"] == record["decision"]["degradation"]
    small = write_clip(tmp_path / "small.mkv", counts16(3))
    table = CliRunner().invoke(cli, ["estimate", str(clip), str(small)], env={"COLUMNS": "200"})
    assert table.exit_code == 1 and "×5 frames" in table.output and "0 frame(s) and 2 clip(s)" in table.output
    assert (
        "Error: cannot judge" in table.output and "small.mkv" in table.output and "too small" in table.output
    )
    _one_line_error(CliRunner().invoke(cli, ["estimate", str(_cut(small, 0.5))]), "small.mkv")


def test_temporal_difference_and_the_progress_line_in_frames_per_second(tmp_path: Path) -> None:
    from hmtir.metrics.temporal import FrameDifference, mean_frame_difference, stability_ratio

    frames = np.array([np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)) * 0.5])
    assert mean_frame_difference(frames) == pytest.approx((1.0 + 0.5) / 2)
    assert mean_frame_difference(frames[:1]) is None and stability_ratio(0.2, 0.0) is None
    assert stability_ratio(0.1, 0.4) == pytest.approx(0.25)
    meter = FrameDifference()
    meter.add(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        meter.add(np.zeros((3, 2)))
    clip = write_clip(tmp_path / "c.mkv", grey8(6))
    result = CliRunner().invoke(
        cli,
        ["enhance", str(clip), "--out", str(tmp_path / "o"), "--method", "identity", "--degradation", "blur"],
        env={"HMTIR_PROGRESS_SECONDS": "0"},
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"enhance: 6/6 \(100%\), [0-9.]+ frames/s", result.output), result.output
