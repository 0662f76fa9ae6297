"""Training: SPT objective (targets, pass order, stop-gradient), loss decrease, exact resume, config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from hmtir.commands.train import train as train_command
from hmtir.degrade.torch_ops import ALL_STEPS, COMPOSITE, MIX_LABELS, DegradedBatch, degrade
from hmtir.errors import HmtirError
from hmtir.io.image import write_image
from hmtir.methods import load_method
from hmtir.models import create_model
from hmtir.models.checkpoint import read_checkpoint
from hmtir.models.prompts import PromptBank
from hmtir.models.spt import run_pass, spt_losses
from hmtir.train.config import load_config
from hmtir.train.logging import read_scalars
from hmtir.train.loop import train
from hmtir.train.objective import SPTObjective
from hmtir.train.schedule import lr_factor

TINY = {
    "width": 4,
    "enc_blocks": [1],
    "dec_blocks": [1],
    "middle_blocks": 1,
    "stem_downsample": 1,
    "prompt": {"dim": 8},
}
TINY_RUN = {
    "model": "ppfn_nafnet",
    "model_config": TINY,
    "crop": 32,
    "batch_size": 2,
    "threads": 1,
    "log_every": 1,
    "warmup_epochs": 0,
}


def smooth_frames(count: int, size: int = 40, seed: int = 0) -> list[np.ndarray]:
    """Frames with TIR-like structure (blobs on a gradient) so blur/contrast are learnable signals."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / size
    frames = []
    for _ in range(count):
        image = 0.3 + 0.2 * xs + 0.1 * ys
        for _ in range(3):
            cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
            image = image + 0.4 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r**2))
        frames.append(np.clip(image, 0, 1).astype(np.float32))
    return frames


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    for i, frame in enumerate(smooth_frames(6)):
        write_image(folder / f"f{i}.png", frame)
    return folder


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # tiny convs on a shared 2-core box: extra threads only contend


def tiny_ppfn() -> tuple[torch.nn.Module, PromptBank]:
    torch.manual_seed(0)
    return create_model("ppfn_nafnet", **TINY), PromptBank.seeded()


def composite_batch(batch: int = 2, seed: int = 3):  # noqa: ANN201 - DegradedBatch
    clean = torch.from_numpy(np.stack(smooth_frames(batch, 32, seed)))[:, None]
    return clean, degrade(clean, "hard", torch.Generator().manual_seed(seed), gate=1.0, return_steps=True)


def test_composite_targets_follow_the_cascade_in_reverse() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch()
    labels = torch.full((2,), COMPOSITE)
    objective = SPTObjective(model, bank, spt=True)
    total, parts = objective(batch.degraded, clean, batch.steps, labels)

    # Recompute the three passes by hand: noise → blur → contrast prompts, composite scenario, detached chain.
    out1 = run_pass(model, bank, batch.degraded, "noise", "composite")
    out2 = run_pass(model, bank, out1.detach().clamp(0, 1), "blur", "composite")
    out3 = run_pass(model, bank, out2.detach().clamp(0, 1), "contrast", "composite")
    expected = [
        F.l1_loss(out1, batch.steps["blur"]),
        F.l1_loss(out2, batch.steps["contrast"]),
        F.l1_loss(out3, clean),
    ]
    assert [parts[f"composite_{s}"].item() for s in ("noise", "blur", "contrast")] == pytest.approx(
        [e.item() for e in expected], abs=1e-7
    )
    assert total.item() == pytest.approx(sum(e.item() for e in expected), abs=1e-6)
    # the targets really are distinct stages: contrast-only differs from contrast+blur differs from clean
    assert (batch.steps["blur"] - batch.steps["contrast"]).abs().mean() > 1e-3
    assert (batch.steps["contrast"] - clean).abs().mean() > 1e-2


def test_stop_gradient_between_passes() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch()
    degraded = batch.degraded.clone().requires_grad_(True)
    targets = [batch.steps["blur"], batch.steps["contrast"], clean]
    losses = spt_losses(model, bank, degraded, targets, "composite")
    (grad_first,) = torch.autograd.grad(losses.per_pass[0], degraded, retain_graph=True)
    assert grad_first.abs().sum() > 0
    for later in losses.per_pass[1:]:  # passes 2 and 3 see pass 1's output detached: no path to the input
        (grad_later,) = torch.autograd.grad(later, degraded, retain_graph=True, allow_unused=True)
        assert grad_later is None or grad_later.abs().sum() == 0
    # and pass 3's loss does not reach pass 1's output through the chain either
    (through_chain,) = torch.autograd.grad(
        losses.per_pass[2], losses.outputs[0], retain_graph=True, allow_unused=True
    )
    assert through_chain is None


