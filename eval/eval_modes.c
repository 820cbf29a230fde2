/* eval_modes.c: parsing of drrl-eval's --modes list (see eval_modes.h). */
#include "eval/eval_modes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"full", "static", "static-plain", "random",
                                         "nystrom", "performer", "policy", "margin",
                                         "probe"};

static void grid_text(char *buf, size_t cap, const int *grid, int G) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int g = 0; g < G && k < cap; g++)
        k += (size_t)snprintf(buf + k, cap - k, g ? ", %d" : "%d", grid[g]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* "123" -> 123; -1 unless the whole text is a positive integer */
static int parse_int(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && !*end && v >= 1 && v <= 1 << 20 ? (int)v : -1;
}

/* grid index of rank v (-1: not in the grid; G = 0: any positive rank) */
static int in_grid(const int *grid, int G, int v) {
    if (G == 0) return v >= 1 ? 0 : -1;
    for (int g = 0; g < G; g++)
        if (grid[g] == v) return g;
    return -1;
}

/* "LO/HI@L<T" of a margin rule -> m (name set) */
static Status parse_margin(const char *tok, const char *arg, const int *grid, int G,
                           EvalMode *m, Err *e) {
    char gt[256];
    int lo = 0, hi = 0, from = 0, used = 0;
    double thr = 0;
    if (sscanf(arg, "%d/%d@%d<%lf%n", &lo, &hi, &from, &thr, &used) != 4 ||
        (size_t)used != strlen(arg) || from < 0 || !isfinite(thr) || thr < 0)
        return err_set(e, ST_CONFIG, "--modes: '%s': expected margin:LO/HI@L<T (grid ranks LO "
                       "and HI, first layer L >= 0, margin T >= 0, e.g. margin:4/16@1<2.5), "
                       "found '%s'", tok, arg);
    if (in_grid(grid, G, lo) < 0 || in_grid(grid, G, hi) < 0 || hi <= lo) {
        grid_text(gt, sizeof gt, grid, G);
        return err_set(e, ST_CONFIG, "--modes: '%s': expected LO < HI, both ranks of the "
                       "policy's grid %s, found %d and %d", tok, gt, lo, hi);
    }
    m->r = lo, m->hi = hi, m->from = from, m->thr = thr;
    return ST_OK;
}

/* "P/LO/HI<T" of a probe rule -> m */
static Status parse_probe(const char *tok, const char *arg, const int *grid, int G,
                          EvalMode *m, Err *e) {
    char gt[256];
    int p = 0, lo = 0, hi = 0, used = 0, until = -1, u2 = 0;
    double thr = 0;
    const int ok = sscanf(arg, "%d/%d/%d<%lf%n", &p, &lo, &hi, &thr, &used) == 4 &&
                   (!arg[used] || (sscanf(arg + used, "@%d%n", &until, &u2) == 1 &&
                                   !arg[used + u2] && until >= 0));
    if (!ok || !isfinite(thr) || thr < 0)
        return err_set(e, ST_CONFIG, "--modes: '%s': expected probe:P/LO/HI<T or "
                       "probe:P/LO/HI<T@U (grid ranks P < LO < HI, relative change T >= 0, "
                       "last probed layer U >= 0, e.g. probe:2/4/16<0.3@0), found '%s'", tok,
                       arg);
    if (in_grid(grid, G, p) < 0 || in_grid(grid, G, lo) < 0 || in_grid(grid, G, hi) < 0 ||
        !(p < lo && lo < hi)) {
        grid_text(gt, sizeof gt, grid, G);
        return err_set(e, ST_CONFIG, "--modes: '%s': expected P < LO < HI, all ranks of the "
                       "policy's grid %s, found %d, %d, %d", tok, gt, p, lo, hi);
    }
    m->r = lo, m->hi = hi, m->from = p, m->thr = thr, m->until = until;
    return ST_OK;
}

/* one rank t ("8" or "full") of layer l of mode tok -> *rv (0: full) */
static Status parse_rank(const char *tok, const char *t, int l, const int *grid, int G, int *rv,
                         Err *e) {
    char gt[256];
    int ok = !strcmp(t, "full");
    *rv = ok ? 0 : parse_int(t);
    for (int g = 0; g < G && !ok; g++) ok = grid[g] == *rv;
    if (ok || (G == 0 && *rv >= 1)) return ST_OK;
    grid_text(gt, sizeof gt, grid, G);
    return err_set(e, ST_CONFIG, "--modes: '%s': layer %d: expected full or a rank of the "
                   "policy's grid %s, found '%s'", tok, l, G ? gt : "(any positive rank)", t);
}

/* layer l's heads ("16.8.16.16") of mode tok -> m->head_r[l], m->n_head */
static Status parse_heads(const char *tok, char *t, int l, const int *grid, int G, EvalMode *m,
                          Err *e) {
    int h = 0;
    if (t[0] == '.' || t[strlen(t) - 1] == '.' || strstr(t, ".."))
        return err_set(e, ST_CONFIG, "--modes: '%s': layer %d: expected ranks per head joined "
                       "by '.' (e.g. 16.8.16.16), found '%s'", tok, l, t);
    for (char *sv = NULL, *u = strtok_r(t, ".", &sv); u; u = strtok_r(NULL, ".", &sv)) {
        if (h == EVAL_MAX_HEADS)
            return err_set(e, ST_CONFIG, "--modes: '%s': at most %d heads per layer", tok,
                           EVAL_MAX_HEADS);
        Status s = parse_rank(tok, u, l, grid, G, &m->head_r[l][h++], e);
        if (s) return s;
    }
    if (m->n_head && h != m->n_head)
        return err_set(e, ST_CONFIG, "--modes: '%s': layer %d: expected %d heads (as the layers "
                       "before), found %d", tok, l, m->n_head, h);
    m->n_head = h;
    return ST_OK;
}

/* one per-layer list ("32/8/full", or with heads "16.8/full") of mode tok -> out[0..*n)
   (0: full; -1: a layer with heads, whose ranks go to hm->head_r; hm NULL: inside position
   parts, where heads are refused) */
static Status parse_layers(const char *tok, const char *arg, const int *grid, int G, int kind,
                           int *out, int *n, EvalMode *hm, Err *e) {
    char lb[EVAL_NAME];
    snprintf(lb, sizeof lb, "%s", arg);
    *n = 0;
    for (char *sv = NULL, *t = strtok_r(lb, "/", &sv); t; t = strtok_r(NULL, "/", &sv)) {
        if (*n == BERT_MAX_LAYERS)
            return err_set(e, ST_CONFIG, "--modes: '%s': at most %d layers", tok,
                           BERT_MAX_LAYERS);
        Status s;
        if (strchr(t, '.')) {
            if (!hm)
                return err_set(e, ST_CONFIG, "--modes: '%s': ranks per head ('.') and "
                               "position parts ('+') do not combine", tok);
            if ((s = parse_heads(tok, t, *n, grid, G, hm, e))) return s;
            out[(*n)++] = -1;
            continue;
        }
        if ((s = parse_rank(tok, t, *n, grid, G, &out[*n], e))) return s;
        (*n)++;
    }
    if (*n < 2 || arg[0] == '/' || arg[strlen(arg) - 1] == '/' || strstr(arg, "//"))
        return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank per layer separated "
                       "by '/' (e.g. %s:32/8), found '%s'", tok, kind_names[kind], arg);
    return ST_OK;
}

