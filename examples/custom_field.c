/* custom_field: a hand-written C vector field with its own parameters, solved
 * by nde and differentiated by the adjoint method, without any network.
 *
 * Problem: a driven, damped oscillator  x'' + c x' + k x = a sin(t), written
 * as the first-order system y = (x, v):
 *     x' = v
 *     v' = -k x - c v + a sin(t)
 * with parameters theta = (k, c, a). Loss L = (1/2) ||y(T)||^2 at T = 5.
 * We want dL/dtheta and dL/dy(0). The program supplies f and its
 * vector-Jacobian product
 *     (df/dy)^T w = (-k w_v, w_x - c w_v),
 *     (df/dtheta)^T w = (-x w_v, -v w_v, sin(t) w_v),
 * asks nde for the gradient with the checkpointed CVODES adjoint, and checks
 * it against central finite differences of the solve. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nde/nde.h"

typedef struct oscillator {
  double k, c, a;
} oscillator;

static int rhs(double t, int n, const double *y, double *ydot, void *user) {
  const oscillator *p = user;
  for (int i = 0; i < n; i++) {
    const double x = y[2 * i], v = y[2 * i + 1];
    ydot[2 * i] = v;
    ydot[2 * i + 1] = -p->k * x - p->c * v + p->a * sin(t);
  }
  return 0;
}

static int vjp(double t, int n, const double *y, const double *w, double *jw, double *gtheta,
               void *user) {
  const oscillator *p = user;
  for (int i = 0; i < n; i++) {
    const double x = y[2 * i], v = y[2 * i + 1], wx = w[2 * i], wv = w[2 * i + 1];
    jw[2 * i] = -p->k * wv;
    jw[2 * i + 1] = wx - p->c * wv;
    if (gtheta) {
      gtheta[0] += -x * wv;
      gtheta[1] += -v * wv;
      gtheta[2] += sin(t) * wv;
    }
  }
  return 0;
}

/* L(theta, y0) by a plain forward solve. */
static int loss_at(nde_ode *ode, const double *y0, double *L) {
  double yT[2];
  int rc = nde_ode_solve(ode, 1, y0, yT);
  *L = 0.5 * (yT[0] * yT[0] + yT[1] * yT[1]);
  return rc;
}

int main(void) {
  oscillator p = {.k = 4.0, .c = 0.3, .a = 0.8};
  nde_field_user def = {.dim = 2, .nparam = 3, .max_batch = 1, .rhs = rhs, .vjp = vjp, .user = &p};
  nde_field *field = NULL;
  nde_ode *ode = NULL;
  int rc = nde_field_create_user(&def, &field);
  nde_ode_options o = nde_ode_options_default();
  o.T = 5.0;
  o.rtol = o.atol = 1e-10;
  if (!rc) rc = nde_ode_create(field, &o, 1, &ode);
  if (rc) {
    fprintf(stderr, "custom_field: %s\n", nde_last_error());
    nde_field_free(field);
    return 1;
  }

  double y0[2] = {1.0, 0.0}, yT[2], dLdy0[2], g[3] = {0, 0, 0};
  rc = nde_adjoint_forward(ode, 1, y0, yT);
  double dLdyT[2] = {yT[0], yT[1]}; /* dL/dy(T) = y(T) */
  if (!rc) rc = nde_adjoint_backward(ode, dLdyT, dLdy0, g);
  nde_ode_stats fwd, bwd;
  nde_ode_last_stats(ode, &fwd, &bwd);
  if (rc) {
    fprintf(stderr, "custom_field: %s\n", nde_last_error());
    nde_ode_free(ode);
    nde_field_free(field);
    return 1;
  }
  printf("y(T) = (%.8f, %.8f), L = %.10f\n", yT[0], yT[1], 0.5 * (yT[0] * yT[0] + yT[1] * yT[1]));
  printf("forward: nfe %ld steps %ld | backward: nfe %ld quad %ld steps %ld\n", fwd.nfe, fwd.steps,
         bwd.nfe, bwd.nfe_quad, bwd.steps);

  /* Central differences, step 1e-5, for the 3 parameters and 2 initial values. */
  const double h = 1e-5;
  double *theta[3] = {&p.k, &p.c, &p.a};
  const char *name[5] = {"k", "c", "a", "x0", "v0"};
  double adj[5] = {g[0], g[1], g[2], dLdy0[0], dLdy0[1]}, worst = 0;
  printf("%-4s %16s %16s %10s\n", "", "adjoint", "finite diff", "rel err");
  for (int j = 0; j < 5; j++) {
    double *q = j < 3 ? theta[j] : &y0[j - 3], keep = *q, Lp, Lm;
    *q = keep + h;
    rc |= loss_at(ode, y0, &Lp);
    *q = keep - h;
    rc |= loss_at(ode, y0, &Lm);
    *q = keep;
    double fd = (Lp - Lm) / (2 * h), err = fabs(fd - adj[j]) / fmax(fabs(fd), 1e-12);
    worst = fmax(worst, err);
    printf("%-4s %16.10f %16.10f %10.2e\n", name[j], adj[j], fd, err);
  }
  printf("max_rel_err: %.3e\n", worst);
  nde_ode_free(ode);
  nde_field_free(field);
  return rc || worst > 1e-5 ? 1 : 0;
}
