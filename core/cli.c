/* cli.c: the command-line convention of every drrl program (see cli.h). */
#include "core/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/suggest.h"
#include "drrl_version.h"

/* OpenBLAS's own introspection (declared here: core/ does not include cblas.h) */
char *openblas_get_config(void);
int openblas_get_num_threads(void);
int openblas_get_parallel(void);

/* the common flags, in the order --help lists them; bit 0 = always taken */
typedef struct { const char *name, *arg; unsigned bit; const char *help; } Common;
static const Common COMMON[] = {
    {"--config", "FILE", CLI_CONFIG, "YAML config (default: the embedded defaults)"},
    {"--print-config", NULL, CLI_PRINT_CONFIG, "print the resolved config (every key, its value "
     "and meaning) and exit"},
    {"--seed", "N", CLI_SEED, NULL},
    {"--out", "DIR", CLI_OUT, NULL},
    {"--quiet", NULL, 0, "progress lines, errors and the closing summary only"},
    {"--verbose", NULL, 0, "also print the resolved config at start"},
    {"--version", NULL, 0, "version, git revision, BLAS library and threads"},
    {"--help", NULL, 0, "this text"},
};
#define N_COMMON ((int)(sizeof COMMON / sizeof COMMON[0]))

static int common_taken(const CliSpec *s, int i) {
    return COMMON[i].bit == 0 || (s->common & COMMON[i].bit);
}

const char *cli_git_rev(void) { return DRRL_GIT_REV; }
const char *cli_version_number(void) { return DRRL_VERSION; }

void cli_version(FILE *f, const char *prog) {
    char blas[512];
    cli_blas(blas, sizeof blas);
    fprintf(f, "%s %s (git %s)\nBLAS: %s\n", prog, DRRL_VERSION, DRRL_GIT_REV, blas);
}

static void print_flag(FILE *f, const char *name, const char *arg, const char *help) {
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", name, arg ? " " : "", arg ? arg : "");
    fprintf(f, "  %-22s ", left);
    for (const char *p = help; *p; p++) {       /* indent continuation lines */
        fputc(*p, f);
        if (*p == '\n') fprintf(f, "  %-22s ", "");
    }
    fputc('\n', f);
}

static void print_help(const CliSpec *s, FILE *f) {
    fprintf(f, "usage: %s\n%s\n", s->synopsis, s->about);
    if (s->n_opts) fprintf(f, "\nflags:\n");
    for (int i = 0; i < s->n_opts; i++)
        print_flag(f, s->opts[i].name, s->opts[i].arg, s->opts[i].help);
    fprintf(f, "\ncommon flags (any flag also as --flag=VALUE; a flag given twice is an error):\n");
    for (int i = 0; i < N_COMMON; i++) {
        if (!common_taken(s, i)) continue;
        const char *h = COMMON[i].help;
        if (COMMON[i].bit == CLI_SEED) h = s->seed_help ? s->seed_help : "random seed";
        if (COMMON[i].bit == CLI_OUT) h = s->out_help ? s->out_help : "output folder";
        if (!strcmp(COMMON[i].name, "--verbose") && s->verbose_help) h = s->verbose_help;
        if (COMMON[i].bit == CLI_CONFIG && s->config_help) h = s->config_help;
        print_flag(f, COMMON[i].name, COMMON[i].arg, h);
    }
    if (s->common & CLI_OVERRIDES)
        fprintf(f, "  %-22s set a config key; `%s --print-config` lists every key with\n"
                "  %-22s its value and meaning\n", "KEY=VALUE", s->prog, "");
}

/* flag_index: the program flag called name (-1: none) */
static int flag_index(const CliSpec *s, const char *name, size_t len) {
    for (int i = 0; i < s->n_opts; i++)
        if (strlen(s->opts[i].name) == len && !strncmp(s->opts[i].name, name, len)) return i;
    return -1;
}

static int common_index(const CliSpec *s, const char *name, size_t len) {
    for (int i = 0; i < N_COMMON; i++)
        if (common_taken(s, i) && strlen(COMMON[i].name) == len &&
            !strncmp(COMMON[i].name, name, len))
            return i;
    return -1;
}

