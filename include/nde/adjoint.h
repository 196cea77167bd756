/* nde/adjoint.h: gradients through an ODE solve (docs/methods.md section 3).
 *
 * For dy/dt = f(t, y; theta) on [t0, T] with outputs y(t_1), ..., y(t_K = T)
 * and a loss L(y(t_1), ..., y(t_K)), the adjoint a(t) = dL/dy(t) satisfies
 *   da/dt = -(df/dy)^T a  between output times,
 *   a jumps by +dL/dy(t_k) when passing t_k backward (a(T+) = 0),
 *   dL/dtheta = integral_{t0}^{T} (df/dtheta)^T a dt,   dL/dy(t0) = a(t0).
 * The gradient method is the solver's option `adjoint` (nde/ode.h):
 *  - NDE_ADJ_CHECKPOINT (CVODES ADAMS/BDF): CVodeF stores checkpoints and a
 *    Hermite or polynomial interpolant of y; the backward problem integrates
 *    a with CVodeB (right-hand side -(df/dy)^T a) and dL/dtheta as a backward
 *    quadrature with right-hand side -(df/dtheta)^T a, so that CVodeGetQuadB
 *    returns +dL/dtheta (CVODES integrates in t from T down to t0). Output
 *    times split the backward solve into legs joined by the jumps.
 *  - NDE_ADJ_BACKSOLVE (every method): the augmented state [y, a, g] with
 *    y' = f, a' = -(df/dy)^T a, g' = -(df/dtheta)^T a is integrated from T
 *    down to t0 starting at [y(T), dL/dy(T), 0], reconstructing y (reset to
 *    the stored forward value at each output time, as torchdiffeq does).
 *    Cheap in memory, inaccurate when the forward flow contracts strongly.
 *  - NDE_ADJ_DIRECT (EULER/RK4): reverse-mode differentiation of the fixed
 *    step arithmetic from the stored stage states: the exact gradient of the
 *    discrete map.
 *
 * Costs worth knowing (all visible in the backward statistics):
 *  - CHECKPOINT re-integrates the forward problem between checkpoints
 *    (nfe_recompute) and evaluates the quadrature separately (nfe_quad,
 *    one extra network forward + vjp per evaluation for network fields).
 *  - CHECKPOINT in per-sample mode keeps one CVODES memory, so every sample
 *    but the last replays its forward solve first (counted in
 *    nfe_recompute).
 *  - The first backward pass of a checkpointed solver allocates the
 *    backward problem (CVodeInitB needs a finished CVodeF); later passes
 *    reuse it.
 *
 * Typical use:
 *   nde_adjoint_forward(ode, n, y0, yout);     // records what backward needs
 *   ... loss and dL/dyout (same layout as yout) ...
 *   memset(gtheta, 0, np * sizeof *gtheta);
 *   nde_adjoint_backward(ode, dLdy, dLdy0, gtheta);
 *   nde_ode_last_stats(ode, &fwd, &bwd);       // NFE-F, NFE-B
 *
 * THREAD SAFETY. As nde/ode.h: these calls use the solver and its field;
 * the forward and the backward pass may run on different threads, one
 * after the other.
 */
#ifndef NDE_ADJOINT_H
#define NDE_ADJOINT_H

#include "nde/ode.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NDE_OK if the method/adjoint pair is supported (table in nde/ode.h),
 * NDE_ERR_ARG with a message naming the supported choices otherwise. */
NDE_API int nde_adjoint_supported(int method, int adjoint);

/* Forward solve as nde_ode_solve, also recording what the backward pass of
 * the solver's adjoint method needs (CVODES checkpoints, the states at the
 * output times, the fixed-step stage states). The field must have a vjp and
 * the adjoint must not be NDE_ADJ_NONE. */
NDE_API int nde_adjoint_forward(nde_ode *ode, int n, const double *y0, double *yout);

/* Backward pass for the last nde_adjoint_forward (same n):
 *   dLdy    nout * n * dim values, dL/dy(t_k) in the layout of yout (required);
 *   dLdy0   n * dim values, receives dL/dy(t0) (overwritten; may be NULL);
 *   dLdtheta nparam values, dL/dtheta ACCUMULATED (+=, summed over the batch;
 *           may be NULL, though the quadrature is then still integrated).
 * Errors as for nde_ode_solve; NDE_ERR_STATE without a preceding forward.
 * A second backward on the same forward is allowed (e.g. another loss). */
NDE_API int nde_adjoint_backward(nde_ode *ode, const double *dLdy, double *dLdy0, double *dLdtheta);

#ifdef __cplusplus
}
#endif
#endif
