/* nde campaign: the RMAN paper's Tables 1-3 and Figures 3-4 on
 * Fashion-MNIST over several seeds (tools/cmd_campaign.c runs the
 * trainings, tools/campaign_report.c writes the summaries and pictures).
 *
 * Every run (configuration x seed) lives in OUT/<table>/<config>/seed<k>/:
 *   settings.txt        the run's settings, key=value; a later command must
 *                       ask for the same ones to resume or reuse the run
 *   sessions.txt        one line per command that trained it (date, build,
 *                       starting epoch, command line)
 *   epochs.csv, batches.csv, checkpoint.ndeckpt   from the training loop
 *   norms.csv           ||x|| of the pooled features of every test image
 *   attractors.csv      RMAN runs: per attractor ||m_j||^2, mean attraction
 *                       strength, fraction of outputs it attracts most, its
 *                       Gram row (gram<i>) and pair strengths (pair<i>)
 *   final.csv           one row of the run's results, written last: its
 *                       presence marks the run finished. */
#ifndef NDE_TOOLS_CAMPAIGN_H
#define NDE_TOOLS_CAMPAIGN_H

#include <stddef.h>

#include "nde/nde.h"

#define CAMP_MAX_SEEDS 16
#define CAMP_NCONFIGS 5

/* An attractor is "used" when its mean attraction strength over the test
 * outputs, (1/n) sum_x a_j(x), exceeds this: it carries at least 1% of the
 * attraction an average output feels. */
#define CAMP_USED_THRESHOLD 0.01

typedef struct camp_config {
  const char *table; /* "table3" or "table1" */
  const char *name;  /* directory name, e.g. "odenet-h8" */
  const char *label; /* for tables and legends */
  int kind, h;
} camp_config;

extern const camp_config camp_configs[CAMP_NCONFIGS];

typedef struct camp_settings {
  const char *out, *data;
  int seeds[CAMP_MAX_SEEDS], nseeds;
  int use[CAMP_NCONFIGS]; /* selected by --only / --configs */
  int epochs, subset, test_subset, batch, nfe_batches, quick;
  double lr, momentum, weight_decay;
  int milestones[2];
  nde_model_options base; /* solver options from the command line, RMAN options */
  nde_ode_options other;  /* the second solver NFE are reported for */
  char command[8192];
} camp_settings;

/* OUT/<table>/<config>/seed<k> and OUT/<table>/<config>/seed<k>/<file>. */
void camp_run_dir(const camp_settings *s, int c, int seed, char *buf, size_t cap);
void camp_run_file(const camp_settings *s, int c, int seed, const char *file, char *buf,
                   size_t cap);

/* Write OUT/table3.md and OUT/table1.md (for the selected tables) and the
 * pictures under OUT/figures/ from whatever runs have finished. Prints the
 * paths; returns 0, or 1 when a summary could not be written. */
int camp_report(const camp_settings *s);

#endif