def test_single_degradation_samples_use_their_prompt_and_the_single_scenario() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch(batch=4)
    blur, composite = MIX_LABELS.index("blur"), COMPOSITE
    labels = torch.tensor([blur, composite, blur, composite])
    total, parts = SPTObjective(model, bank, spt=True)(batch.degraded, clean, batch.steps, labels)
    single = [0, 2]
    expected_single = F.l1_loss(
        run_pass(model, bank, batch.degraded[single], "blur", "single"), clean[single]
    )
    assert parts["single_blur"].item() == pytest.approx(expected_single.item(), abs=1e-7)
    composite_total = sum(parts[f"composite_{s}"] for s in ("noise", "blur", "contrast"))
    # groups weighted by their share of the batch
    assert total.item() == pytest.approx(
        0.5 * expected_single.item() + 0.5 * composite_total.item(), abs=1e-6
    )


def test_prompt_free_objective_is_one_pass_to_clean() -> None:
    torch.manual_seed(0)
    plain = create_model("nafnet", **{k: v for k, v in TINY.items() if k != "prompt"})
    clean, batch = composite_batch()
    total, parts = SPTObjective(plain, None, spt=False)(batch.degraded, clean, batch.steps, None)
    assert parts == {}
    assert total.item() == pytest.approx(F.l1_loss(plain(batch.degraded), clean).item(), abs=1e-7)
    with pytest.raises(HmtirError, match="SPT training needs a PPFN"):
        SPTObjective(plain, None, spt=True)


def _grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_pass_by_pass_backward_gives_the_summed_gradients() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch(batch=4)
    labels = torch.tensor([COMPOSITE, MIX_LABELS.index("noise"), COMPOSITE, MIX_LABELS.index("contrast")])
    objective = SPTObjective(model, bank, spt=True)
    total, parts = objective(batch.degraded, clean, batch.steps, labels)
    total.backward()
    summed = _grads(model)
    model.zero_grad(set_to_none=True)
    calls = []
    model.register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled()))
    step_total, step_parts = objective(batch.degraded, clean, batch.steps, labels, backward=True)
    assert len(calls) == 5  # 3 composite passes + 2 single-step groups, each with its own backward
    assert not step_total.requires_grad and step_total.item() == pytest.approx(total.item(), abs=1e-7)
    assert step_parts.keys() == parts.keys()
    per_pass = _grads(model)
    assert summed.abs().max() > 1e-3  # gradients really flow
    assert (per_pass - summed).abs().max().item() < 1e-6  # measured 1.2e-7: only the summation order differs


def test_pass_by_pass_backward_in_bf16_stays_close_to_fp32() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch()
    SPTObjective(model, bank, spt=True)(batch.degraded, clean, batch.steps, None, backward=True)
    fp32 = _grads(model)
    model.zero_grad(set_to_none=True)
    bf16 = SPTObjective(model, bank, spt=True, precision="bf16")
    bf16_total, _ = bf16(batch.degraded, clean, batch.steps, None, backward=True)
    assert bf16_total.dtype == torch.float32 and all(
        p.grad.dtype == torch.float32 for p in model.parameters()
    )
    rel = ((_grads(model) - fp32).norm() / fp32.norm()).item()
    assert 1e-5 < rel < 2e-2, rel  # bf16 really ran (measured 3.2e-3), gradients still point the same way


def test_training_decreases_loss_on_a_fixed_batch() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch(batch=4)
    labels = torch.tensor([COMPOSITE, MIX_LABELS.index("noise"), COMPOSITE, MIX_LABELS.index("contrast")])
    objective = SPTObjective(model, bank, spt=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss, _ = objective(batch.degraded, clean, batch.steps, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::4]  # measured: 0.717 → 0.222 in 20 steps


def test_lr_schedule_warms_up_then_follows_cosine_to_the_floor() -> None:
    config = load_config(lr=8e-5, lr_min=1e-6, warmup_steps=10)
    factor = lr_factor(config, total_steps=1000)  # warm-up capped at 5 % = 10 steps here (10 < 50)
    assert factor(0) == pytest.approx(0.1)
    assert factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0)
    assert factor(505) == pytest.approx((1e-6 / 8e-5) + (1 - 1e-6 / 8e-5) * 0.5, rel=1e-6)
    assert factor(1000) * 8e-5 == pytest.approx(1e-6)