/* position parts ("16/8+8/8"): per-layer lists joined by '+', each as long as the first */
static Status parse_parts(const char *tok, const char *arg, const int *grid, int G, int kind,
                          EvalMode *m, Err *e) {
    if (kind != EVAL_STATIC && kind != EVAL_PLAIN)
        return err_set(e, ST_CONFIG, "--modes: '%s': position parts ('+') are for static and "
                       "static-plain ranks, found %s", tok, kind_names[kind]);
    char pb[EVAL_NAME];
    snprintf(pb, sizeof pb, "%s", arg);
    m->r = -1;
    for (char *sv = NULL, *t = strtok_r(pb, "+", &sv); t; t = strtok_r(NULL, "+", &sv)) {
        if (m->n_part == EVAL_MAX_PARTS)
            return err_set(e, ST_CONFIG, "--modes: '%s': at most %d position parts", tok,
                           EVAL_MAX_PARTS);
        int nl;
        Status s = parse_layers(tok, t, grid, G, kind, m->layer_r[m->n_part], &nl, NULL, e);
        if (s) return s;
        if (m->n_part && nl != m->n_layer)
            return err_set(e, ST_CONFIG, "--modes: '%s': part %d: expected %d layers (as the "
                           "first part), found %d", tok, m->n_part, m->n_layer, nl);
        m->n_layer = nl, m->n_part++;
    }
    if (m->n_part < 2 || arg[0] == '+' || arg[strlen(arg) - 1] == '+' || strstr(arg, "++"))
        return err_set(e, ST_CONFIG, "--modes: '%s': expected per-layer lists joined by '+' "
                       "(e.g. %s:16/8+8/8), found '%s'", tok, kind_names[kind], arg);
    return ST_OK;
}

