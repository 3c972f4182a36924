import pytest
import torch
from torch import nn

from musicgan_lib.data.toy2d import ring
from musicgan_lib.losses import NonSaturatingLoss, WassersteinLoss
from musicgan_lib.models.toy_mlp import MLPDiscriminator, MLPGenerator
from musicgan_lib.train import Every, GANTrainer, TrainingDiverged, TrainLoop, latent_sampler
from musicgan_lib.device import seed_everything


def _trainer(tmp_path=None, seed=0, loss=None, n_critic=1, every=0, callbacks=(), ema=None, reuse_fakes=False):
    rng = seed_everything(seed)
    g, d = MLPGenerator(2, 16, 2), MLPDiscriminator(16, 2, pack=2)
    return GANTrainer(
        g,
        d,
        loss or NonSaturatingLoss(),
        torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999)),
        torch.optim.Adam(d.parameters(), 1e-3, betas=(0.5, 0.999)),
        ring().sampler(),
        latent_sampler(2),
        batch_size=32,
        rng=rng,
        n_critic=n_critic,
        checkpoint_path=(tmp_path / "ck.safetensors") if tmp_path else None,
        checkpoint_every=every,
        callbacks=callbacks,
        ema_decay=ema,
        reuse_fakes=reuse_fakes,
    )


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.loop.modules["generator"].state_dict().items()} | {
        "d." + k: v.clone() for k, v in trainer.loop.modules["critic"].state_dict().items()
    }


@pytest.mark.parametrize("n_critic,ema,reuse", [(1, None, False), (3, 0.9, False), (1, 0.9, True)])
def test_resume_reproduces_uninterrupted_run_exactly(tmp_path, n_critic, ema, reuse):
    straight = _trainer(n_critic=n_critic, ema=ema, reuse_fakes=reuse)
    straight.run(30)
    first = _trainer(tmp_path, n_critic=n_critic, every=10, ema=ema, reuse_fakes=reuse)
    first.run(20)
    # a fresh process would build everything anew (with a different seed even) and resume
    resumed = _trainer(tmp_path, seed=123, n_critic=n_critic, every=10, ema=ema, reuse_fakes=reuse)
    assert resumed.loop.resume() and resumed.step == 20
    resumed.run(30)
    a, b = _weights(straight), _weights(resumed)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert straight.history["g_loss"] == resumed.history["g_loss"]
    assert len(resumed.history["step"]) == 30
    if ema:
        for x, y in zip(straight.ema.parameters(), resumed.ema.parameters()):
            assert torch.equal(x, y)


def test_training_time_survives_a_resume(tmp_path):
    """A checkpoint written mid-run counts the time of that run: a resumed run does not start from 0 s."""
    import time

    nap = Every(1, lambda loop: time.sleep(0.01))
    first = _trainer(tmp_path, every=5, callbacks=[nap])
    first.run(10)  # the last checkpoint (step 10) is written inside the loop, before run() returns
    assert first.loop.seconds >= 0.1
    resumed = _trainer(tmp_path, every=5)
    assert resumed.loop.resume() and resumed.step == 10
    assert resumed.loop.seconds >= 0.1 and resumed.loop.seconds <= first.loop.seconds
    resumed.run(12)
    assert resumed.loop.seconds > 0.1


def test_training_moves_the_generator_and_calls_callbacks():
    seen = []
    t = _trainer(callbacks=[Every(5, lambda loop: seen.append(loop.step))])
    before = _weights(t)
    t.run(12)
    assert seen == [5, 10, 12]
    assert any(not torch.equal(before[k], v) for k, v in _weights(t).items())
    assert t.sample(10).shape == (10, 2)


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    class Poison(NonSaturatingLoss):
        def generator_loss(self, critic, fake):
            loss = super().generator_loss(critic, fake)
            return loss * float("nan") if self.armed else loss

    loss = Poison()
    loss.armed = False
    t = _trainer(tmp_path, loss=loss, every=5)
    arm = Every(7, lambda loop: setattr(loss, "armed", True), at_end=False)
    t.loop.callbacks.append(arm)
    with pytest.raises(TrainingDiverged, match=r"g_loss became nan at step 8.*last good checkpoint \(step 5\)"):
        t.run(20)
    again = _trainer(tmp_path)
    assert again.loop.resume() and again.step == 5
    assert all(torch.isfinite(p).all() for p in again.generator.parameters())


