/* nde: command-line front end. `nde help` lists the subcommands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nde/nde.h"
#include "tools/commands.h"

int nde_cmd_gradcheck(int argc, char **argv);
int nde_cmd_train(int argc, char **argv);
int nde_cmd_eval(int argc, char **argv);
int nde_cmd_attractors(int argc, char **argv);
int nde_cmd_table3(int argc, char **argv);
int nde_cmd_campaign(int argc, char **argv);
int nde_cmd_pwa(int argc, char **argv);
int nde_cmd_toy2d(int argc, char **argv);
int nde_cmd_odespectrum(int argc, char **argv);
int nde_cmd_chnode(int argc, char **argv);
int nde_cmd_plot(int argc, char **argv);

const nde_command nde_commands[] = {
    {"train", "train an ODE-Net or ResNet on Fashion-MNIST (CSV logs, checkpoints, --resume)", nde_cmd_train},
    {"eval", "test error and NFE of a checkpoint", nde_cmd_eval},
    {"attractors", "RMAN attractor statistics of a checkpoint (Table 2, Figure 4 data)", nde_cmd_attractors},
    {"table3", "reproduce the RMAN paper's Table 3 on Fashion-MNIST", nde_cmd_table3},
    {"campaign", "RMAN Tables 1-3, Figures 3-4 over seeds with Welch t-tests (resumable)", nde_cmd_campaign},
    {"chnode", "CH-NODE noise-robustness experiment on Fashion-MNIST (5 Hamiltonian models)", nde_cmd_chnode},
    {"gradcheck", "compare a solve's adjoint gradient with finite differences", nde_cmd_gradcheck},
    {"pwa", "pointwise-affine stability grid of MLP maps (Drgona et al. 2020): spectra, fixed points, pictures", nde_cmd_pwa},
    {"toy2d", "2-D two-class toy with/without RMAN: flow maps, per-layer states, fixed points (RMAN paper Figs. 1-2)", nde_cmd_toy2d},
    {"odespectrum", "Jacobian spectrum of an ODE-Net's ODE function at h(T) (contraction, RMAN or not)", nde_cmd_odespectrum},
    {"plot", "pictures of measurements: the training gradient's work-precision curves", nde_cmd_plot},
    {NULL, NULL, NULL},
};

int tool_fail(const char *cmd, int code) {
  fprintf(stderr, "nde %s: %s (%s)\n", cmd, nde_last_error(), nde_strerror(code));
  return 1;
}

void tool_machine_line(char *buf, size_t cap) {
  char model[256] = "unknown CPU";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "model name", 10)) {
        char *p = strchr(line, ':');
        if (p) {
          snprintf(model, sizeof model, "%s", p + 2);
          model[strcspn(model, "\n")] = 0;
        }
        break;
      }
    fclose(f);
  }
  snprintf(buf, cap, "%s, %ld online cores", model, sysconf(_SC_NPROCESSORS_ONLN));
}

static void usage(FILE *f) {
  fprintf(f, "nde %s: neural ODEs with attractor regularization\n\nusage: nde COMMAND [options]\n\n",
          nde_version());
  for (const nde_command *c = nde_commands; c->name; c++) fprintf(f, "  %-11s %s\n", c->name, c->summary);
  fprintf(f, "  %-11s %s\n  %-11s %s\n\n'nde COMMAND --help' describes a command's options.\n",
          "version", "print the library version and build configuration", "help",
          "this list");
}

/* Restart once with OpenBLAS's fitting kernels when it fell back to SSE
 * ones on this CPU (see nde_blas_suggested_core); a user's own
 * OPENBLAS_CORETYPE is left alone. */
static void fix_blas_kernels(char **argv) {
  const char *core = nde_blas_suggested_core();
  const char *set = getenv("OPENBLAS_CORETYPE");
  if (!core || (set && *set)) return;
  fprintf(stderr,
          "nde: OpenBLAS chose its %s (SSE) kernels for this CPU; restarting with "
          "OPENBLAS_CORETYPE=%s (set OPENBLAS_CORETYPE yourself to choose)\n",
          nde_blas_core(), core);
  fflush(stderr);
  if (nde_blas_restart_with_core(argv))
    fprintf(stderr, "nde: restart failed (%s); going on with %s\n", strerror(errno),
            nde_blas_core());
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("nde %s (nde_real = %s, OpenBLAS core %s)\n", nde_version(),
           NDE_REAL_IS_DOUBLE ? "double" : "float", nde_blas_core());
    return 0;
  }
  for (const nde_command *c = nde_commands; c->name; c++)
    if (!strcmp(cmd, c->name)) {
      fix_blas_kernels(argv);
      return c->run(argc - 2, argv + 2);
    }
  fprintf(stderr, "nde: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return 2;
}
