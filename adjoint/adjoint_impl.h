/* Private to adjoint/ (and ode/solver.c, which builds the backsolve engines
 * at create time): the per-integration backward passes.
 *
 * Each backward function handles one integration of m samples (sample
 * index i in per-sample mode, m = n and i = 0 in joint mode). Pointers are
 * already offset to the integration's first sample; output k of the
 * integration is at offset k * ostride in dLdy and yout (ostride = n * dim).
 * a0 receives dL/dy(t0) (m * dim values); g accumulates dL/dtheta. */
#ifndef NDE_ADJOINT_IMPL_H
#define NDE_ADJOINT_IMPL_H

#include "ode/ode_impl.h"

/* Backsolve engines for integrations of L = m * dim state values. */
int nde_cvbs_build(nde_ode *ode, size_t L);
int nde_arkbs_build(nde_ode *ode, size_t L);

int nde_checkpoint_backward(nde_ode *ode, int i, int m, size_t ostride, const double *dLdy,
                            const double *y0, double *a0, double *g, nde_ode_stats *st);
int nde_backsolve_backward(nde_ode *ode, int m, size_t ostride, const double *dLdy,
                           const double *yout, double *a0, double *g, nde_ode_stats *st);
int nde_direct_backward(nde_ode *ode, int m, size_t ostride, const double *dLdy,
                        const double *store, double *a0, double *g, nde_ode_stats *st);

#endif
