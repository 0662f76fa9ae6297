"""Backbones, PPFN plug-in, FiLM, prompt banks, SPT and checkpoints — tiny configs, CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmtir.errors import HmtirError
from hmtir.models import MODELS, create_model
from hmtir.models.checkpoint import (
    extract_state_dict,
    load_checkpoint,
    load_state_dict_strict,
    save_checkpoint,
)
from hmtir.models.ppfn import film
from hmtir.models.prompts import PromptBank, PromptConfig
from hmtir.models.spt import pass_schedule, spt_losses, spt_restore
from hmtir.runtime import count_parameters
from hmtir.vocabulary import SPT_ORDER

TINY = {
    "restormer": {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1},
    "focalnet": {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1},
    "nafnet": {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]},
}
SMALL_PROMPT = {"dim": 8, "scenario_dim": 64}


def tiny(name: str, **extra: object) -> torch.nn.Module:
    base = name.removeprefix("ppfn_")
    kwargs = {**TINY[base], **extra}
    if name.startswith("ppfn_") and "prompt" not in kwargs:
        kwargs["prompt"] = SMALL_PROMPT
    torch.manual_seed(0)
    return create_model(name, **kwargs).eval()


@pytest.fixture(scope="module")
def bank() -> PromptBank:
    return PromptBank.seeded(map_size=32)


def test_registry_lists_backbones_with_metadata() -> None:
    names = MODELS.names()
    for base in ("restormer", "nafnet", "focalnet"):
        assert base in names and f"ppfn_{base}" in names
        meta = MODELS.meta(f"ppfn_{base}")
        assert meta.paper and meta.license == "MIT" and meta.needs_gpu is False and meta.params


def test_compact_nafnet_is_under_three_million_parameters() -> None:
    with torch.device("meta"):
        assert count_parameters(create_model("ppfn_nafnet")) <= 3_000_000
        assert count_parameters(create_model("nafnet")) < count_parameters(create_model("ppfn_nafnet"))


@pytest.mark.parametrize("name", ["restormer", "nafnet", "focalnet"])
def test_shapes_with_and_without_prompts(name: str, bank: PromptBank) -> None:
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        assert tiny(name)(x).shape == x.shape
        deg, scen = bank.prompts("blur", "single")
        assert tiny(f"ppfn_{name}")(x, deg, scen).shape == x.shape


def test_prompt_free_model_rejects_prompts_and_ppfn_requires_them(bank: PromptBank) -> None:
    x = torch.rand(1, 1, 16, 16)
    deg, scen = bank.prompts("noise", "single")
    with pytest.raises(ValueError, match="without prompts"):
        tiny("nafnet")(x, deg, scen)
    with pytest.raises(ValueError, match="PPFN model"):
        tiny("ppfn_nafnet")(x)


@pytest.mark.parametrize(
    "prompt",
    [
        {"fusion": "concat", "activation": "relu"},
        {"fusion": "multiply", "activation": "relu"},
        {"fusion": "concat", "activation": "none"},
        {"fusion": "degradation", "activation": "relu"},
    ],
)
def test_prompt_ablation_variants_run_and_differ(prompt: dict, bank: PromptBank) -> None:
    model = tiny("ppfn_nafnet", prompt={**SMALL_PROMPT, **prompt})
    unit = model.F_ext_net1
    assert hasattr(unit, "T_ext") == (prompt["fusion"] != "degradation")
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        for head in ("scale", "shift"):  # make the prompt path visible in the output
            torch.nn.init.normal_(getattr(model, f"prompt_{head}out").weight, std=0.5)
        outs = [model(x, *bank.prompts(d, "single")) for d in ("contrast", "blur", "noise")]
    assert all(o.shape == x.shape and torch.isfinite(o).all() for o in outs)
    assert (outs[0] - outs[1]).abs().max() > 1e-4  # the degradation prompt changes the output


def test_unknown_prompt_options_are_one_line_errors() -> None:
    with pytest.raises(HmtirError, match="unknown prompt fusion 'sum'"):
        PromptConfig(fusion="sum")
    with pytest.raises(HmtirError, match="unknown prompt option"):
        PromptConfig.from_any({"dims": 3})


def test_film_is_identity_when_gamma_and_beta_are_zero() -> None:
    feature = torch.randn(2, 5, 4, 3)
    zeros = torch.zeros(2, 5)
    assert torch.equal(film(feature, zeros, zeros), feature)
    gamma, beta = torch.full((2, 5), 0.5), torch.full((2, 5), 1.0)
    assert torch.allclose(film(feature, gamma, beta), feature * 1.5 + 1.0)


def test_ppfn_with_zero_heads_equals_its_backbone(bank: PromptBank) -> None:
    """FiLM with γ=β=0 everywhere makes PPFN exactly the prompt-free backbone with the same weights."""
    ppfn, plain = tiny("ppfn_restormer"), tiny("restormer")
    state = ppfn.state_dict()
    for key in state:
        if key.startswith(("prompt_scale", "prompt_shift")):
            state[key].zero_()
    ppfn.load_state_dict(state)
    plain.load_state_dict({k: v for k, v in state.items() if not k.startswith(("prompt_", "F_ext_net"))})
    x = torch.rand(1, 1, 24, 16)
    with torch.no_grad():
        assert torch.equal(ppfn(x, *bank.prompts("contrast", "composite")), plain(x))


def test_bank_is_deterministic_and_round_trips() -> None:
    a, b = PromptBank.seeded(), PromptBank.seeded()
    assert all(torch.equal(a.degradation[k], b.degradation[k]) for k in a.degradation)
    assert a.degradation["contrast"].shape == (1, 128, 128) and a.scenario["single"].shape == (64,)
    assert not torch.equal(a.degradation["blur"], a.degradation["noise"])
    back = PromptBank.from_dict(a.to_dict())
    assert back.origin == a.origin and torch.equal(back.scenario["composite"], a.scenario["composite"])
    with pytest.raises(HmtirError, match="unknown degradation prompt 'haze'"):
        a.prompts("haze", "single")


def test_official_multi2_recipe_matches_numpy_seed() -> None:
    """The README says multi2.npy = np.random.seed(1234); rand(2, 64): our from_arrays keeps its row order."""
    np.random.seed(1234)
    rows = np.random.rand(2, 64)
    bank = PromptBank.from_arrays(np.zeros((7, 8, 8)), rows, origin="test")
    assert torch.equal(bank.scenario["single"], torch.tensor(rows[0], dtype=torch.float32))
    assert torch.equal(bank.scenario["composite"], torch.tensor(rows[1], dtype=torch.float32))


def test_spt_pass_order_and_prompts(bank: PromptBank) -> None:
    assert pass_schedule("composite") == [
        ("noise", "composite"),
        ("blur", "composite"),
        ("contrast", "composite"),
    ]
    assert pass_schedule("blur") == [("blur", "single")]
    model = tiny("ppfn_nafnet")
    seen: list[tuple[int, str, str]] = []
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        out = spt_restore(model, bank, x, "composite", on_pass=lambda *a: seen.append(a))
        manual = x
        for stage in SPT_ORDER:
            manual = model(manual, *bank.prompts(stage, "composite")).clamp(0, 1)
    assert seen == [(0, "noise", "composite"), (1, "blur", "composite"), (2, "contrast", "composite")]
    assert torch.equal(out, manual)
    seen.clear()
    with torch.no_grad():
        spt_restore(model, bank, x, "contrast", "single", on_pass=lambda *a: seen.append(a))
    assert seen == [(0, "contrast", "single")]
    with pytest.raises(HmtirError, match="unknown degradation 'fog'"):
        pass_schedule("fog")


def test_spt_iterations_ablation_schedules(bank: PromptBank) -> None:
    """iterations=1: one pass with the composite degradation prompt; a prompt-free model runs once by
    default and ``iterations`` times when asked (naive iteration); single steps always get one pass."""
    assert pass_schedule("composite", iterations=1) == [("composite", "composite")]
    assert pass_schedule("noise", iterations=1) == [("noise", "single")]
    with pytest.raises(HmtirError, match=r"^SPT runs 1 or 3 passes on a composite frame, not 2$"):
        pass_schedule("composite", iterations=2)
    model = tiny("ppfn_nafnet")
    x = torch.rand(1, 1, 16, 16)
    seen: list[tuple[int, str, str]] = []
    with torch.no_grad():
        out = spt_restore(model, bank, x, "composite", iterations=1, on_pass=lambda *a: seen.append(a))
        manual = model(x, *bank.prompts("composite", "composite")).clamp(0, 1)
    assert seen == [(0, "composite", "composite")] and torch.equal(out, manual)
    plain = tiny("nafnet")
    for iterations, passes in ((None, 1), (3, 3)):
        seen.clear()
        with torch.no_grad():
            spt_restore(plain, None, x, "composite", iterations=iterations, on_pass=lambda *a: seen.append(a))
        assert seen == [(i, "none", "none") for i in range(passes)]


def test_spt_losses_stop_gradient_between_passes(bank: PromptBank) -> None:
    model = tiny("ppfn_nafnet").train()
    x = torch.rand(2, 1, 16, 16)
    targets = [torch.rand_like(x) for _ in range(3)]
    result = spt_losses(model, bank, x, targets)
    assert [s for s, _ in result.schedule] == list(SPT_ORDER) and len(result.per_pass) == 3
    assert torch.allclose(result.total, sum(result.per_pass))
    # Pass 2's loss must not reach pass 1's output: its graph starts from a detached tensor.
    out1 = result.outputs[0]
    (grad,) = torch.autograd.grad(result.per_pass[1], [out1], allow_unused=True)
    assert grad is None
    result.total.backward()
    assert model.prompt_scale1.weight.grad is not None
    with pytest.raises(ValueError, match="expected 1 target"):
        spt_losses(model, bank, x, targets, degradation="noise")


def test_spt_sees_through_parallel_wrappers(bank: PromptBank) -> None:
    """Trainers wrap the net (DataParallel/DDP expose it as ``.module``); SPT must still use prompts."""
    model = tiny("ppfn_nafnet")
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(spt_restore(torch.nn.DataParallel(model), bank, x), spt_restore(model, bank, x))
    assert len(spt_losses(torch.nn.DataParallel(model), bank, x, [x, x, x]).per_pass) == 3


def test_checkpoint_round_trip_is_self_describing(tmp_path, bank: PromptBank) -> None:
    model = tiny("ppfn_nafnet")
    path = save_checkpoint(tmp_path / "m.pt", "ppfn_nafnet", model, bank, meta={"recipe": "test"})
    loaded = load_checkpoint(path)
    assert loaded.name == "ppfn_nafnet" and loaded.meta == {"recipe": "test"} and loaded.bank is not None
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(spt_restore(loaded.model, loaded.bank, x), spt_restore(model, bank, x))
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "hmtir-model/1" and raw["config"]["width"] == 4


def test_strict_loading_accepts_wrapper_and_module_prefix() -> None:
    model = tiny("nafnet")
    state = model.state_dict()
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}}
    unwrapped = extract_state_dict(wrapped)
    assert list(unwrapped) == list(state)
    load_state_dict_strict(tiny("nafnet"), unwrapped, source="x")
    assert list(extract_state_dict({"params": state})) == list(state)


def test_strict_loading_lists_missing_unexpected_and_mismatched_keys() -> None:
    model = tiny("nafnet")
    state = dict(model.state_dict())
    state.pop("intro.weight")
    state.pop("ending.bias")
    state["extra.weight"] = torch.zeros(1)
    state["intro.bias"] = torch.zeros(7)
    with pytest.raises(HmtirError) as err:
        load_state_dict_strict(tiny("nafnet"), state, source="checkpoint w.pt")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("checkpoint w.pt does not fit NAFNet: missing keys: intro.weight, ending.bias")
    assert "unexpected keys: extra.weight" in message and "intro.bias (7,)≠(4,)" in message


def test_bad_checkpoint_files_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(HmtirError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(HmtirError, match="cannot read checkpoint"):
        load_checkpoint(broken)
    bare = tmp_path / "bare.pt"
    torch.save({"state_dict": tiny("nafnet").state_dict()}, bare)
    loaded = load_checkpoint(bare)  # a bare state_dict: its architecture is read from its tensors
    assert loaded.name == "nafnet" and loaded.bank is None and loaded.inferred
    assert loaded.config == tiny("nafnet").config
    foreign = tmp_path / "foreign.pt"
    torch.save({"head.weight": torch.zeros(2, 3)}, foreign)
    with pytest.raises(HmtirError, match="fits no registered architecture: nearest is"):
        load_checkpoint(foreign)


def test_non_checkpoint_file_is_named_in_one_line(tmp_path) -> None:
    from hmtir.errors import HmtirError
    from hmtir.models.checkpoint import read_checkpoint

    text = tmp_path / "notes.pt"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(HmtirError) as err:
        read_checkpoint(text)
    assert str(err.value) == f"cannot read checkpoint {text}: not a PyTorch checkpoint file"


def test_spt_iterations_for_the_ablations(bank: PromptBank) -> None:
    """One SPT iteration is one pass with the composite prompts; a plain net can be iterated (naive)."""
    assert pass_schedule("composite", iterations=1) == [("composite", "composite")]
    assert pass_schedule("blur", iterations=1) == [("blur", "single")]  # single degradations: always one pass
    with pytest.raises(HmtirError, match="SPT runs 1 or 3 passes on a composite frame, not 2"):
        pass_schedule("composite", iterations=2)
    assert "composite" in bank.degradation and not torch.equal(
        bank.degradation["composite"], bank.degradation["noise"]
    )
    plain = tiny("nafnet")
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        thrice = spt_restore(plain, None, x, iterations=3)
        manual = plain(plain(plain(x).clamp(0, 1)).clamp(0, 1)).clamp(0, 1)
        assert torch.equal(thrice, manual) and torch.equal(spt_restore(plain, None, x), plain(x).clamp(0, 1))
        model = tiny("ppfn_nafnet")
        once = spt_restore(model, bank, x, iterations=1)
        assert torch.equal(once, model(x, *bank.prompts("composite", "composite")).clamp(0, 1))


def test_frame_statistics_are_the_frames_quantiles_moments_and_log_spreads() -> None:
    from hmtir.models.range_head import FRAME_STATS, RANGE_QUANTILES, frame_statistics

    frames = torch.rand(2, 1, 40, 50, generator=torch.Generator().manual_seed(0)) * 0.3 + 0.4
    stats = frame_statistics(frames)
    assert stats.shape == (2, FRAME_STATS) and stats.dtype == torch.float32
    for row, frame in zip(stats, frames.numpy()):
        q = np.quantile(frame.ravel(), RANGE_QUANTILES)
        assert np.allclose(row[:7], q, atol=1e-6)
        assert row[7].item() == pytest.approx(frame.mean(), abs=1e-6)
        assert row[8].item() == pytest.approx(frame.std(ddof=1), rel=1e-4)
        assert np.allclose(row[9:], np.log([q[6] - q[0], q[5] - q[1], q[4] - q[2]]), atol=1e-5)
    flat = frame_statistics(torch.full((1, 1, 8, 8), 0.5))
    assert np.allclose(flat[0, 9:], np.log(1e-3))  # a constant frame: spreads floored, not -inf


def test_frame_statistics_of_a_large_frame_are_subsampled_within_a_grey_level() -> None:
    from hmtir.models.range_head import MAX_STAT_PIXELS, frame_statistics

    frame = torch.rand(1, 1, 1024, 1280, generator=torch.Generator().manual_seed(1)) ** 2
    assert frame.numel() > MAX_STAT_PIXELS
    exact = np.quantile(frame.numpy().ravel(), (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99))
    assert np.abs(frame_statistics(frame)[0, :7].numpy() - exact).max() < 1 / 255


@pytest.mark.parametrize("name", ["nafnet", "ppfn_nafnet"])
def test_fresh_range_head_is_the_identity_and_its_output_is_affine_in_the_input(
    name: str, bank: PromptBank
) -> None:
    """A zero last layer adds nothing; gain a and offset b give exactly ``backbone + a·x + b``."""
    with_head, without = tiny(name, range_head=True), tiny(name)
    assert with_head.config["range_head"] is True and without.config["range_head"] is False
    assert with_head.uses_frame_stats and not without.uses_frame_stats
    without.load_state_dict(
        {k: v for k, v in with_head.state_dict().items() if not k.startswith("range_head")}
    )
    x = torch.rand(2, 1, 16, 24, generator=torch.Generator().manual_seed(2))
    prompts = bank.prompts("contrast", "composite") if name.startswith("ppfn") else ()
    with torch.no_grad():
        base = without(x, *prompts)
        assert torch.equal(with_head(x, *prompts), base)
        with_head.range_head.mlp[-1].bias.copy_(torch.tensor([0.5, -0.1]))
        assert torch.allclose(with_head(x, *prompts), base + 0.5 * x - 0.1, atol=1e-6)


def test_range_head_conditions_on_given_statistics_and_the_prompt(bank: PromptBank) -> None:
    from hmtir.models.range_head import frame_statistics

    torch.manual_seed(3)
    model = tiny("ppfn_nafnet", range_head=True)
    for parameter in model.range_head.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(4)) * 0.2 + 0.4
    whole = frame_statistics(torch.cat([x, torch.zeros_like(x), torch.ones_like(x)], dim=3))
    with torch.no_grad():
        contrast = model(x, *bank.prompts("contrast", "composite"))
        assert torch.equal(
            contrast, model(x, *bank.prompts("contrast", "composite"), frame_stats=frame_statistics(x))
        )
        assert not torch.allclose(
            contrast, model(x, *bank.prompts("contrast", "composite"), frame_stats=whole)
        )
        assert not torch.allclose(contrast, model(x, *bank.prompts("noise", "composite")))


def test_a_prompted_range_head_corrects_only_the_passes_that_undo_the_contrast_step(bank: PromptBank) -> None:
    """Blur and noise keep a frame's gain and offset: with prompts, only ``contrast`` and one-pass ``composite``
    passes go through the head; SPT on a composite frame stretches in its last (contrast) pass only."""
    from hmtir.models.spt import run_pass

    with_head, without = tiny("ppfn_nafnet", range_head=True), tiny("ppfn_nafnet")
    without.load_state_dict(
        {k: v for k, v in with_head.state_dict().items() if not k.startswith("range_head")}
    )
    with torch.no_grad():
        with_head.range_head.mlp[-1].bias.copy_(torch.tensor([0.5, -0.1]))  # a = 0.5, b = -0.1 for any input
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(8)) * 0.5 + 0.2
    with torch.no_grad():
        for step, corrected in [("blur", False), ("noise", False), ("contrast", True), ("composite", True)]:
            base = run_pass(without, bank, x, step, "single" if step != "composite" else "composite")
            out = run_pass(with_head, bank, x, step, "single" if step != "composite" else "composite")
            assert torch.allclose(out, base + 0.5 * x - 0.1 if corrected else base, atol=1e-6), step
        expected = x
        for step in ("noise", "blur", "contrast"):
            base = without(expected, *bank.prompts(step, "composite"))
            expected = (base + 0.5 * expected - 0.1 if step == "contrast" else base).clamp(0, 1)
        assert torch.allclose(spt_restore(with_head, bank, x), expected, atol=1e-6)
        plain_with, plain_without = tiny("nafnet", range_head=True), tiny("nafnet")
        plain_without.load_state_dict(
            {k: v for k, v in plain_with.state_dict().items() if not k.startswith("range_head")}
        )
        plain_with.range_head.mlp[-1].bias.copy_(torch.tensor([0.5, -0.1]))
        assert torch.allclose(
            run_pass(plain_with, None, x, "blur", "single"), plain_without(x) + 0.5 * x - 0.1, atol=1e-6
        )


def test_spt_gives_every_pass_the_statistics_of_the_frame_it_was_given(
    bank: PromptBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.models import spt
    from hmtir.models.range_head import frame_statistics

    model = tiny("ppfn_nafnet", range_head=True)
    seen: list[torch.Tensor | None] = []
    original = spt.run_pass

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(args[5] if len(args) > 5 else kwargs.get("frame_stats"))
        return original(*args, **kwargs)

    monkeypatch.setattr(spt, "run_pass", spy)
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        spt_restore(model, bank, x)
    assert len(seen) == 3 and all(
        torch.equal(s, frame_statistics(x)) for s in seen
    )  # of the input, every pass
    given = frame_statistics(torch.rand(1, 1, 30, 30))
    seen.clear()
    spt_losses(model, bank, x, [x, x, x], frame_stats=given)
    assert len(seen) == 3 and all(s is given for s in seen)
    seen.clear()
    with torch.no_grad():
        spt_restore(tiny("ppfn_nafnet"), bank, x)
    assert seen == [None] * 3  # a model without a range head is called exactly as before


@pytest.mark.parametrize("name", ["nafnet", "ppfn_nafnet"])
def test_a_range_head_checkpoint_restores_with_the_statistics_of_the_unpadded_frame(
    name: str, tmp_path, bank: PromptBank
) -> None:
    """Padding to the U-Net's multiple must not shift the statistics the head reads (33×33 → 40×40: the
    reflected bright corner would nearly quadruple its share of the frame)."""
    from hmtir.methods import load_method
    from hmtir.models.ppfn import pad_to_multiple
    from hmtir.models.range_head import frame_statistics

    model = tiny(name, range_head=True)
    torch.manual_seed(6)
    for parameter in model.range_head.mlp.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    path = save_checkpoint(tmp_path / "m.pt", name, model, bank if name.startswith("ppfn") else None)
    method = load_method("ppfn" if name.startswith("ppfn") else "nafnet", weights=str(path))
    x = torch.rand(1, 1, 33, 33, generator=torch.Generator().manual_seed(7)) * 0.1 + 0.2
    x[..., 25:, 25:] += 0.6
    out = method.restore(x)
    padded, _ = pad_to_multiple(x, model.size_multiple)
    with torch.no_grad():
        of_frame = spt_restore(model, bank, padded, frame_stats=frame_statistics(x))[..., :33, :33]
        of_padding = spt_restore(model, bank, padded)[..., :33, :33]
    assert torch.allclose(out, of_frame, atol=1e-6)
    assert 0.05 < out.mean() < 0.95 and (out - of_padding).abs().max() > 1e-3
