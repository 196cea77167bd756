/* Private to rman/: the workspace and the per-sample relu-max kernel shared by
 * the energy, the attraction report and the statistics. */
#ifndef NDE_RMAN_IMPL_H
#define NDE_RMAN_IMPL_H

#include "nde/rman.h"

struct nde_rman {
  int c, h;
  nde_rman_options opts;
  double *m;  /* [h*c] attractors converted to double once per call */
  double *dm; /* [h*c] gradient w.r.t. m, summed in double before the one
                 accumulation into the caller's nde_real slice */
  double *x;  /* [c] current sample */
  double *s;  /* [h] scores m_j^T x */
  double *a;  /* [h] attraction strengths */
  double *g;  /* [c] target attractor */
  double *e;  /* [c] g - x */
  double *gx; /* [c] grad_x of the current sample */
};

/* Validate options (where names the caller for the message). */
int rman_check_options(const nde_rman_options *o, const char *where);

/* Copy n nde_real values to double, failing with NDE_ERR_NONFINITE (message
 * names what and the index) on NaN/Inf. */
int rman_to_double(const nde_real *src, size_t n, double *dst, const char *where, const char *what);

/* The relu-max assignment for one sample x (c) and attractors m (h x c):
 * fills s (h), a (h) and g (c) and returns S = sum_j relu(s_j). When S == 0
 * (no attractor active) a and g are set to 0. */
double rman_assign(int c, int h, const double *m, const double *x, double *s, double *a, double *g);

#endif