def same_state(a: object, b: object) -> bool:
    """Exact equality of nested checkpoint contents (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_state, a, b))
    return a == b


def test_resume_reproduces_an_uninterrupted_run_bit_for_bit(frames_dir: Path, tmp_path: Path) -> None:
    """Weights, Adam moments, the LR schedule and the logged curve of a run resumed at step k equal those
    of the uninterrupted run at every following step. The per-step cosine schedule changes the LR every
    step, so a schedule restarted at the resumed step shows in ``train/lr`` and in the state."""
    k = 3
    run = {key: value for key, value in TINY_RUN.items() if key != "warmup_epochs"}
    config = load_config(**run, warmup_steps=0, steps=2 * k, ckpt_every=k)
    assert config.warmup_epochs is None  # the per-step schedule
    straight = train(config, frames_dir, tmp_path / "straight", device="cpu")

    def interrupt(step: int, total: int, scalars: dict) -> None:
        if step == k:
            raise KeyboardInterrupt  # as a Ctrl-C right after the step-k checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(config, frames_dir, tmp_path / "resumed", device="cpu", on_step=interrupt)
    assert read_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == k
    resumed = train(config, frames_dir, tmp_path / "resumed", resume=True, device="cpu")

    assert resumed.steps == 2 * k and len(resumed.losses) == k
    curve = read_scalars(tmp_path / "straight", "train/loss")
    assert [s for s, _ in curve] == list(range(1, 2 * k + 1))
    assert read_scalars(tmp_path / "resumed", "train/loss") == curve  # exact float equality, every step
    assert resumed.losses == straight.losses[k:]
    lrs = read_scalars(tmp_path / "straight", "train/lr")
    assert len({lr for _, lr in lrs}) == 2 * k  # measured: 7.47e-5, 6.03e-5, ... 1e-6 after steps 1..6
    assert read_scalars(tmp_path / "resumed", "train/lr") == lrs
    final_a = read_checkpoint(straight.final_model)["state_dict"]
    final_b = read_checkpoint(resumed.final_model)["state_dict"]
    assert all(torch.equal(final_a[key], final_b[key]) for key in final_a)
    last_a = read_checkpoint(straight.last_checkpoint)
    last_b = read_checkpoint(resumed.last_checkpoint)
    for key in ("state_dict", "optimizer", "scheduler", "step", "prompt_bank", "train_config"):
        assert same_state(last_a[key], last_b[key]), key


@pytest.mark.timeout(900)  # inductor's first compile: 272 s on a loaded 2-core box, past the 300 s default
def test_compiled_training_matches_eager_and_saves_plain_weights(
    frames_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.models.accel import compile_unavailable_reason

    if compile_unavailable_reason("cpu") is not None:
        pytest.skip(compile_unavailable_reason("cpu"))
    monkeypatch.setenv("HMTIR_HOME", str(tmp_path / "home"))  # compile cache of this test only
    torch._dynamo.reset()
    config = load_config(**TINY_RUN, steps=2)
    eager = train(config, frames_dir, tmp_path / "eager", device="cpu")
    compiled = train(config, frames_dir, tmp_path / "compiled", device="cpu", compile=True)
    # same batches and initial weights: only kernel rounding may differ (measured: first loss equal, second 1.2e-7)
    assert compiled.losses[0] == pytest.approx(eager.losses[0], abs=1e-5)
    saved = read_checkpoint(compiled.final_model)
    assert not any(key.startswith("_orig_mod.") for key in saved["state_dict"])  # loads without torch.compile
    assert json.loads((tmp_path / "compiled" / "train_summary.json").read_text())["meta"]["compiled"] is True
    load_method("ppfn", weights=str(compiled.final_model))
    from hmtir.models import accel

    broken = "torch.compile on this CPU returns NaN under bf16 autocast (probe)"
    monkeypatch.setattr(accel, "low_precision_compile_problem", lambda precision: broken)
    with pytest.raises(
        HmtirError, match=r"^cannot compile: torch.compile on this CPU returns NaN under bf16"
    ):
        train(load_config(**TINY_RUN, steps=1, amp="bf16"), frames_dir, tmp_path / "bf16", compile=True)


def test_resume_refuses_a_different_config(frames_dir: Path, tmp_path: Path) -> None:
    train(load_config(**TINY_RUN, steps=1), frames_dir, tmp_path, device="cpu")
    with pytest.raises(HmtirError, match=r"different config \(lr: 8e-05→0.001\); use a new --out"):
        train(load_config(**TINY_RUN, steps=2, lr=1e-3), frames_dir, tmp_path, resume=True, device="cpu")


def test_checkpoint_loads_as_a_method_and_restores_images(frames_dir: Path, tmp_path: Path) -> None:
    result = train(load_config(**TINY_RUN, steps=1), frames_dir, tmp_path, device="cpu")
    saved = read_checkpoint(result.last_checkpoint)
    assert {"optimizer", "scheduler", "rng", "step"} <= set(saved) and saved["model"] == "ppfn_nafnet"
    assert set(saved["rng"]) == {"python", "numpy", "torch", "cuda"}
    for path in (result.final_model, result.last_checkpoint):
        method = load_method("ppfn", weights=str(path))
        out = method.restore(torch.rand(1, 1, 37, 45), "composite", "composite")
        assert out.shape == (1, 1, 37, 45) and 0 <= out.min() and out.max() <= 1


def test_cli_no_spt_trains_the_plain_backbone_with_validation(frames_dir: Path, tmp_path: Path) -> None:
    args = [
        "--data",
        str(frames_dir),
        "--out",
        str(tmp_path),
        "--steps",
        "2",
        "--no-spt",
        "--crop",
        "32",
        "--batch-size",
        "2",
        "--threads",
        "1",
        "--val-data",
        str(frames_dir),
        "--val-every",
        "2",
        "--model",
        "ppfn_nafnet",
        "--model-config",
        '{"width": 4, "enc_blocks": [1], "dec_blocks": [1], "middle_blocks": 1}',
    ]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    saved = read_checkpoint(tmp_path / "model.pt")
    assert saved["model"] == "nafnet" and saved["prompt_bank"] is None
    psnr = read_scalars(tmp_path, "val/psnr")
    assert [s for s, _ in psnr] == [2] and 5 < psnr[0][1] < 60
    assert (tmp_path / "tensorboard").is_dir()
    load_method("nafnet", weights=str(tmp_path / "model.pt"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amp", "fp8"], "Invalid value for '--amp'"),
        (["--recipe", "nope"], "unknown recipe 'nope' (shipped: official, paper; or pass a .yaml path)"),
        (["--model-config", "{bad"], "--model-config is not valid JSON"),
    ],
)
def test_cli_rejects_bad_options(frames_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(train_command, ["--data", str(frames_dir), "--out", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in (result.output + str(result.exception))


def test_recipe_refuses_unknown_keys(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("lr: 1.0e-4\nbatchsize: 8\n")
    with pytest.raises(HmtirError, match="r.yaml: unknown key\\(s\\) batchsize"):
        load_config(recipe)
    assert load_config().lr == 8e-5 and load_config().batch_size == 16 and load_config().crop == 256


def test_too_few_frames_for_a_batch_is_a_clear_error(frames_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(
        HmtirError, match=r"6 training frames cannot fill one batch of 8 on each of 1 process"
    ):
        train(load_config(**{**TINY_RUN, "batch_size": 8}, steps=1), frames_dir, tmp_path, device="cpu")


def test_bf16_autocast_step_runs_on_cpu(frames_dir: Path, tmp_path: Path) -> None:
    result = train(load_config(**TINY_RUN, steps=2, amp="bf16"), frames_dir, tmp_path, device="cpu")
    assert result.steps == 2 and all(np.isfinite(result.losses))
    assert read_checkpoint(result.final_model)["meta"]["recipe"]["amp"] == "bf16"


def test_dataloader_workers_are_spawned_and_give_the_same_batches(frames_dir: Path, tmp_path: Path) -> None:
    """Items are seeded, so worker processes (spawned, never forked) must not change a single loss."""
    inline = train(load_config(**TINY_RUN, steps=2), frames_dir, tmp_path / "inline", device="cpu")
    workers = train(
        load_config(**TINY_RUN, steps=2, workers=1), frames_dir, tmp_path / "workers", device="cpu"
    )
    assert workers.losses == inline.losses


# --- recipes: `official` is the released code, `paper` the paper's text (issue 13) -----------------------


def test_recipes_pin_the_differences_between_the_release_and_the_paper() -> None:
    official, paper = load_config("official"), load_config("paper")
    assert (official.gate, official.mix, official.batch_size, official.crop) == (1.0, "all_steps", 16, 256)
    assert (official.warmup_epochs, official.epochs, official.seed, official.presets) == (
        3,
        300,
        1234,
        ["hard"],
    )
    assert (paper.gate, paper.mix, paper.batch_size, paper.crop, paper.warmup_epochs) == (
        0.8,
        "one_step",
        4,
        256,
        None,
    )
    for config in (official, paper):
        assert (config.lr, config.lr_min, config.model, config.passes) == (8e-5, 1e-6, "ppfn_restormer", 3)
    # an explicit step budget / step warm-up replaces the recipe's epochs / per-epoch schedule
    assert load_config("official", steps=10).epochs is None
    assert load_config("official", warmup_steps=5).warmup_epochs is None


@pytest.mark.parametrize(
    ("recipe", "gate", "mix"), [("official", 1.0, "all_steps"), ("paper", 0.8, "one_step")]
)
def test_training_degrades_with_the_recipes_gate_and_mix(
    recipe: str, gate: float, mix: str, frames_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.train import loop

    seen: list = []

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        batch = degrade(*args, **kwargs)
        seen.append((kwargs, batch))
        return batch

    monkeypatch.setattr(loop, "degrade", spy)
    overrides = {**{k: v for k, v in TINY_RUN.items() if k != "warmup_epochs"}, "batch_size": 4}
    train(load_config(recipe, **overrides, steps=2), frames_dir, tmp_path, device="cpu")
    assert [(kw["gate"], kw["training_mix"]) for kw, _ in seen] == [(gate, mix)] * 2
    if recipe == "official":  # every chain of a composite sample has every op applied
        for _, batch in seen:
            chains = batch.labels == COMPOSITE
            assert all(mask[chains].all() for mask in batch.params.applied.values())
            assert set(batch.labels.tolist()) <= {COMPOSITE, ALL_STEPS}


def test_an_all_steps_sample_trains_three_passes_each_against_the_clean_frame() -> None:
    """The released code: a single-degradation sample runs noise, blur, contrast prompts (scenario single),
    pass k on that step alone applied to the clean crop, every pass against the clean crop."""
    model, bank = tiny_ppfn()
    clean = torch.from_numpy(np.stack(smooth_frames(4, 32, 5)))[:, None]
    batch = degrade(
        clean, "hard", torch.Generator().manual_seed(1), gate=1.0, return_steps=True, training_mix="all_steps"
    )
    labels = torch.tensor([ALL_STEPS, COMPOSITE, ALL_STEPS, COMPOSITE])
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(args[0].detach().clone()))
    total, parts = SPTObjective(model, bank, spt=True)(
        batch.degraded, clean, batch.steps, labels, singles=batch.singles
    )
    single = [0, 2]
    expected = {}
    for stage in ("noise", "blur", "contrast"):
        out = run_pass(model, bank, batch.singles[stage][single], stage, "single")
        expected[stage] = F.l1_loss(out, clean[single]).item()
        assert parts[f"single_{stage}"].item() == pytest.approx(expected[stage], abs=1e-7)
    inputs = calls[:6]  # groups in label order: composite (3 chained passes) then single (3 fresh inputs)
    for k, stage in enumerate(("noise", "blur", "contrast")):
        assert torch.equal(inputs[3 + k], batch.singles[stage][single])  # never the previous pass's output
    composite = sum(parts[f"composite_{s}"].item() for s in ("noise", "blur", "contrast"))
    assert total.item() == pytest.approx(0.5 * sum(expected.values()) + 0.5 * composite, abs=1e-6)


def test_official_warm_up_is_per_epoch_then_cosine_over_the_remaining_epochs() -> None:
    """GradualWarmupScheduler(multiplier 1, 3 epochs) then CosineAnnealingLR(E - 3), stepped per epoch."""
    config = load_config("official")
    per_epoch, epochs = 10, 300
    factor = lr_factor(config, total_steps=epochs * per_epoch, batches_per_epoch=per_epoch)
    by_epoch = [factor(e * per_epoch) for e in range(epochs)]
    assert all(factor(e * per_epoch + i) == by_epoch[e] for e in (0, 1, 4, 150) for i in range(per_epoch))
    assert by_epoch[:5] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0, 1.0])
    floor = 1e-6 / 8e-5
    for e in (5, 150, 299):
        assert by_epoch[e] == pytest.approx(
            floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (e - 4) / 297))
        )
    paper = lr_factor(load_config("paper"), total_steps=100000)
    assert paper(0) == pytest.approx(1 / 1000) and paper(1) == pytest.approx(2 / 1000)  # per step


def test_one_iteration_and_naive_iteration_objectives() -> None:
    model, bank = tiny_ppfn()
    clean, batch = composite_batch()
    total, parts = SPTObjective(model, bank, spt=True, iterations=1)(batch.degraded, clean, batch.steps, None)
    one = F.l1_loss(run_pass(model, bank, batch.degraded, "composite", "composite"), clean)
    assert list(parts) == ["composite_composite"] and total.item() == pytest.approx(one.item(), abs=1e-7)
    torch.manual_seed(0)
    plain = create_model("nafnet", **{k: v for k, v in TINY.items() if k != "prompt"})
    total, parts = SPTObjective(plain, None, spt=False, iterations=3)(
        batch.degraded, clean, batch.steps, None
    )
    out1 = plain(batch.degraded)
    out2 = plain(out1.detach().clamp(0, 1))
    out3 = plain(out2.detach().clamp(0, 1))
    expected = [
        F.l1_loss(out1, batch.steps["blur"]),
        F.l1_loss(out2, batch.steps["contrast"]),
        F.l1_loss(out3, clean),
    ]
    assert [parts[f"composite_pass{k}"].item() for k in (1, 2, 3)] == pytest.approx(
        [e.item() for e in expected], abs=1e-7
    )


# --- run folders: never silently replaced (issue 12, item 8) ---------------------------------------------


def test_a_second_run_into_a_used_folder_is_refused_unless_overwrite(
    frames_dir: Path, tmp_path: Path
) -> None:
    config = load_config(**TINY_RUN, steps=1)
    train(config, frames_dir, tmp_path, device="cpu")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model.pt", tmp_path / "scalars.csv")}
    with pytest.raises(
        HmtirError,
        match=r"already holds a training run \(checkpoints, model.pt, train_summary.json, scalars.csv, tensorboard\); pass --resume to continue it or --overwrite",
    ):
        train(load_config(**TINY_RUN, steps=2), frames_dir, tmp_path, device="cpu")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model.pt", tmp_path / "scalars.csv")} == before
    (tmp_path / "notes.txt").write_text("mine")
    again = train(load_config(**TINY_RUN, steps=2), frames_dir, tmp_path, device="cpu", overwrite=True)
    assert again.steps == 2 and [s for s, _ in read_scalars(tmp_path, "train/loss")] == [1, 2]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the run's own outputs are replaced


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_run(frames_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(HmtirError, match=r"^--resume: no checkpoint at .*last.pt; start without --resume"):
        train(load_config(**TINY_RUN, steps=1), frames_dir, tmp_path / "empty", resume=True, device="cpu")
    assert not (tmp_path / "empty" / "model.pt").exists()


def test_cli_refuses_a_used_run_folder_in_one_line(frames_dir: Path, tmp_path: Path) -> None:
    args = ["--data", str(frames_dir), "--out", str(tmp_path), "--steps", "1", "--crop", "32", "--batch-size", "2",
            "--threads", "1", "--model", "ppfn_nafnet", "--model-config", json.dumps(TINY)]  # fmt: skip
    assert CliRunner().invoke(train_command, args).exit_code == 0
    second = CliRunner().invoke(train_command, args)
    assert second.exit_code != 0 and "--overwrite" in str(second.exception)
    both = CliRunner().invoke(train_command, [*args, "--resume", "--overwrite"])
    assert "pass one of them" in str(both.exception)
    assert CliRunner().invoke(train_command, [*args, "--overwrite"]).exit_code == 0


def test_cli_prompt_ablation_flags_reach_the_model_config(frames_dir: Path, tmp_path: Path) -> None:
    args = ["--data", str(frames_dir), "--out", str(tmp_path), "--steps", "1", "--crop", "32", "--batch-size", "2",
            "--threads", "1", "--model", "ppfn_nafnet", "--model-config", json.dumps(TINY),
            "--prompt-fusion", "multiply", "--prompt-activation", "none", "--iterations", "1"]  # fmt: skip
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    saved = read_checkpoint(tmp_path / "model.pt")
    assert (
        saved["config"]["prompt"]["fusion"] == "multiply"
        and saved["config"]["prompt"]["activation"] == "none"
    )
    assert saved["meta"]["recipe"]["iterations"] == 1


def test_a_plain_backbone_sees_the_same_samples_one_pass_each() -> None:
    torch.manual_seed(0)
    plain = create_model("nafnet", **{k: v for k, v in TINY.items() if k != "prompt"})
    clean = torch.from_numpy(np.stack(smooth_frames(4, 32, 6)))[:, None]
    batch = degrade(
        clean, "hard", torch.Generator().manual_seed(2), return_steps=True, training_mix="all_steps"
    )
    labels = torch.tensor([ALL_STEPS, COMPOSITE, ALL_STEPS, COMPOSITE])
    calls = []
    plain.register_forward_hook(lambda *_: calls.append(1))
    total, parts = SPTObjective(plain, None, spt=False)(
        batch.degraded, clean, batch.steps, labels, singles=batch.singles
    )
    assert len(calls) == 4 and set(parts) == {"single_noise", "single_blur", "single_contrast"}
    single = [0, 2]
    blur = F.l1_loss(plain(batch.singles["blur"][single]), clean[single])
    assert parts["single_blur"].item() == pytest.approx(blur.item(), abs=1e-7)


def test_frame_scale_degradation_trains_on_a_window_of_the_degraded_frame(
    frames_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hmtir.train.augment import crop_window

    clean = torch.from_numpy(np.stack(smooth_frames(3, 40, 7)))[:, None]
    batch = degrade(
        clean, "hard", torch.Generator().manual_seed(3), return_steps=True, training_mix="all_steps"
    )
    windowed, cut = crop_window(batch, clean, 16, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    tops, lefts = (
        torch.randint(0, 25, (3,), generator=g).tolist(),
        torch.randint(0, 25, (3,), generator=g).tolist(),
    )
    for i, (y, x) in enumerate(zip(tops, lefts)):
        window = (i, slice(None), slice(y, y + 16), slice(x, x + 16))
        assert torch.equal(cut[window[0]], clean[window])
        assert torch.equal(windowed.degraded[i], batch.degraded[window])
        assert all(torch.equal(windowed.steps[k][i], batch.steps[k][window]) for k in batch.steps)
        assert all(torch.equal(windowed.singles[k][i], batch.singles[k][window]) for k in batch.singles)

    shapes = []
    original = SPTObjective.__call__

    def spy(self, degraded, clean, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        shapes.append((tuple(degraded.shape), tuple(clean.shape)))
        return original(self, degraded, clean, *args, **kwargs)

    monkeypatch.setattr(SPTObjective, "__call__", spy)
    result = train(
        load_config(**{**TINY_RUN, "crop": 16}, steps=2, degrade_size=32), frames_dir, tmp_path, device="cpu"
    )
    assert result.steps == 2 and all(np.isfinite(result.losses))
    assert shapes == [((2, 1, 16, 16), (2, 1, 16, 16))] * 2  # degraded at 32², trained on 16² windows


def test_exposure_augmentation_scales_each_clean_frame_by_its_own_factor() -> None:
    from hmtir.train.augment import scale_exposure

    clean = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.05
    scaled = scale_exposure(clean, [0.45, 1.0], torch.Generator().manual_seed(1))
    factors = (scaled / clean).flatten(1)
    assert torch.allclose(factors, factors[:, :1].expand_as(factors), atol=1e-6)  # one k per frame
    k = factors[:, 0]
    assert 0.45 <= k.min() and k.max() <= 1.0 and k.max() - k.min() > 0.4  # spread over the range
    assert len(set(k.tolist())) == 64
    brighter = scale_exposure(clean, [1.5, 1.5], torch.Generator().manual_seed(1))
    assert torch.equal(brighter, (clean * 1.5).clamp_max(1.0))  # above 1: saturates at white
    assert (brighter == 1.0).any()


def test_restretch_moves_each_frames_grey_range_into_the_drawn_black_and_white_levels() -> None:
    """The 0.5/99.5th percentiles land at black ≤ BLACK_MAX and white ≥ WHITE_MIN, drawn per frame, linearly."""
    from hmtir.train.augment import restretch_levels

    base = torch.rand(32, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    clean = base * torch.linspace(0.2, 0.6, 32).view(32, 1, 1, 1) + 0.15  # narrow and lifted, like HIT-UAV
    out = restretch_levels(clean, [0.25, 0.75], torch.Generator().manual_seed(1))
    low, high = np.percentile(out.flatten(1).numpy(), (0.5, 99.5), axis=1)
    assert (low >= -1e-6).all() and (low <= 0.25 + 2e-3).all() and low.max() - low.min() > 0.15
    assert (high >= 0.75 - 2e-3).all() and (high <= 1 + 1e-6).all() and high.max() - high.min() > 0.15
    flat_in, flat_out = clean.flatten(1).numpy(), out.flatten(1).numpy()
    inside = (flat_out > 0) & (flat_out < 1)
    for i in range(32):  # affine in each frame where nothing clipped
        slope, intercept = np.polyfit(flat_in[i][inside[i]], flat_out[i][inside[i]], 1)
        assert np.abs(slope * flat_in[i][inside[i]] + intercept - flat_out[i][inside[i]]).max() < 1e-5


def test_exposure_range_reaches_the_training_targets(
    frames_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Targets and inputs are the darkened frame: the degradations are drawn on it, as on a darker camera."""

    seen: list[torch.Tensor] = []
    original = SPTObjective.__call__

    def spy(self, degraded, clean, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(clean.clone())
        return original(self, degraded, clean, *args, **kwargs)

    monkeypatch.setattr(SPTObjective, "__call__", spy)
    train(load_config(**TINY_RUN, steps=1), frames_dir, tmp_path / "plain", device="cpu")
    train(load_config(**TINY_RUN, steps=1, exposure=[0.5, 0.5]), frames_dir, tmp_path / "half", device="cpu")
    assert torch.equal(seen[1], seen[0] * 0.5)
    assert load_config("paper").exposure is None and load_config("official").exposure is None
    assert load_config("paper").restretch is None and load_config("official").restretch is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0,1", "--exposure must satisfy 0 < LOW <= HIGH <= 2 (got 0,1)"),
        ("0.9,0.5", "--exposure must satisfy 0 < LOW <= HIGH <= 2 (got 0.9,0.5)"),
        ("0.5,2.5", "--exposure must satisfy 0 < LOW <= HIGH <= 2 (got 0.5,2.5)"),
        ("0.5", "--exposure must be two numbers LOW,HIGH (got ['0.5'])"),
        ("--restretch=0.5,0.5", "--restretch must satisfy 0 <= BLACK_MAX < WHITE_MIN <= 1 (got 0.5,0.5)"),
        ("--restretch=0.2,1.1", "--restretch must satisfy 0 <= BLACK_MAX < WHITE_MIN <= 1 (got 0.2,1.1)"),
        ("--restretch=0.2", "--restretch must be two numbers BLACK_MAX,WHITE_MIN (got ['0.2'])"),
    ],
)
def test_cli_refuses_a_bad_exposure_range_in_one_line(
    value: str, message: str, frames_dir: Path, tmp_path: Path
) -> None:
    option = [value] if value.startswith("--") else ["--exposure", value]
    args = ["--data", str(frames_dir), "--out", str(tmp_path / "run"), "--steps", "1", *option]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code != 0 and str(result.exception) == message
    assert not (tmp_path / "run").exists()


