/* nde: neural ordinary differential equations with attractor regularization.
 * Umbrella header: includes every public module header. Ownership and
 * thread-safety rules: nde/common.h. */
#ifndef NDE_NDE_H
#define NDE_NDE_H

#include "nde/common.h"
#include "nde/nets.h"
#include "nde/ode.h"
#include "nde/adjoint.h"
#include "nde/rman.h"
#include "nde/data.h"
#include "nde/train.h"
#include "nde/models.h"
#include "nde/stability.h"
#include "nde/hamiltonian.h"

#endif
