/* nde gradcheck: compare the gradient of a solve (any field, solver and
 * adjoint) with central finite differences, so a researcher can trust a
 * configuration before training with it.
 *
 * Loss: L = sum_i w_i y_i(T) with fixed random w, over a small batch.
 * Checked: dL/dtheta (every parameter) and dL/dy0. Printed: per-group errors
 * and, last, "max_rel_err: X" (max over coordinates of |a - fd| /
 * max(|a|, |fd|, 1e-3 * max|fd|)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"
#include "tools/args.h"
#include "tools/commands.h"

#define UDIM 3

/* The "user" field: y' = tanh(W y + b), W (3x3) and b (3) in a double vector. */
static int user_rhs(double t, int n, const double *y, double *ydot, void *user) {
  const double *p = user;
  for (int s = 0; s < n; s++)
    for (int i = 0; i < UDIM; i++) {
      double z = p[UDIM * UDIM + i];
      for (int j = 0; j < UDIM; j++) z += p[i * UDIM + j] * y[s * UDIM + j];
      ydot[s * UDIM + i] = tanh(z);
    }
  return 0;
}

/* (df/dy)^T a = W^T (a * (1 - tanh^2)), (df/dW)_ij = a_i (1 - tanh^2) y_j, (df/db)_i = a_i (1 - tanh^2) */
static int user_vjp(double t, int n, const double *y, const double *a, double *ja, double *g,
                    void *user) {
  const double *p = user;
  for (int s = 0; s < n; s++) {
    double d[UDIM];
    for (int i = 0; i < UDIM; i++) {
      double z = p[UDIM * UDIM + i];
      for (int j = 0; j < UDIM; j++) z += p[i * UDIM + j] * y[s * UDIM + j];
      double th = tanh(z);
      d[i] = a[s * UDIM + i] * (1 - th * th);
    }
    for (int j = 0; j < UDIM; j++) {
      double v = 0;
      for (int i = 0; i < UDIM; i++) v += p[i * UDIM + j] * d[i];
      ja[s * UDIM + j] = v;
    }
    if (g)
      for (int i = 0; i < UDIM; i++) {
        for (int j = 0; j < UDIM; j++) g[i * UDIM + j] += d[i] * y[s * UDIM + j];
        g[UDIM * UDIM + i] += d[i];
      }
  }
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: nde gradcheck [--field mlp|odefunc|user] [--solver adams|bdf|dopri5|bosh3|euler|rk4]\n"
          "                     [--adjoint checkpoint|backsolve|direct] [--rtol R] [--atol A]\n"
          "                     [--T T] [--batch N] [--step H] [--fixed-h H] [--seed S]\n"
          "Compares the adjoint gradient of L = sum w * y(T) with central finite differences.\n"
          "Defaults: mlp, adams, checkpoint, rtol = atol = 1e-10, T = 1, batch 2, seed 1,\n"
          "step 1e-6 (1e-3 in the float build). Double build, --field odefunc (ReLU,\n"
          "GroupNorm) with an adaptive solver: rtol = atol = 1e-12 and step 1e-4, since at\n"
          "the generic ones the solver's error and the ReLU kinks swamp the differences.\n"
          "Prints max_rel_err: X last.\n");
}

static double loss(nde_ode *ode, int n, const double *y0, double *yT, const double *w, size_t m,
                   int *rc) {
  *rc = nde_ode_solve(ode, n, y0, yT);
  double s = 0;
  for (size_t i = 0; i < m; i++) s += w[i] * yT[i];
  return s;
}

static double rel_err(const double *a, const double *b, size_t n) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs(a[i] - b[i]) / fmax(fmax(fabs(a[i]), fabs(b[i])), fmax(1e-3 * scale, 1e-300)));
  return worst;
}

