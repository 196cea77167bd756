/* Pictures for the nde program, drawn with PLplot (a Debian plotting
 * library: PNG through its pngcairo driver, SVG through its svg driver).
 * Plotting stays out of libnde. Without PLplot at build time every render
 * reports that pictures are unavailable and the commands still write their
 * tables.
 *
 * A figure is a draw callback rendered once per requested format; inside
 * it, plot_panel() starts the next sub-panel (figures are grids of panels)
 * and the other calls draw into the current one in world coordinates. */
#ifndef NDE_TOOLS_PLOT_H
#define NDE_TOOLS_PLOT_H

enum { PLOT_PNG = 1, PLOT_SVG = 2 };

/* Palette indices (colour map 0). */
enum {
  PLOT_BLACK = 1,
  PLOT_GREY,
  PLOT_RED,
  PLOT_BLUE,
  PLOT_GREEN,
  PLOT_ORANGE,
  PLOT_PURPLE,
  PLOT_CYAN,
  PLOT_BROWN,
  PLOT_PINK,
  PLOT_OLIVE,
  PLOT_NAVY,
  PLOT_LIGHTGREY,
  PLOT_NCOLORS
};

/* Point markers. */
enum { PLOT_DOT = 0, PLOT_DISC, PLOT_CIRCLE, PLOT_CROSS, PLOT_SQUARE, PLOT_TRIANGLE, PLOT_STAR };

typedef void (*plot_draw_fn)(void *ctx);

/* 1 when the program was built with PLplot. */
int plot_available(void);

/* Render draw(ctx) into BASE.png and/or BASE.svg (formats: PLOT_PNG |
 * PLOT_SVG), width x height pixels, nx x ny panels. Prints a message and
 * returns 1 on failure, 0 on success. */
int plot_render(const char *base, unsigned formats, int width, int height, int nx, int ny,
                plot_draw_fn draw, void *ctx);

/* Start the next panel: axes over [x0, x1] x [y0, y1] (equal = 1 keeps the
 * aspect ratio 1), labels and a title (any may be NULL). */
void plot_panel(double x0, double x1, double y0, double y1, int equal, const char *xlabel,
                const char *ylabel, const char *title);

/* The same with logarithmic axes where logx / logy: the data are then given
 * as log10 values and the axes are labelled in powers of ten. */
void plot_panel_log(double x0, double x1, double y0, double y1, int logx, int logy,
                    const char *xlabel, const char *ylabel, const char *title);

void plot_points(int n, const double *x, const double *y, int color, int marker, double size);
void plot_line(int n, const double *x, const double *y, int color, double width);
/* The same, dashed (dashed != 0) or solid. */
void plot_line_dashed(int n, const double *x, const double *y, int color, double width, int dashed);
void plot_circle(double cx, double cy, double r, int color, double width);
/* Arrows of (u, v) at the nx x ny grid over [x0, x1] x [y0, y1] (values
 * row by row, row i at y0 + i dy), scaled so the longest arrow spans
 * `scale` grid cells. */
void plot_arrows(int nx, int ny, double x0, double x1, double y0, double y1, const double *u,
                 const double *v, double scale, int color);
/* A categorical image: cell (i, j) of the nx x ny grid (row by row from y0)
 * painted with colors[label] (labels >= ncolors wrap around; a negative
 * label k uses neg_colors[-k - 1], up to nneg of them). */
void plot_labels(int nx, int ny, double x0, double x1, double y0, double y1, const int *label,
                 const int (*colors)[3], int ncolors, const int (*neg_colors)[3], int nneg);
/* Text at world (x, y), justification 0 (left) .. 1 (right), scaled size. */
void plot_text(double x, double y, const char *text, int color, double just, double size);
/* Text outside the panel: side "t", "b", "l", "r", offset in character heights. */
void plot_side_text(const char *side, double disp, double pos, double just, const char *text);

/* A distinct colour for category k (golden-ratio hues), 0..255 each. */
void plot_category_color(int k, int rgb[3]);

#endif
