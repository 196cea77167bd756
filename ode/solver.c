/* The solver object: creation (everything allocated here), forward solves
 * over a batch (joint or per-sample), statistics. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adjoint/adjoint_impl.h"
#include "common/memory_impl.h"

static int is_cvodes(int m) { return m == NDE_ODE_ADAMS || m == NDE_ODE_BDF; }
static int is_ark(int m) { return m == NDE_ODE_DOPRI5 || m == NDE_ODE_BOSH3; }

static void destroy_engines(nde_ode *ode) {
  nde_cv_destroy(&ode->cv);
  nde_cv_destroy(&ode->cvbs);
  nde_ark_destroy(&ode->ark);
  nde_ark_destroy(&ode->arkbs);
  ode->m = 0;
  ode->cv_holds = -1;
}

int nde_ode_ensure_size(nde_ode *ode, int m) {
  if (ode->m == m) return NDE_OK;
  destroy_engines(ode);
  ode->recorded = 0;
  size_t L = (size_t)m * ode->dim;
  int rc = nde_ode_reserve_engines(ode, L), bs = ode->opt.adjoint == NDE_ADJ_BACKSOLVE;
  if (rc) return rc;
  if (is_cvodes(ode->opt.method)) {
    rc = nde_cv_build(ode, &ode->cv, L);
    if (!rc && bs) rc = nde_cvbs_build(ode, L);
  } else if (is_ark(ode->opt.method)) {
    rc = nde_ark_build(ode, &ode->ark, L, NULL);
    if (!rc && bs) rc = nde_arkbs_build(ode, L);
  }
  if (rc) {
    destroy_engines(ode);
    return rc;
  }
  ode->m = m;
  return NDE_OK;
}

void nde_ode_free(nde_ode *ode) {
  if (!ode) return;
  destroy_engines(ode);
  if (ode->ctx) SUNContext_Free(&ode->ctx);
  free(ode->tout);
  free(ode->leg_steps);
  free(ode->work);
  free(ode->store);
  free(ode->y0_rec);
  free(ode->yout_rec);
  free(ode->lam);
  free(ode->scratch);
  free(ode->samp_f);
  free(ode->samp_b);
  free(ode);
}

int nde_ode_create(nde_field *field, const nde_ode_options *opt, int max_batch, nde_ode **out) {
  NDE_CHECK_NULL(out, "nde_ode_create");
  *out = NULL;
  NDE_CHECK_NULL(field, "nde_ode_create");
  nde_ode_options o = opt ? *opt : nde_ode_options_default();
  int rc = nde_ode_check_options(&o, field);
  if (rc) return rc;
  if (max_batch < 1 || max_batch > field->max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_ode_create: max_batch %d outside [1, %d] (the field's)",
                     max_batch, field->max_batch);
  /* Refuse what cannot fit before SUNDIALS gets to clone its vectors. */
  size_t need = 0;
  if ((rc = nde_ode_memory_estimate(&o, field->dim, field->np, max_batch, &need))) return rc;
  char what[160];
  snprintf(what, sizeof what, "nde_ode_create: max_batch %d (%zu values per sample, %s)", max_batch,
           field->dim, nde_ode_method_name(o.method));
  if ((rc = nde_memory_check(need, what))) return rc;
  nde_ode *ode = calloc(1, sizeof *ode);
  if (!ode) return nde_error(NDE_ERR_NOMEM, "nde_ode_create: out of memory");
  ode->field = field;
  ode->max_batch = max_batch;
  ode->dim = field->dim;
  ode->np = field->np;
  ode->cv_holds = -1;
  ode->nout = o.nout > 0 ? o.nout : 1;
  ode->tout = malloc((size_t)ode->nout * sizeof *ode->tout);
  if (!ode->tout) goto nomem;
  if (o.nout > 0)
    memcpy(ode->tout, o.tout, (size_t)o.nout * sizeof *ode->tout);
  else
    ode->tout[0] = o.T;
  o.nout = ode->nout;
  o.tout = ode->tout;
  if (o.rtol_b == 0) o.rtol_b = o.rtol;
  ode->opt = o;

  size_t Lmax = (size_t)max_batch * ode->dim, np = ode->np;
  ode->y0_rec = malloc(Lmax * sizeof(double));
  ode->yout_rec = malloc((size_t)ode->nout * Lmax * sizeof(double));
  ode->scratch = malloc((size_t)ode->nout * Lmax * sizeof(double));
  ode->lam = malloc((2 * Lmax + np) * sizeof(double));
  ode->samp_f = calloc((size_t)max_batch, sizeof *ode->samp_f);
  ode->samp_b = calloc((size_t)max_batch, sizeof *ode->samp_b);
  if (!ode->y0_rec || !ode->yout_rec || !ode->scratch || !ode->lam || !ode->samp_f ||
      !ode->samp_b)
    goto nomem;
  if (o.method == NDE_ODE_EULER || o.method == NDE_ODE_RK4) {
    ode->leg_steps = malloc((size_t)ode->nout * sizeof *ode->leg_steps);
    if (!ode->leg_steps) goto nomem;
    ode->nsteps_total = nde_fixed_leg_steps(&o, ode->tout, ode->nout, ode->leg_steps);
    ode->work = malloc(6 * (2 * Lmax + np) * sizeof(double));
    if (!ode->work) goto nomem;
    if (o.adjoint == NDE_ADJ_DIRECT) {
      /* steps x stages x state values, refused before it can wrap around */
      const size_t per_step = (size_t)nde_rk_stages(o.method) * Lmax * sizeof(double);
      const size_t steps = (size_t)ode->nsteps_total;
      if (steps > SIZE_MAX / per_step) {
        nde_ode_free(ode);
        return nde_error(NDE_ERR_NOMEM,
                         "nde_ode_create: the direct adjoint would store %zu steps of %zu bytes, "
                         "more than memory can address (raise fixed_h)",
                         steps, per_step);
      }
      ode->store = malloc(steps * per_step);
      if (!ode->store) {
        nde_ode_free(ode);
        return nde_error(NDE_ERR_NOMEM,
                         "nde_ode_create: out of memory for the direct adjoint's %zu steps of "
                         "%zu bytes",
                         steps, per_step);
      }
    }
  }
  if (SUNContext_Create(NULL, &ode->ctx)) {
    nde_ode_free(ode);
    return nde_error(NDE_ERR_SOLVER, "nde_ode_create: SUNContext_Create failed");
  }
  rc = nde_ode_ensure_size(ode, o.batch_mode == NDE_BATCH_JOINT ? max_batch : 1);
  nde_nvec_flush(); /* the solver may be used on another thread (ode/nvector_fast.c) */
  if (rc) {
    nde_ode_free(ode);
    return nde_error_wrap(rc, "nde_ode_create: ");
  }
  *out = ode;
  return NDE_OK;
