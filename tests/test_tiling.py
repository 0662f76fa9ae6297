"""Tiled inference (hmtir.tiling): exact for a pointwise network, bounded tiles, whole-frame statistics."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.methods import load_method
from hmtir.models import create_model
from hmtir.models.checkpoint import save_checkpoint
from hmtir.models.prompts import PromptBank
from hmtir.tiling import tile_starts, tiled_apply, tiled_restore

pytestmark = pytest.mark.usefixtures("one_thread")


class Pointwise(torch.nn.Module):
    """A purely local network (elementwise polynomial): every output pixel depends on its input pixel only,
    and its arithmetic does not depend on the input's size (a 1×1 convolution's or sigmoid's vectorised
    kernels do, by an ulp, so they are not used here)."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fed.append(tuple(x.shape[-2:]))
        return (x * (1.5 - x)).clamp(0, 1) + 0.25 * x.square()


def test_tiles_cover_the_frame_with_the_overlap() -> None:
    assert tile_starts(100, 40, 8) == [0, 32, 60]
    assert tile_starts(30, 40, 8) == [0]
    for size, tile, overlap in ((512, 256, 32), (1024, 320, 48), (77, 20, 5)):
        starts = tile_starts(size, tile, overlap)
        assert starts[0] == 0 and starts[-1] + tile == size
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_a_pointwise_network_tiled_equals_whole_and_tiles_stay_bounded() -> None:
    net = Pointwise().eval()
    x = torch.rand(2, 1, 70, 93, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        whole = net(x)
        net.fed.clear()
        tiled = tiled_apply(net, x, tile=(32, 40), overlap=8)
    assert torch.equal(tiled, whole)
    assert max(h * w for h, w in net.fed) <= 32 * 40
    assert len(net.fed) == len(tile_starts(70, 32, 8)) * len(tile_starts(93, 40, 8))


def test_a_global_network_differs_when_tiled() -> None:
    """The blend is not a no-op: a network that reads the whole frame (its mean) changes under tiling."""
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    x[..., :, 32:] += 1.0
    with torch.inference_mode():
        tiled = tiled_apply(lambda t: t - t.mean(), x, tile=(32, 32), overlap=8)
    assert (tiled - (x - x.mean())).abs().max().item() > 0.1


def test_tiled_restore_of_a_network_method(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tiny = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 2, 2]}
    model = create_model("ppfn_restormer", **tiny, prompt={"dim": 16}).eval()
    ckpt = save_checkpoint(tmp_path / "tiny.pt", "ppfn_restormer", model, PromptBank.seeded(map_size=32))
    method = load_method("ppfn", weights=str(ckpt))
    x = torch.rand(1, 1, 45, 61, generator=torch.Generator().manual_seed(3))
    whole = method.restore(x)
    one_tile = tiled_restore(method, x, tile=(64, 64), overlap=8)  # the tile holds the frame: one pass
    assert torch.equal(one_tile, whole)
    tiled = tiled_restore(method, x, tile=(24, 32), overlap=8)
    assert tiled.shape == x.shape and bool(torch.isfinite(tiled).all())
    assert 0 < (tiled - whole).abs().max().item() < 1


def test_bad_tiling_is_one_line() -> None:
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(HmtirError, match=r"tile overlap 16 must be smaller than the tile \(16×32\)"):
        tiled_apply(lambda t: t, x, tile=(16, 32), overlap=16)
    with pytest.raises(HmtirError, match="tile: expected two positive pixel counts"):
        tiled_apply(lambda t: t, x, tile=(0, 32), overlap=0)
    with pytest.raises(HmtirError, match="a tile of 8×8 came back as"):
        tiled_apply(lambda t: t[..., :4, :], x, tile=(8, 8), overlap=2)
