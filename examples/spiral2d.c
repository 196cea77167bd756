/* spiral2d: learn the dynamics of a 2-D spiral from samples of its
 * trajectory (the classic neural-ODE demo of torchdiffeq's ode_demo.py).
 *
 * True system: dy/dt = A^T y^3 (cube taken elementwise, y a row vector),
 * A = [[-0.1, 2], [-2, -0.1]], y(0) = (2, 0), sampled at 1000 times in
 * [0, 25]. Model: dy/dt = net(y^3) with net = Linear(2, 50) -> tanh ->
 * Linear(50, 2), written as a user vector field that wraps an nde network,
 * which shows how a C program can compose its own maths with a network:
 *   f(y) = net(y^3),  (df/dy)^T w = 3 y^2 * (dnet/du)^T w,
 *   (df/dtheta)^T w = (dnet/dtheta)^T w.
 * Each iteration takes 20 random windows of 10 consecutive samples, solves
 * from each window's first point (joint batch, CVODES Adams, checkpointed
 * adjoint) and minimizes the mean squared error at the 9 later times with
 * Adam. Prints the loss on the whole trajectory and the NFE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"

#define NT 1000
#define WIN 10
#define BATCH 20
#define ITERS 2000

typedef struct cubic_net {
  nde_net *net;
  nde_real *u, *w, *dw, *g; /* conversion buffers sized for BATCH (and NT-free evaluation) */
  size_t np;
} cubic_net;

static int rhs(double t, int n, const double *y, double *ydot, void *user) {
  cubic_net *c = user;
  for (int i = 0; i < 2 * n; i++) c->u[i] = (nde_real)(y[i] * y[i] * y[i]);
  if (nde_net_forward(c->net, t, n, c->u, c->w)) return -1;
  for (int i = 0; i < 2 * n; i++) ydot[i] = c->w[i];
  return 0;
}

static int vjp(double t, int n, const double *y, const double *a, double *ja, double *gtheta,
               void *user) {
  cubic_net *c = user;
  for (int i = 0; i < 2 * n; i++) c->u[i] = (nde_real)(y[i] * y[i] * y[i]);
  for (int i = 0; i < 2 * n; i++) c->w[i] = (nde_real)a[i];
  if (nde_net_forward(c->net, t, n, c->u, NULL)) return -1;
  memset(c->g, 0, c->np * sizeof *c->g);
  if (nde_net_vjp(c->net, n, c->w, c->dw, gtheta ? c->g : NULL)) return -1;
  for (int i = 0; i < 2 * n; i++) ja[i] = 3 * y[i] * y[i] * c->dw[i];
  if (gtheta)
    for (size_t j = 0; j < c->np; j++) gtheta[j] += c->g[j];
  return 0;
}

static int true_rhs(double t, int n, const double *y, double *ydot, void *user) {
  for (int i = 0; i < n; i++) {
    double a = y[2 * i] * y[2 * i] * y[2 * i], b = y[2 * i + 1] * y[2 * i + 1] * y[2 * i + 1];
    ydot[2 * i] = -0.1 * a - 2.0 * b;   /* (y^3 A)_0 = a A00 + b A10 */
    ydot[2 * i + 1] = 2.0 * a - 0.1 * b; /* (y^3 A)_1 = a A01 + b A11 */
  }
  return 0;
}

static int fail(const char *what) {
  fprintf(stderr, "spiral2d: %s: %s\n", what, nde_last_error());
  return 1;
}

