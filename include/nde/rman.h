/* nde/rman.h: the relu-max attractor network (RMAN, Deng et al., AAAI 2020;
 * docs/methods.md section 4): an energy on the pooled features of a batch that pulls each
 * feature towards a target attractor built from h learnable placement
 * attractors, its gradients, the alpha schedule and the attractor statistics
 * the paper reports.
 *
 * MATHS. Attractors m_1..m_h in R^c (row j of the h x c matrix m). For one
 * pooled feature x in R^c:
 *   s_j = m_j^T x,  r_j = relu(s_j) (relu'(0) = 0),  S = sum_k r_k,
 *   a_j = r_j / S   (attraction strength),  g = sum_j a_j m_j  (target),
 *   E(x) = ||g - x||^2.
 * With e = g - x and A = {j : s_j > 0}, where S > 0:
 *   grad_x E     = 2 [ (1/S) sum_{j in A} m_j (m_j - g)^T e - e ]
 *   grad_{m_j} E = 2 [ a_j e + 1[j in A] (1/S) x (m_j - g)^T e ].
 * a and g are invariant to x -> c x for c > 0. When no attractor is active
 * (S = 0) the expressions are undefined; the options choose a policy:
 *   NDE_RMAN_EMPTY_ZERO (default): the limit of r_j / (S + eps), i.e. a = 0,
 *     g = 0, E = ||x||^2, grad_x E = 2 x, grad_m E = 0 (the feature is pulled
 *     to the origin, which is also what shrinks the pooled norms, Fig. 3b);
 *   NDE_RMAN_EMPTY_SKIP: the sample contributes nothing (E_i = 0, no gradient),
 *     while the batch mean still divides by n.
 * The training loss adds (alpha / n) sum_i E(x_i), with
 * alpha = alpha0 + alpha_step * epoch (1e-4 (1 + epoch) by default).
 *
 * PARAMETERS. The attractors live in the model's flat parameter vector (h*c
 * values, row-major h x c); every function takes a pointer to them and, for
 * gradients, to the matching slice of the flat gradient, into which it
 * ACCUMULATES (docs/conventions.md section 6). Arithmetic is done in double whatever nde_real is.
 *
 * Typical use in a training step (x: n x c pooled features from the head):
 *   nde_rman *r;  nde_rman_create(c, h, NULL, &r);
 *   nde_rman_init_attractors(h, c, params + off, &rng);        // once
 *   double alpha = nde_rman_alpha(nde_rman_get_options(r), epoch);
 *   nde_rman_result res;
 *   nde_rman_energy(r, n, x, params + off, alpha, dx, grad + off, &res);
 *   // dx (n x c) now also holds alpha/n grad_x E; res.loss joins the loss.
 *
 * THREAD SAFETY. An nde_rman (its scratch) and an nde_rman_stats are each
 * used by one thread at a time. The attractors m are only read: several
 * threads' workspaces may share them while nobody writes them.
 */
#ifndef NDE_RMAN_H
#define NDE_RMAN_H

#include "nde/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a sample with no active attractor (S = 0) contributes; see above. */
typedef enum nde_rman_empty {
  NDE_RMAN_EMPTY_ZERO = 0, /* a = g = 0, E = ||x||^2 (the limit, see above) */
  NDE_RMAN_EMPTY_SKIP = 1  /* E = 0 and no gradient */
} nde_rman_empty;

typedef struct nde_rman_options {
  int empty;                  /* nde_rman_empty (NDE_RMAN_EMPTY_ZERO) */
  double alpha0;              /* energy weight at epoch 0 (1e-4), >= 0 */
  double alpha_step;          /* added per epoch (1e-4), >= 0 */
  double effective_threshold; /* m_j is effective when ||m_j||^2 > this (0.01, Table 2) */
  double solely_threshold;    /* x is solely attracted when max_j a_j > this (0.9), in (0, 1) */
} nde_rman_options;

/* The paper's settings (values in the comments above). */
NDE_API nde_rman_options nde_rman_options_default(void);

/* alpha0 + alpha_step * epoch, epoch counted from 0 (negative epochs count as
 * 0). NULL options mean the defaults: 1e-4 (1 + epoch). */
NDE_API double nde_rman_alpha(const nde_rman_options *opts, int epoch);

/* Number of attractor parameters, h * c, to reserve in a flat vector. */
NDE_API size_t nde_rman_num_params(int c, int h);

/* Fill m (h x c) with N(0, 1) values from rng (the paper's initialization). */
NDE_API int nde_rman_init_attractors(int h, int c, nde_real *m, nde_rng *rng);

/* Workspace for features of c channels and h attractors (h >= 1: a model
 * without RMAN simply does not create one). opts NULL means the defaults;
 * the options are copied and validated. Sizes all scratch: nde_rman_energy
 * and nde_rman_attract never allocate. */
