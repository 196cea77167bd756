/* Links the installed nde, builds a tiny network and prints its output. */
#include <nde/nde.h>
#include <stdio.h>

int main(void) {
  nde_layer_spec s[] = {nde_spec_dense(2), nde_spec_act(NDE_LAYER_TANH)};
  nde_net *net;
  if (nde_net_create(nde_shape_vec(3), 1, s, 2, &net) != NDE_OK) {
    fprintf(stderr, "consumer: %s\n", nde_last_error());
    return 1;
  }
  nde_rng rng;
  nde_rng_seed(&rng, 1);
  nde_net_init(net, &rng);
  nde_real x[3] = {1, 2, 3}, y[2];
  int rc = nde_net_forward(net, 0, 1, x, y);
  printf("nde %s consumer: rc=%d y=(%g, %g)\n", nde_version(), rc, (double)y[0], (double)y[1]);
  nde_net_free(net);
  return rc == NDE_OK ? 0 : 1;
}
