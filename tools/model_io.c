#include "tools/model_io.h"

#include <stdio.h>
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

int tool_model_from_ckpt(const char *path, int max_batch, const nde_ode_options *ode_override,
                         nde_model **out, double *mean, double *std) {
  nde_ckpt *c;
  int rc = nde_ckpt_open(path, &c);
  if (rc) return rc;
  const char *kind_name = NULL, *solver = NULL, *adj = NULL;
  int64_t att = 0, width = 0, groups = 0, ncls = 0, ic = 0, ih = 0, iw = 0;
  rc = nde_ckpt_meta(c, "model", &kind_name);
  if (!rc) rc = nde_ckpt_meta_int(c, "attractors", &att);
  if (!rc) rc = nde_ckpt_meta_int(c, "width", &width);
  if (!rc) rc = nde_ckpt_meta_int(c, "groups", &groups);
  if (!rc) rc = nde_ckpt_meta_int(c, "nclasses", &ncls);
  if (!rc) rc = nde_ckpt_meta_int(c, "in_c", &ic);
  if (!rc) rc = nde_ckpt_meta_int(c, "in_h", &ih);
  if (!rc) rc = nde_ckpt_meta_int(c, "in_w", &iw);
  if (!rc) rc = nde_ckpt_meta(c, "solver", &solver);
  if (!rc) rc = nde_ckpt_meta(c, "adjoint", &adj);
  int kind = 0;
  if (!rc) rc = nde_model_kind_parse(kind_name, &kind);
  nde_model_options o = nde_model_options_default(kind);
  if (!rc) {
    o.attractors = (int)att;
    o.width = (int)width;
    o.groups = (int)groups;
    o.nclasses = (int)ncls;
    o.in = nde_shape_chw((int)ic, (int)ih, (int)iw);
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
  for (int i = 0; i < 4; i++) mean[i] = 0, std[i] = 1;
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_mean", mean, (size_t)ic);
  if (!rc) rc = nde_ckpt_read_f64(c, "norm_std", std, (size_t)ic);
  nde_ckpt_free(c);
  if (rc) {
    nde_model_free(m);
    return rc;
  }
  *out = m;
  return NDE_OK;
}
