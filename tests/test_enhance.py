"""`hmtir enhance` and the `ppfn`/`nafnet` method runners with a real (tiny, random) checkpoint file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from hmtir.cli import cli
from hmtir.enhance import enhance_paths, plan_outputs
from hmtir.errors import HmtirError
from hmtir.io.image import read_image, read_pixels, write_image, write_pixels
from hmtir.methods import load_method
from hmtir.methods import networks as ppfn_methods
from hmtir.methods.base import Method, MethodMeta
from hmtir.models import create_model
from hmtir.models.checkpoint import save_checkpoint
from hmtir.models.ppfn import pad_to_multiple
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import spt_restore

TINY_NAFNET = {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}


@pytest.fixture(scope="module")
def ppfn_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1)
    model = create_model("ppfn_nafnet", **TINY_NAFNET, prompt={"dim": 8})
    for head in ("scale", "shift"):  # random heads so prompts visibly matter
        torch.nn.init.normal_(getattr(model, f"prompt_{head}out").weight, std=0.3)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_ppfn.pt"
    return save_checkpoint(
        path, "ppfn_nafnet", model, PromptBank.seeded(map_size=32), meta={"note": "random"}
    )


@pytest.fixture(scope="module")
def baseline_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_nafnet.pt"
    return save_checkpoint(path, "nafnet", create_model("nafnet", **TINY_NAFNET))


def test_padding_crops_back_exactly() -> None:
    x = torch.rand(2, 1, 37, 50)
    padded, (h, w) = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (40, 56) and torch.equal(padded[..., :h, :w], x)
    tiny = torch.rand(1, 1, 3, 5)
    padded, _ = pad_to_multiple(tiny, 16)  # too small to reflect: replicate instead
    assert padded.shape[-2:] == (16, 16) and torch.equal(padded[..., :3, :5], tiny)


def test_runner_pads_runs_spt_and_records_sha256(ppfn_ckpt: Path) -> None:
    method = load_method("ppfn", weights=str(ppfn_ckpt))
    model, bank = method.loaded.model, method.loaded.bank
    x = torch.rand(2, 1, 29, 35)  # batch of two, odd size
    out = method.restore(x, "composite", "composite")
    with torch.no_grad():
        manual = spt_restore(model, bank, F.pad(x, (0, 5, 0, 3), mode="reflect"), "composite")[..., :29, :35]
    assert out.shape == x.shape and torch.equal(out, manual)
    assert not torch.equal(method.restore(x, "blur", "single"), out)
    info = method.describe()
    assert info["weights_sha256"] == ppfn_methods.sha256_file(ppfn_ckpt) and info["model"] == "ppfn_nafnet"
    assert info["backbone"] == "nafnet" and info["prompt_bank"].startswith("seeded:")


def test_method_rejects_a_checkpoint_of_the_wrong_kind(ppfn_ckpt: Path, baseline_ckpt: Path) -> None:
    with pytest.raises(HmtirError, match="holds model 'nafnet', but method 'ppfn' needs a PPFN"):
        load_method("ppfn", weights=str(baseline_ckpt))
    with pytest.raises(HmtirError, match="holds model 'ppfn_nafnet', but method 'nafnet' needs"):
        load_method("nafnet", weights=str(ppfn_ckpt))
    assert load_method("nafnet", weights=str(baseline_ckpt)).restore(torch.rand(1, 1, 9, 11)).shape == (
        1,
        1,
        9,
        11,
    )


def test_missing_shipped_checkpoint_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ppfn_methods.SHIPPED, "ppfn", tmp_path / "ppfn_nafnet_spt_agc.pt")
    with pytest.raises(
        HmtirError, match="shipped checkpoint ppfn_nafnet_spt_agc.pt for method 'ppfn' is missing"
    ):
        load_method("ppfn")
    with pytest.raises(HmtirError, match="method 'restormer' ships no weights"):
        load_method("restormer")


def test_named_weights_load_their_own_shipped_checkpoint() -> None:
    """The default is the ``agc`` pair; ``weights="dim"`` picks the other one, not a file named dim."""
    files = {}
    for method in ("ppfn", "nafnet"):
        default, agc, dim = (load_method(method, weights=w) for w in (None, "agc", "dim"))
        files[method] = (default.describe()["checkpoint"], dim.describe()["checkpoint"])
        assert default.weights_sha256 == agc.weights_sha256 != dim.weights_sha256
        assert dim.loaded.model.uses_prompts is default.loaded.model.uses_prompts is (method == "ppfn")
        assert default.loaded.config.get("range_head") is True  # the AGC prior reads whole-frame statistics
        assert dim.loaded.config.get("range_head", False) is False
        tagged = load_method(f"{method}.dim")  # timm-style name tag: the same weights, a name of its own
        assert tagged.weights_sha256 == dim.weights_sha256
        names = (default.meta.name, agc.meta.name, dim.meta.name, tagged.meta.name)
        assert names == (method, f"{method}.agc", f"{method}.dim", f"{method}.dim")
    assert files == {
        "ppfn": ("ppfn_nafnet_spt_agc.pt", "ppfn_nafnet_spt.pt"),
        "nafnet": ("nafnet_baseline_agc.pt", "nafnet_baseline.pt"),
    }
    with pytest.raises(HmtirError, match="^method 'restormer' ships no 'dim' weights: pass --weights PATH"):
        load_method("restormer", weights="dim")
    with pytest.raises(
        HmtirError, match="^method 'ppfn.dim' already names its weights: drop --weights x.pt$"
    ):
        load_method("ppfn.dim", weights="x.pt")
    with pytest.raises(HmtirError, match="^method 'ppfn.nosuch': weights file not found: nosuch$"):
        load_method("ppfn.nosuch")


def _write_inputs(folder: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    frames = {
        "a8.png": (rng.random((27, 41)) * 255).astype(np.uint8),
        "b16.png": (rng.random((33, 20)) * 65535).astype(np.uint16),
        "sub/c16.tif": (rng.random((18, 25)) * 65535).astype(np.uint16),
        "d8.jpg": (rng.random((16, 16)) * 255).astype(np.uint8),
    }
    for name, pixels in frames.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        maxval = np.iinfo(pixels.dtype).max
        write_image(path, pixels.astype(np.float32) / maxval, bit_depth=8 if pixels.dtype == np.uint8 else 16)
    return frames


def test_enhance_cli_keeps_size_and_bit_depth(tmp_path: Path, ppfn_ckpt: Path) -> None:
    frames_dir = tmp_path / "frames"
    frames = _write_inputs(frames_dir)
    out = tmp_path / "out"
    args = ["enhance", str(frames_dir), "--out", str(out), "--weights", str(ppfn_ckpt), "--device", "cpu"]
    result = CliRunner().invoke(cli, [*args, "--degradation", "composite"])
    assert result.exit_code == 0, result.output
    assert "hmtir enhance: ppfn (degradation composite, range auto)" in result.output
    assert "4 frame(s) written" in result.output
    outputs = {"a8.png": "a8.png", "b16.png": "b16.png", "sub/c16.tif": "sub/c16.tif", "d8.jpg": "d8.png"}
    method = load_method("ppfn", weights=str(ppfn_ckpt))
    for name, output in outputs.items():
        written = read_image(out / "frames" / output)
        source = read_image(frames_dir / name)
        depth = 8 if frames[name].dtype == np.uint8 else 16
        assert written.bit_depth == depth and written.data.shape == frames[name].shape
        restored = method.restore(torch.from_numpy(source.data)[None, None])[0, 0].numpy()
        assert np.abs(written.data - restored).max() <= 0.5 / (2**depth - 1) + 1e-6  # only quantisation
    assert cv2.imread(str(out / "frames" / "sub" / "c16.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_enhance_single_degradation_and_file_inputs(tmp_path: Path, ppfn_ckpt: Path) -> None:
    _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    args = ["enhance", str(tmp_path / "in" / "a8.png"), "--out", str(out), "--weights", str(ppfn_ckpt)]
    result = CliRunner().invoke(cli, [*args, "--degradation", "noise", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    method = load_method("ppfn", weights=str(ppfn_ckpt))
    source = read_image(tmp_path / "in" / "a8.png")
    expected = method.restore(torch.from_numpy(source.data)[None, None], "noise", "single")[0, 0].numpy()
    assert np.abs(read_image(out / "a8.png").data - expected).max() <= 0.5 / 255 + 1e-6


def test_enhance_errors_are_one_line_and_write_nothing(tmp_path: Path, ppfn_ckpt: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["enhance", str(tmp_path / "nope.png"), "--out", str(out), "--weights", str(ppfn_ckpt)]
    )
    assert result.exit_code == 1 and "Error: input not found:" in result.output and not out.exists()
    (tmp_path / "x.png").write_bytes(b"junk")
    result = CliRunner().invoke(
        cli, ["enhance", str(tmp_path / "x.png"), "--out", str(out), "--weights", str(ppfn_ckpt)]
    )
    assert result.exit_code == 1 and "Error:" in result.output and "x.png" in result.output
    assert not (out / "x.png").exists()
    collide = tmp_path / "c"
    collide.mkdir()
    write_image(collide / "f.jpg", np.zeros((8, 8), np.float32))
    write_image(collide / "f.png", np.zeros((8, 8), np.float32))
    result = CliRunner().invoke(
        cli, ["enhance", str(collide), "--out", str(out), "--weights", str(ppfn_ckpt)]
    )
    assert result.exit_code == 1 and "would both be written to" in result.output


class Recorder(Method):
    """Records the display batch the network receives and returns ``0.5·x + 0.25`` (or ``x``)."""

    def __init__(self, affine: bool = True) -> None:
        self.meta = MethodMeta(name="recorder", kind="reference")
        self.affine = affine
        self.seen: list[np.ndarray] = []

    def restore(
        self, batch: torch.Tensor, degradation: str = "composite", scenario: str = "composite"
    ) -> torch.Tensor:
        self.seen.append(batch[0, 0].cpu().numpy().copy())
        return batch * 0.5 + 0.25 if self.affine else batch


def test_a_float_tiff_in_0_1_comes_back_a_float_tiff_in_its_own_units(tmp_path: Path) -> None:
    frame = np.clip(np.random.default_rng(4).random((21, 34)), 0, 1).astype(np.float32)
    (tmp_path / "in").mkdir()
    write_pixels(tmp_path / "in" / "f.tiff", frame)
    jobs = plan_outputs([tmp_path / "in"], tmp_path / "out")
    method = Recorder()
    (result,) = enhance_paths(jobs, method, degradation="composite")
    assert result.mapping is not None and result.mapping.mode == "display"
    assert np.array_equal(method.seen[0], frame)  # a display frame goes in as it is
    written = read_pixels(tmp_path / "out" / "in" / "f.tiff")
    assert written.dtype == np.float32 and written.shape == frame.shape
    assert np.abs(written - (0.5 * frame + 0.25)).max() < 1e-6  # the method's output, in [0, 1] units


def test_the_network_sees_raw_counts_white_hot_and_they_come_back_exactly(tmp_path: Path) -> None:
    """16-bit counts through the AGC: hotter counts are brighter for the network; identity returns them."""
    yy, xx = np.mgrid[0:40, 0:50]
    counts = (7600 + 40 * xx + 3 * yy).astype(np.uint16)  # hotter to the right
    counts[5:9, 40:44] = 9900  # a hot object
    (tmp_path / "in").mkdir()
    write_pixels(tmp_path / "in" / "c.png", counts)
    method = Recorder(affine=False)
    (result,) = enhance_paths(plan_outputs([tmp_path / "in"], tmp_path / "out"), method, "composite")
    assert result.mapping is not None and result.mapping.mode == "percentile"
    seen = method.seen[0]
    assert seen[6, 41] > 0.8 and seen[20, 0] < 0.2  # hot object bright, cold side dark
    order = np.argsort(counts, axis=None, kind="stable")
    assert (np.diff(seen.ravel()[order]) >= 0).all()  # every hotter count at least as bright
    back = read_pixels(tmp_path / "out" / "in" / "c.png")
    inside = (seen > 0) & (seen < 1)
    assert back.dtype == np.uint16 and np.array_equal(back[inside], counts[inside]) and inside.mean() > 0.98
