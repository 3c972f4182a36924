"""Harmonic synth: every backend against the naive reference, plus the synth's conventions."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from musicgan_lib.kernels import harmonic_synth as hs
from musicgan_lib.kernels.harmonic_synth import (
    cumulative_phase,
    harmonic_sum,
    harmonic_synth,
    harmonic_synth_reference,
    normalize_harmonic_distribution,
    resolve_backend,
    upsample_controls,
)

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def controls(B=3, T=400, H=24, dtype=torch.float64, seed=0, f0_lo=60.0, f0_hi=1500.0):
    """Random notes with a slow +-30 % glide, so harmonics cross Nyquist inside a note."""
    g = torch.Generator().manual_seed(seed)
    base = f0_lo + (f0_hi - f0_lo) * torch.rand(B, 1, generator=g, dtype=torch.float64)
    glide = 1.0 + 0.3 * torch.sin(torch.linspace(0, 5, T, dtype=torch.float64) + 3 * torch.rand(B, 1, generator=g))
    f0 = (base * glide).to(dtype)
    amp = torch.rand(B, T, generator=g, dtype=torch.float64).to(dtype)
    dist = torch.rand(B, T, H, generator=g, dtype=torch.float64).to(dtype)
    return f0, amp, dist


def synth_and_grads(f0, amp, dist, backend, **kw):
    f0, amp, dist = (x.detach().clone().requires_grad_() for x in (f0, amp, dist))
    out = harmonic_synth(f0, amp, dist, SR, backend=backend, **kw)
    g = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad(out, (f0, amp, dist), g)
    return (out.detach(), *grads)


# ----------------------------------------------------------------------------- conventions


def test_reference_matches_closed_form_sinusoid():
    T, f = 1000, 440.0
    f0 = torch.full((1, T), f, dtype=torch.float64)
    dist = torch.zeros(1, T, 3, dtype=torch.float64)
    dist[..., 1] = 1.0  # second harmonic only
    out = harmonic_synth_reference(f0, torch.full_like(f0, 0.5), dist, SR)
    n = torch.arange(1, T + 1, dtype=torch.float64)  # inclusive cumsum: sample 0 has phase w
    expected = 0.5 * torch.sin(2 * (2 * math.pi * f * n / SR))
    torch.testing.assert_close(out[0], expected, atol=1e-9, rtol=0)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_harmonics_at_or_above_nyquist_are_silent(backend):
    T = 256
    # 3000 Hz: harmonic 3 is 9 kHz > 8 kHz. 4000 Hz: harmonic 2 sits exactly on Nyquist.
    f0 = torch.tensor([[3000.0], [4000.0], [9000.0]], dtype=torch.float64).expand(3, T)
    amp = torch.ones(3, T, dtype=torch.float64)
    dist = torch.zeros(3, T, 3, dtype=torch.float64)
    dist[0, :, 2] = 1.0
    dist[1, :, 1] = 1.0
    dist[2, :, :] = 1.0  # fundamental already above Nyquist: all silent
    out = harmonic_synth(f0, amp, dist, SR, backend=backend, chunk_elements=60)
    assert out.abs().max().item() == 0.0
    # ...while the harmonics below Nyquist are there and unnormalised (no renormalising).
    dist2 = torch.zeros(1, T, 3, dtype=torch.float64)
    dist2[0, :, 0] = 0.25
    out2 = harmonic_synth(f0[:1], amp[:1], dist2, SR, backend=backend)
    assert math.isclose(out2.abs().max().item(), 0.25, rel_tol=1e-3)


def test_float32_long_note_has_no_phase_drift():
    T = 4 * SR  # a 4 s note
    f0 = torch.full((1, T), 1000.3, dtype=torch.float32)
    f = f0[0, 0].item()  # the float32 frequency, exactly
    n = torch.arange(1, T + 1, dtype=torch.float64)
    exact = torch.remainder(2 * math.pi * f * n / SR, 2 * math.pi)
    ours = cumulative_phase(f0, SR).double()
    wrapped_err = torch.remainder(ours - exact + math.pi, 2 * math.pi) - math.pi
    assert wrapped_err.abs().max().item() < 1e-5
    # The naive float32 cumsum that the float64 accumulation avoids would drift visibly.
    naive = torch.cumsum(f0 * (2 * math.pi / SR), dim=-1).double()
    naive_err = torch.remainder(naive - exact + math.pi, 2 * math.pi) - math.pi
    assert naive_err.abs().max().item() > 1e-3
    dist = torch.ones(1, T, 1)
    out = harmonic_synth(f0, torch.ones_like(f0), dist, SR)
    assert (out.double()[0] - torch.sin(exact)).abs().max().item() < 1e-5


def test_normalize_harmonic_distribution_masks_and_renormalises():
    f0 = torch.tensor([[100.0, 3000.0, 9000.0]])
    dist = torch.rand(1, 3, 4) + 0.1
    out = normalize_harmonic_distribution(dist, f0, SR)
    torch.testing.assert_close(out[0, :2].sum(-1), torch.ones(2))
    assert out[0, 1, 2:].abs().max() == 0  # 9 and 12 kHz are above 8 kHz
    assert out[0, 2].abs().max() == 0  # nothing below Nyquist: stays silent, no NaN
    assert torch.isfinite(out).all()


def test_upsample_controls_is_linear_between_frames():
    frames = torch.tensor([[0.0, 1.0, 3.0]])
    up = upsample_controls(frames, 5)
    torch.testing.assert_close(up, torch.tensor([[0.0, 0.5, 1.0, 2.0, 3.0]]))
    dist = torch.rand(2, 3, 7)
    updist = upsample_controls(dist, 9)
    assert updist.shape == (2, 9, 7) and updist.is_contiguous()
    torch.testing.assert_close(updist[:, 0], dist[:, 0])
    torch.testing.assert_close(updist[:, -1], dist[:, -1])
    torch.testing.assert_close(updist[:, 2], (dist[:, 0] + dist[:, 1]) / 2)


def test_backend_resolution():
    assert resolve_backend("auto", torch.device("cpu")) == "cpu"
    with pytest.raises(ValueError):
        resolve_backend("fast", torch.device("cpu"))
    from musicgan_lib.kernels import triton_harmonic

    if triton_harmonic.HAS_TRITON and not triton_harmonic.interpret_mode():
        with pytest.raises(RuntimeError, match="CUDA"):
            harmonic_synth(*controls(B=1, T=8, H=2), SR, backend="triton")


# ----------------------------------------------------------------------------- lean CPU path


@pytest.mark.parametrize("chunk_elements", [7, 24 * 37, hs.CHUNK_ELEMENTS])
def test_lean_cpu_matches_reference_float64(chunk_elements):
    f0, amp, dist = controls()
    # One low note (no harmonic masked), one above Nyquist entirely (all masked).
    f0 = torch.cat([f0, torch.full_like(f0[:1], 50.0), torch.full_like(f0[:1], 8500.0)])
    amp = torch.cat([amp, amp[:2]])
    dist = torch.cat([dist, dist[:2]])
    ref = synth_and_grads(f0, amp, dist, "reference")
    lean = synth_and_grads(f0, amp, dist, "cpu", chunk_elements=chunk_elements)
    for name, r, x in zip(("audio", "d_f0", "d_amp", "d_dist"), ref, lean):
        torch.testing.assert_close(x, r, rtol=1e-10, atol=1e-10, msg=name)
    assert lean[1].abs().max() > 0  # f0 really receives a gradient


def test_lean_cpu_matches_reference_float32():
    f0, amp, dist = controls(B=2, T=3000, H=64, dtype=torch.float32, seed=1)
    ref = synth_and_grads(f0, amp, dist, "reference")
    lean = synth_and_grads(f0, amp, dist, "cpu", chunk_elements=5000)
    for name, r, x in zip(("audio", "d_f0", "d_amp", "d_dist"), ref, lean):
        scale = r.abs().max().item()
        assert (x - r).abs().max().item() <= 1e-5 * scale + 1e-6, name


def test_lean_function_gradcheck():
    f0, _, dist = controls(B=2, T=5, H=4, seed=2)
    phase = cumulative_phase(f0, SR).requires_grad_()
    dist.requires_grad_()
    fn = lambda p, d: harmonic_sum(p, f0, d, SR / 2, backend="cpu", chunk_elements=6)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (phase, dist))


def test_full_synth_gradcheck_through_phase_cumsum():
    f0, amp, dist = (x.requires_grad_() for x in controls(B=1, T=6, H=3, seed=3))
    fn = lambda a, b, c: harmonic_synth(a, b, c, SR, backend="cpu", chunk_elements=4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (f0, amp, dist))


@pytest.mark.parametrize("wants", [("f0",), ("amp",), ("dist",), ("f0", "dist")])
def test_lean_cpu_partial_gradients(wants):
    f0, amp, dist = controls(B=2, T=50, H=8, seed=4)
    results = {}
    for backend in ("reference", "cpu"):
        xs = {"f0": f0.clone(), "amp": amp.clone(), "dist": dist.clone()}
        for w in wants:
            xs[w].requires_grad_()
        out = harmonic_synth(xs["f0"], xs["amp"], xs["dist"], SR, backend=backend, chunk_elements=40)
        results[backend] = torch.autograd.grad(out.square().sum(), [xs[w] for w in wants])
    for r, x in zip(results["reference"], results["cpu"]):
        torch.testing.assert_close(x, r, rtol=1e-10, atol=1e-10)


def test_broadcast_controls_and_dtype_promotion():
    _, _, dist = controls(B=2, T=40, H=5, dtype=torch.float32)
    f0 = torch.tensor([[220.0], [330.0]], dtype=torch.float64)  # [B, 1], float64
    amp = torch.tensor([[0.5], [0.25]], dtype=torch.float32)
    out = harmonic_synth(f0, amp, dist, SR, backend="cpu")
    assert out.dtype == torch.float64 and out.shape == (2, 40)
    ref = harmonic_synth_reference(f0.expand(2, 40), amp.expand(2, 40), dist.double(), SR)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)


def _saved_bytes(backend, f0, amp, dist):
    """Bytes autograd keeps for backward, not counting storage shared with the inputs."""
    inputs = {x.untyped_storage().data_ptr() for x in (f0, amp, dist)}
    total = 0

    def pack(t):
        nonlocal total
        if t.untyped_storage().data_ptr() not in inputs:
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        harmonic_synth(f0, amp, dist, SR, backend=backend)
    return total


def test_lean_path_keeps_no_harmonic_sized_activations():
    f0, amp, dist = (x.requires_grad_() for x in controls(B=2, T=2000, H=50, dtype=torch.float32))
    dist_bytes = dist.numel() * dist.element_size()
    ref = _saved_bytes("reference", f0, amp, dist)
    lean = _saved_bytes("cpu", f0, amp, dist)
    assert ref >= 2 * dist_bytes  # the naive graph keeps several [B, T, H] tensors
    assert lean < dist_bytes / 10  # the Function keeps only [B, T] tensors beyond its inputs


# ----------------------------------------------------------------------------- Triton


_TRITON_SCRIPT = textwrap.dedent(
    """
    import os, sys
    assert os.environ.get("TRITON_INTERPRET") == "1"
    import torch
    sys.path.insert(0, os.environ["MUSICGAN_ROOT"])
    sys.path.insert(0, os.environ["MUSICGAN_TESTS"])
    from musicgan_lib.kernels import harmonic_synth as hs, triton_harmonic as th
    from test_harmonic_synth import controls, synth_and_grads, SR

    # The kernels really are Triton programs run by Triton's interpreter ...
    assert th.HAS_TRITON and th.interpret_mode()
    assert type(th._harmonic_sum_fwd_kernel).__name__ == "InterpretedFunction"
    assert type(th._harmonic_sum_bwd_kernel).__name__ == "InterpretedFunction"
    # ... and no pure-torch fallback can stand in for them.
    def _no_fallback(*a, **k):
        raise AssertionError("lean torch path used instead of the Triton kernels")
    hs._lean_forward = hs._lean_backward = _no_fallback
    launches = {"fwd": 0, "bwd": 0}
    for name, key in (("harmonic_sum_forward", "fwd"), ("harmonic_sum_backward", "bwd")):
        orig = getattr(th, name)
        def counted(*a, _orig=orig, _key=key, **k):
            launches[_key] += 1
            return _orig(*a, **k)
        setattr(th, name, counted)

    # float64: forward and all gradients equal the reference; T not a multiple of BLOCK_T,
    # H not a multiple of BLOCK_H, notes crossing Nyquist.
    f0, amp, dist = controls(B=2, T=150, H=21, seed=5)
    f0 = torch.cat([f0, torch.full_like(f0[:1], 8500.0)])
    amp, dist = torch.cat([amp, amp[:1]]), torch.cat([dist, dist[:1]])
    ref = synth_and_grads(f0, amp, dist, "reference")
    tri = synth_and_grads(f0, amp, dist, "triton")
    for name, r, x in zip(("audio", "d_f0", "d_amp", "d_dist"), ref, tri):
        torch.testing.assert_close(x, r, rtol=1e-10, atol=1e-10, msg=name)

    # float32
    f0, amp, dist = controls(B=2, T=200, H=40, dtype=torch.float32, seed=6)
    ref = synth_and_grads(f0, amp, dist, "reference")
    tri = synth_and_grads(f0, amp, dist, "triton")
    for name, r, x in zip(("audio", "d_f0", "d_amp", "d_dist"), ref, tri):
        assert (x - r).abs().max().item() <= 1e-5 * r.abs().max().item() + 1e-6, name

    # Only some gradients wanted (the kernel's NEED_DIST / NEED_PHASE branches).
    f0, amp, dist = controls(B=1, T=40, H=5, seed=7)
    for wants in (("f0",), ("dist",)):
        got = {}
        for backend in ("reference", "triton"):
            xs = {"f0": f0.clone(), "amp": amp.clone(), "dist": dist.clone()}
            for w in wants:
                xs[w].requires_grad_()
            out = hs.harmonic_synth(xs["f0"], xs["amp"], xs["dist"], SR, backend=backend)
            got[backend] = torch.autograd.grad(out.square().sum(), [xs[w] for w in wants])
        for r, x in zip(got["reference"], got["triton"]):
            torch.testing.assert_close(x, r, rtol=1e-10, atol=1e-10)

    # gradcheck of the custom Function with the Triton backward.
    f0, _, dist = controls(B=1, T=4, H=3, seed=8)
    phase = hs.cumulative_phase(f0, SR).requires_grad_()
    dist.requires_grad_()
    fn = lambda p, d: hs.harmonic_sum(p, f0, d, SR / 2, backend="triton")
    assert torch.autograd.gradcheck(fn, (phase, dist))
    assert launches["fwd"] >= 4 and launches["bwd"] >= 4, launches
    print("TRITON_INTERPRET_OK", launches)
    """
)


def test_triton_kernels_match_reference_under_interpreter():
    pytest.importorskip("triton", reason="triton is not installed")
    env = dict(os.environ, TRITON_INTERPRET="1", MUSICGAN_ROOT=str(ROOT), MUSICGAN_TESTS=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", _TRITON_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "TRITON_INTERPRET_OK" in proc.stdout


def test_triton_kernels_compile_for_a_gpu_target():
    """The interpreter is laxer than the compiler: lower both kernels to a Hopper cubin
    (Triton ships ptxas, no GPU needed) so type errors in compiled mode show up here."""
    pytest.importorskip("triton", reason="triton is not installed")
    from musicgan_lib.kernels import triton_harmonic as th

    if th.interpret_mode():
        pytest.skip("TRITON_INTERPRET is set in this process: kernels are interpreted, not compiled")
    try:
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as e:  # pragma: no cover - other Triton versions
        pytest.skip(f"this Triton has no ahead-of-time compile API: {e}")
    target = GPUTarget("cuda", 90, 32)
    ptr = {
        n: "*fp32"
        for n in ("phase_ptr", "f0_ptr", "dist_ptr", "out_ptr", "grad_ptr", "grad_dist_ptr", "grad_phase_ptr")
    }
    cases = [
        (th._harmonic_sum_fwd_kernel, ["phase_ptr", "f0_ptr", "dist_ptr", "out_ptr"], {}),
        (
            th._harmonic_sum_bwd_kernel,
            ["grad_ptr", "phase_ptr", "f0_ptr", "dist_ptr", "grad_dist_ptr", "grad_phase_ptr"],
            {"NEED_DIST": True, "NEED_PHASE": True},
        ),
    ]
    for fn, ptrs, flags in cases:
        constexprs = {"H": 100, "BLOCK_T": th._BLOCK_T, "BLOCK_H": th._BLOCK_H, **flags}
        sig = {**{p: ptr[p] for p in ptrs}, "T": "i32", "nyquist": "fp32", **{c: "constexpr" for c in constexprs}}
        kernel = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=constexprs), target=target)
        assert len(kernel.asm["cubin"]) > 0
        assert "sin.approx" not in kernel.asm["ptx"]  # accurate libdevice sin, not the fast approximation


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_triton_on_cuda_matches_reference(dtype):
    pytest.importorskip("triton", reason="triton is not installed")
    f0, amp, dist = (x.cuda() for x in controls(B=3, T=5000, H=100, dtype=dtype, seed=9))
    ref = synth_and_grads(f0, amp, dist, "reference")
    tri = synth_and_grads(f0, amp, dist, "auto")  # auto must pick Triton on CUDA
    assert resolve_backend("auto", f0.device) == "triton"
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    for name, r, x in zip(("audio", "d_f0", "d_amp", "d_dist"), ref, tri):
        assert (x - r).abs().max().item() <= tol * r.abs().max().item() + tol, name


@pytest.mark.slow
def test_benchmark_small_runs():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_harmonic_synth.py"),
            "--small",
            "--repeats",
            "1",
            "--pitch",
            "musical",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "vs reference" in proc.stdout and "RTF" in proc.stdout
