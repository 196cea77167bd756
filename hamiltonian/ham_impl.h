/* Private to hamiltonian/: the block object and the batched layer kernels
 * shared by the fields, the discrete network and the solver wrapper. */
#ifndef NDE_HAM_IMPL_H
#define NDE_HAM_IMPL_H

#include "common/error_impl.h"
#include "nde/hamiltonian.h"

/* A field's view of a block: a fixed layer, or NDE_HAM_PIECEWISE (layer from t). */
typedef struct nde_ham_field_ctx {
  nde_ham *ham;
  int layer;
} nde_ham_field_ctx;

struct nde_ham {
  nde_ham_options o;
  int nf, m;     /* state size per sample and its half (H2, J1) */
  size_t lp, np; /* parameters per layer and in all */
  double *theta; /* np */
  double gamma;  /* CH-NODE dissipation, 0 for the other kinds */
  double *amat;  /* nf x nf: J1 or J2 (H1), J1 - gamma I (CH-NODE) */
  nde_ham_contraction con;
  /* Workspaces of max_batch * nf values: activations, A^T a, K^T u, and a
   * target for vjps whose caller wants only the parameter part. */
  double *ws, *wu, *wv, *wj;
  /* Single-sample scratch (Jacobians): unit cotangents and rows. */
  double *e1, *r1;
  /* Discrete network: states y_0..y_N and activations of each layer. */
  double *ys, *acts;
  int last_n;             /* batch of the stored forward, 0 before any */
  nde_ham_field_ctx *ctx; /* N + 1 field contexts: layers 0..N-1, then piecewise */
  /* GSL symmetric eigen-solvers for lambda_max(K^T K), sized at create: nf
   * (and m for H2's blocks; GSL wants the workspace order to equal the
   * matrix order), a matrix and a vector of order nf used through views. */
  void *eig_ws, *eig_ws_m, *eig_m, *eig_v;
};

/* Pointers into layer j's block. */
static inline double *nde_ham_layer(const nde_ham *ham, int j) {
  return ham->theta + (size_t)j * ham->lp;
}

/* Activations S = tanh(Y K + b) of layer j at the n samples y (n * nf; H2:
 * columns [0, m) from p with Kp, [m, nf) from q with Kq), into s. */
void nde_ham_acts(const nde_ham *ham, int j, int n, const double *y, double *s);

/* f = f_j(y) from the activations s of y. */
void nde_ham_rhs_from_acts(const nde_ham *ham, int j, int n, const double *y, const double *s,
                           double *f);

/* ja += scale (df_j/dy)^T a and g += scale (df_j/dtheta)^T a (g may be NULL)
 * at y with activations s. ja may alias a only for R1/H1/CH-NODE Euler steps
 * where the whole of a is read first (see the discrete backprop). */
void nde_ham_vjp_from_acts(nde_ham *ham, int j, int n, const double *y, const double *s,
                           const double *a, double scale, double *ja, double *g);

/* jv = (df_j/dy) v from the activations s. */
void nde_ham_jvp_from_acts(nde_ham *ham, int j, int n, const double *s, const double *v,
                           double *jv);

/* Symplectic Euler step of H2 layer j: y1 from y0 (n samples), activations
 * into s ([tanh(Kp^T p' + bp) | tanh(Kq^T q + bq)] per sample). */
void nde_ham_h2_step(nde_ham *ham, int j, int n, const double *y0, double *y1, double *s);
/* Backprop through that step: a (cotangent of y1) becomes the cotangent of
 * y0 in place; g += dL/dtheta (g may be NULL). */
void nde_ham_h2_step_vjp(nde_ham *ham, int j, int n, const double *y0, const double *y1,
                         const double *s, double *a, double *g);

/* An nde user field over ctx (which must outlive it), for batches <= max_batch. */
int nde_ham_field_from_ctx(nde_ham_field_ctx *ctx, int max_batch, nde_field **out);

/* Rebuild amat from the kind and gamma. */
void nde_ham_build_amat(nde_ham *ham);

/* Layer of time t in a piecewise field: floor(t / h) clamped to [0, N - 1]. */
int nde_ham_layer_at(const nde_ham *ham, double t);

/* Argument checks shared by the public entry points. */
int nde_ham_check_layer(const nde_ham *ham, int layer, const char *where);
int nde_ham_check_batch(const nde_ham *ham, int n, const char *where);

#endif
