#!/usr/bin/env python3
"""Work-precision of the PyTorch reference's ODE-Net training gradient, at
nde's weights and batch (the files of `build/bench/work_precision --dump DIR`).

    /usr/bin/python3 bench/torch_reference/work_precision.py --state DIR/NAME
        [--params F --x F --labels F --grad-ref F --ref-txt F]
        [--sweep] [--norms full,seminorm] [--tols 1e-2,1e-3,1e-4,1e-5,1e-6]
        [--ref-tol 1e-8] [--ref2-tol 1e-9] [--ref-cache FILE] [--threads 2]
        [--steps 1] [--csv FILE]

--state DIR/NAME stands for DIR/NAME.params.f64, .x.f64, .labels.i32,
.grad_ref.f64 and .ref.txt (each can be given on its own instead; NAME is the
`state` column of the CSV). Without --sweep it only checks the mapping:
nde's flat parameter vector (float64 little-endian, layers in order, in each
weight then bias; convolutions Cout x Cin' x kh x kw, the time channel of a
ConcatConv2d first; GroupNorm gamma then beta; Linear out x in) is exactly
the concatenation of the PyTorch modules' .parameters() (stem, ODE function,
head), so it is loaded with vector_to_parameters and the gradient is read
back with parameters_to_vector. The float64 loss must match nde's reference
loss and the float64 adjoint gradient nde's reference gradient.

Everything else (model, dopri5, adjoint, norms, the training step) is
odenet_step.py's; see README.md in this folder. Not part of CI.
"""

import argparse
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from odenet_step import make_odenet, odenet_train_step  # noqa: E402

CSV_HEADER = ("impl,state,family,method,adjoint,interp,seminorm,tol,atol_b,fixed_h,"
              "nfe_f,nfe_b,sec_per_step,grad_rel_err,loss_err")
NPARAMS = 208266


