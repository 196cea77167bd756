/* Private to train/: keeping old logs usable when a log gains columns. */
#ifndef NDE_CSV_IMPL_H
#define NDE_CSV_IMPL_H

/* If the log at path starts with the header of old_cols (n_old names), and
 * new_cols (n_new > n_old names) begins with old_cols, rewrite it in place
 * (atomically: a temporary file renamed over it) with the header of
 * new_cols and every complete old row extended by "nan" for the added
 * columns; a torn last row is dropped. *upgraded tells whether it did.
 * A missing file, or one with any other header, is left alone (NDE_OK,
 * *upgraded = 0): nde_csv_append then judges it. */
int csv_upgrade_appended_columns(const char *path, const char *const *old_cols, int n_old,
                                 const char *const *new_cols, int n_new, int *upgraded);

#endif
