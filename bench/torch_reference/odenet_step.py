#!/usr/bin/env python3
"""Same-CPU PyTorch reference for nde's build/bench/odenet_step.

Times training steps (forward + backward, no optimizer update) of the
ODE-Net of docs/methods.md section 1 (or its 6-block ResNet baseline) in float32 PyTorch, with a
torchdiffeq-like adaptive Dormand-Prince 5(4) solver and the adjoint method of
Chen et al. (2018) written here (torchdiffeq itself is not installable on this
machine). Not part of CI or the test suite; see README.md in this folder.

    python3 bench/torch_reference/odenet_step.py [--model odenet|resnet6]
        [--input normal|fashion] [--norm full|fullrms|seminorm]
        [--batch 128] [--steps 3] [--warmup 1] [--seed 1] [--threads 2]
        [--rtol 1e-3] [--atol 1e-3] [--mkldnn on|off]
    python3 bench/torch_reference/odenet_step.py --selftest

Output: one `key: value` per line.
"""

import argparse
import gzip
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------
# Dormand-Prince 5(4) (Dormand & Prince 1980), in the variant torchdiffeq's
# `dopri5` uses (Shampine's 4th-order companion for the error estimate and
# the midpoint coefficients for dense output).
#
# One step of size h from (t, y) with k_1 = f(t, y):
#   k_i = f(t + c_i h, y + h * sum_{j<i} a_ij k_j),   i = 2..7
#   y_new = y + h * sum_i b_i k_i          (5th order; b = row 7 of a, so
#                                           k_7 = f(t + h, y_new): FSAL, the
#                                           first stage of the next step)
#   err   = h * sum_i (b_i - bhat_i) k_i   (difference to the 4th-order
#                                           embedded solution)
# So every attempted step costs 6 new evaluations (k_2..k_7).
# --------------------------------------------------------------------------
DP_C = (0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0)
DP_A = (
    (),
    (1.0 / 5,),
    (3.0 / 40, 9.0 / 40),
    (44.0 / 45, -56.0 / 15, 32.0 / 9),
    (19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729),
    (9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656),
    (35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84),
)
DP_B = (35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0)
DP_BHAT = (1951.0 / 21600, 0.0, 22642.0 / 50085, 451.0 / 720, -12231.0 / 42400,
           649.0 / 6300, 1.0 / 60)
DP_E = tuple(b - bh for b, bh in zip(DP_B, DP_BHAT))
# y(t + h/2) ~= y + h * sum_i m_i k_i  (Shampine's continuous extension)
DP_MID = tuple(0.5 * m for m in (
    6025192743.0 / 30085553152, 0.0, 51252292925.0 / 65400821598,
    -2691868925.0 / 45128329728, 187940372067.0 / 1594534317056,
    -1776094331.0 / 19743644256, 11237099.0 / 235043384))

SAFETY, IFACTOR, DFACTOR, ORDER = 0.9, 10.0, 0.2, 5


def rms(x):
    """Root mean square sqrt(mean(x^2)) as a Python float."""
    return float(x.pow(2).mean().sqrt())


def lincomb(y, h, coeffs, ks):
    """y + h * sum_j coeffs[j] * ks[j] (zero coefficients skipped)."""
    out = y.clone()
    for c, k in zip(coeffs, ks):
        if c != 0.0:
            out.add_(k, alpha=h * c)
    return out


class SolveStats:
    def __init__(self):
        self.nfe = 0
        self.steps = 0      # accepted steps
        self.rejected = 0   # rejected attempts

    def __repr__(self):
        return "nfe=%d steps=%d rejected=%d" % (self.nfe, self.steps, self.rejected)