nomem:
  nde_ode_free(ode);
  return nde_error(NDE_ERR_NOMEM, "nde_ode_create: out of memory (max_batch %d, dim %zu)",
                   max_batch, field->dim);
}

const nde_ode_options *nde_ode_get_options(const nde_ode *ode) { return ode ? &ode->opt : NULL; }
nde_field *nde_ode_field(const nde_ode *ode) { return ode ? ode->field : NULL; }
int nde_ode_num_outputs(const nde_ode *ode) { return ode ? ode->nout : 0; }

void nde_ode_stats_add(nde_ode_stats *a, const nde_ode_stats *b) {
  a->nfe += b->nfe;
  a->nfe_quad += b->nfe_quad;
  a->nfe_ls += b->nfe_ls;
  a->nfe_recompute += b->nfe_recompute;
  a->njv += b->njv;
  a->nli += b->nli;
  a->steps += b->steps;
  a->accepted += b->accepted;
  a->rejected += b->rejected;
  a->nni += b->nni;
  a->nncf += b->nncf;
  a->nsolves += b->nsolves;
}

static int forward_batch(nde_ode *ode, int n, const double *y0, double *yout, int record) {
  int per = ode->opt.batch_mode == NDE_BATCH_PER_SAMPLE, rc;
  int m = per ? 1 : n, nint = per ? n : 1;
  if ((rc = nde_ode_ensure_size(ode, m))) return rc;
  size_t L = (size_t)m * ode->dim, ostride = (size_t)n * ode->dim;
  int stages = nde_rk_stages(ode->opt.method);
  memset(&ode->last_f, 0, sizeof ode->last_f);
  memset(&ode->last_b, 0, sizeof ode->last_b);
  ode->last_n = n;
  ode->last_nb = 0;
  ode->phase = NDE_PHASE_FORWARD;
  ode->cv_holds = -1;
  nde_field_forget_forward(ode->field); /* parameters may have changed since */
  for (int i = 0; i < nint; i++) {
    const double *yi = y0 + (size_t)i * L;
    double *yo = yout + (size_t)i * L;
    nde_ode_stats st;
    memset(&st, 0, sizeof st);
    ode->njv_user = 0;
    if (is_cvodes(ode->opt.method)) {
      rc = nde_cv_forward(ode, yi, yo, ostride, record && ode->opt.adjoint == NDE_ADJ_CHECKPOINT,
                          &st);
      if (ode->field->kind == NDE_FIELD_USER && ode->field->user.jvp && !ode->opt.jtv_dq)
        st.njv = ode->njv_user;
    } else if (is_ark(ode->opt.method)) {
      rc = nde_ark_forward(ode, yi, yo, ostride, &st);
    } else {
      double *store = record && ode->store
                          ? ode->store + (size_t)i * ode->nsteps_total * stages * L
                          : NULL;
      rc = nde_fixed_forward(ode, m, yi, yo, ostride, store, &st);
    }
    ode->samp_f[i] = st;
    nde_ode_stats_add(&ode->last_f, &st);
    if (rc) {
      nde_ode_stats_add(&ode->tot_f, &ode->last_f);
      return per ? nde_error_wrap(rc, "sample %d of %d: ", i, n) : rc;
    }
  }
  if (!per)
    for (int i = 1; i < n; i++) ode->samp_f[i] = ode->samp_f[0];
  if (per && ode->opt.adjoint == NDE_ADJ_CHECKPOINT && record) ode->cv_holds = n - 1;
  nde_ode_stats_add(&ode->tot_f, &ode->last_f);
  return NDE_OK;
}

