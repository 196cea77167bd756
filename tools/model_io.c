#include "tools/model_io.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tool_read_ode_options(nde_args *a, nde_model_options *o) {
  int bad = 0;
  const char *solver = args_str(a, "solver", NULL), *adj = args_str(a, "adjoint", NULL);
  const char *bm = args_str(a, "batch-mode", NULL);
  if (solver && nde_ode_method_parse(solver, &o->ode.method)) {
    fprintf(stderr, "nde %s: --solver: %s\n", a->cmd, nde_last_error());
    bad = 1;
  }
  if (adj && nde_adjoint_kind_parse(adj, &o->ode.adjoint)) {
    fprintf(stderr, "nde %s: --adjoint: %s\n", a->cmd, nde_last_error());
    bad = 1;
  }
  /* torchdiffeq's adjoint is a backsolve: make it the default for the RK solvers */
  if (solver && !adj && (o->ode.method == NDE_ODE_DOPRI5 || o->ode.method == NDE_ODE_BOSH3))
    o->ode.adjoint = NDE_ADJ_BACKSOLVE;
  if (solver && !adj && (o->ode.method == NDE_ODE_EULER || o->ode.method == NDE_ODE_RK4))
    o->ode.adjoint = NDE_ADJ_DIRECT;
  if (bm) {
    if (!strcmp(bm, "joint")) o->ode.batch_mode = NDE_BATCH_JOINT;
    else if (!strcmp(bm, "per-sample")) o->ode.batch_mode = NDE_BATCH_PER_SAMPLE;
    else {
      fprintf(stderr, "nde %s: --batch-mode must be joint or per-sample, got '%s'\n", a->cmd, bm);
      bad = 1;
    }
  }
  o->ode.rtol = args_double(a, "rtol", o->ode.rtol, &bad);
  o->ode.atol = args_double(a, "atol", o->ode.atol, &bad);
  return bad ? 2 : 0;
}

/* An int from the checkpoint's meta, which is untrusted: checked against
 * [lo, hi] before it becomes an int (or sizes an array). */
static int meta_int(const nde_ckpt *c, const char *key, int lo, int hi, int *out) {
  int64_t v = 0;
  int rc = nde_ckpt_meta_int_in(c, key, lo, hi, &v);
  if (!rc) *out = (int)v;
  return rc;
}

int tool_model_from_ckpt(const char *path, int max_batch, const nde_ode_options *ode_override,
                         nde_model **out, double **mean, double **std) {
  *out = NULL;
  *mean = *std = NULL;
  nde_ckpt *c;
  int rc = nde_ckpt_open(path, &c);
  if (rc) return rc;
  const char *kind_name = NULL, *solver = NULL, *adj = NULL;
  int att = 0, width = 0, groups = 0, ncls = 0, ic = 0, ih = 0, iw = 0;
  rc = nde_ckpt_meta(c, "model", &kind_name);
  if (!rc) rc = meta_int(c, "attractors", 0, INT_MAX, &att);
  if (!rc) rc = meta_int(c, "width", 1, INT_MAX, &width);
  if (!rc) rc = meta_int(c, "groups", 1, INT_MAX, &groups);
  if (!rc) rc = meta_int(c, "nclasses", 2, INT_MAX, &ncls);
  if (!rc) rc = meta_int(c, "in_c", 1, TOOL_MAX_CHANNELS, &ic);
  if (!rc) rc = meta_int(c, "in_h", 1, TOOL_MAX_SIDE, &ih);
  if (!rc) rc = meta_int(c, "in_w", 1, TOOL_MAX_SIDE, &iw);
  if (!rc) rc = nde_ckpt_meta(c, "solver", &solver);
  if (!rc) rc = nde_ckpt_meta(c, "adjoint", &adj);
  int kind = 0;
  if (!rc) rc = nde_model_kind_parse(kind_name, &kind);
  nde_model_options o = nde_model_options_default(kind);
  if (!rc) {
    o.attractors = att;
    o.width = width;
    o.groups = groups;
    o.nclasses = ncls;
    o.in = nde_shape_chw(ic, ih, iw);
    o.max_batch = max_batch;
    rc = nde_ode_method_parse(solver, &o.ode.method);
    if (!rc) rc = nde_adjoint_kind_parse(adj, &o.ode.adjoint);
    if (!rc) rc = nde_ckpt_meta_double(c, "rtol", &o.ode.rtol);
    if (!rc) rc = nde_ckpt_meta_double(c, "atol", &o.ode.atol);
    if (ode_override) o.ode = *ode_override;
  }
  nde_model *m = NULL;
  if (!rc) rc = nde_model_create(&o, &m);
  if (!rc) rc = nde_ckpt_read_real(c, "params", nde_model_params(m), nde_model_num_params(m));
  nde_real *state;
  size_t nstate;
  if (!rc) nde_model_state(m, &state, &nstate);
  if (!rc && nstate) rc = nde_ckpt_read_real(c, "state", state, nstate);
  /* one normalization value per input channel, as many as the model has */
  double *mu = NULL, *sd = NULL;
  if (!rc) {
    mu = malloc((size_t)ic * sizeof *mu);
    sd = malloc((size_t)ic * sizeof *sd);
    if (!mu || !sd) {
      nde_clear_error();
      rc = NDE_ERR_NOMEM;
    }
  }
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_mean", mu, (size_t)ic);
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_std", sd, (size_t)ic);
  nde_ckpt_free(c);
  if (rc) {
    free(mu);
    free(sd);
    nde_model_free(m);
    return rc;
  }
  *out = m;
  *mean = mu;
  *std = sd;
  return NDE_OK;
}

int tool_check_data_shape(const char *cmd, const char *path, const nde_model *m,
                          const nde_dataset *ds) {
  const nde_shape in = nde_model_get_options(m)->in;
  if (ds->c == in.c && ds->h == in.h && ds->w == in.w) return 0;
  fprintf(stderr, "nde %s: %s expects %dx%dx%d images, the data are %dx%dx%d\n", cmd, path, in.c,
          in.h, in.w, ds->c, ds->h, ds->w);
  return 1;
}
