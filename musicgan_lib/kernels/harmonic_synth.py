"""Harmonic (additive) synthesizer: the decoder of Chapter 6's autoencoder.

A bank of ``H`` sinusoids at integer multiples of a time-varying fundamental, shaped like
DDSP's harmonic synth::

    phase0[b, t] = (2*pi/sr * cumsum_t f0[b, t])  mod 2*pi      # inclusive cumsum, float64
    audio[b, t]  = amp[b, t] * sum_k mask[b, t, k] * dist[b, t, k-1] * sin(k * phase0[b, t])
    mask[b, t, k] = k * f0[b, t] < sr / 2                      # per sample, no renormalising

Conventions (identical in every backend):

* Controls are at audio rate: ``f0_hz`` [B, T], ``amplitudes`` [B, T] (both may be anything
  that broadcasts to [B, T]) and ``harmonic_distribution`` [B, T, H] -- DDSP's
  (batch, time, harmonics) layout, contiguous along harmonics. Frame-rate controls go
  through :func:`upsample_controls` first.
* The phase cumsum runs in float64 and is wrapped modulo 2*pi before it is cast back, so a
  several-second float32 note has no phase drift (a float32 cumsum is off by ~1e-3 rad
  after 4 s). The wrap does not change gradients.
* Harmonics at or above Nyquist are zeroed per sample, but the distribution is **not**
  renormalised inside the synth: as in DDSP that is the caller's control processing
  (:func:`normalize_harmonic_distribution`, best done at frame rate). This keeps the synth
  linear in ``dist`` and every backend the same formula (up to float summation order).
* Gradients flow to ``amplitudes``, ``harmonic_distribution`` and ``f0_hz`` (through the
  phase cumsum) in every backend. The Nyquist mask is piecewise constant in f0 and
  contributes no gradient (as in the reference).

Backends:

* ``"reference"`` -- naive pure torch; materialises several [B, T, H] tensors and lets
  autograd keep them. The ground truth for the tests.
* ``"cpu"`` -- memory-lean pure torch: a custom autograd Function that walks over chunks of
  ~256k (sample, harmonic) pairs in cache-sized reused buffers, computes only the harmonics
  that can be below Nyquist in each chunk, and recomputes ``sin``/``cos`` in the backward
  instead of storing [B, T, H] activations. Works on any device; it is what ``"auto"``
  picks on CPU (and on CUDA without Triton).
* ``"triton"`` -- the same Function backed by the fused kernels in
  :mod:`musicgan_lib.kernels.triton_harmonic` (CUDA tensors; CPU tensors only under
  ``TRITON_INTERPRET=1``). ``"auto"`` picks it for CUDA tensors when Triton imports.

What the lean path is made of (measured on the 2-core dev CPU): ``torch.sin`` on a
cache-resident chunk costs ~0.5 ns per element on two threads, the same call over a 400 MB
tensor ~2.3 ns, so chunking alone pays. Two ways to avoid per-harmonic ``sin`` calls were tried and
dropped: the Chebyshev recurrence ``sin((k+1)x) = 2 cos x sin(kx) - sin((k-1)x)`` needs
~3 tiny torch ops per harmonic and its float32 error grows with k (1.5e-4 at k = 100
against 3.1e-5 for ``sin(k * x)``); two-level angle addition (k = J*m + j, two products
and an add from ~2*sqrt(H) sines per sample) is as accurate but its broadcast products
ran no faster than ``sin`` itself in eager torch. ``torch.compile`` (inductor, C++) of the
same math fused into single loops was no faster than this path at one thread (~0.69 s vs
~0.70 CPU-s for the benchmark's 102 M sample-harmonics) and costs ~25 s of compilation and
a C++ toolchain at run time, so it is not used (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ..checks import require_sample_rate
from ..checks import require_int, require_number
from . import triton_harmonic as _tri

__all__ = [
    "Backend",
    "harmonic_synth",
    "harmonic_synth_reference",
    "harmonic_sum",
    "cumulative_phase",
    "harmonic_mask",
    "normalize_harmonic_distribution",
    "upsample_controls",
    "resolve_backend",
    "triton_available",
]

Backend = Literal["auto", "reference", "cpu", "triton"]

TWO_PI = 2.0 * math.pi
# (sample, harmonic) pairs per chunk of the lean path: 256k float32 = 1 MB per work buffer.
# Measured on the 2-core dev CPU: 32k..2M per chunk are within noise of each other; fewer,
# larger chunks mean fewer parallel regions, which matters on an oversubscribed CPU.
CHUNK_ELEMENTS = 1 << 18


# ----------------------------------------------------------------------------- helpers


def cumulative_phase(f0_hz: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Fundamental phase ``(2*pi/sr * cumsum(f0)) mod 2*pi`` along the last axis.

    f0_hz [..., T] (Hz, one value per audio sample) -> phase [..., T] in radians, in [0, 2*pi).

    Accumulated in float64 (float32 on MPS, which has no float64) so long notes do not drift;
    returned in ``f0_hz``'s dtype, differentiable w.r.t. ``f0_hz``.
    """
    acc = torch.float32 if f0_hz.device.type == "mps" else torch.float64
    omega = f0_hz.to(acc) * (TWO_PI / float(sample_rate))
    phase = torch.remainder(torch.cumsum(omega, dim=-1), TWO_PI)
    return phase.to(f0_hz.dtype)


