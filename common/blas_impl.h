/* Private to nde: CBLAS entry points for nde_real (cblas_s* in the float
 * build, cblas_d* in the double build). */
#ifndef NDE_BLAS_IMPL_H
#define NDE_BLAS_IMPL_H

#include <cblas.h>

#include "nde/common.h"

#if NDE_REAL_IS_DOUBLE
#define nde_gemm cblas_dgemm
#define nde_gemv cblas_dgemv
#define nde_axpy cblas_daxpy
#define nde_dot cblas_ddot
#define nde_scal cblas_dscal
#else
#define nde_gemm cblas_sgemm
#define nde_gemv cblas_sgemv
#define nde_axpy cblas_saxpy
#define nde_dot cblas_sdot
#define nde_scal cblas_sscal
#endif

#endif
