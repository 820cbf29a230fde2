/* router_io.c: the router's text file (router_fit.h):
 *     drrl-router 1
 *     ranks NR r_1 .. r_NR
 *     features P
 *     feature NAME MEAN STD                              (P lines)
 *     rank R lambda LAMBDA intercept B weights W_1 .. W_P  (NR lines, in the ranks' order) */
#include <stdio.h>
#include <string.h>

#include "eval/router_fit.h"

Status router_save(const Router *rt, const char *path, Err *e) {
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, ST_IO, "%s: cannot open for writing", path);
    fprintf(f, "drrl-router 1\nranks %d", rt->nr);
    for (int k = 0; k < rt->nr; k++) fprintf(f, " %d", rt->ranks[k]);
    fprintf(f, "\nfeatures %d\n", rt->P);
    for (int j = 0; j < rt->P; j++)
        fprintf(f, "feature %s %.17g %.17g\n", rt->feat[j], rt->mean[j], rt->std[j]);
    for (int k = 0; k < rt->nr; k++) {
        fprintf(f, "rank %d lambda %.17g intercept %.17g weights", rt->ranks[k], rt->lambda[k],
                rt->b[k]);
        for (int j = 0; j < rt->P; j++) fprintf(f, " %.17g", rt->w[k][j]);
        fprintf(f, "\n");
    }
    const int bad = ferror(f);
    return fclose(f) || bad ? err_set(e, ST_IO, "%s: write failed", path) : ST_OK;
}

static Status bad(Err *e, const char *path, const char *what) {
    return err_set(e, ST_FORMAT, "%s: expected %s (a drrl-router file)", path, what);
}

Status router_load(Router *rt, const char *path, Err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, ST_IO, "%s: cannot open for reading", path);
    memset(rt, 0, sizeof *rt);
    int ver = 0;
    Status s = fscanf(f, "drrl-router %d ranks %d", &ver, &rt->nr) == 2 && ver == 1 &&
                       rt->nr >= 1 && rt->nr <= ROUTER_MAX_RANKS
                   ? ST_OK : bad(e, path, "'drrl-router 1' and 'ranks NR ...' (NR <= 8)");
    for (int k = 0; k < rt->nr && !s; k++)
        if (fscanf(f, "%d", &rt->ranks[k]) != 1) s = bad(e, path, "the ranks");
    if (!s && (fscanf(f, " features %d", &rt->P) != 1 || rt->P < 1 || rt->P > ROUTER_MAX_FEAT))
        s = bad(e, path, "'features P' (1 <= P <= 64)");
    for (int j = 0; j < rt->P && !s; j++)
        if (fscanf(f, " feature %47s %lf %lf", rt->feat[j], &rt->mean[j], &rt->std[j]) != 3)
            s = bad(e, path, "'feature NAME MEAN STD' lines");
    for (int k = 0; k < rt->nr && !s; k++) {
        int r = 0;
        if (fscanf(f, " rank %d lambda %lf intercept %lf weights", &r, &rt->lambda[k],
                   &rt->b[k]) != 3 || r != rt->ranks[k])
            s = bad(e, path, "'rank R lambda L intercept B weights ...' per rank, in order");
        for (int j = 0; j < rt->P && !s; j++)
            if (fscanf(f, "%lf", &rt->w[k][j]) != 1) s = bad(e, path, "P weights per rank");
    }
    fclose(f);
    return s;
}