/* Nothing of the solver's left in this thread's queue of vector operations
 * on return: the solver may be used next, or freed, on another thread
 * (ode/nvector_fast.c). */
int nde_ode_forward_batch(nde_ode *ode, int n, const double *y0, double *yout, int record) {
  const int rc = forward_batch(ode, n, y0, yout, record);
  nde_nvec_flush();
  return rc;
}

int nde_ode_solve(nde_ode *ode, int n, const double *y0, double *yout) {
  NDE_CHECK_NULL(ode, "nde_ode_solve");
  NDE_CHECK_NULL(y0, "nde_ode_solve");
  NDE_CHECK_NULL(yout, "nde_ode_solve");
  if (n < 1 || n > ode->max_batch)
    return nde_error(NDE_ERR_BATCH, "nde_ode_solve: batch %d outside [1, %d]", n, ode->max_batch);
  if (!nde_all_finite(y0, (size_t)n * ode->dim))
    return nde_error(NDE_ERR_NONFINITE, "nde_ode_solve: non-finite initial state");
  /* A plain solve overwrites the forward memory a backward pass would need. */
  ode->recorded = 0;
  return nde_ode_forward_batch(ode, n, y0, yout, 0);
}

int nde_ode_last_stats(const nde_ode *ode, nde_ode_stats *fwd, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(ode, "nde_ode_last_stats");
  if (fwd) *fwd = ode->last_f;
  if (bwd) *bwd = ode->last_b;
  return NDE_OK;
}

int nde_ode_sample_stats(const nde_ode *ode, int i, nde_ode_stats *fwd, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(ode, "nde_ode_sample_stats");
  if (i < 0 || i >= ode->last_n)
    return nde_error(NDE_ERR_ARG, "nde_ode_sample_stats: sample %d outside the last solve's [0, %d)",
                     i, ode->last_n);
  if (fwd) *fwd = ode->samp_f[i];
  if (bwd) {
    if (i < ode->last_nb)
      *bwd = ode->samp_b[i];
    else
      memset(bwd, 0, sizeof *bwd);
  }
  return NDE_OK;
}

int nde_ode_total_stats(const nde_ode *ode, nde_ode_stats *fwd, nde_ode_stats *bwd) {
  NDE_CHECK_NULL(ode, "nde_ode_total_stats");
  if (fwd) *fwd = ode->tot_f;
  if (bwd) *bwd = ode->tot_b;
  return NDE_OK;
}

void nde_ode_reset_stats(nde_ode *ode) {
  if (!ode) return;
  memset(&ode->tot_f, 0, sizeof ode->tot_f);
  memset(&ode->tot_b, 0, sizeof ode->tot_b);
}