def dopri5(func, t0, t1, y0, rtol, atol, norm=rms):
    """Integrate dy/dt = func(t, y) from t0 to t1 (t1 < t0 allowed) with
    adaptive Dormand-Prince 5(4), behaving like torchdiffeq's `dopri5`.
    y0 is one tensor (several states are concatenated by the caller);
    norm maps a tensor of scaled errors to a float. Returns (y(t1), stats).

    - Initial step (Hairer, Norsett & Wanner, Solving ODEs I, II.4; 2 evals),
      with scale s = atol + rtol |y0|:
        d0 = ||y0/s||, d1 = ||f0/s||, h0 = 0.01 d0/d1 (1e-6 if d0 or d1 < 1e-5)
        f1 = f(t0 + h0, y0 + h0 f0), d2 = ||(f1 - f0)/s|| / h0
        h1 = (0.01 / max(d1, d2))^(1/5)   (max(1e-6, 1e-3 h0) if both tiny)
        h  = min(100 h0, h1)
    - Error ratio r = ||err / (atol + rtol max(|y|, |y_new|))||; accept if
      r <= 1.
    - Next step h *= min(IFACTOR, max(SAFETY r^(-1/5), lo)), lo = DFACTOR
      (0.2) after a rejection and 1 after an acceptance (torchdiffeq never
      shrinks the step after an accepted one); h *= IFACTOR if r == 0.
    - Like torchdiffeq, the last step is not clipped to t1: the solver steps
      past t1 and evaluates the quartic dense-output interpolant of the last
      step at t1 (no extra evaluations). NFE = 2 + 6 (steps + rejected).
    """
    st = SolveStats()
    sgn = 1.0 if t1 >= t0 else -1.0
    if t1 == t0:
        return y0.clone(), st

    f0 = func(t0, y0)
    st.nfe += 1
    scale = atol + rtol * y0.abs()
    d0 = norm(y0 / scale)
    d1 = norm(f0 / scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    f1 = func(t0 + sgn * h0, y0 + (sgn * h0) * f0)
    st.nfe += 1
    d2 = norm((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / ORDER)
    h = min(100.0 * h0, h1)  # step magnitude; signed step is sgn * h

    t, y, f = t0, y0, f0
    while sgn * (t1 - t) > 0.0:
        dt = sgn * h
        assert t + dt != t, "step size underflow"
        ks = [f]
        yi = y
        for i in range(1, 7):
            yi = lincomb(y, dt, DP_A[i], ks)
            ks.append(func(t + DP_C[i] * dt, yi))
            st.nfe += 1
        y_new = yi          # row 7 of a == b: the stage-7 input is y_new
        f_new = ks[6]
        err = lincomb(torch.zeros_like(y), dt, DP_E, ks)
        tol = atol + rtol * torch.max(y.abs(), y_new.abs())
        r = norm(err / tol)
        accept = r <= 1.0
        if accept:
            st.steps += 1
            t_new = t + dt
            if sgn * (t_new - t1) > 0.0:
                # Overshot t1: evaluate the interpolant of this step at t1.
                y_mid = lincomb(y, dt, DP_MID, ks)
                y = quartic_interp(y, y_new, y_mid, f, f_new, dt, (t1 - t) / dt)
                t, f = t1, None   # done (the loop ends: t == t1)
            else:
                t, y, f = t_new, y_new, f_new
        else:
            st.rejected += 1
        if r == 0.0:
            factor = IFACTOR
        else:
            lo = 1.0 if r < 1.0 else DFACTOR
            factor = min(IFACTOR, max(SAFETY * r ** (-1.0 / ORDER), lo))
        h = h * factor
    assert st.nfe == 2 + 6 * (st.steps + st.rejected)
    return y, st


def quartic_interp(y0, y1, ym, f0, f1, dt, x):
    """Quartic p(x) = y0 + d x + c x^2 + b x^3 + a x^4 on x in [0, 1] with
    p(0) = y0, p(1) = y1, p(1/2) = ym, p'(0) = dt f0, p'(1) = dt f1.
    With d = dt f0, R1 = y1 - y0 - d, R2 = dt f1 - d, R3 = 16 (ym - y0 - d/2):
      a = 2 R2 - 8 R1 + R3,  b = 14 R1 - 3 R2 - 2 R3,  c = -5 R1 + R2 + R3."""
    d = dt * f0
    r1 = y1 - y0 - d
    r2 = dt * f1 - d
    r3 = 16.0 * (ym - y0 - 0.5 * d)
    a = 2.0 * r2 - 8.0 * r1 + r3
    b = 14.0 * r1 - 3.0 * r2 - 2.0 * r3
    c = -5.0 * r1 + r2 + r3
    return y0 + x * (d + x * (c + x * (b + x * a)))


# --------------------------------------------------------------------------
# Adjoint method (Chen et al. 2018), "backsolve" form as in torchdiffeq's
# odeint_adjoint. For dh/dt = f(t, h; theta) on [t0, T] and loss L(h(T)):
#   a(T) = dL/dh(T), g(T) = 0, and integrating from T back to t0
#     dh/dt = f(t, h)                       (h reconstructed backwards)
#     da/dt = -a^T df/dh
#     dg/dt = -a^T df/dtheta
#   gives a(t0) = dL/dh(t0) and g(t0) = int_{t0}^{T} a^T df/dtheta dt
#   = dL/dtheta. One augmented RHS = one f forward with grad + one
#   autograd.grad (the vjp for h and all parameters of f).
# The augmented state z = [h, a, g_1, ..., g_P] is one flat tensor (as
# torchdiffeq flattens tuple states); the error norm sees its segments:
#   full     max(rms h, rms a, max_i rms g_i)  (torchdiffeq's default adjoint
#            norm: a max of per-tensor RMS norms, one per parameter tensor)
#   fullrms  one RMS over all of z
#   seminorm max(rms h, rms a): g out of error control (Kidger et al. 2021)
# --------------------------------------------------------------------------
def make_adjoint_norm(kind, sizes):
    bounds = []
    o = 0
    for s in sizes:
        bounds.append((o, o + s))
        o += s
    if kind == "fullrms":
        return rms
    if kind == "full":
        def norm(v):
            return max(rms(v[a:b]) for a, b in bounds)
        return norm
    if kind == "seminorm":
        def norm(v):
            return max(rms(v[a:b]) for a, b in bounds[:2])
        return norm
    raise ValueError("unknown norm " + kind)


def adjoint_backward(func, params, t0, t1, h1, a1, rtol, atol, norm_kind):
    """Given h(t1) and a(t1) = dL/dh(t1) of the solve t0 -> t1, integrate the
    augmented system from t1 back to t0. Returns (a(t0), [dL/dtheta_i], stats)."""
    shape = h1.shape
    n = h1.numel()
    psizes = [p.numel() for p in params]

    def aug_rhs(t, z):
        h = z[:n].view(shape)
        a = z[n:2 * n].view(shape)
        with torch.enable_grad():
            hh = h.detach().requires_grad_(True)
            fe = func(t, hh)
            # autograd.grad with grad_outputs = -a returns -a^T df/dh and
            # -a^T df/dtheta_i
            gs = torch.autograd.grad(fe, [hh] + list(params), grad_outputs=-a,
                                     allow_unused=True)
        parts = [fe.detach().reshape(-1), gs[0].reshape(-1)]
        for g, p in zip(gs[1:], params):
            parts.append(torch.zeros(p.numel(), dtype=z.dtype) if g is None else g.reshape(-1))
        return torch.cat(parts)

    z1 = torch.cat([h1.detach().reshape(-1), a1.detach().reshape(-1),
                    torch.zeros(sum(psizes), dtype=h1.dtype)])
    norm = make_adjoint_norm(norm_kind, [n, n] + psizes)
    with torch.no_grad():
        z0, st = dopri5(aug_rhs, t1, t0, z1, rtol, atol, norm)
    a0 = z0[n:2 * n].view(shape)
    grads = []
    o = 2 * n
    for p, s in zip(params, psizes):
        grads.append(z0[o:o + s].view_as(p).clone())
        o += s
    return a0, grads, st


# --------------------------------------------------------------------------
# Models (docs/methods.md section 1; the layout of torchdiffeq's odenet_mnist example).
# --------------------------------------------------------------------------
def gn(c):
    return nn.GroupNorm(min(32, c), c)


class ConcatConv2d(nn.Module):
    """conv(concat([t * 1, x], channel)): a constant channel equal to t is put
    in FRONT of the input channels; the convolution has a bias."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin + 1, cout, 3, 1, 1, bias=True)

    def forward(self, t, x):
        tt = x.new_full((x.shape[0], 1, x.shape[2], x.shape[3]), float(t))
        return self.conv(torch.cat([tt, x], 1))


class ODEFunc(nn.Module):
    """f(t, h) = GN(cconv2(t, relu(GN(cconv1(t, relu(GN(h)))))))"""

    def __init__(self, c=64):
        super().__init__()
        self.norm1, self.conv1 = gn(c), ConcatConv2d(c, c)
        self.norm2, self.conv2 = gn(c), ConcatConv2d(c, c)
        self.norm3 = gn(c)
        self.nfe = 0

    def forward(self, t, h):
        self.nfe += 1
        out = F.relu(self.norm1(h))
        out = F.relu(self.norm2(self.conv1(t, out)))
        return self.norm3(self.conv2(t, out))


class ResBlock(nn.Module):
    """Pre-activation residual block x + conv2(relu(GN(conv1(relu(GN(x)))))).
    The convolutions have no bias (as in torchdiffeq's example and nde's
    nets/resblock.c); that is what gives ResNet-6's 576,778 parameters."""

    def __init__(self, c=64):
        super().__init__()
        self.norm1 = gn(c)
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.norm2 = gn(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return x + out


def make_stem():
    # 1x28x28 -> 64x26x26 -> 64x13x13 -> 64x6x6
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, 1, 0), gn(64), nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, 4, 2, 1), gn(64), nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, 4, 2, 1))


