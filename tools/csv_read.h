/* Reading the numeric CSV files the nde program writes (epochs.csv, the
 * campaign's per-run result files): a header of column names, then rows of
 * numbers ("nan" allowed). */
#ifndef NDE_TOOLS_CSV_READ_H
#define NDE_TOOLS_CSV_READ_H

typedef struct tool_table {
  int ncol;
  long nrow;
  char **names; /* ncol names */
  double *v;    /* nrow x ncol values, row-major; NaN where a field is empty or not a number */
} tool_table;

/* Read path into t. Returns 0, or -1 when the file is missing or has no
 * header (t is then empty; nothing is printed). A torn last row (no
 * newline) is ignored. */
int tool_table_read(const char *path, tool_table *t);
void tool_table_free(tool_table *t);

/* Index of a column, or -1. */
int tool_table_col(const tool_table *t, const char *name);
/* Value at (row, column name); NaN when either is missing. row < 0 counts
 * from the end (-1: the last row). */
double tool_table_get(const tool_table *t, long row, const char *name);

#endif
