/* Activations as pointwise-affine maps: sigma(z) = lambda(z) z + sigma(0),
 * lambda(z) = (sigma(z) - sigma(0)) / z, with sigma'(0) at z = 0 (left
 * derivative at a kink: relu'(0) = 0, selu'(0) = scale alpha), and the
 * constants the sufficient conditions need.
 *
 * lambda is formed without cancellation where sigma(0) != 0:
 *   sigmoid(z) - 1/2 = tanh(z/2) / 2,
 *   softplus(z) - log 2 = log((1 + e^z) / 2) = log1p(expm1(z) / 2)  (|z| < 1).
 * Suprema (exact):
 *   relu, tanh, identity: Lip = lambda_sup = ratio_sup = 1;
 *   sigmoid: Lip = lambda_sup = 1/4 (sigma' peaks at 0; tanh(z/2)/(2z) <= 1/4);
 *   softplus: Lip = 1, lambda_sup = 1 (secant slope of a convex function
 *     through (0, log 2), increasing towards its asymptotic slope 1);
 *   selu: Lip = lambda_sup = ratio_sup = scale alpha (attained as z -> 0-);
 *   gelu: lambda = Phi(z) so lambda_sup = ratio_sup = 1; gelu'' =
 *     phi(z)(2 - z^2) vanishes at z = sqrt 2, so Lip = Phi(sqrt 2) +
 *     sqrt 2 phi(sqrt 2) = 1.12890...
 * ratio_sup = sup |sigma(z)/z| is infinite when sigma(0) != 0. */
#include <math.h>

#include "stability/stability_impl.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define INV_SQRT2 0.70710678118654752440084436210485
#define INV_SQRT_2PI 0.39894228040143267793994605993438
#define LOG2 0.69314718055994530941723212145818

static double sigmoid(double z) {
  if (z >= 0) return 1 / (1 + exp(-z));
  double e = exp(z);
  return e / (1 + e);
}

int nde_stab_act_eval(int kind, double z, double *sigma, double *lambda, double *dsigma) {
  double s, l, d;
  switch (kind) {
  case NDE_LAYER_RELU:
    s = z > 0 ? z : 0;
    l = d = z > 0 ? 1 : 0;
    break;
  case NDE_LAYER_TANH:
    s = tanh(z);
    l = z == 0 ? 1 : s / z;
    d = 1 - s * s;
    break;
  case NDE_LAYER_SOFTPLUS:
    s = (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
    if (z == 0)
      l = 0.5;
    else if (fabs(z) < 1)
      l = log1p(0.5 * expm1(z)) / z;
    else
      l = (s - LOG2) / z;
    d = sigmoid(z);
    break;
  case NDE_LAYER_SIGMOID:
    s = sigmoid(z);
    l = z == 0 ? 0.25 : tanh(0.5 * z) / (2 * z);
    d = s * (1 - s);
    break;
  case NDE_LAYER_IDENTITY:
    s = z;
    l = d = 1;
    break;
  case NDE_LAYER_SELU:
    if (z > 0) {
      s = SELU_SCALE * z;
      l = d = SELU_SCALE;
    } else {
      s = SELU_SCALE * SELU_ALPHA * expm1(z);
      l = z == 0 ? SELU_SCALE * SELU_ALPHA : s / z;
      d = SELU_SCALE * SELU_ALPHA * exp(z);
    }
    break;
  case NDE_LAYER_GELU: {
    double Phi = 0.5 * erfc(-z * INV_SQRT2);
    s = z * Phi;
    l = Phi;
    d = Phi + z * INV_SQRT_2PI * exp(-0.5 * z * z);
    break;
  }
  default:
    return nde_error(NDE_ERR_KIND,
                     "nde_stab_act_eval: layer kind %d (%s) is not a pointwise activation", kind,
                     nde_layer_kind_name(kind));
  }
  if (sigma) *sigma = s;
  if (lambda) *lambda = l;
  if (dsigma) *dsigma = d;
  return NDE_OK;
}

int nde_stab_act_info(int kind, nde_stab_act *info) {
  NDE_CHECK_NULL(info, "nde_stab_act_info");
  nde_stab_act a = {kind, NULL, 0, 1, 1, 1, 1};
  switch (kind) {
  case NDE_LAYER_RELU: a.name = "relu"; break;
  case NDE_LAYER_TANH: a.name = "tanh"; break;
  case NDE_LAYER_IDENTITY: a.name = "identity"; break;
  case NDE_LAYER_SOFTPLUS:
    a.name = "softplus";
    a.sigma0 = LOG2;
    a.ratio_sup = INFINITY;
    a.stable = 0;
    break;
  case NDE_LAYER_SIGMOID:
    a.name = "sigmoid";
    a.sigma0 = 0.5;
    a.lipschitz = a.lambda_sup = 0.25;
    a.ratio_sup = INFINITY;
    a.stable = 0;
    break;
  case NDE_LAYER_SELU:
    a.name = "selu";
    a.lipschitz = a.lambda_sup = a.ratio_sup = SELU_SCALE * SELU_ALPHA;
    a.stable = 0;
    break;
  case NDE_LAYER_GELU: {
    const double r2 = 1.4142135623730950488;
    a.name = "gelu";
    a.lipschitz = 0.5 * erfc(-r2 * INV_SQRT2) + r2 * INV_SQRT_2PI * exp(-1.0);
    break;
  }
  default:
    return nde_error(NDE_ERR_KIND,
                     "nde_stab_act_info: layer kind %d (%s) is not a pointwise activation", kind,
                     nde_layer_kind_name(kind));
  }
  *info = a;
  return NDE_OK;
}

int nde_stab_all_finite(const double *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(a[i])) return 0;
  return 1;
}

double nde_stab_norm_inf(const double *a, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}