typedef struct nde_rman nde_rman;
NDE_API int nde_rman_create(int c, int h, const nde_rman_options *opts, nde_rman **out);
NDE_API void nde_rman_free(nde_rman *r);
NDE_API const nde_rman_options *nde_rman_get_options(const nde_rman *r);
NDE_API int nde_rman_channels(const nde_rman *r);
NDE_API int nde_rman_attractors(const nde_rman *r);

/* Summary of one nde_rman_energy call. */
typedef struct nde_rman_result {
  double loss;        /* (alpha / n) sum_i E_i: the term added to the training loss */
  double mean_energy; /* (1 / n) sum_i E_i (alpha-free, for logs) */
  int n_empty;        /* samples with no active attractor (S = 0) */
} nde_rman_result;

/* Energy of a batch x (n x c, row-major) for attractors m (h x c).
 *   dx  (n x c) or NULL: ACCUMULATES (alpha/n) grad_x E(x_i) into row i, so it
 *       can be added to the cotangent the classifier's vjp left there;
 *   dm  (h x c) or NULL: ACCUMULATES (alpha/n) sum_i grad_m E(x_i);
 *   res (required): loss, mean energy, empty count.
 * alpha must be finite and >= 0. NDE_ERR_NONFINITE (naming the sample,
 * channel or attractor) when x or m hold NaN/Inf -- checked before anything
 * is written, so dx, dm and res stay untouched -- or when an energy, their
 * sum, the loss or a gradient value (as nde_real) overflows; dm and res are
 * then untouched but dx may already hold some of its rows' updates. */
NDE_API int nde_rman_energy(nde_rman *r, int n, const nde_real *x, const nde_real *m, double alpha,
                            nde_real *dx, nde_real *dm, nde_rman_result *res);

/* Per-sample attraction, for analysis and plots: a (n x h) the strengths,
 * g (n x c) the targets, energy (n) the E_i under the empty policy (SKIP
 * reports 0 there); any output may be NULL. Samples with S = 0 get a = g = 0. */
NDE_API int nde_rman_attract(nde_rman *r, int n, const nde_real *x, const nde_real *m, double *a,
                             double *g, double *energy);

/* Statistics of the paper (Table 2, Figures 3b and 4), gathered over any
 * number of batches. The fields are read-only for the caller; they are
 * updated by nde_rman_stats_set_attractors (attractor fields) and
 * nde_rman_stats_add (output fields, running means over all samples added
 * since create/reset).
 *
 * Pair strengths follow Figure 4's caption ("the average attraction
 * strength over outputs x that are mostly attracted by both attractors i and
 * j", as a radius comparable with the diagonal's per-attractor averages over
 * ALL outputs): a sample is counted for the pair {i, j}, i != j, when i and j
 * are its two strongest attractors and both are active; then
 *   pair_strength[i][j] = (1/n) sum_{x counted for {i,j}} (a_i(x) + a_j(x)),
 *   pair_fraction[i][j] = (number of x counted for {i,j}) / n,
 * and the diagonal holds strength[j] = (1/n) sum_x a_j(x) (pair_fraction's
 * diagonal holds the fraction of x whose strongest attractor is j). Each
 * sample falls into at most one off-diagonal pair, so the pair radii and the
 * diagonal each sum to at most 1. */
typedef struct nde_rman_stats {
  int c, h;
  /* attractors (nde_rman_stats_set_attractors) */
  int n_effective; /* #{j : ||m_j||^2 > effective_threshold} */
  int *effective;  /* [h] their indices, ascending; first n_effective valid */
  double *norm2;   /* [h] ||m_j||^2 */
  double *gram;    /* [h*h] m_i^T m_j, row-major */
  /* outputs (nde_rman_stats_add) */
  long n;                 /* samples seen */
  long n_empty;           /* samples with no active attractor */
  long n_solely;          /* samples with max_j a_j > solely_threshold */
  double solely_fraction; /* n_solely / n */
  double *strength;       /* [h] mean over samples of a_j */
  double *pair_strength;  /* [h*h] see above */
  double *pair_fraction;  /* [h*h] see above */
  double norm_mean;       /* mean of ||x|| */
  double norm_std;        /* population standard deviation of ||x|| */
  /* private: running sums */
  double *sum_a_, *sum_pair_;
  long *count_pair_;
  double norm_m2_; /* Welford sum of squared deviations of ||x|| */
  double *scratch_;
  nde_rman_options opts_;
} nde_rman_stats;

NDE_API int nde_rman_stats_create(int c, int h, const nde_rman_options *opts, nde_rman_stats **out);
NDE_API void nde_rman_stats_free(nde_rman_stats *st);
/* Forget the samples added so far (attractor fields are kept). */
NDE_API void nde_rman_stats_reset(nde_rman_stats *st);
/* Norms, Gram matrix and effective set of m (h x c). */
NDE_API int nde_rman_stats_set_attractors(nde_rman_stats *st, const nde_real *m);
/* Add the outputs x (n x c) attracted by m (h x c). */
NDE_API int nde_rman_stats_add(nde_rman_stats *st, int n, const nde_real *x, const nde_real *m);

#ifdef __cplusplus
}
#endif
#endif