def test_a_range_head_trains_on_the_statistics_of_the_uncropped_window(
    frames_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole-window statistics, taken before the crop, reach the objective; the model then loads and runs."""
    from hmtir.models.range_head import frame_statistics
    from hmtir.train import loop

    windows: list[DegradedBatch] = []
    seen: list[dict[str, torch.Tensor] | None] = []
    crop, objective = loop.crop_window, SPTObjective.__call__

    def crop_spy(batch, clean, size, generator):  # noqa: ANN001, ANN202
        windows.append(batch)
        return crop(batch, clean, size, generator)

    def objective_spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(kwargs["frame_stats"])
        return objective(self, *args, **kwargs)

    monkeypatch.setattr(loop, "crop_window", crop_spy)
    monkeypatch.setattr(SPTObjective, "__call__", objective_spy)
    config = load_config(
        **{**TINY_RUN, "model_config": {**TINY, "range_head": True}, "crop": 16},
        steps=2,
        degrade_size=32,
        mix="all_steps",
    )
    result = train(config, frames_dir, tmp_path, device="cpu")
    assert result.steps == 2 and all(np.isfinite(result.losses))
    for batch, stats in zip(windows, seen, strict=True):
        assert set(stats) == {"degraded", "contrast", "blur", "noise"}
        assert torch.equal(
            stats["degraded"], frame_statistics(batch.degraded)
        )  # the 32² window, not the crop
        assert all(
            torch.equal(stats[k], frame_statistics(batch.singles[k])) for k in ("contrast", "blur", "noise")
        )
    trained = read_checkpoint(result.final_model)["state_dict"]
    assert trained["range_head.mlp.4.weight"].abs().sum() > 0  # the head learned something
    out = load_method("ppfn", weights=str(result.final_model)).restore(torch.rand(1, 1, 37, 45))
    assert out.shape == (1, 1, 37, 45) and 0 <= out.min() and out.max() <= 1


def test_each_group_of_passes_gets_its_own_rows_of_the_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    from hmtir.models import spt

    torch.manual_seed(0)
    model, bank = create_model("ppfn_nafnet", **{**TINY, "range_head": True}), PromptBank.seeded()
    clean = torch.from_numpy(np.stack(smooth_frames(4, 32, 1)))[:, None]
    batch = degrade(
        clean, "hard", torch.Generator().manual_seed(2), return_steps=True, training_mix="one_step"
    )
    stats = {"degraded": torch.arange(4.0)[:, None].expand(4, 12).contiguous()}  # row i holds i
    calls: list[tuple[str, list[float]]] = []
    original = spt.run_pass

    def spy(model, bank, x, degradation, scenario, frame_stats=None):  # noqa: ANN001, ANN202
        calls.append((degradation, frame_stats[:, 0].tolist()))
        return original(model, bank, x, degradation, scenario, frame_stats)

    monkeypatch.setattr(spt, "run_pass", spy)
    SPTObjective(model, bank, spt=True)(batch.degraded, clean, batch.steps, batch.labels, frame_stats=stats)
    expected = []
    for label in torch.unique(batch.labels).tolist():
        rows = (batch.labels == label).nonzero().flatten().tolist()
        passes = 3 if label == COMPOSITE else 1
        expected += [[float(r) for r in rows]] * passes
    assert [rows for _, rows in calls] == expected