/* unknown_flag: the error for a flag no table has, with the nearest known one */
static Status unknown_flag(const CliSpec *s, const char *flag, size_t len, Err *e) {
    char word[SUGGEST_MAX_LEN];
    snprintf(word, sizeof word, "%.*s", (int)(len < sizeof word - 1 ? len : sizeof word - 1), flag);
    const char *names[CLI_MAX_OPTS + N_COMMON];
    int n = 0;
    for (int i = 0; i < s->n_opts; i++) names[n++] = s->opts[i].name;
    for (int i = 0; i < N_COMMON; i++)
        if (common_taken(s, i)) names[n++] = COMMON[i].name;
    int best = suggest_nearest(word, names, n);
    if (best >= 0)
        return err_set(e, ST_INVALID, "%s: expected a flag of %s, found an unknown flag; did you "
                       "mean %s? (%s --help lists them)", word, s->prog, names[best], s->prog);
    return err_set(e, ST_INVALID, "%s: expected a flag of %s, found an unknown flag (%s --help "
                   "lists them)", word, s->prog, s->prog);
}

/* check_key: KEY of a KEY=VALUE must be a key of one of the schemas (within its prefixes);
   else the nearest key over all of them (config_nearest_key) */
static Status check_key(const CliSpec *s, const char *assign, Err *e) {
    if (!s->n_schemas) return ST_OK;
    size_t kl = strcspn(assign, "=");
    char key[SUGGEST_MAX_LEN];
    snprintf(key, sizeof key, "%.*s", (int)(kl < sizeof key - 1 ? kl : sizeof key - 1), assign);
    const char *best = NULL;
    int best_d = SUGGEST_MAX_LEN + 1;
    for (int k = 0; k < s->n_schemas; k++) {
        int d;
        const char *pre = s->schema_prefixes ? s->schema_prefixes[k] : NULL;
        const char *p = config_nearest_key(s->schemas[k], key, pre, &d);
        if (p && d < best_d) best = p, best_d = d;
    }
    if (best && best_d == 0 && !strcmp(best, key)) return ST_OK;
    const char *lk = strrchr(key, '.');
    if (best && suggest_near(lk ? lk + 1 : key, best_d))
        return err_set(e, ST_CONFIG, "command line '%s': %s: expected a config key, found an "
                       "unknown key; did you mean %s? (%s --print-config lists every key)",
                       assign, key, best, s->prog);
    return err_set(e, ST_CONFIG, "command line '%s': %s: expected a config key, found an "
                   "unknown key (%s --print-config lists every key)", assign, key, s->prog);
}

/* take_value: the value of a flag: after '=' or the next argument */
static Status take_value(const char *flag, size_t len, const char *eq, int argc, char **argv,
                         int *i, const char **v, Err *e) {
    if (eq && !eq[1])
        return err_set(e, ST_INVALID, "%.*s: expected a value, found ''", (int)len, flag);
    if (eq) {
        *v = eq + 1;
        return ST_OK;
    }
    if (*i + 1 >= argc)
        return err_set(e, ST_INVALID, "%.*s: expected a value, found the end of the arguments",
                       (int)len, flag);
    const char *n = argv[*i + 1];
    if (!strncmp(n, "--", 2))
        return err_set(e, ST_INVALID, "%.*s: expected a value, found the flag '%s'", (int)len,
                       flag, n);
    if (!*n) return err_set(e, ST_INVALID, "%.*s: expected a value, found ''", (int)len, flag);
    *v = n;
    (*i)++;
    return ST_OK;
}

static Status set_once(const char **slot, const char *v, const char *flag, size_t len, Err *e) {
    if (*slot && !**slot) /* a switch */
        return err_set(e, ST_INVALID, "%.*s: expected once, found it again", (int)len, flag);
    if (*slot)
        return err_set(e, ST_INVALID, "%.*s: expected once, found it again ('%s' after '%s')",
                       (int)len, flag, v, *slot);
    *slot = v;
    return ST_OK;
}

/* common_apply: one of the common flags, with its value v (NULL for switches) */
static Status common_apply(const CliSpec *s, int ci, const char *v, CliArgs *a,
                           const char **seen, FILE *f, Err *e) {
    const char *name = COMMON[ci].name;
    size_t len = strlen(name);
    Status st = set_once(&seen[ci], v ? v : "", name, len, e);
    if (st) return st;
    if (!strcmp(name, "--help")) {
        print_help(s, f);
        a->done = 1;
    } else if (!strcmp(name, "--version")) {
        cli_version(f, s->prog);
        a->done = 1;
    } else if (!strcmp(name, "--config")) {
        a->config = v;
    } else if (!strcmp(name, "--out")) {
        a->out = v;
    } else if (!strcmp(name, "--print-config")) {
        a->print_config = 1;
    } else if (!strcmp(name, "--quiet") || !strcmp(name, "--verbose")) {
        if (seen[common_index(s, "--quiet", 7)] && seen[common_index(s, "--verbose", 9)])
            return err_set(e, ST_INVALID, "--quiet: expected --quiet or --verbose, found both");
        a->verbosity = name[2] == 'q' ? CLI_QUIET : CLI_VERBOSE;
    } else if (!strcmp(name, "--seed")) {
        /* digits only (strtoull would skip blanks, accept a sign and clamp), below 2^31 so
           that it fits every config's int seed */
        char *end;
        errno = 0;
        unsigned long long x = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
        if (!(v[0] >= '0' && v[0] <= '9') || *end || errno || x > 2147483647ULL)
            return err_set(e, ST_INVALID, "--seed: expected an integer in [0, 2147483647], "
                           "found '%s'", v);
        a->seed = (uint64_t)x;
        a->has_seed = 1;
    }
    return ST_OK;
}

