/* Convolution throughput against the BLAS ceiling.
 *
 * Problem: the ODE-Net's ODE function (docs/methods.md section 1) spends its
 * time in ConcatConv2d 64(+t) -> 64 channels, 3x3, pad 1, on 6x6 maps at
 * batch 128. Its im2col
 * formulation is one GEMM per direction:
 *   forward     Y  = W cols        M = 64,  N = 4608, K = 585
 *   input vjp   dC = W^T dY        M = 585, N = 4608, K = 64
 *   weight vjp  dW += dY cols^T    M = 64,  N = 585,  K = 4608
 * This program times the layer (through a one-layer nde_net: forward, vjp
 * with grad = NULL, vjp with dx = NULL) and cblas_sgemm (cblas_dgemm in the
 * double build) on those shapes, with 2 OpenBLAS threads, interleaving the
 * six measurements in short blocks over many rounds (the machine is shared)
 * and reporting each one's median and, in parentheses, best. Flops are
 * 2 M N K per GEMM-equivalent for both (the layer itself skips the 9
 * time-channel rows of K, 1.5% of the work; see nets/conv2d.c). It ends with
 *   conv_vs_sgemm: R,  R = (conv flops / conv time) / (gemm flops / gemm time)
 * from the medians, the fraction of the GEMM ceiling the whole layer
 * reaches (conv_vs_sgemm_best: the same from the best times). Since the
 * layer computes this shape by Winograd's F(3x3, 3x3) (nets/winograd.c,
 * 3.24x fewer flops than the im2col product), R can exceed 1: the layer's
 * GFLOP/s are im2col-equivalent. Prints figures, never fails.
 * Usage: conv [rounds] [batch]. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/blas_impl.h"
#include "nde/nde.h"

#if NDE_REAL_IS_DOUBLE
#define GEMM_NAME "dgemm"
#else
#define GEMM_NAME "sgemm"
#endif

enum { FWD, DX, DW, NOPS };
static const char *OP_NAME[NOPS] = {"forward", "input-vjp", "weight-vjp"};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct bench {
  nde_net *net;
  int n, m, k, ncol; /* batch, Cout, K = (Cin+1)*9, N = n*36 */
  nde_real *x, *dy, *dx, *grad;
  nde_real *A, *B, *C, *D; /* W (m x k), cols (k x ncol), Y/dY (m x ncol), dcols (k x ncol) */
} bench;

static int run_conv(bench *b, int op) {
  switch (op) {
  case FWD: return nde_net_forward(b->net, 0.5, b->n, b->x, NULL);
  case DX: return nde_net_vjp(b->net, b->n, b->dy, b->dx, NULL);
  default: return nde_net_vjp(b->net, b->n, b->dy, NULL, b->grad);
  }
}

static void run_gemm(bench *b, int op) {
  const int m = b->m, k = b->k, nc = b->ncol;
  switch (op) {
  case FWD:
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nc, k, 1, b->A, k, b->B, nc, 0, b->C,
             nc);
    break;
  case DX:
    nde_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, nc, m, 1, b->A, k, b->C, nc, 0, b->D, nc);
    break;
  default:
    nde_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, nc, 1, b->C, nc, b->B, nc, 1, b->A, k);
    break;
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static nde_real *alloc_random(size_t n, nde_rng *rng) {
  nde_real *p = malloc(n * sizeof *p);
  if (p)
    for (size_t i = 0; i < n; i++) p[i] = (nde_real)(nde_rng_uniform(rng) - 0.5);
  return p;
}