def read_f64(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    return torch.frombuffer(bytearray(raw), dtype=torch.float64).clone()


def read_i32(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    return torch.frombuffer(bytearray(raw), dtype=torch.int32).to(torch.int64)


def read_ref_txt(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            k, v = line.split()
            out[k] = float(v)
    return out


def rel_l2(g, ref):
    """||g - ref|| / ||ref|| in float64."""
    g, ref = g.double(), ref.double()
    return float((g - ref).norm() / ref.norm())


class Model:
    """The ODE-Net at given weights, in one dtype."""

    def __init__(self, params, dtype):
        self.stem, self.odefunc, self.head = make_odenet()
        self.mods = (self.stem, self.odefunc, self.head)
        for m in self.mods:
            m.to(dtype)
        self.params = [p for m in self.mods for p in m.parameters()]
        assert params.numel() == NPARAMS, params.numel()
        with torch.no_grad():
            vector_to_parameters(params.to(dtype), self.params)

    def step(self, x, labels, tol, norm):
        """One training step at rtol = atol = tol; returns (loss, flat
        gradient, forward stats, backward stats, seconds, seconds forward)."""
        for p in self.params:
            p.grad = None
        t0 = time.perf_counter()
        loss, sf, sb, t_mid = odenet_train_step(self.stem, self.odefunc, self.head, x, labels,
                                                tol, tol, norm)
        t1 = time.perf_counter()
        g = parameters_to_vector([p.grad for p in self.params]).detach().double()
        return float(loss), g, sf, sb, t1 - t0, t_mid - t0


def rk4_step(func, y, t, h):
    """Classical RK4, as nde's ode/fixed_step.c: y + h/6 (k1 + 2 k2 + 2 k3 + k4)."""
    k1 = func(t, y)
    k2 = func(t + 0.5 * h, y + (0.5 * h) * k1)
    k3 = func(t + 0.5 * h, y + (0.5 * h) * k2)
    k4 = func(t + h, y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rk4_direct_grad(model, x, labels, h):
    """Loss and gradient of the discrete map: RK4 at the fixed step h on
    [0, 1] (t_j = j h, as nde's fixed-step solver), differentiated exactly by
    autograd (nde's NDE_ADJ_DIRECT). Each step is checkpointed: only the
    step's input is kept and its stages are recomputed in backward."""
    nsteps = max(1, int(-(-(1.0 - 1e-9) // h)))  # ceil(1/h - 1e-9), nde_fixed_leg_steps
    hh = 1.0 / nsteps
    for p in model.params:
        p.grad = None
    y = model.stem(x)
    for j in range(nsteps):
        y = checkpoint(rk4_step, model.odefunc, y, j * hh, hh)
    loss = F.cross_entropy(model.head(y), labels)
    loss.backward()
    g = parameters_to_vector([p.grad for p in model.params]).detach().double()
    return float(loss), g, nsteps


def per_tensor_errors(model, g, ref):
    """(name, numel, rel L2) per parameter tensor, nde layout order."""
    out, o = [], 0
    names = ["stem." + n for n, _ in model.stem.named_parameters()] + \
            ["odefunc." + n for n, _ in model.odefunc.named_parameters()] + \
            ["head." + n for n, _ in model.head.named_parameters()]
    for name, p in zip(names, model.params):
        k = p.numel()
        out.append((name, k, rel_l2(g[o:o + k], ref[o:o + k])))
        o += k
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--state", help="DIR/NAME: the files of work_precision --dump for NAME")
    for f in ("params", "x", "labels", "grad-ref", "ref-txt"):
        ap.add_argument("--" + f)
    ap.add_argument("--name", help="state name in the output (default: basename of --state)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--norms", default="full,seminorm")
    ap.add_argument("--tols", default="1e-2,1e-3,1e-4,1e-5,1e-6")
    ap.add_argument("--ref-tol", type=float, default=1e-8)
    ap.add_argument("--ref2-tol", type=float, default=1e-9)
    ap.add_argument("--ref-cache", help="torch.save file of the two float64 references: "
                    "read if it exists and matches (tolerances, weights, batch), else written")
    ap.add_argument("--rk4-h", type=float, action="append", default=[],
                    help="also the float64 gradient of direct backpropagation through RK4 at "
                    "this fixed step (nde's direct adjoint; repeatable), against nde's reference "
                    "gradient and the dopri5 references")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1,
                    help="timed steps per setting after the warm-up (the CSV gets the minimum)")
    ap.add_argument("--csv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    def path(opt, ext):
        v = getattr(args, opt.replace("-", "_"))
        if v:
            return v
        if args.state and os.path.exists(args.state + "." + ext):
            return args.state + "." + ext
        return None

    p_params, p_x, p_labels = path("params", "params.f64"), path("x", "x.f64"), \
        path("labels", "labels.i32")
    p_gref, p_reftxt = path("grad-ref", "grad_ref.f64"), path("ref-txt", "ref.txt")
    if not (p_params and p_x and p_labels):
        ap.error("need --state DIR/NAME or --params, --x and --labels (files missing)")
    name = args.name or (os.path.basename(args.state) if args.state else "state")

    params = read_f64(p_params)
    labels = read_i32(p_labels)
    batch = labels.numel()
    x64 = read_f64(p_x)
    assert x64.numel() == batch * 784, (x64.numel(), batch)
    x64 = x64.view(batch, 1, 28, 28)
    print("state: %s batch: %d params: %d threads: %d torch: %s OMP_WAIT_POLICY: %s"
          % (name, batch, params.numel(), torch.get_num_threads(), torch.__version__,
             os.environ.get("OMP_WAIT_POLICY", "(unset)")))

    # ---- the mapping: nde's reference loss and gradient ----
    m64 = Model(params, torch.float64)
    nde_loss = read_ref_txt(p_reftxt)["loss"] if p_reftxt else None
    g_nde = read_f64(p_gref) if p_gref else None
    if g_nde is not None:
        assert g_nde.numel() == params.numel()

    def against_nde(what, loss, g):
        if nde_loss is not None:
            print("%s vs nde reference: loss %.12f vs %.12g, rel diff %.3e"
                  % (what, loss, nde_loss, abs(loss - nde_loss) / abs(nde_loss)))
        if g_nde is not None:
            worst = sorted(per_tensor_errors(m64, g, g_nde), key=lambda e: -e[2])
            print("%s vs nde reference: grad rel L2 %.3e; worst tensors %s"
                  % (what, rel_l2(g, g_nde), ", ".join("%s[%d] %.2e" % e for e in worst[:4])))
        sys.stdout.flush()

    rk4 = []
    for h in args.rk4_h:
        t0 = time.perf_counter()
        loss, g, nsteps = rk4_direct_grad(m64, x64, labels, h)
        what = "direct RK4 float64 h 1/%d" % nsteps
        print("%s: loss %.12f sec %.1f" % (what, loss, time.perf_counter() - t0))
        against_nde(what, loss, g)
        rk4.append((what, g))

    # ---- the float64 dopri5 adjoint references (full norm) ----
    key = (args.ref_tol, args.ref2_tol, float(params.sum()), float(params.norm()),
           float(x64.sum()), labels.tolist())
    refs = None
    if args.ref_cache and os.path.exists(args.ref_cache):
        cache = torch.load(args.ref_cache)
        if cache["key"] == key:
            refs = cache["refs"]
            for line in cache["lines"]:
                print(line + " (cached in %s)" % args.ref_cache)
    if refs is None:
        refs, lines = [], []
        for tol in (args.ref_tol, args.ref2_tol):
            la = os.getloadavg()[0]
            loss, g, sf, sb, sec, _ = m64.step(x64, labels, tol, "full")
            refs.append((tol, loss, g))
            lines.append("reference float64 full tol %g: loss %.12f nfe_f %d nfe_b %d (steps "
                         "%d+%d rej / %d+%d rej) sec %.1f loadavg %.2f"
                         % (tol, loss, sf.nfe, sb.nfe, sf.steps, sf.rejected, sb.steps,
                            sb.rejected, sec, la))
            print(lines[-1])
            sys.stdout.flush()
        if args.ref_cache:
            torch.save(dict(key=key, refs=refs, lines=lines), args.ref_cache)
    (t1, loss_ref, g_ref), (t2, loss_ref2, g_ref2) = refs
    print("reference convergence: grad rel L2 (tol %g vs %g) %.3e, loss diff %.3e"
          % (t1, t2, rel_l2(g_ref, g_ref2), abs(loss_ref - loss_ref2)))
    worst = sorted(per_tensor_errors(m64, g_ref, g_ref2), key=lambda e: -e[2])
    print("worst tensors (tol %g vs %g): %s" % (t1, t2, ", ".join(
        "%s[%d] %.2e" % e for e in worst[:4])))
    for tol, loss, g in refs:
        against_nde("dopri5 adjoint float64 tol %g" % tol, loss, g)
    for what, g in rk4:
        print("%s vs dopri5 tol %g: grad rel L2 %.3e, tol %g: %.3e"
              % (what, t1, rel_l2(g, g_ref), t2, rel_l2(g, g_ref2)))
    sys.stdout.flush()
    if not args.sweep:
        return 0

    # ---- float32 training gradients against the tighter reference (as nde's
    # work_precision measures against its ref_tol / 10) ----
    print("errors against: the float64 full-norm reference at tol %g" % t2)
    m32 = Model(params, torch.float32)
    x32 = x64.float()
    csv = open(args.csv, "w") if args.csv else None
    if csv:
        print(CSV_HEADER, file=csv)
    for norm in args.norms.split(","):
        family = "torch-dopri5-adjoint-" + norm
        for tol in (float(t) for t in args.tols.split(",")):
            m32.step(x32, labels, tol, norm)       # warm-up
            la = os.getloadavg()[0]
            times, cpus = [], []  # wall seconds, CPU seconds of this process
            for _ in range(args.steps):
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                loss, g, sf, sb, sec, secf = m32.step(x32, labels, tol, norm)
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                times.append(sec)
                cpus.append(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
            sec = min(times)
            err = rel_l2(g, g_ref2)
            lerr = abs(loss - loss_ref2)
            # CPU seconds per wall second is ~threads when the process had the cores;
            # err_nde: the same gradient against nde's reference instead
            print("%s %-29s tol %-6g: nfe_f %4d nfe_b %4d sec %.3f (fwd %.3f; steps %s; cpu s "
                  "%s) grad_rel_err %.4f%s loss_err %.2e loadavg %.2f"
                  % (name, family, tol, sf.nfe, sb.nfe, sec, secf,
                     "/".join("%.3f" % t for t in times), "/".join("%.2f" % c for c in cpus),
                     err, "" if g_nde is None else " (err_nde %.4f)" % rel_l2(g, g_nde),
                     lerr, la))
            sys.stdout.flush()
            if csv:
                print("torch,%s,%s,dopri5,backsolve,-,%s,%g,%g,0,%d,%d,%.4f,%.6g,%.3g"
                      % (name, family, norm, tol, tol, sf.nfe, sb.nfe, sec, err, lerr),
                      file=csv)
                csv.flush()
    if csv:
        csv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