/* one_flag: argv[*i], which starts with "--" (or is -h) */
static Status one_flag(const CliSpec *s, int argc, char **argv, int *i, CliArgs *a,
                       const char **seen, FILE *f, Err *e) {
    const char *arg = argv[*i];
    if (!strcmp(arg, "-h")) arg = "--help";
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int oi = flag_index(s, arg, len), ci = oi < 0 ? common_index(s, arg, len) : -1;
    if (oi < 0 && ci < 0) return unknown_flag(s, arg, len, e);
    const char *want = oi >= 0 ? s->opts[oi].arg : COMMON[ci].arg;
    const char *v = NULL;
    if (!want && eq)
        return err_set(e, ST_INVALID, "%.*s: expected no value (a switch), found '%s'", (int)len,
                       arg, eq + 1);
    Status st = want ? take_value(arg, len, eq, argc, argv, i, &v, e) : ST_OK;
    if (st) return st;
    if (oi >= 0) return set_once(&a->val[oi], v ? v : "", arg, len, e);
    return common_apply(s, ci, v, a, seen, f, e);
}

/* quiet_sink: where --quiet sends informational lines (core/log.h's null stream; stdout if
   it cannot be opened) */
static FILE *quiet_sink(void) {
    FILE *sink = log_null();
    return sink ? sink : stdout;
}

Status cli_parse(const CliSpec *s, int argc, char **argv, FILE *f, CliArgs *a, Err *e) {
    memset(a, 0, sizeof *a);
    a->verbosity = CLI_NORMAL;
    if (s->n_opts > CLI_MAX_OPTS)
        return err_set(e, ST_INVALID, "%s: expected at most %d flags, found %d", s->prog,
                       CLI_MAX_OPTS, s->n_opts);
    const char *seen[N_COMMON] = {0};
    for (int i = 1; i < argc && !a->done; i++) {
        const char *arg = argv[i];
        Status st;
        if (!strncmp(arg, "--", 2) || !strcmp(arg, "-h")) {
            st = one_flag(s, argc, argv, &i, a, seen, f, e);
        } else if ((s->common & CLI_OVERRIDES) && arg[0] != '-' && strchr(arg, '=') &&
                   arg[0] != '=') {
            if (a->n_over >= CLI_MAX_OVER - 4)
                return err_set(e, ST_INVALID, "'%s': expected at most %d KEY=VALUE arguments, "
                               "found more", arg, CLI_MAX_OVER - 4);
            st = check_key(s, arg, e);
            a->over[a->n_over++] = arg;
        } else {
            st = err_set(e, ST_INVALID, "'%s': expected a flag (--name)%s, found a bare word "
                         "(%s --help lists the flags)", arg,
                         (s->common & CLI_OVERRIDES) ? " or KEY=VALUE" : "", s->prog);
        }
        if (st) return st;
    }
    /* the libraries' informational lines follow the program's (core/log.h) */
    log_info_set(a->verbosity == CLI_QUIET ? quiet_sink() : NULL);
    return ST_OK;
}

const char *cli_get(const CliSpec *s, const CliArgs *a, const char *name) {
    int i = flag_index(s, name, strlen(name));
    return i < 0 ? NULL : a->val[i];
}

Status cli_int(const CliSpec *s, const CliArgs *a, const char *name, long lo, long hi, long *v,
               Err *e) {
    const char *t = cli_get(s, a, name);
    if (!t) return ST_OK;
    char *end;
    errno = 0;
    long x = strtol(t, &end, 10);
    if (!*t || *end || errno || x < lo || x > hi || !(t[0] == '-' || (t[0] >= '0' && t[0] <= '9')))
        return err_set(e, ST_INVALID, "%s: expected an integer in [%ld, %ld], found '%s'", name,
                       lo, hi, t);
    *v = x;
    return ST_OK;
}