int main(int argc, char **argv) {
  nde_blas_restart_with_core(argv); /* OpenBLAS fell back to SSE kernels: retry */
  const int rounds = argc > 1 ? atoi(argv[1]) : 31;
  const int n = argc > 2 ? atoi(argv[2]) : 128;
  if (rounds < 1 || n < 1) {
    fprintf(stderr, "usage: conv [rounds >= 1] [batch >= 1]\n");
    return 2;
  }
  nde_blas_set_threads(2);

  bench b = {0};
  b.n = n;
  b.m = 64;
  b.k = 65 * 9;
  b.ncol = n * 36;
  nde_layer_spec spec = nde_spec_concat_conv2d(64, 3, 1, 1);
  if (nde_net_create(nde_shape_chw(64, 6, 6), n, &spec, 1, &b.net)) {
    fprintf(stderr, "conv bench: %s\n", nde_last_error());
    return 1;
  }
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  nde_net_init(b.net, &rng);
  const size_t nx = (size_t)n * 64 * 36;
  b.x = alloc_random(nx, &rng);
  b.dy = alloc_random(nx, &rng);
  b.dx = malloc(nx * sizeof *b.dx);
  b.grad = calloc(nde_net_num_params(b.net), sizeof *b.grad);
  b.A = alloc_random((size_t)b.m * b.k, &rng);
  b.B = alloc_random((size_t)b.k * b.ncol, &rng);
  b.C = alloc_random((size_t)b.m * b.ncol, &rng);
  b.D = malloc((size_t)b.k * b.ncol * sizeof *b.D);
  if (!b.x || !b.dy || !b.dx || !b.grad || !b.A || !b.B || !b.C || !b.D) {
    fprintf(stderr, "conv bench: out of memory\n");
    return 1;
  }

  const double flops = 2.0 * b.m * (double)b.ncol * b.k; /* the same for all three shapes */
  /* Short blocks (a few calls) alternating conv and gemm, many rounds: a
   * burst of load from other users then hits both sides of a comparison. */
  const int reps = n >= 64 ? 4 : 16;
  double *tc = malloc(sizeof(double) * NOPS * rounds), *tg = malloc(sizeof(double) * NOPS * rounds);

  /* Warm-up: every path a few times (thread pool, page faults, caches). */
  for (int w = 0; w < 5; w++)
    for (int op = 0; op < NOPS; op++) {
      if (run_conv(&b, op)) {
        fprintf(stderr, "conv bench: %s\n", nde_last_error());
        return 1;
      }
      run_gemm(&b, op);
    }

  for (int r = 0; r < rounds; r++) {
    for (int op = 0; op < NOPS; op++) {
      double t0 = now();
      for (int i = 0; i < reps; i++) run_conv(&b, op);
      tc[op * rounds + r] = (now() - t0) / reps;
      t0 = now();
      for (int i = 0; i < reps; i++) run_gemm(&b, op);
      tg[op * rounds + r] = (now() - t0) / reps;
    }
  }

  printf("ConcatConv2d 64(+t) -> 64, 3x3, pad 1, 6x6, batch %d; nde_real %s; 2 OpenBLAS threads;\n"
         "%d rounds x %d calls, median (best) per call; GEMM-equivalent %.1f MFLOP per call\n",
         n, NDE_REAL_IS_DOUBLE ? "double" : "float", rounds, reps, flops / 1e6);
  printf("%-11s %17s %15s   %-13s %17s %15s  %s\n", "op", "conv ms", "GFLOP/s",
         GEMM_NAME " MxNxK", "gemm ms", "GFLOP/s", "conv/gemm");
  double med_c = 0, med_g = 0, best_c = 0, best_g = 0;
  const int shape[NOPS][3] = {{b.m, b.ncol, b.k}, {b.k, b.ncol, b.m}, {b.m, b.k, b.ncol}};
  for (int op = 0; op < NOPS; op++) {
    double *c = tc + op * rounds, *g = tg + op * rounds;
    qsort(c, (size_t)rounds, sizeof(double), cmp_double);
    qsort(g, (size_t)rounds, sizeof(double), cmp_double);
    const double cm = c[rounds / 2], gm = g[rounds / 2];
    char sh[64];
    snprintf(sh, sizeof sh, "%dx%dx%d", shape[op][0], shape[op][1], shape[op][2]);
    printf("%-11s %7.3f (%7.3f) %6.1f (%6.1f)   %-13s %7.3f (%7.3f) %6.1f (%6.1f)  %.3f (%.3f)\n",
           OP_NAME[op], cm * 1e3, c[0] * 1e3, flops / cm / 1e9, flops / c[0] / 1e9, sh, gm * 1e3,
           g[0] * 1e3, flops / gm / 1e9, flops / g[0] / 1e9, gm / cm, g[0] / c[0]);
    med_c += cm;
    med_g += gm;
    best_c += c[0];
    best_g += g[0];
  }
  printf("%-11s %7.3f (%7.3f) %6.1f (%6.1f)   %-13s %7.3f (%7.3f) %6.1f (%6.1f)  %.3f (%.3f)\n",
         "total", med_c * 1e3, best_c * 1e3, NOPS * flops / med_c / 1e9,
         NOPS * flops / best_c / 1e9, "", med_g * 1e3, best_g * 1e3, NOPS * flops / med_g / 1e9,
         NOPS * flops / best_g / 1e9, med_g / med_c, best_g / best_c);
  /* equal flops on both sides, so the GFLOP/s ratio is the time ratio */
  printf("conv_vs_sgemm_best: %.3f\n", best_g / best_c);
  printf("conv_vs_sgemm: %.3f\n", med_g / med_c);

  free(tc);
  free(tg);
  free(b.x);
  free(b.dy);
  free(b.dx);
  free(b.grad);
  free(b.A);
  free(b.B);
  free(b.C);
  free(b.D);
  nde_net_free(b.net);
  return 0;
}