int main(void) {
  static double ts[NT], truth[NT * 2], pred[NT * 2];
  for (int i = 0; i < NT; i++) ts[i] = 25.0 * i / (NT - 1);
  int status = 1;
  nde_field *tf = NULL, *mf = NULL;
  nde_ode *tode = NULL, *ode = NULL, *full = NULL;
  nde_optim *opt = NULL;
  cubic_net c = {0};
  double *g = NULL;

  /* Ground truth, solved by nde at tight tolerance. */
  nde_field_user tdef = {.dim = 2, .max_batch = 1, .rhs = true_rhs};
  nde_ode_options to = nde_ode_options_default();
  to.rtol = to.atol = 1e-9;
  to.T = 25.0;
  to.nout = NT - 1;
  to.tout = ts + 1;
  to.adjoint = NDE_ADJ_NONE;
  to.max_steps = 100000;
  truth[0] = 2.0;
  truth[1] = 0.0;
  if (nde_field_create_user(&tdef, &tf) || nde_ode_create(tf, &to, 1, &tode) ||
      nde_ode_solve(tode, 1, truth, truth + 2))
    { status = fail("ground truth"); goto done; }

  /* The model: net(y^3) wrapped as a user field. */
  nde_layer_spec s[] = {nde_spec_dense(50), nde_spec_act(NDE_LAYER_TANH), nde_spec_dense(2)};
  if (nde_net_create(nde_shape_vec(2), BATCH, s, 3, &c.net)) { status = fail("network"); goto done; }
  nde_rng rng;
  nde_rng_seed(&rng, 2020);
  nde_net_init(c.net, &rng);
  c.np = nde_net_num_params(c.net);
  c.u = malloc(2 * BATCH * sizeof(nde_real));
  c.w = malloc(2 * BATCH * sizeof(nde_real));
  c.dw = malloc(2 * BATCH * sizeof(nde_real));
  c.g = malloc(c.np * sizeof(nde_real));
  g = malloc(c.np * sizeof(double));
  if (!c.u || !c.w || !c.dw || !c.g || !g) { fprintf(stderr, "spiral2d: out of memory\n"); goto done; }
  nde_field_user mdef = {.dim = 2, .nparam = c.np, .max_batch = BATCH, .rhs = rhs, .vjp = vjp, .user = &c};
  nde_ode_options mo = nde_ode_options_default(); /* Adams, checkpointed adjoint */
  mo.rtol = mo.atol = 1e-6;
  mo.T = ts[WIN - 1];
  mo.nout = WIN - 1;
  mo.tout = ts + 1; /* the window's times, shifted to start at 0 (autonomous field) */
  nde_ode_options fo = mo;
  fo.T = 25.0;
  fo.nout = NT - 1;
  fo.adjoint = NDE_ADJ_NONE;
  fo.max_steps = 100000;
  if (nde_field_create_user(&mdef, &mf) || nde_ode_create(mf, &mo, BATCH, &ode) ||
      nde_ode_create(mf, &fo, 1, &full))
    { status = fail("model solver"); goto done; }
  nde_optim_options oo = nde_optim_options_default(NDE_OPTIM_ADAM);
  if (nde_optim_create(NDE_OPTIM_ADAM, c.np, &oo, &opt)) { status = fail("optimizer"); goto done; }

  double y0[2 * BATCH], yout[(WIN - 1) * BATCH * 2], dL[(WIN - 1) * BATCH * 2];
  int start[BATCH];
  printf("%5s %12s %8s %8s\n", "iter", "traj_mse", "nfe_f", "nfe_b");
  for (int it = 0; it <= ITERS; it++) {
    if (it % 250 == 0) {
      nde_ode_stats fs;
      pred[0] = truth[0];
      pred[1] = truth[1];
      if (nde_ode_solve(full, 1, truth, pred + 2)) { status = fail("evaluation"); goto done; }
      nde_ode_last_stats(full, &fs, NULL);
      double mse = 0;
      for (int i = 0; i < 2 * NT; i++) mse += (pred[i] - truth[i]) * (pred[i] - truth[i]);
      nde_ode_stats bf, bb;
      nde_ode_last_stats(ode, &bf, &bb);
      printf("%5d %12.6f %8ld %8ld\n", it, mse / (2 * NT), it ? bf.nfe : 0, it ? bb.nfe + bb.nfe_quad : 0);
      fflush(stdout);
    }
    if (it == ITERS) break;
    for (int b = 0; b < BATCH; b++) {
      start[b] = (int)nde_rng_below(&rng, NT - WIN);
      y0[2 * b] = truth[2 * start[b]];
      y0[2 * b + 1] = truth[2 * start[b] + 1];
    }
    if (nde_adjoint_forward(ode, BATCH, y0, yout)) { status = fail("forward"); goto done; }
    /* loss = mean over (k, b, d) of (pred - true)^2 */
    const double scale = 2.0 / ((WIN - 1) * BATCH * 2);
    for (int k = 0; k < WIN - 1; k++)
      for (int b = 0; b < BATCH; b++)
        for (int d = 0; d < 2; d++) {
          size_t o = ((size_t)k * BATCH + b) * 2 + d;
          dL[o] = scale * (yout[o] - truth[2 * (start[b] + k + 1) + d]);
        }
    memset(g, 0, c.np * sizeof *g);
    if (nde_adjoint_backward(ode, dL, NULL, g)) { status = fail("backward"); goto done; }
    for (size_t j = 0; j < c.np; j++) c.g[j] = (nde_real)g[j];
    if (nde_optim_step(opt, nde_net_params(c.net), c.g, 3e-3)) { status = fail("step"); goto done; }
  }
  status = 0;
done:
  nde_optim_free(opt);
  nde_ode_free(full);
  nde_ode_free(ode);
  nde_ode_free(tode);
  nde_field_free(mf);
  nde_field_free(tf);
  nde_net_free(c.net);
  free(c.u);
  free(c.w);
  free(c.dw);
  free(c.g);
  free(g);
  return status;
}