Status cli_double(const CliSpec *s, const CliArgs *a, const char *name, double lo, double hi,
                  double *v, Err *e) {
    const char *t = cli_get(s, a, name);
    if (!t) return ST_OK;
    char *end;
    double x = *t ? strtod(t, &end) : NAN;
    if (!*t || *end || !isfinite(x) || !(x >= lo && x <= hi)) {
        if (isinf(hi))
            return err_set(e, ST_INVALID, "%s: expected a finite number >= %g, found '%s'", name,
                           lo, t);
        return err_set(e, ST_INVALID, "%s: expected a number in [%g, %g], found '%s'", name, lo,
                       hi, t);
    }
    *v = x;
    return ST_OK;
}

Status cli_int_list(const CliSpec *s, const CliArgs *a, const char *name, long lo, long hi,
                    int *out, int cap, int *n, Err *e) {
    const char *t = cli_get(s, a, name);
    if (!t) return ST_OK;
    int items = 1, k = 0;
    for (const char *p = t; *p; p++) items += *p == ',';
    if (items > cap)
        return err_set(e, ST_INVALID, "%s: expected at most %d values, found %d", name, cap, items);
    for (const char *p = t;; p++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < lo || v > hi || *p == '+' || *p == ' ')
            return err_set(e, ST_INVALID, "%s: expected a comma-separated list of integers in "
                           "[%ld, %ld], found '%s'", name, lo, hi, t);
        for (int i = 0; i < k; i++)
            if (out[i] == v)
                return err_set(e, ST_INVALID, "%s: expected distinct values, found %ld twice",
                               name, v);
        out[k++] = (int)v;
        if (!*end) break;
        p = end;
    }
    *n = k;
    return ST_OK;
}

Status cli_choice(const CliSpec *s, const CliArgs *a, const char *name, const char *choices,
                  const char **v, Err *e) {
    const char *t = cli_get(s, a, name);
    if (!t) return ST_OK;
    size_t n = strlen(t);
    for (const char *c = choices; *c;) {
        size_t k = strcspn(c, "|");
        if (k == n && !strncmp(c, t, n)) {
            *v = t;
            return ST_OK;
        }
        c += k + (c[k] == '|');
    }
    return err_set(e, ST_INVALID, "%s: expected one of %s, found '%s'", name, choices, t);
}

Status cli_exclusive(const CliSpec *s, const CliArgs *a, const char *an, const char *bn, Err *e) {
    if (cli_get(s, a, an) && cli_get(s, a, bn))
        return err_set(e, ST_INVALID, "%s: expected either %s or %s, found both", bn, an, bn);
    return ST_OK;
}

Status cli_push_override(CliArgs *a, const char *key, const char *value, Err *e) {
    size_t kl = strlen(key);
    for (int i = 0; i < a->n_over; i++)
        if (!strncmp(a->over[i], key, kl) && a->over[i][kl] == '=')
            return err_set(e, ST_INVALID, "command line '%s': %s: expected it once, found it "
                           "also set by a flag (%s=%s)", a->over[i], key, key, value);
    if (a->n_pushed >= 4 || a->n_over >= CLI_MAX_OVER)
        return err_set(e, ST_INVALID, "%s: expected room for one more override, found none", key);
    char *b = a->pushed[a->n_pushed++];
    int n = snprintf(b, sizeof a->pushed[0], "%s=%s", key, value);
    if (n < 0 || (size_t)n >= sizeof a->pushed[0])
        return err_set(e, ST_INVALID, "%s: expected a value of at most %d bytes, found %zu", key,
                       CONFIG_STR_MAX - 1, strlen(value));
    a->over[a->n_over++] = b;
    return ST_OK;
}

Status cli_forbid_key(const CliArgs *a, const char *key, const char *use, Err *e) {
    size_t kl = strlen(key);
    for (int i = 0; i < a->n_over; i++)
        if (!strncmp(a->over[i], key, kl) && a->over[i][kl] == '=')
            return err_set(e, ST_INVALID, "command line '%s': %s: expected %s instead, found the "
                           "config key", a->over[i], key, use);
    return ST_OK;
}

Status cli_push_common(CliArgs *a, const char *seed_key, const char *out_key, Err *e) {
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    if (seed_key && a->has_seed && cli_push_override(a, seed_key, seed, e)) return e->status;
    if (out_key && a->out && cli_push_override(a, out_key, a->out, e)) return e->status;
    return ST_OK;
}

FILE *cli_info(const CliArgs *a) { return a->verbosity == CLI_QUIET ? quiet_sink() : stdout; }

void cli_blas(char *buf, size_t cap) {
    int par = openblas_get_parallel();
    const char *how = par == 2 ? "OpenMP" : par == 1 ? "pthreads" : "sequential";
    const char *cfg = openblas_get_config();
    snprintf(buf, cap, "%s; %s, %d threads", cfg ? cfg : "OpenBLAS", how,
             openblas_get_num_threads());
}