def make_head():
    return nn.Sequential(gn(64), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(64, 10))


def nparams(*mods):
    return sum(p.numel() for m in mods for p in m.parameters())


def make_odenet():
    """(stem, odefunc, head) of the DESIGN 4.1 ODE-Net, PyTorch default init.
    Their parameters in this order (each module's .parameters(): layers in
    order, weight then bias) are nde's flat parameter vector, layout for
    layout (see work_precision.py)."""
    stem, head = make_stem(), make_head()
    odefunc = ODEFunc()  # created last: the seeded initialization stays as before
    n = nparams(stem, odefunc, head)
    assert n == 208266, n
    return stem, odefunc, head


def odenet_train_step(stem, odefunc, head, x, labels, rtol, atol, norm):
    """One ODE-Net training step without the optimizer update: forward (stem,
    dopri5 solve of the ODE block on [0, 1] without grad, head, mean
    cross-entropy) and backward (head by autograd, the ODE block by the
    adjoint with the given backward error norm, the stem by autograd). Sets
    .grad of every parameter (the caller resets them to None before).
    Returns (loss, forward stats, backward stats, perf_counter() at the end
    of forward)."""
    calls0 = odefunc.nfe
    h0 = stem(x)
    with torch.no_grad():
        hT, sf = dopri5(odefunc, 0.0, 1.0, h0.detach(), rtol, atol)
    hT.requires_grad_(True)
    loss = F.cross_entropy(head(hT), labels)
    t_mid = time.perf_counter()
    loss.backward()                      # head grads and a(T) = hT.grad
    ode_params = list(odefunc.parameters())
    a0, grads, sb = adjoint_backward(odefunc, ode_params, 0.0, 1.0, hT, hT.grad,
                                     rtol, atol, norm)
    for p, g in zip(ode_params, grads):
        p.grad = g
    h0.backward(a0)                      # through the stem
    # every call of the ODE function is counted by the solvers
    assert odefunc.nfe - calls0 == sf.nfe + sb.nfe
    return loss, sf, sb, t_mid


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def load_fashion(batch):
    """First `batch` training images, pixel / 255 (no mean/std normalization)."""
    with gzip.open(FASHION, "rb") as fh:
        magic, n, rows, cols = struct.unpack(">IIII", fh.read(16))
        assert magic == 2051 and rows == 28 and cols == 28 and n >= batch
        raw = fh.read(batch * rows * cols)
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.float32) / 255.0
    return x.view(batch, 1, rows, cols)