def harmonic_mask(f0_hz: torch.Tensor, n_harmonics: int, sample_rate: float) -> torch.Tensor:
    """Boolean ``[..., H]``: harmonic k (1-based) of each sample lies strictly below Nyquist."""
    k = torch.arange(1, n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
    return f0_hz[..., None] * k < float(sample_rate) / 2.0


def normalize_harmonic_distribution(
    harmonic_distribution: torch.Tensor,
    f0_hz: torch.Tensor,
    sample_rate: float,
    eps: float = 1e-7,
) -> torch.Tensor:
    """Zero the harmonics at or above Nyquist and renormalise each distribution to sum 1.

    DDSP does this in the caller's control processing, not in the synth; do it at frame
    rate (``[B, frames, H]`` with ``f0_hz`` ``[B, frames]``), where it is cheap. Rows with
    every harmonic above Nyquist stay all-zero.
    """
    mask = harmonic_mask(f0_hz, harmonic_distribution.shape[-1], sample_rate)
    d = harmonic_distribution * mask
    return d / d.sum(dim=-1, keepdim=True).clamp_min(eps)


def upsample_controls(x_frames: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Linearly interpolate frame-rate controls to audio rate.

    ``[B, F] -> [B, n_samples]`` or ``[B, F, C] -> [B, n_samples, C]`` (contiguous, the
    layout the synth wants). The first and last frames land on the first and last sample
    (``align_corners=True``), so a one-frame control becomes a constant.
    """
    if x_frames.dim() not in (2, 3):
        raise ValueError(f"expected [B, F] or [B, F, C] frames, got {tuple(x_frames.shape)}")
    if x_frames.dim() == 2:
        return F.interpolate(x_frames[:, None, :], size=n_samples, mode="linear", align_corners=True)[:, 0]
    up = F.interpolate(x_frames.transpose(1, 2), size=n_samples, mode="linear", align_corners=True)
    return up.transpose(1, 2).contiguous()


def triton_available() -> bool:
    """True when the Triton kernels can be imported (a GPU is still needed to run them)."""
    return _tri.HAS_TRITON


def resolve_backend(backend: str, device: torch.device) -> str:
    """Turn ``"auto"`` into a concrete backend for ``device`` and validate explicit choices."""
    if backend not in ("auto", "reference", "cpu", "triton"):
        raise ValueError(f"unknown backend {backend!r}; use 'auto', 'reference', 'cpu' or 'triton'")
    if backend == "auto":
        return "triton" if (device.type == "cuda" and _tri.HAS_TRITON) else "cpu"
    if backend == "triton":
        if not _tri.HAS_TRITON:
            raise RuntimeError("backend='triton' needs the triton package; use backend='cpu'")
        if device.type != "cuda" and not _tri.interpret_mode():
            raise RuntimeError(
                f"backend='triton' needs CUDA tensors (got {device}); on CPU use backend='cpu', "
                "or set TRITON_INTERPRET=1 before importing triton to run the kernels in "
                "Triton's (slow) interpreter"
            )
    return backend


# ----------------------------------------------------------------------------- reference


def _reference_sum(phase: torch.Tensor, f0: torch.Tensor, dist: torch.Tensor, nyquist: float) -> torch.Tensor:
    k = torch.arange(1, dist.shape[-1] + 1, dtype=dist.dtype, device=dist.device)
    mask = f0[..., None] * k < nyquist  # [B, T, H]
    return (dist * mask * torch.sin(phase[..., None] * k)).sum(dim=-1)


def harmonic_synth_reference(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    sample_rate: int,
) -> torch.Tensor:
    """Naive pure-torch synth (materialises [B, T, H]); the ground truth for the fused paths."""
    sample_rate = require_sample_rate(sample_rate, "sample_rate")
    f0, amp, dist, out_dtype = _prepare(f0_hz, amplitudes, harmonic_distribution)
    phase = cumulative_phase(f0, sample_rate)
    audio = amp * _reference_sum(phase, f0, dist, float(sample_rate) / 2.0)
    return audio.to(out_dtype)


# ----------------------------------------------------------------------------- lean CPU path


def _harmonic_bounds(f0_rows: torch.Tensor, n_harmonics: int, nyquist: float) -> tuple[int, int]:
    """``(lo, hi)`` for a chunk: harmonics ``1..lo`` pass the mask in every row, none above
    ``hi`` passes in any row. Conservative by one harmonic on each side (rounding), the exact
    mask is applied to harmonics ``lo+1..hi``."""
    if f0_rows.device.type != "cpu":  # .item() would sync the device every chunk
        return 0, n_harmonics
    fmin, fmax = (v.item() for v in torch.aminmax(f0_rows))
    if not (math.isfinite(fmin) and math.isfinite(fmax)):
        return 0, n_harmonics
    H = n_harmonics
    hi = H if fmin <= 0 or nyquist / fmin >= H else math.floor(nyquist / fmin) + 1
    lo = H if fmax <= 0 or nyquist / fmax >= H + 1 else max(0, math.floor(nyquist / fmax) - 1)
    return min(lo, hi), hi


def _lean_forward(
    phase: torch.Tensor, f0: torch.Tensor, dist: torch.Tensor, nyquist: float, chunk_elements: int
) -> torch.Tensor:
    B, T, H = dist.shape
    n_rows = B * T
    ph, fr, d = phase.reshape(n_rows), f0.reshape(n_rows), dist.reshape(n_rows, H)
    out = torch.empty(n_rows, dtype=dist.dtype, device=dist.device)
    if n_rows == 0 or H == 0:
        return out.zero_().view(B, T)
    k = torch.arange(1, H + 1, dtype=dist.dtype, device=dist.device)
    rows = max(1, chunk_elements // H)
    buf = torch.empty(min(rows, n_rows) * H, dtype=dist.dtype, device=dist.device)
    for r0 in range(0, n_rows, rows):
        r1 = min(n_rows, r0 + rows)
        lo, hi = _harmonic_bounds(fr[r0:r1], H, nyquist)
        if hi == 0:
            out[r0:r1] = 0
            continue
        a = buf[: (r1 - r0) * hi].view(r1 - r0, hi)
        torch.mul(ph[r0:r1, None], k[:hi], out=a)  # k * phase
        a.sin_()
        a.mul_(d[r0:r1, :hi])
        if lo < hi:
            a[:, lo:].masked_fill_(fr[r0:r1, None] * k[lo:hi] >= nyquist, 0.0)
        torch.sum(a, dim=1, out=out[r0:r1])
    return out.view(B, T)


def _lean_backward(
    grad: torch.Tensor,
    phase: torch.Tensor,
    f0: torch.Tensor,
    dist: torch.Tensor,
    nyquist: float,
    need_dist: bool,
    need_phase: bool,
    chunk_elements: int,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    B, T, H = dist.shape
    n_rows = B * T
    ph, fr, d, g = phase.reshape(n_rows), f0.reshape(n_rows), dist.reshape(n_rows, H), grad.reshape(n_rows)
    grad_dist = torch.empty_like(dist) if need_dist else None
    grad_phase = torch.empty_like(phase) if need_phase else None
    if n_rows == 0 or H == 0 or not (need_dist or need_phase):
        for x in (grad_dist, grad_phase):
            if x is not None:
                x.zero_()
        return grad_dist, grad_phase
    gd = grad_dist.view(n_rows, H) if need_dist else None
    gp = grad_phase.view(n_rows) if need_phase else None
    k = torch.arange(1, H + 1, dtype=dist.dtype, device=dist.device)
    rows = max(1, chunk_elements // H)
    size = min(rows, n_rows) * H
    abuf = torch.empty(size, dtype=dist.dtype, device=dist.device)
    sbuf = torch.empty(size, dtype=dist.dtype, device=dist.device) if need_dist else None
    for r0 in range(0, n_rows, rows):
        r1 = min(n_rows, r0 + rows)
        lo, hi = _harmonic_bounds(fr[r0:r1], H, nyquist)
        if hi < H and need_dist:
            gd[r0:r1, hi:] = 0
        if hi == 0:
            if need_phase:
                gp[r0:r1] = 0
            continue
        above = fr[r0:r1, None] * k[lo:hi] >= nyquist if lo < hi else None
        a = abuf[: (r1 - r0) * hi].view(r1 - r0, hi)
        torch.mul(ph[r0:r1, None], k[:hi], out=a)  # k * phase
        if need_dist:  # dS/d dist_k = mask * sin(k phase), times the incoming gradient
            s = torch.sin(a, out=sbuf[: (r1 - r0) * hi].view(r1 - r0, hi))
            if above is not None:
                s[:, lo:].masked_fill_(above, 0.0)
            torch.mul(s, g[r0:r1, None], out=gd[r0:r1, :hi])
        if need_phase:  # dS/d phase = sum_k mask * k * dist_k * cos(k phase)
            c = a.cos_()
            c.mul_(d[r0:r1, :hi])
            if above is not None:
                c[:, lo:].masked_fill_(above, 0.0)
            torch.mv(c, k[:hi], out=gp[r0:r1])
    if need_phase:
        gp.mul_(g)
    return grad_dist, grad_phase


class _HarmonicSum(torch.autograd.Function):
    """``S = sum_k mask * dist_k * sin(k * phase)`` whose backward recomputes sin/cos.

    Saves only its inputs (no [B, T, H] activations); first-order gradients only.
    """

    @staticmethod
    def forward(ctx, phase, f0, dist, nyquist, impl, chunk_elements):  # type: ignore[override]
        if impl == "triton":
            out = _tri.harmonic_sum_forward(phase, f0, dist, nyquist)
        else:
            out = _lean_forward(phase, f0, dist, nyquist, chunk_elements)
        ctx.save_for_backward(phase, f0, dist)
        ctx.nyquist, ctx.impl, ctx.chunk_elements = nyquist, impl, chunk_elements
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        phase, f0, dist = ctx.saved_tensors
        need_phase, need_dist = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        grad_out = grad_out.contiguous()
        if ctx.impl == "triton":
            grad_dist, grad_phase = _tri.harmonic_sum_backward(
                grad_out, phase, f0, dist, ctx.nyquist, need_dist=need_dist, need_phase=need_phase
            )
        else:
            grad_dist, grad_phase = _lean_backward(
                grad_out, phase, f0, dist, ctx.nyquist, need_dist, need_phase, ctx.chunk_elements
            )
        return grad_phase, None, grad_dist, None, None, None


def harmonic_sum(
    phase: torch.Tensor,
    f0_hz: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    nyquist: float,
    *,
    backend: Backend = "auto",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """The inner oscillator bank, ``[B, T]``: ``sum_k [k f0 < nyquist] dist_k sin(k phase)``.

    Lower level than :func:`harmonic_synth` (no cumsum, no amplitude) for callers that bring
    their own phase, and the unit the custom autograd Function wraps (differentiable w.r.t.
    ``phase`` and ``harmonic_distribution``; ``f0_hz`` only feeds the mask). ``phase`` and
    ``f0_hz`` are ``[B, T]`` or broadcast to it; ``nyquist`` is a positive number of Hz. As in
    :func:`harmonic_synth`, tensor values are not checked.
    """
    _check_tensors(phase=phase, f0_hz=f0_hz, harmonic_distribution=harmonic_distribution)
    if harmonic_distribution.dim() != 3:
        raise ValueError(f"harmonic_distribution must be [B, T, H], got {tuple(harmonic_distribution.shape)}")
    if not harmonic_distribution.is_floating_point():
        raise TypeError(f"harmonic_distribution must be floating point, got {harmonic_distribution.dtype}")
    nyquist = require_number("nyquist", nyquist, low=0.0, low_open=True)
    chunk_elements = require_int("chunk_elements", chunk_elements)
    impl = resolve_backend(backend, harmonic_distribution.device)
    dist = harmonic_distribution.contiguous()
    shape = dist.shape[:2]
    try:
        phase = phase.to(dist.dtype).expand(shape).contiguous()
        f0 = f0_hz.detach().to(dist.dtype).expand(shape).contiguous()
    except RuntimeError as e:
        raise ValueError(
            f"phase {tuple(phase.shape)} and f0_hz {tuple(f0_hz.shape)} must broadcast to [B, T] = {tuple(shape)}"
        ) from e
    if impl == "reference":
        return _reference_sum(phase, f0, dist, float(nyquist))
    return _HarmonicSum.apply(phase, f0, dist, float(nyquist), impl, int(chunk_elements))


# ----------------------------------------------------------------------------- public synth


def _check_tensors(**tensors) -> None:
    """Each argument is a tensor and all are on one device (no values read: no device sync)."""
    for name, x in tensors.items():
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if len({x.device for x in tensors.values()}) > 1:
        raise ValueError(f"{', '.join(tensors)} must be on one device, got {[str(x.device) for x in tensors.values()]}")


def _prepare(
    f0_hz: torch.Tensor, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.dtype]:
    """Validate types/shapes/devices, pick the compute dtype, broadcast f0/amp to [B, T]."""
    _check_tensors(f0_hz=f0_hz, amplitudes=amplitudes, harmonic_distribution=harmonic_distribution)
    dist = harmonic_distribution
    if dist.dim() != 3:
        raise ValueError(f"harmonic_distribution must be [B, T, H], got {tuple(dist.shape)}")
    out_dtype = torch.promote_types(torch.promote_types(f0_hz.dtype, amplitudes.dtype), dist.dtype)
    if not out_dtype.is_floating_point:
        raise TypeError(f"synth controls must be floating point, got {out_dtype}")
    compute = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32
    shape = dist.shape[:2]
    try:
        f0 = f0_hz.to(compute).expand(shape).contiguous()
        amp = amplitudes.to(compute).expand(shape).contiguous()
    except RuntimeError as e:
        raise ValueError(
            f"f0_hz {tuple(f0_hz.shape)} and amplitudes {tuple(amplitudes.shape)} must broadcast "
            f"to [B, T] = {tuple(shape)}"
        ) from e
    return f0, amp, dist.to(compute), out_dtype


def harmonic_synth(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    sample_rate: int,
    *,
    backend: Backend = "auto",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Additive synth: ``amp * sum_k dist_k * sin(k * phase0)``, audio ``[B, T]``.

    Args:
        f0_hz: fundamental in Hz at audio rate, ``[B, T]`` (or broadcastable, e.g. ``[B, 1]``).
        amplitudes: overall amplitude at audio rate, ``[B, T]`` (or broadcastable).
        harmonic_distribution: ``[B, T, H]`` weights of harmonics 1..H. Harmonics at or
            above Nyquist are zeroed per sample; renormalising is the caller's job
            (:func:`normalize_harmonic_distribution`).
        sample_rate: in Hz, a positive finite number.
        backend: ``"auto"`` (Triton on CUDA tensors when available, else the lean path),
            ``"reference"`` (naive, materialises [B, T, H]), ``"cpu"`` (lean chunked torch,
            any device) or ``"triton"``. All compute the same function and gradients.
        chunk_elements: work-buffer size of the lean path, in (sample, harmonic) pairs.

    The result has the promoted dtype of the inputs (half precision is computed in float32).
    Arguments are checked for type, shape, device and a valid sample rate, but tensor values
    are not read (this runs every training step; reading them would sync the GPU, and a
    diverged model's NaN is reported by the trainer): ``f0_hz`` must be finite and >= 0
    (0 Hz is silence), as a negative f0 would pass the Nyquist mask and alias.
    On a CPU shared with other busy processes, ``torch.set_num_threads(1)`` helps the lean
    path most: its many cache-sized ops each end in an OpenMP barrier that waits for a
    descheduled thread.
    """
    sample_rate = require_sample_rate(sample_rate, "sample_rate")
    chunk_elements = require_int("chunk_elements", chunk_elements)
    f0, amp, dist, out_dtype = _prepare(f0_hz, amplitudes, harmonic_distribution)
    impl = resolve_backend(backend, dist.device)
    if impl == "reference":
        return harmonic_synth_reference(f0, amp, dist, sample_rate).to(out_dtype)
    phase = cumulative_phase(f0, sample_rate)
    nyquist = float(sample_rate) / 2.0
    s = _HarmonicSum.apply(phase, f0.detach(), dist.contiguous(), nyquist, impl, int(chunk_elements))
    return (amp * s).to(out_dtype)
