/* Mean softmax cross-entropy:
 *   loss = -(1/n) sum_i [ z_{i,y_i} - logsumexp(z_i) ],
 *   dloss/dz_{ik} = (softmax(z_i)_k - 1[k = y_i]) / n.
 * Computed in double with the max subtracted for stability. */
#include <math.h>

#include "common/error_impl.h"
#include "nde/nets.h"

int nde_softmax_xent(int n, int k, const nde_real *logits, const int *labels, double *loss,
                     nde_real *dlogits, int *nerr) {
  NDE_CHECK_NULL(logits, "nde_softmax_xent");
  NDE_CHECK_NULL(labels, "nde_softmax_xent");
  NDE_CHECK_NULL(loss, "nde_softmax_xent");
  if (n < 1 || k < 2) return nde_error(NDE_ERR_ARG, "nde_softmax_xent: n = %d, k = %d (need n >= 1, k >= 2)", n, k);
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= k)
      return nde_error(NDE_ERR_ARG, "nde_softmax_xent: label %d of sample %d outside [0, %d)",
                       labels[i], i, k);
  double total = 0;
  int wrong = 0;
  for (int i = 0; i < n; i++) {
    const nde_real *z = logits + (size_t)i * k;
    int arg = 0;
    double zmax = z[0];
    for (int j = 1; j < k; j++)
      if (z[j] > zmax) zmax = z[j], arg = j;
    if (!isfinite(zmax))
      return nde_error(NDE_ERR_NONFINITE, "nde_softmax_xent: non-finite logit in sample %d", i);
    double se = 0;
    for (int j = 0; j < k; j++) se += exp(z[j] - zmax);
    double lse = zmax + log(se);
    total += lse - z[labels[i]];
    wrong += arg != labels[i];
    if (dlogits)
      for (int j = 0; j < k; j++)
        dlogits[(size_t)i * k + j] = (nde_real)((exp(z[j] - lse) - (j == labels[i])) / n);
  }
  *loss = total / n;
  if (nerr) *nerr = wrong;
  return NDE_OK;
}