static int gradcheck(int argc, char **argv) {
  nde_args a;
  if (args_init(&a, "gradcheck", argc, argv)) return 2;
  if (args_flag(&a, "help")) {
    usage(stdout);
    args_free(&a);
    return 0;
  }
  int bad = 0;
  const char *field_name = args_str(&a, "field", "mlp");
  const char *solver = args_str(&a, "solver", "adams");
  const char *adj = args_str(&a, "adjoint", "checkpoint");
  /* The ODE-Net's ODE function (docs/methods.md section 1) is only piecewise smooth (ReLU) and its
   * GroupNorm has large second derivatives, and the adaptive solvers take
   * hundreds of steps on it with many rejections: at rtol = atol = 1e-10 and
   * step 1e-6 their error (~1e-10 per solve) and the kinks gave relative
   * errors of 1.1-2.0 (double build; the fixed-step direct modes 1e-7).
   * Tighter tolerances and a larger step bring them to 4e-5 - 1.8e-3. The
   * fixed-step solvers keep the generic step: their discrete gradient is
   * exact (1e-7), and at 1e-4 some differences straddle a ReLU kink. */
  const int odefunc = !strcmp(field_name, "odefunc") && strcmp(solver, "euler") && strcmp(solver, "rk4");
  const double tol0 = odefunc && NDE_REAL_IS_DOUBLE ? 1e-12 : 1e-10;
  double rtol = args_double(&a, "rtol", tol0, &bad), atol = args_double(&a, "atol", tol0, &bad);
  double T = args_double(&a, "T", 1.0, &bad);
  int n = args_int(&a, "batch", 2, &bad);
  double h = args_double(&a, "step", NDE_REAL_IS_DOUBLE ? (odefunc ? 1e-4 : 1e-6) : 1e-3, &bad);
  double fixed_h = args_double(&a, "fixed-h", 0.01, &bad);
  long seed = args_long(&a, "seed", 1, &bad);
  if (bad || args_finish(&a)) {
    args_free(&a);
    return 2;
  }
  args_free(&a);
  if (n < 1 || n > 64) {
    fprintf(stderr, "nde gradcheck: --batch %d outside [1, 64]\n", n);
    return 2;
  }
  nde_ode_options o = nde_ode_options_default();
  if (nde_ode_method_parse(solver, &o.method) || nde_adjoint_kind_parse(adj, &o.adjoint)) {
    fprintf(stderr, "nde gradcheck: %s\n", nde_last_error());
    return 2;
  }
  o.rtol = rtol;
  o.atol = atol;
  o.T = T;
  o.fixed_h = fixed_h;
  o.max_steps = 100000;

  nde_rng rng;
  nde_rng_seed(&rng, (uint64_t)seed);
  nde_net *net = NULL;
  nde_field *field = NULL;
  nde_ode *ode = NULL;
  double up[UDIM * UDIM + UDIM];
  int rc;
  if (!strcmp(field_name, "mlp")) {
    nde_layer_spec s[] = {nde_spec_dense(16), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(4)};
    rc = nde_net_create(nde_shape_vec(4), n, s, 3, &net);
  } else if (!strcmp(field_name, "odefunc")) {
    rc = nde_net_create_odefunc(nde_shape_chw(4, 3, 3), 2, n, &net);
  } else if (!strcmp(field_name, "user")) {
    rc = NDE_OK;
  } else {
    fprintf(stderr, "nde gradcheck: unknown --field '%s' (mlp, odefunc or user)\n", field_name);
    return 2;
  }
  if (rc) return tool_fail("gradcheck", rc);
  if (net) {
    nde_net_init(net, &rng);
    rc = nde_field_create_net(net, &field);
  } else {
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) up[i] = 0.8 * nde_rng_normal(&rng);
    nde_field_user def = {.dim = UDIM, .nparam = UDIM * UDIM + UDIM, .max_batch = n,
                          .rhs = user_rhs, .vjp = user_vjp, .user = up};
    rc = nde_field_create_user(&def, &field);
  }
  if (!rc) rc = nde_ode_create(field, &o, n, &ode);
  if (rc) {
    int r = tool_fail("gradcheck", rc);
    nde_field_free(field);
    nde_net_free(net);
    return r;
  }
  const size_t dim = nde_field_dim(field), m = (size_t)n * dim, np = nde_field_num_params(field);
  double *y0 = malloc(m * sizeof *y0), *yT = malloc(m * sizeof *yT), *w = malloc(m * sizeof *w);
  double *dy0 = malloc(m * sizeof *dy0), *g = calloc(np + 1, sizeof *g);
  double *fd_y = malloc(m * sizeof *fd_y), *fd_p = malloc((np + 1) * sizeof *fd_p);
  for (size_t i = 0; i < m; i++) y0[i] = nde_rng_normal(&rng), w[i] = nde_rng_normal(&rng);

  nde_ode_stats fwd, bwd;
  rc = nde_adjoint_forward(ode, n, y0, yT);
  if (!rc) rc = nde_adjoint_backward(ode, w, dy0, g);
  nde_ode_last_stats(ode, &fwd, &bwd);
  for (size_t i = 0; !rc && i < m; i++) {
    double keep = y0[i], lp, lm;
    y0[i] = keep + h;
    lp = loss(ode, n, y0, yT, w, m, &rc);
    y0[i] = keep - h;
    if (!rc) lm = loss(ode, n, y0, yT, w, m, &rc);
    y0[i] = keep;
    fd_y[i] = rc ? 0 : (lp - lm) / (2 * h);
  }
  nde_real *p = net ? nde_net_params(net) : NULL;
  for (size_t i = 0; !rc && i < np; i++) {
    double lp, lm;
    if (p) {
      nde_real keep = p[i];
      volatile nde_real up_ = (nde_real)(keep + h), dn_ = (nde_real)(keep - h);
      double dh = (double)up_ - (double)dn_; /* the step actually taken in nde_real */
      p[i] = up_;
      lp = loss(ode, n, y0, yT, w, m, &rc);
      p[i] = dn_;
      if (!rc) lm = loss(ode, n, y0, yT, w, m, &rc);
      p[i] = keep;
      fd_p[i] = rc ? 0 : (lp - lm) / dh;
    } else {
      double keep = up[i];
      up[i] = keep + h;
      lp = loss(ode, n, y0, yT, w, m, &rc);
      up[i] = keep - h;
      if (!rc) lm = loss(ode, n, y0, yT, w, m, &rc);
      up[i] = keep;
      fd_p[i] = rc ? 0 : (lp - lm) / (2 * h);
    }
  }
  int status = 0;
  if (rc) {
    status = tool_fail("gradcheck", rc);
  } else {
    double ey = rel_err(dy0, fd_y, m), ep = np ? rel_err(g, fd_p, np) : 0;
    printf("field: %s solver: %s adjoint: %s rtol: %g atol: %g T: %g batch: %d dim: %zu params: %zu\n",
           field_name, nde_ode_method_name(o.method), nde_adjoint_kind_name(o.adjoint), rtol, atol, T,
           n, dim, np);
    printf("forward: nfe %ld steps %ld rejected %ld | backward: nfe %ld quad %ld steps %ld\n", fwd.nfe,
           fwd.steps, fwd.rejected, bwd.nfe, bwd.nfe_quad, bwd.steps);
    printf("dL/dy0 rel_err: %.3e\ndL/dtheta rel_err: %.3e\n", ey, ep);
    printf("max_rel_err: %.3e\n", fmax(ey, ep));
  }
  free(y0);
  free(yT);
  free(w);
  free(dy0);
  free(g);
  free(fd_y);
  free(fd_p);
  nde_ode_free(ode);
  nde_field_free(field);
  nde_net_free(net);
  return status;
}

int nde_cmd_gradcheck(int argc, char **argv) { return gradcheck(argc, argv); }
