/* Helpers shared by the stability suites. */
#ifndef NDE_TESTS_STAB_UTIL_H
#define NDE_TESTS_STAB_UTIL_H

#include "support/testutil.h"

/* Write W (out x in, row-major) and b (out, may be NULL) of dense layer i. */
static inline void su_set_dense(nde_net *net, int i, const double *W, const double *b) {
  size_t off, cnt;
  nde_net_layer_params(net, i, &off, &cnt);
  nde_real *p = nde_net_params(net) + off;
  nde_shape o;
  nde_net_layer_out_shape(net, i, &o);
  size_t nw = b ? cnt - (size_t)o.c : cnt;
  for (size_t k = 0; k < nw; k++) p[k] = (nde_real)W[k];
  if (b)
    for (int k = 0; k < o.c; k++) p[nw + k] = (nde_real)b[k];
}

#endif
