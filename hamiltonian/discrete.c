/* The discrete Hamiltonian networks: N steps of size h (forward Euler for
 * R1, H1 and CH-NODE, symplectic Euler for H2) with exact backprop.
 *
 * Forward Euler: y_{j+1} = y_j + h f_j(y_j), so for a cotangent a_{j+1},
 *   a_j = a_{j+1} + h (df_j/dy)^T a_{j+1},   dL/dtheta_j += h (df_j/dtheta)^T a_{j+1},
 * evaluated at the stored y_j and activations tanh(K_j^T y_j + b_j). The
 * cotangent is updated in place (the kernels read all of it first). */
#include <string.h>

#include "hamiltonian/ham_impl.h"

/* Sum-free finiteness test: x - x is 0 for finite x, NaN otherwise. */
static int all_finite(const double *x, size_t n) {
  double acc = 0;
  for (size_t i = 0; i < n; i++) acc += x[i] - x[i];
  return acc == 0;
}

static size_t stride(const nde_ham *ham) { return (size_t)ham->o.max_batch * ham->nf; }

static double *state(const nde_ham *ham, int j) { return ham->ys + (size_t)j * stride(ham); }
static double *acts(const nde_ham *ham, int j) { return ham->acts + (size_t)j * stride(ham); }

/* Step j from the stored y_j into y_{j+1}. */
static void step(nde_ham *ham, int j, int n) {
  const double *y = state(ham, j);
  double *y1 = state(ham, j + 1), *s = acts(ham, j);
  if (ham->o.kind == NDE_HAM_H2) {
    nde_ham_h2_step(ham, j, n, y, y1, s);
    return;
  }
  size_t len = (size_t)n * ham->nf;
  double *f = ham->ws, h = ham->o.h;
  nde_ham_acts(ham, j, n, y, s);
  nde_ham_rhs_from_acts(ham, j, n, y, s, f);
  for (size_t i = 0; i < len; i++) y1[i] = y[i] + h * f[i];
}

/* a (cotangent of y_{j+1}) becomes the cotangent of y_j; g += ... */
static void step_vjp(nde_ham *ham, int j, int n, double *a, double *g) {
  if (ham->o.kind == NDE_HAM_H2)
    nde_ham_h2_step_vjp(ham, j, n, state(ham, j), state(ham, j + 1), acts(ham, j), a, g);
  else
    nde_ham_vjp_from_acts(ham, j, n, state(ham, j), acts(ham, j), a, ham->o.h, a, g);
}

int nde_ham_forward(nde_ham *ham, int n, const double *y0, double *yN) {
  NDE_CHECK_NULL(ham, "nde_ham_forward");
  NDE_CHECK_NULL(y0, "nde_ham_forward");
  int rc = nde_ham_check_batch(ham, n, "nde_ham_forward");
  if (rc) return rc;
  ham->last_n = 0;
  size_t len = (size_t)n * ham->nf;
  int N = ham->o.nlayers;
  memcpy(state(ham, 0), y0, len * sizeof *y0);
  for (int j = 0; j < N; j++) step(ham, j, n);
  if (!all_finite(state(ham, N), len))
    return nde_error(NDE_ERR_NONFINITE,
                     "nde_ham_forward (%s): non-finite state after %d layers (h = %g, gamma = %g)",
                     nde_ham_kind_name(ham->o.kind), N, ham->o.h, ham->gamma);
  ham->last_n = n;
  if (yN) memcpy(yN, state(ham, N), len * sizeof *yN);
  return NDE_OK;
}

int nde_ham_backward(nde_ham *ham, const double *dyN, double *dy0, double *g) {
  NDE_CHECK_NULL(ham, "nde_ham_backward");
  NDE_CHECK_NULL(dyN, "nde_ham_backward");
  if (!ham->last_n)
    return nde_error(NDE_ERR_STATE, "nde_ham_backward: no forward pass to differentiate");
  int n = ham->last_n;
  size_t len = (size_t)n * ham->nf;
  double *a = ham->wj;
  memcpy(a, dyN, len * sizeof *a);
  for (int j = ham->o.nlayers - 1; j >= 0; j--) step_vjp(ham, j, n, a, g);
  if (dy0) memcpy(dy0, a, len * sizeof *dy0);
  return NDE_OK;
}

const double *nde_ham_state(const nde_ham *ham, int j) {
  if (!ham || !ham->last_n || j < 0 || j > ham->o.nlayers) return NULL;
  return state(ham, j);
}

int nde_ham_step_jacobians(nde_ham *ham, int n, const double *y0, double *phi) {
  NDE_CHECK_NULL(phi, "nde_ham_step_jacobians");
  int rc = nde_ham_forward(ham, n, y0, NULL);
  if (rc) return rc;
  int nf = ham->nf;
  double *a = ham->wj;
  /* Row k of Phi_j for every sample: the step's vjp of the unit cotangent e_k. */
  for (int j = 0; j < ham->o.nlayers; j++)
    for (int k = 0; k < nf; k++) {
      memset(a, 0, (size_t)n * nf * sizeof *a);
      for (int i = 0; i < n; i++) a[(size_t)i * nf + k] = 1.0;
      step_vjp(ham, j, n, a, NULL);
      for (int i = 0; i < n; i++)
        memcpy(phi + ((size_t)j * n + i) * nf * nf + (size_t)k * nf, a + (size_t)i * nf,
               (size_t)nf * sizeof *phi);
    }
  return NDE_OK;
}