def test_weight_clipping_applies_after_each_critic_step():
    t = _trainer(loss=WassersteinLoss(clip=0.01), n_critic=2)
    t.run(3)
    assert max(p.abs().max().item() for p in t.critic.parameters()) <= 0.01 + 1e-7


def test_run_backwards_is_refused():
    t = _trainer()
    t.run(3)
    with pytest.raises(ValueError, match="already at step 3"):
        t.run(2)


def test_generic_loop_trains_any_step_function(tmp_path):
    rng = seed_everything(0)
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(loop):
        x = torch.randn(16, 1, generator=loop.rng)
        loss = ((model(x) - 3 * x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    loop = TrainLoop(
        step, {"m": model}, {"opt": opt}, rng=rng, checkpoint_path=tmp_path / "m.safetensors", checkpoint_every=50
    )
    loop.run(100)
    assert model.weight.item() == pytest.approx(3.0, abs=1e-2)
    assert loop.history["loss"][-1] < loop.history["loss"][0]
    assert (tmp_path / "m.safetensors").exists()


def test_ema_warmup_forgets_the_initial_weights_by_the_documented_rule():
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from musicgan_lib.train import ema_with_warmup

    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    fixed = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    ramped = AveragedModel(model, multi_avg_fn=ema_with_warmup(0.999, 10), use_buffers=True)
    fixed.update_parameters(model)  # the first update copies the (zero) initial weights
    ramped.update_parameters(model)
    with torch.no_grad():
        model.weight.fill_(1.0)  # training has moved the weight to 1 and keeps it there
    share = 1.0  # the share of the initial weight left in the ramped average, by hand
    for n in range(1, 1251):
        fixed.update_parameters(model)
        ramped.update_parameters(model)
        share *= min(0.999, (1 + n) / (10 + n))
    assert fixed.module.weight.item() == pytest.approx(1 - 0.999**1250, rel=1e-4)  # 29 % still the random start
    assert ramped.module.weight.item() == pytest.approx(1 - share, rel=1e-4)
    assert 1 - ramped.module.weight.item() < 0.01
    with pytest.raises(ValueError, match="warmup"):
        ema_with_warmup(0.999, 0)


@pytest.mark.parametrize("n_critic", [1, 3])
@pytest.mark.parametrize("reuse", [False, True])
def test_reuse_fakes_judges_the_last_critic_steps_fakes_in_the_generator_step(n_critic, reuse):
    trainer = _trainer(n_critic=n_critic, reuse_fakes=reuse)
    g_outputs, critic_inputs = [], []
    trainer.generator.register_forward_hook(lambda m, i, out: g_outputs.append(out.detach().clone()))
    trainer.critic.register_forward_hook(lambda m, i, out: critic_inputs.append(i[0].detach().clone()))
    trainer.run(2)
    # per critic step the critic sees the real batch, then the fakes; then the generator step's batch
    per_step = 2 * n_critic + 1
    assert len(critic_inputs) == 2 * per_step
    assert len(g_outputs) == 2 * (n_critic + (0 if reuse else 1))  # one generator forward saved per step
    for step in range(2):
        seen = critic_inputs[step * per_step : (step + 1) * per_step]
        last_fakes, g_step = seen[2 * n_critic - 1], seen[-1]
        assert torch.equal(last_fakes, g_step) == reuse
    # the generator still learns from those fakes: same loss, gradients flow into G
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.generator.parameters())


def test_train_with_estimate_says_how_long_before_the_rest_runs(monkeypatch, capsys):
    from musicgan_lib import train as train_module

    clock = {"now": 0.0, "step": 0}
    calls = []

    def train_to(step):  # each step costs 0.25 s of a fake clock; the warm-up step 5 s
        clock["now"] += 5.0 if clock["step"] == 0 else 0.25 * (step - clock["step"])
        clock["step"] = step
        calls.append((step, capsys.readouterr().out))

    monkeypatch.setattr(train_module.time, "perf_counter", lambda: clock["now"])
    estimate = train_module.train_with_estimate(train_to, 0, 245, "recipe on 900 sprites")
    assert [step for step, _ in calls] == [1, 5, 245]
    assert estimate == pytest.approx(0.25 * 240)
    assert calls[-1][1] == "recipe on 900 sprites: 245 steps at 250 ms each; about 1.0 min to go\n"  # said before
    calls.clear()
    assert train_module.train_with_estimate(train_to, 245, 248, "short") == 0.0  # too short to probe: just trains
    assert [step for step, _ in calls] == [248]
