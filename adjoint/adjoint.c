/* Gradient API: record a forward solve, then run the backward pass of the
 * solver's adjoint method over every integration of the batch. */
#include <math.h>
#include <string.h>

#include "adjoint/adjoint_impl.h"

int nde_adjoint_forward(nde_ode *ode, int n, const double *y0, double *yout) {
  NDE_CHECK_NULL(ode, "nde_adjoint_forward");
  NDE_CHECK_NULL(y0, "nde_adjoint_forward");
  NDE_CHECK_NULL(yout, "nde_adjoint_forward");
  if (ode->opt.adjoint == NDE_ADJ_NONE)
    return nde_error(NDE_ERR_ARG,
                     "nde_adjoint_forward: the solver was created with adjoint 'none'; choose "
                     "checkpoint, backsolve or direct to get gradients");
  if (n < 1 || n > ode->max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_adjoint_forward: batch %d outside [1, %d]", n,
                     ode->max_batch);
  size_t L = (size_t)n * ode->dim;
  if (!nde_all_finite(y0, L))
    return nde_error(NDE_ERR_NONFINITE, "nde_adjoint_forward: non-finite initial state");
  ode->recorded = 0;
  int rc = nde_ode_forward_batch(ode, n, y0, yout, 1);
  if (rc) return rc;
  memcpy(ode->y0_rec, y0, L * sizeof *y0);
  memcpy(ode->yout_rec, yout, (size_t)ode->nout * L * sizeof *yout);
  ode->recorded = 1;
  ode->n_rec = n;
  return NDE_OK;
}

/* The backward absolute tolerance for one backward integration whose
 * cotangents are the nout legs of L values at dl (stride ostride): atol_b
 * when set, else atol_b_rel x atol times the RMS of the cotangents.
 * An adjoint a solves a linear ODE, so scaling the loss by c scales a and
 * the parameter gradient by c; a tolerance proportional to the cotangent's
 * size makes the backward steps, and the gradient's relative error,
 * independent of c and of the batch size of a batch-mean loss. */
static double backward_atol(const nde_ode *ode, const double *dl, size_t ostride, size_t L) {
  const nde_ode_options *o = &ode->opt;
  if (o->atol_b > 0) return o->atol_b;
  double rel = (o->atol_b_rel > 0 ? o->atol_b_rel : 1) * o->atol, ss = 0;
  for (int k = 0; k < ode->nout; k++)
    for (size_t j = 0; j < L; j++) ss += dl[(size_t)k * ostride + j] * dl[(size_t)k * ostride + j];
  double rms = sqrt(ss / ((double)ode->nout * (double)L));
  return rms > 0 && isfinite(rms) ? rel * rms : o->atol;
}

int nde_adjoint_backward(nde_ode *ode, const double *dLdy, double *dLdy0, double *dLdtheta) {
  NDE_CHECK_NULL(ode, "nde_adjoint_backward");
  NDE_CHECK_NULL(dLdy, "nde_adjoint_backward");
  if (!ode->recorded)
    return nde_error(NDE_ERR_STATE,
                     "nde_adjoint_backward: no recorded forward solve (call nde_adjoint_forward "
                     "first; nde_ode_solve and a failed forward do not record)");
  int n = ode->n_rec, per = ode->opt.batch_mode == NDE_BATCH_PER_SAMPLE, rc = NDE_OK;
  int m = per ? 1 : n, nint = per ? n : 1;
  size_t L = (size_t)m * ode->dim, ostride = (size_t)n * ode->dim, np = ode->np;
  if (!nde_all_finite(dLdy, (size_t)ode->nout * ostride))
    return nde_error(NDE_ERR_NONFINITE, "nde_adjoint_backward: non-finite value in dL/dy");
  /* Where results go when the caller does not want them. */
  double *gscr = ode->lam + 2 * (size_t)ode->max_batch * ode->dim;
  double *g = dLdtheta ? dLdtheta : gscr;
  if (!dLdtheta && np) memset(gscr, 0, np * sizeof *gscr);
  int stages = nde_rk_stages(ode->opt.method);
  nde_field_forget_forward(ode->field);
  memset(&ode->last_b, 0, sizeof ode->last_b);
  ode->last_nb = n;
  ode->phase = NDE_PHASE_BACKWARD;
  /* Per-sample checkpoints: the CVODES memory holds the last sample's
   * forward, so go from the last sample down and replay the others. */
  for (int i = nint - 1; i >= 0; i--) {
    const double *dl = dLdy + (size_t)i * L;
    double *a0 = dLdy0 ? dLdy0 + (size_t)i * L : ode->lam;
    nde_ode_stats st;
    memset(&st, 0, sizeof st);
    ode->recompute = 0;
    ode->atol_b_eff = backward_atol(ode, dl, ostride, L);
    switch (ode->opt.adjoint) {
    case NDE_ADJ_CHECKPOINT:
      rc = nde_checkpoint_backward(ode, i, m, ostride, dl, ode->y0_rec + (size_t)i * L, a0, g,
                                   &st);
      break;
    case NDE_ADJ_BACKSOLVE:
      rc = nde_backsolve_backward(ode, m, ostride, dl, ode->yout_rec + (size_t)i * L, a0, g, &st);
      break;
    default: /* NDE_ADJ_DIRECT (create rejected the rest) */
      rc = nde_direct_backward(ode, m, ostride, dl,
                               ode->store + (size_t)i * ode->nsteps_total * stages * L, a0, g,
                               &st);
    }
    ode->samp_b[i] = st;
    nde_ode_stats_add(&ode->last_b, &st);
    if (rc) {
      if (per) rc = nde_error_wrap(rc, "sample %d of %d: ", i, n);
      break;
    }
  }
  ode->phase = NDE_PHASE_FORWARD;
  if (!rc && !per)
    for (int i = 1; i < n; i++) ode->samp_b[i] = ode->samp_b[0];
  nde_ode_stats_add(&ode->tot_b, &ode->last_b);
  nde_nvec_flush(); /* the solver may be used next on another thread (ode/nvector_fast.c) */
  return rc;
}