/* one entry ("static:8") -> m */
static Status parse_one(const char *tok, const int *grid, int G, int max_m, EvalMode *m, Err *e) {
    char gt[256];
    memset(m, 0, sizeof *m);
    const char *colon = strchr(tok, ':');
    const size_t kl = colon ? (size_t)(colon - tok) : strlen(tok);
    int kind = -1;
    for (int k = 0; k < (int)(sizeof kind_names / sizeof kind_names[0]); k++)
        if (strlen(kind_names[k]) == kl && !strncmp(tok, kind_names[k], kl)) kind = k;
    if (kind < 0)
        return err_set(e, ST_CONFIG, "--modes: '%s': expected one of full, static:r, "
                       "static-plain:r, random, nystrom:m, performer:m, policy, "
                       "margin:LO/HI@L<T, probe:P/LO/HI<T", tok);
    m->kind = (EvalModeKind)kind;
    const int ranked = kind == EVAL_STATIC || kind == EVAL_PLAIN || kind == EVAL_NYSTROM ||
                       kind == EVAL_PERFORMER || kind == EVAL_MARGIN || kind == EVAL_PROBE;
    if (ranked != (colon != NULL))
        return err_set(e, ST_CONFIG, "--modes: '%s': %s", tok,
                       ranked ? "expected a rank or m after ':' (e.g. static:8, nystrom:16)"
                              : "expected no ':' argument");
    if (strlen(tok) >= sizeof m->name)
        return err_set(e, ST_CONFIG, "--modes: '%s': too long", tok);
    snprintf(m->name, sizeof m->name, "%s", tok);
    if (!ranked) return ST_OK;
    const char *arg = colon + 1;
    if (kind == EVAL_MARGIN) return parse_margin(tok, arg, grid, G, m, e);
    if (kind == EVAL_PROBE) return parse_probe(tok, arg, grid, G, m, e);
    if (kind == EVAL_PLAIN && !strcmp(arg, "auto")) return ST_OK; /* r = 0 until resolved */
    if (strchr(arg, '/') && (kind == EVAL_NYSTROM || kind == EVAL_PERFORMER))
        return err_set(e, ST_CONFIG, "--modes: '%s': per-layer lists ('/') are for static "
                       "and static-plain ranks, found %s", tok, kind_names[kind]);
    if (strchr(arg, '+')) return parse_parts(tok, arg, grid, G, kind, m, e);
    if (strchr(arg, '/')) { /* one rank per layer */
        m->r = -1, m->n_part = 1;
        Status s = parse_layers(tok, arg, grid, G, kind, m->layer_r[0], &m->n_layer, m, e);
        for (int l = 0; l < m->n_layer && !s && m->n_head; l++) /* layers without heads */
            for (int h = 0; h < m->n_head && m->layer_r[0][l] >= 0; h++)
                m->head_r[l][h] = m->layer_r[0][l];
        return s;
    }
    const int v = parse_int(arg);
    if (kind == EVAL_NYSTROM || kind == EVAL_PERFORMER) {
        if (v < 1 || v > max_m)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected m in 1..%d, found '%s'", tok,
                           max_m, arg);
        m->r = v;
        return ST_OK;
    }
    if (G == 0) { /* no grid: any positive rank (the caller checks it against the head size) */
        if (v < 1)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected a positive integer rank%s, "
                           "found '%s'", tok, kind == EVAL_PLAIN ? " or auto" : "", arg);
        m->r = v;
        return ST_OK;
    }
    for (int g = 0; g < G; g++)
        if (grid[g] == v) {
            m->r = v;
            return ST_OK;
        }
    grid_text(gt, sizeof gt, grid, G);
    return err_set(e, ST_CONFIG, "--modes: '%s': expected a rank of the policy's grid %s%s "
                   "(full is exact attention), found '%s'", tok, gt,
                   kind == EVAL_PLAIN ? " or auto" : "", arg);
}

