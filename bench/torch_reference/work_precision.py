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
    print("state: %s batch: %d params: %d threads: %d torch: %s"
          % (name, batch, params.numel(), torch.get_num_threads(), torch.__version__))

    # ---- float64 references (full norm) and the check against nde ----
    m64 = Model(params, torch.float64)
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
    if p_reftxt:
        nde_loss = read_ref_txt(p_reftxt)["loss"]
        for tol, loss, _ in refs:
            print("vs nde reference loss %.12g: torch tol %g rel diff %.3e"
                  % (nde_loss, tol, abs(loss - nde_loss) / abs(nde_loss)))
    if p_gref:
        g_nde = read_f64(p_gref)
        assert g_nde.numel() == params.numel()
        for tol, _, g in refs:
            print("vs nde reference gradient: torch tol %g grad rel L2 %.3e"
                  % (tol, rel_l2(g, g_nde)))
        worst = sorted(per_tensor_errors(m64, g_ref2, g_nde), key=lambda e: -e[2])
        print("worst tensors (torch tol %g vs nde): %s" % (t2, ", ".join(
            "%s[%d] %.2e" % e for e in worst[:4])))
    sys.stdout.flush()
    if not args.sweep:
        return 0

    # ---- float32 training gradients against the tol-1e-8 reference ----
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
            times, cpus = [], []
            for _ in range(args.steps):
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                loss, g, sf, sb, sec, secf = m32.step(x32, labels, tol, norm)
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                times.append(sec)
                # process CPU seconds per wall second: ~threads when it had the cores
                cpus.append((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / sec)
            sec = min(times)
            err = rel_l2(g, g_ref)
            lerr = abs(loss - loss_ref)
            print("%s %-29s tol %-6g: nfe_f %4d nfe_b %4d sec %.3f (fwd %.3f; steps %s) "
                  "grad_rel_err %.4f loss_err %.2e loadavg %.2f cpu %s"
                  % (name, family, tol, sf.nfe, sb.nfe, sec, secf,
                     "/".join("%.3f" % t for t in times), err, lerr, la,
                     "/".join("%.2f" % c for c in cpus)))
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
