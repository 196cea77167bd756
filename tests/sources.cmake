# The Check runners, one per module: tests/test_<module>.c built with
# tests/support/testutil.c and the files listed in NDE_TEST_PARTS_<module>
# (in tests/<module>/). Listed by hand: a new runner or test file is added here.
set(NDE_TEST_MODULES
  adjoint
  data
  hamiltonian
  models
  nets
  ode
  rman
  stability
  train
)

set(NDE_TEST_PARTS_adjoint
  adjoint/contract_test.c
  adjoint/errors_test.c
  adjoint/gradcheck_test.c
)

set(NDE_TEST_PARTS_data
  data/augment_test.c
  data/batch_test.c
  data/bomb_test.c
  data/cifar_test.c
  data/corrupt_test.c
  data/datafiles.c
  data/fashion_test.c
  data/idx_test.c
)

set(NDE_TEST_PARTS_hamiltonian
  hamiltonian/block_test.c
  hamiltonian/classifier_test.c
  hamiltonian/contraction_test.c
  hamiltonian/errors_test.c
  hamiltonian/gradcheck_test.c
  hamiltonian/symplectic_test.c
  hamiltonian/vectors_test.c
)

set(NDE_TEST_PARTS_models
  models/memory_test.c
  models/model_test.c
  models/resnet_cifar_test.c
  models/trainloop_test.c
)

set(NDE_TEST_PARTS_nets
  nets/activation_extra_test.c
  nets/activation_test.c
  nets/blocks_test.c
  nets/conv_test.c
  nets/dense_test.c
  nets/errors_test.c
  nets/loss_test.c
  nets/norm_test.c
  nets/resblock_down_test.c
  nets/threads_test.c
)

set(NDE_TEST_PARTS_ode
  ode/batch_test.c
  ode/errors_test.c
  ode/exact_test.c
  ode/field_split_test.c
  ode/field_test.c
  ode/fixed_point_test.c
  ode/nvector_fast_test.c
  ode/stats_test.c
  ode/threads_test.c
)

set(NDE_TEST_PARTS_rman
  rman/energy_test.c
  rman/errors_test.c
  rman/grad_test.c
  rman/stats_test.c
)

set(NDE_TEST_PARTS_stability
  stability/conditions_test.c
  stability/fixedpoint_test.c
  stability/grid_test.c
  stability/odespectrum_test.c
  stability/pwa_test.c
  stability/spectrum_test.c
  stability/wparam_test.c
)

set(NDE_TEST_PARTS_train
  train/ckpt_corrupt_test.c
  train/ckpt_test.c
  train/compare_test.c
  train/crash_test.c
  train/csv_test.c
  train/diverge_test.c
  train/optim_test.c
  train/progress_test.c
  train/schedule_test.c
  train/shape_test.c
  train/train_test_util.c
)
