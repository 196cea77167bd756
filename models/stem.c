/* The models' stem, in chunks of samples on several threads.
 *
 * MEMORY: CHUNKS. The stem works on the large input planes (the ODE-Net's
 * stores 64x26x26 activations, 0.66 MB per sample with its cotangents,
 * 84 MB at batch 128), yet every stem is a per-sample map (convolutions,
 * GroupNorm, ReLU; no BatchNorm), so the batch can go through it in
 * chunks: forward runs the chunks one after another, keeping only their
 * outputs (the body's input); backward walks them in reverse, recomputing
 * each chunk's forward from a copy of x before its vjp (the last chunk's
 * activations are still there from forward). The price is one extra stem
 * forward on all but the held chunks: at batch 128, three quarters of
 * 3.5 GFLOP, about 4% of an ODE-Net step's arithmetic, for about 60 MB less
 * memory.
 *
 * THREADS. Half of the stem's time outside BLAS is elementwise work on
 * those planes (GroupNorm, ReLU, im2col and transposes), single-threaded,
 * while a 2-thread BLAS leaves the second core spinning. So the model holds
 * m->nstem copies of the stem network (stem_rep, bound to the same
 * parameters, each with its own activations and gradient vector), each
 * sized for STEM_CHUNK / nstem samples: copy k runs chunks k, k + nstem,
 * k + 2 nstem, ... on its own thread with BLAS single-threaded
 * (nde_run_slices), and backward adds the copies' gradients into the
 * model's. The memory is that of one STEM_CHUNK-sample stem. */
#include <string.h>

#include "models/model_impl.h"

typedef struct stem_call {
  nde_model *m;
  int n;
  const nde_real *x;   /* forward: the input; backward: NULL (m->x is used) */
  const nde_real *dh0; /* backward: the outputs' cotangent */
} stem_call;

static int chunk_size(const nde_model *m) { return nde_net_max_batch(m->stem); }

static int stem_forward_slice(void *arg, int k) {
  stem_call *c = arg;
  nde_model *m = c->m;
  nde_net *s = m->stem_rep[k];
  const int sb = chunk_size(m), nchunks = (c->n + sb - 1) / sb;
  const size_t nin = nde_shape_numel(m->opt.in);
  for (int q = k; q < nchunks; q += m->nstem) {
    const int b0 = q * sb, nb = c->n - b0 < sb ? c->n - b0 : sb;
    int rc = nde_net_forward(s, 0, nb, c->x + (size_t)b0 * nin, NULL);
    if (rc) return rc;
    const nde_real *h = nde_net_output(s);
    const size_t off = (size_t)b0 * m->dim, cnt = (size_t)nb * m->dim;
    if (m->ode)
      for (size_t i = 0; i < cnt; i++) m->y0[off + i] = h[i];
    else
      memcpy(m->hT + off, h, cnt * sizeof *h);
    m->stem_held[k] = q;
  }
  return NDE_OK;
}

int nde_model_stem_forward(nde_model *m, int n, const nde_real *x, int keep_input) {
  stem_call c = {m, n, x, NULL};
  const int sb = chunk_size(m), nchunks = (n + sb - 1) / sb;
  for (int k = 0; k < m->nstem; k++) m->stem_held[k] = -1;
  int rc = nde_run_slices(nchunks < m->nstem ? nchunks : m->nstem, stem_forward_slice, &c);
  if (rc) {
    for (int k = 0; k < m->nstem; k++) m->stem_held[k] = -1;
    return nde_error_wrap(rc, "stem: ");
  }
  /* recomputation ahead: some copy ran more than one chunk */
  if (keep_input && nchunks > m->nstem)
    memcpy(m->x, x, (size_t)n * nde_shape_numel(m->opt.in) * sizeof *x);
  return NDE_OK;
}

static int stem_backward_slice(void *arg, int k) {
  stem_call *c = arg;
  nde_model *m = c->m;
  nde_net *s = m->stem_rep[k];
  const int sb = chunk_size(m), nchunks = (c->n + sb - 1) / sb;
  const size_t nin = nde_shape_numel(m->opt.in);
  nde_real *grad = nde_net_grads(s); /* the model's slice for copy 0, its own otherwise */
  if (k > 0) memset(grad, 0, nde_net_num_params(s) * sizeof *grad);
  const int last = k + (nchunks - 1 - k) / m->nstem * m->nstem; /* its last chunk */
  for (int q = last; q >= 0; q -= m->nstem) {
    const int b0 = q * sb, nb = c->n - b0 < sb ? c->n - b0 : sb;
    int rc;
    if (q != m->stem_held[k]) {
      m->stem_held[k] = -1;
      if ((rc = nde_net_forward(s, 0, nb, m->x + (size_t)b0 * nin, NULL)))
        return nde_error_wrap(rc, "(recomputed) ");
      m->stem_held[k] = q;
    }
    if ((rc = nde_net_vjp(s, nb, c->dh0 + (size_t)b0 * m->dim, NULL, grad))) return rc;
  }
  return NDE_OK;
}

int nde_model_stem_backward(nde_model *m, int n, const nde_real *dh0) {
  stem_call c = {m, n, NULL, dh0};
  const int sb = chunk_size(m), nchunks = (n + sb - 1) / sb;
  const int used = nchunks < m->nstem ? nchunks : m->nstem;
  int rc = nde_run_slices(used, stem_backward_slice, &c);
  if (rc) return nde_error_wrap(rc, "stem: ");
  nde_real *g = nde_net_grads(m->stem);
  const size_t np = nde_net_num_params(m->stem);
  for (int k = 1; k < used; k++)
    for (size_t i = 0; i < np; i++) g[i] += m->stem_grad[k][i];
  return NDE_OK;
}
