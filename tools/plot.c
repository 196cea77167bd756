/* PLplot back end of tools/plot.h. PLplot keeps global drawing state, so a
 * figure is one plinit ... plend1 cycle per output format. */
#include "tools/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NDE_HAVE_PLPLOT
#include <plplot.h>

static const int palette[PLOT_NCOLORS][3] = {
    {255, 255, 255}, {0, 0, 0},      {128, 128, 128}, {214, 39, 40},  {31, 119, 180},
    {44, 160, 44},   {255, 127, 14}, {148, 103, 189}, {23, 190, 207}, {140, 86, 75},
    {227, 119, 194}, {188, 189, 34}, {20, 30, 110},   {215, 215, 215}};

int plot_available(void) { return 1; }

int plot_render(const char *base, unsigned formats, int width, int height, int nx, int ny,
                plot_draw_fn draw, void *ctx) {
  static const struct {
    unsigned flag;
    const char *dev, *ext;
  } fmts[2] = {{PLOT_PNG, "pngcairo", "png"}, {PLOT_SVG, "svg", "svg"}};
  for (int f = 0; f < 2; f++) {
    if (!(formats & fmts[f].flag)) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", base, fmts[f].ext);
    FILE *probe = fopen(path, "w"); /* fail early with a clear message */
    if (!probe) {
      fprintf(stderr, "nde: cannot write %s\n", path);
      return 1;
    }
    fclose(probe);
    plsdev(fmts[f].dev);
    plsfnam(path);
    plspage(0, 0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plscmap0n(PLOT_NCOLORS);
    for (int c = 1; c < PLOT_NCOLORS; c++) plscol0(c, palette[c][0], palette[c][1], palette[c][2]);
    plssub(nx, ny);
    plinit();
    plfontld(1);
    draw(ctx);
    plend1();
  }
  return 0;
}

void plot_panel(double x0, double x1, double y0, double y1, int equal, const char *xlabel,
                const char *ylabel, const char *title) {
  pladv(0);
  plschr(0, 0.8);
  plvsta();
  if (equal) plvasp((y1 - y0) / (x1 - x0));
  plwind(x0, x1, y0, y1);
  plcol0(PLOT_BLACK);
  plwidth(1);
  plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  pllab(xlabel ? xlabel : "", ylabel ? ylabel : "", title ? title : "");
}

void plot_panel_log(double x0, double x1, double y0, double y1, int logx, int logy,
                    const char *xlabel, const char *ylabel, const char *title) {
  pladv(0);
  plschr(0, 0.8);
  plvsta();
  plwind(x0, x1, y0, y1);
  plcol0(PLOT_BLACK);
  plwidth(1);
  plbox(logx ? "bcnstl" : "bcnst", 0, 0, logy ? "bcnstlv" : "bcnstv", 0, 0);
  pllab(xlabel ? xlabel : "", ylabel ? ylabel : "", title ? title : "");
}

void plot_points(int n, const double *x, const double *y, int color, int marker, double size) {
  static const int code[] = {1, 17, 4, 5, 6, 7, 3};
  if (n <= 0) return;
  plcol0(color);
  plssym(0, size);
  plpoin(n, (PLFLT *)x, (PLFLT *)y, code[marker]);
  plssym(0, 1);
}

void plot_line(int n, const double *x, const double *y, int color, double width) {
  if (n < 2) return;
  plcol0(color);
  plwidth(width);
  plline(n, (PLFLT *)x, (PLFLT *)y);
  plwidth(1);
}

void plot_line_dashed(int n, const double *x, const double *y, int color, double width, int dashed) {
  if (dashed) pllsty(2); /* PLplot's style 2: short dashes */
  plot_line(n, x, y, color, width);
  pllsty(1);
}

void plot_circle(double cx, double cy, double r, int color, double width) {
  plcol0(color);
  plwidth(width);
  plarc(cx, cy, r, r, 0, 360, 0, 0);
  plwidth(1);
}

void plot_arrows(int nx, int ny, double x0, double x1, double y0, double y1, const double *u,
                 const double *v, double scale, int color) {
  /* plvect wants PLFLT** indexed [ix][iy] and a coordinate transform. */
  PLFLT **U = malloc((size_t)nx * sizeof *U), **V = malloc((size_t)nx * sizeof *V);
  PLFLT *gx = malloc((size_t)nx * sizeof *gx), *gy = malloc((size_t)ny * sizeof *gy);
  PLFLT *ub = malloc((size_t)nx * ny * sizeof *ub), *vb = malloc((size_t)nx * ny * sizeof *vb);
  if (U && V && gx && gy && ub && vb) {
    double mx = 0;
    for (int k = 0; k < nx * ny; k++) mx = fmax(mx, hypot(u[k], v[k]));
    double cell = fmin((x1 - x0) / (nx - 1), (y1 - y0) / (ny - 1));
    double s = mx > 0 ? scale * cell / mx : 0;
    for (int j = 0; j < nx; j++) {
      U[j] = ub + (size_t)j * ny;
      V[j] = vb + (size_t)j * ny;
      gx[j] = x0 + (x1 - x0) * j / (nx - 1);
      for (int i = 0; i < ny; i++) {
        U[j][i] = u[i * nx + j];
        V[j][i] = v[i * nx + j];
      }
    }
    for (int i = 0; i < ny; i++) gy[i] = y0 + (y1 - y0) * i / (ny - 1);
    PLcGrid grid = {gx, gy, NULL, nx, ny, 0};
    static const PLFLT ax[6] = {-0.5, 0.5, 0.3, 0.5, 0.3, 0.5};
    static const PLFLT ay[6] = {0.0, 0.0, 0.2, 0.0, -0.2, 0.0};
    plsvect(ax, ay, 6, 0);
    plcol0(color);
    plwidth(1.3);
    plvect((PLFLT_MATRIX)U, (PLFLT_MATRIX)V, nx, ny, s, pltr1, &grid);
    plwidth(1);
  }
  free(U);
  free(V);
  free(gx);
  free(gy);
  free(ub);
  free(vb);
}

void plot_labels(int nx, int ny, double x0, double x1, double y0, double y1, const int *label,
                 const int (*colors)[3], int ncolors, const int (*neg_colors)[3], int nneg) {
  /* cmap1 holds the categories; value (k + 0.5) / K selects entry k. */
  const int K = ncolors + nneg;
  PLINT *r = malloc((size_t)K * sizeof *r), *g = malloc((size_t)K * sizeof *g),
        *b = malloc((size_t)K * sizeof *b);
  PLFLT **Z = malloc((size_t)nx * sizeof *Z), *zb = malloc((size_t)nx * ny * sizeof *zb);
  if (r && g && b && Z && zb && K > 0) {
    for (int k = 0; k < ncolors; k++) r[k] = colors[k][0], g[k] = colors[k][1], b[k] = colors[k][2];
    for (int k = 0; k < nneg; k++)
      r[ncolors + k] = neg_colors[k][0], g[ncolors + k] = neg_colors[k][1],
                  b[ncolors + k] = neg_colors[k][2];
    plscmap1n(K);
    plscmap1(r, g, b, K);
    for (int j = 0; j < nx; j++) {
      Z[j] = zb + (size_t)j * ny;
      for (int i = 0; i < ny; i++) {
        int l = label[i * nx + j], idx;
        if (l >= 0)
          idx = ncolors > 0 ? l % ncolors : 0;
        else
          idx = ncolors + ((-l - 1) < nneg ? (-l - 1) : nneg - 1);
        Z[j][i] = (idx + 0.5) / K;
      }
    }
    /* cells are centred on the grid points */
    double hx = 0.5 * (x1 - x0) / (nx - 1), hy = 0.5 * (y1 - y0) / (ny - 1);
    /* plimagefr with the value range fixed to [0, 1] (plimage would stretch
     * the colours over the data's own range). */
    plimagefr((PLFLT_MATRIX)Z, nx, ny, x0 - hx, x1 + hx, y0 - hy, y1 + hy, 0, 1, 0, 1, NULL, NULL);
    plcol0(PLOT_BLACK);
    plbox("bc", 0, 0, "bc", 0, 0);
  }
  free(r);
  free(g);
  free(b);
  free(Z);
  free(zb);
}

void plot_text(double x, double y, const char *text, int color, double just, double size) {
  plcol0(color);
  plschr(0, size);
  plptex(x, y, 1, 0, just, text);
  plschr(0, 0.8);
}

void plot_side_text(const char *side, double disp, double pos, double just, const char *text) {
  plcol0(PLOT_BLACK);
  plmtex(side, disp, pos, just, text);
}

#else /* no PLplot: tables only */

int plot_available(void) { return 0; }
int plot_render(const char *base, unsigned formats, int width, int height, int nx, int ny,
                plot_draw_fn draw, void *ctx) {
  fprintf(stderr,
          "nde: built without PLplot (install libplplot-dev, plplot-driver-cairo); no picture %s\n",
          base);
  return 1;
}
void plot_panel(double x0, double x1, double y0, double y1, int equal, const char *xlabel,
                const char *ylabel, const char *title) {}
void plot_panel_log(double x0, double x1, double y0, double y1, int logx, int logy,
                    const char *xlabel, const char *ylabel, const char *title) {}
void plot_points(int n, const double *x, const double *y, int color, int marker, double size) {}
void plot_line(int n, const double *x, const double *y, int color, double width) {}
void plot_line_dashed(int n, const double *x, const double *y, int color, double width, int dashed) {}
void plot_circle(double cx, double cy, double r, int color, double width) {}
void plot_arrows(int nx, int ny, double x0, double x1, double y0, double y1, const double *u,
                 const double *v, double scale, int color) {}
void plot_labels(int nx, int ny, double x0, double x1, double y0, double y1, const int *label,
                 const int (*colors)[3], int ncolors, const int (*neg_colors)[3], int nneg) {}
void plot_text(double x, double y, const char *text, int color, double just, double size) {}
void plot_side_text(const char *side, double disp, double pos, double just, const char *text) {}

#endif

void plot_category_color(int k, int rgb[3]) {
  /* hue by the golden ratio, alternating saturation/value bands */
  double h = fmod(0.13 + 0.6180339887498949 * k, 1.0) * 6, s = (k / 7) % 2 ? 0.45 : 0.65,
         v = (k / 3) % 2 ? 0.85 : 0.97;
  int i = (int)h;
  double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f)), c[3];
  switch (i % 6) {
  case 0: c[0] = v, c[1] = t, c[2] = p; break;
  case 1: c[0] = q, c[1] = v, c[2] = p; break;
  case 2: c[0] = p, c[1] = v, c[2] = t; break;
  case 3: c[0] = p, c[1] = q, c[2] = v; break;
  case 4: c[0] = t, c[1] = p, c[2] = v; break;
  default: c[0] = v, c[1] = p, c[2] = q; break;
  }
  for (int j = 0; j < 3; j++) rgb[j] = (int)lround(255 * c[j]);
}
