/* Private to stability/: the PWA network description shared by the
 * evaluation, the sufficient conditions and the region maps, the weight
 * parametrization object, and small double-precision helpers. */
#ifndef NDE_STABILITY_IMPL_H
#define NDE_STABILITY_IMPL_H

#include <math.h>
#include <stddef.h>

#include "common/error_impl.h"
#include "nde/stability.h"

/* One layer of a PWA network: a dense map or a pointwise activation. */
typedef struct nde_pwa_layer {
  int kind;    /* NDE_LAYER_DENSE, an activation kind, or NDE_LAYER_FLATTEN */
  int in, out; /* feature counts */
  size_t off;  /* offset of W (out x in, row-major) in the parameter vector; b follows */
  int bias;    /* dense: 1 when b is present */
  int unit0;   /* activations: index of the first unit in patterns */
} nde_pwa_layer;

struct nde_pwa {
  int nin, nout, nlayers, maxw, nunits, homogeneous;
  size_t nparam;
  nde_pwa_layer *L;
  /* Sweep state, ping-pong buffers of maxw values (h, b) and maxw x nin (A, J). */
  double *h[2], *b[2], *A[2], *J[2];
  double *z;          /* pre-activations of all units of the last sweep (nunits) */
  double *W;          /* one dense weight in double (maxw x maxw), for norms */
  double *sv;         /* singular values (maxw) */
  double *fx, *Jx;    /* nde_stab_local / sampling scratch: nout, nout x nin */
  double *Ax;         /* nout x nin */
  nde_spectrum *sp_w; /* SVD of the dense weights (maxw) */
  nde_spectrum *sp_n; /* spectra of A*, J (nin x nin, square networks only; else NULL) */
};

/* Which products a sweep forms. */
enum { PWA_NEED_AB = 1, PWA_NEED_J = 2 };

/* Run the network at x; afterwards p->h[*cur], p->A[*cur], p->b[*cur],
 * p->J[*cur] hold f, A*, b*, J (as requested by need) and p->z the
 * pre-activations. Checks finiteness after every layer. */
int nde_pwa_sweep(nde_pwa *p, const nde_real *params, const double *x, int need, int *cur);

/* ||W||_2 of dense layer l (converted to double). */
int nde_pwa_dense_norm(nde_pwa *p, const nde_real *params, int l, double *norm);

/* Weight parametrizations. */
struct nde_wparam {
  int kind, rows, cols, k;
  double smin, smax;
  size_t nparam;
  /* double workspace sized at create (see wparam.c for the layout per kind) */
  double *Wd;           /* W(theta) in double, rows x cols */
  double *Gd;           /* cotangent dW in double, rows x cols */
  double *U, *V;        /* softsvd: rows x k, k x cols; spectral: rows x rows, cols x cols */
  double *dU, *dV;      /* gradients of U, V */
  double *s, *ds;       /* k */
  double *Ma, *Mb;      /* Householder backprop scratch, max(rows, cols)^2 each */
  double *va, *vb, *vc; /* vectors of max(rows, cols) */
  nde_spectrum *sp;     /* softsvd bounds: SVD of U and V */
};

/* s(p) = smax - (smax - smin) sigmoid(p) and ds/dp. */
double nde_stab_bounded(double smin, double smax, double p, double *dsdp);

/* Kind-specific parts, one file each (wparam_svd.c, wparam_householder.c, wparam_disc.c). */
int nde_wparam_softsvd_weight(nde_wparam *w, const nde_real *theta);
int nde_wparam_softsvd_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta);
int nde_wparam_softsvd_penalty(nde_wparam *w, const nde_real *theta, double *value,
                               nde_real *dtheta);
int nde_wparam_softsvd_init(nde_wparam *w, nde_real *theta, nde_rng *rng);
int nde_wparam_spectral_weight(nde_wparam *w, const nde_real *theta);
int nde_wparam_spectral_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta);
int nde_wparam_gershgorin_weight(nde_wparam *w, const nde_real *theta);
int nde_wparam_gershgorin_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta);
int nde_wparam_pf_weight(nde_wparam *w, const nde_real *theta);
int nde_wparam_pf_vjp(nde_wparam *w, const nde_real *theta, nde_real *dtheta);

/* Helpers. */
int nde_stab_all_finite(const double *a, size_t n);
double nde_stab_norm_inf(const double *a, int n);

#endif