# --------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------
def conv_flops(cin, cout, k, hout, wout):
    return 2.0 * cout * cin * k * k * hout * wout


def time_evals(fn, reps=20, warm=2):
    for _ in range(warm):
        fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def bench(args):
    torch.manual_seed(args.seed)
    if args.model == "odenet":
        stem, odefunc, head = make_odenet()
        body = odefunc
        n = nparams(stem, odefunc, head)
    else:
        stem, head = make_stem(), make_head()
        body = nn.Sequential(*[ResBlock() for _ in range(6)])
        n = nparams(stem, body, head)
        assert n == 576778, n
    gen = torch.Generator().manual_seed(args.seed)
    if args.input == "normal":
        x = torch.randn(args.batch, 1, 28, 28, generator=gen)
    else:
        x = load_fashion(args.batch)
    labels = torch.randint(0, 10, (args.batch,), generator=gen)
    params_all = list(stem.parameters()) + list(body.parameters()) + list(head.parameters())

    tot = dict(t=0.0, tf=0.0, nfe_f=0, nfe_b=0, st_f=0, st_b=0, rj_f=0, rj_b=0, tmin=1e30)
    load_start = os.getloadavg()[0]
    cpu_timed = wall_timed = 0.0
    loss_v = float("nan")
    for s in range(args.warmup + args.steps):
        for p in params_all:
            p.grad = None
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t_start = time.perf_counter()
        if args.model == "odenet":
            loss, sf, sb, t_mid = odenet_train_step(stem, odefunc, head, x, labels,
                                                    args.rtol, args.atol, args.norm)
        else:
            loss = F.cross_entropy(head(body(stem(x))), labels)
            t_mid = time.perf_counter()
            loss.backward()
            sf = sb = SolveStats()
        t_end = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        loss_v = float(loss)
        if s >= args.warmup:
            tot["t"] += t_end - t_start
            tot["tmin"] = min(tot["tmin"], t_end - t_start)
            cpu_timed += (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
            wall_timed += t_end - t_start
            tot["tf"] += t_mid - t_start
            tot["nfe_f"] += sf.nfe
            tot["nfe_b"] += sb.nfe
            tot["st_f"] += sf.steps
            tot["st_b"] += sb.steps
            tot["rj_f"] += sf.rejected
            tot["rj_b"] += sb.rejected
        if args.verbose:
            print("# step %d: %.4f s (fwd %.4f) fwd %s bwd %s loss %.4f"
                  % (s, t_end - t_start, t_mid - t_start, sf, sb, loss_v), file=sys.stderr)

    N = args.steps
    sps = tot["t"] / N
    ru = resource.getrusage(resource.RUSAGE_SELF)
    # Convolution arithmetic counted exactly as nde's bench/odenet_step.c does:
    # stem forward + input/weight vjp (3x); per forward RHS the two 65->64
    # 3x3 convs once; per backward RHS 3x (forward recompute + 2 vjps).
    f_ode = 2 * conv_flops(65, 64, 3, 6, 6)
    f_stem = conv_flops(1, 64, 3, 26, 26) + conv_flops(64, 64, 4, 13, 13) + \
        conv_flops(64, 64, 4, 6, 6)
    per_step = 3 * f_stem
    if args.model == "odenet":
        per_step += (tot["nfe_f"] / N) * f_ode + (tot["nfe_b"] / N) * 3 * f_ode
    else:
        per_step += 6 * 3 * 2 * conv_flops(64, 64, 3, 6, 6)
    per_step *= args.batch

    print("model: %s input: %s norm: %s batch: %d steps: %d warmup: %d rtol: %g atol: %g mkldnn: %s"
          % (args.model, args.input, args.norm if args.model == "odenet" else "-", args.batch,
             args.steps, args.warmup, args.rtol, args.atol, args.mkldnn))
    print("params: %d" % n)
    print("sec_per_step: %.4f" % sps)
    print("sec_per_step_min: %.4f" % tot["tmin"])
    print("sec_forward: %.4f" % (tot["tf"] / N))
    print("sec_backward: %.4f" % ((tot["t"] - tot["tf"]) / N))
    print("nfe_f: %.1f" % (tot["nfe_f"] / N))
    print("nfe_b: %.1f" % (tot["nfe_b"] / N))
    print("steps_f: %.1f" % (tot["st_f"] / N))
    print("steps_b: %.1f" % (tot["st_b"] / N))
    print("rejected_f: %.1f" % (tot["rj_f"] / N))
    print("rejected_b: %.1f" % (tot["rj_b"] / N))
    print("loss_last: %.4f" % loss_v)
    print("peak_rss_mib: %.1f" % (ru.ru_maxrss / 1024.0))
    print("gflops: %.1f" % (per_step / sps * 1e-9))
    print("torch_version: %s" % torch.__version__)
    print("threads: %d" % torch.get_num_threads())
    # 1-minute load average before/after the timed loop: another process on
    # this 2-core machine shows up here and invalidates the timings.
    print("loadavg_1min: %.2f -> %.2f" % (load_start, os.getloadavg()[0]))
    # CPU seconds per wall second of this process over the timed steps: about
    # `threads` when it had the cores to itself, clearly less when it shared them.
    print("cpu_utilization: %.2f" % (cpu_timed / wall_timed))

    if args.model == "odenet":
        # Per-evaluation costs at this batch, on a realistic state (stem output).
        with torch.no_grad():
            h = stem(x).detach()
        ode_params = list(odefunc.parameters())

        def f_eval():
            with torch.no_grad():
                odefunc(0.5, h)

        def vjp_eval():
            hh = h.detach().requires_grad_(True)
            fe = odefunc(0.5, hh)
            torch.autograd.grad(fe, [hh] + ode_params, grad_outputs=h)

        sf_ = time_evals(f_eval)
        sv_ = time_evals(vjp_eval)
        print("sec_f_eval: %.5f" % sf_)
        print("sec_vjp_eval: %.5f" % sv_)
        print("gflops_f_eval: %.1f" % (f_ode * args.batch / sf_ * 1e-9))
        print("gflops_vjp_eval: %.1f" % (3 * f_ode * args.batch / sv_ * 1e-9))


# --------------------------------------------------------------------------
# Self-test (float64)
# --------------------------------------------------------------------------
class TinyField(nn.Module):
    """f(t, h) = W2 tanh(W1 h + w_t t + b1) + b2, h in R^3 (batch of rows)."""

    def __init__(self, d=3, w=8):
        super().__init__()
        self.l1 = nn.Linear(d, w)
        self.wt = nn.Parameter(torch.randn(w) * 0.5)
        self.l2 = nn.Linear(w, d)

    def forward(self, t, h):
        return self.l2(torch.tanh(self.l1(h) + float(t) * self.wt))


def selftest():
    torch.set_default_dtype(torch.float64)
    tol = 1e-8
    worst = 0.0
    results = []

    def report(name, err):
        nonlocal worst
        worst = max(worst, err)
        results.append((name, err))
        print("%s: %.3e" % (name, err))

    # 1. y' = -y, y(0) = 1: y(1) = e^-1; and backwards from y(1) = e^-1 to y(0) = 1.
    y1, st = dopri5(lambda t, y: -y, 0.0, 1.0, torch.tensor([1.0]), tol, tol)
    report("scalar_forward_relerr", abs(float(y1) - math.exp(-1.0)) / math.exp(-1.0))
    print("scalar_forward_stats: %s" % st)
    y0, st = dopri5(lambda t, y: -y, 1.0, 0.0, torch.tensor([math.exp(-1.0)]), tol, tol)
    report("scalar_backward_relerr", abs(float(y0) - 1.0))
    # at the benchmark tolerance too (must stay within a few x 1e-3)
    y1, st = dopri5(lambda t, y: -y, 0.0, 1.0, torch.tensor([1.0]), 1e-3, 1e-3)
    print("scalar_forward_relerr_tol1e-3: %.3e (%s)"
          % (abs(float(y1) - math.exp(-1.0)) / math.exp(-1.0), st))

    # 2. 2D linear system y' = A y: y(1) = expm(A) y(0).
    A = torch.tensor([[-0.3, 2.0], [-2.5, -0.1]])
    yi = torch.tensor([1.0, -0.5])
    y1, st = dopri5(lambda t, y: A @ y, 0.0, 1.0, yi, tol, tol)
    ex = torch.linalg.matrix_exp(A) @ yi
    report("linear2d_relerr", float((y1 - ex).abs().max() / ex.abs().max()))
    print("linear2d_stats: %s" % st)

    # 3. Dense output: midpoint and quartic interpolant on y' = -y, one step.
    h = 0.1
    ks = [None] * 7
    y = torch.tensor([1.0])
    ks[0] = -y
    for i in range(1, 7):
        ks[i] = -lincomb(y, h, DP_A[i], ks[:i])
    ynew = lincomb(y, h, DP_A[6], ks[:6])
    ym = lincomb(y, h, DP_MID, ks)
    yq = quartic_interp(y, ynew, ym, ks[0], ks[6], h, 0.3)
    report("midpoint_relerr_h0.1", abs(float(ym) - math.exp(-h / 2)) / math.exp(-h / 2))
    report("interp_relerr_h0.1_x0.3", abs(float(yq) - math.exp(-0.3 * h)) / math.exp(-0.3 * h))

    # 4. Adjoint gradient vs central finite differences on a tiny MLP field.
    torch.manual_seed(0)
    fld = TinyField()
    params = list(fld.parameters())
    h0 = torch.randn(4, 3)
    c = torch.randn(4, 3)

    def loss_of(hT):
        # L(h(1)) = sum(c * sin(h(1))) + 0.5 * sum(h(1)^2)
        return (c * torch.sin(hT)).sum() + 0.5 * (hT * hT).sum()

    with torch.no_grad():
        hT, _ = dopri5(fld, 0.0, 1.0, h0, tol, tol)
    hTg = hT.clone().requires_grad_(True)
    aT, = torch.autograd.grad(loss_of(hTg), hTg)

    fd_tol, eps = 1e-12, 1e-5

    def L_of():
        with torch.no_grad():
            y, _ = dopri5(fld, 0.0, 1.0, h0, fd_tol, fd_tol)
            return float(loss_of(y))

    fd_p = []
    with torch.no_grad():
        for p in params:
            g = torch.zeros_like(p)
            flat, gflat = p.view(-1), g.view(-1)
            for i in range(flat.numel()):
                old = float(flat[i])
                flat[i] = old + eps
                lp = L_of()
                flat[i] = old - eps
                lm = L_of()
                flat[i] = old
                gflat[i] = (lp - lm) / (2 * eps)
            fd_p.append(g)
        fd_h = torch.zeros_like(h0)
        for i in range(h0.numel()):
            old = float(h0.view(-1)[i])
            h0.view(-1)[i] = old + eps
            lp = L_of()
            h0.view(-1)[i] = old - eps
            lm = L_of()
            h0.view(-1)[i] = old
            fd_h.view(-1)[i] = (lp - lm) / (2 * eps)
    fdp = torch.cat([g.reshape(-1) for g in fd_p])

    for kind in ("full", "fullrms", "seminorm"):
        a0, grads, st = adjoint_backward(fld, params, 0.0, 1.0, hT, aT, tol, tol, kind)
        gp = torch.cat([g.reshape(-1) for g in grads])
        report("adjoint_%s_dtheta_relerr" % kind,
               float((gp - fdp).abs().max() / fdp.abs().max()))
        report("adjoint_%s_dh0_relerr" % kind,
               float((a0 - fd_h).abs().max() / fd_h.abs().max()))
        print("adjoint_%s_stats: %s" % (kind, st))
    print("selftest_max_relerr: %.3e (limit 1e-4; relative errors are max-norm over "
          "components / max |reference|)" % worst)
    return 0 if worst <= 1e-4 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("odenet", "resnet6"), default="odenet")
    ap.add_argument("--input", choices=("normal", "fashion"), default="normal")
    ap.add_argument("--norm", choices=("full", "fullrms", "seminorm"), default="full")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--mkldnn", choices=("on", "off"), default="on",
                    help="off: disable oneDNN, convolutions go to PyTorch's im2col + BLAS path")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="per-step lines on stderr")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.selftest:
        sys.exit(selftest())
    torch.backends.mkldnn.enabled = args.mkldnn == "on"
    assert args.steps >= 1
    bench(args)


if __name__ == "__main__":
    main()