Status eval_modes_parse(const char *list, const int *grid, int G, int max_m, EvalMode *out,
                        int *n, Err *e) {
    char buf[4096];
    if (list) {
        if (strlen(list) >= sizeof buf) return err_set(e, ST_CONFIG, "--modes: list too long");
        snprintf(buf, sizeof buf, "%s", list);
    } else { /* the default list */
        size_t k = (size_t)snprintf(buf, sizeof buf, "full");
        for (int g = 0; g < G; g++) k += (size_t)snprintf(buf + k, sizeof buf - k, ",static:%d", grid[g]);
        snprintf(buf + k, sizeof buf - k, ",static-plain:auto,random,nystrom:8,nystrom:16,"
                 "nystrom:32,performer:8,performer:16,performer:32,policy");
    }
    *n = 0;
    int has_full = 0, has_policy = 0, has_auto = 0;
    EvalMode tmp[EVAL_MAX_MODES];
    int nt = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nt == EVAL_MAX_MODES - 1)
            return err_set(e, ST_CONFIG, "--modes: at most %d modes", EVAL_MAX_MODES - 1);
        Status s = parse_one(tok, grid, G, max_m, &tmp[nt], e);
        if (s) return s;
        for (int i = 0; i < nt; i++)
            if (!strcmp(tmp[i].name, tmp[nt].name))
                return err_set(e, ST_CONFIG, "--modes: '%s' is listed twice", tok);
        has_full |= tmp[nt].kind == EVAL_FULL;
        has_policy |= tmp[nt].kind == EVAL_POLICY;
        has_auto |= tmp[nt].kind == EVAL_PLAIN && tmp[nt].r == 0;
        nt++;
    }
    if (!nt) return err_set(e, ST_CONFIG, "--modes: expected at least one mode, found '%s'", list);
    if (has_auto && !has_policy)
        return err_set(e, ST_CONFIG, "--modes: static-plain:auto needs policy in the list (its "
                       "rank is the one nearest the policy's mean rank)");
    if (!has_full) {
        out[(*n)++] = (EvalMode){.kind = EVAL_FULL, .name = "full"};
    }
    for (int i = 0; i < nt; i++) out[(*n)++] = tmp[i];
    return ST_OK;
}

Status eval_modes_check_layers(const EvalMode *modes, int n, int L, int H, int per_head, Err *e) {
    for (int i = 0; i < n; i++) {
        const EvalMode *m = &modes[i];
        if (m->n_layer && m->n_layer != L)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank per layer of the "
                           "model (%d), found %d", m->name, L, m->n_layer);
        if (m->n_head && m->n_head != H)
            return err_set(e, ST_CONFIG, "--modes: '%s': expected one rank per head of the "
                           "model (%d) in a layer's '.' list, found %d", m->name, H, m->n_head);
        if (m->n_head && !per_head)
            return err_set(e, ST_CONFIG, "--modes: '%s': ranks per head need a checkpoint "
                           "trained with a rank per (segment, head) (env.per_head: true), "
                           "found a per-segment one", m->name);
    }
    return ST_OK;
}

int eval_mode_rank(const EvalMode *m, int l, int sg, int nseg, int h) {
    if (!m->n_layer) return m->r;
    if (m->n_head) return m->head_r[l][h];
    const int p = m->n_part > 1 && nseg > 0 ? (int)((int64_t)sg * m->n_part / nseg) : 0;
    return m->layer_r[p < m->n_part ? p : m->n_part - 1][l];
}

int eval_mode_env(const EvalMode *m) {
    return m->kind != EVAL_NYSTROM && m->kind != EVAL_PERFORMER;
}

void eval_modes_resolve_auto(EvalMode *modes, int n, double mean_rank, const int *grid, int G) {
    int best = grid[0];
    for (int g = 1; g < G; g++)
        if (fabs(grid[g] - mean_rank) < fabs(best - mean_rank)) best = grid[g];
    for (int i = 0; i < n; i++)
        if (modes[i].kind == EVAL_PLAIN && modes[i].r == 0) {
            modes[i].r = best;
            snprintf(modes[i].name, sizeof modes[i].name, "static-plain:%d", best);
        }
}

int eval_modes_max_m(const EvalMode *modes, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!eval_mode_env(&modes[i]) && modes[i].r > m) m = modes[i].r;
    return m;
}
