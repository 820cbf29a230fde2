/* cli.h: one command-line convention for every drrl program.
 *
 * Every program takes
 *   --help, -h        usage, flags, and where the config keys are listed
 *   --version         version, git revision, BLAS library and its threading
 * and, as its CliSpec says (the `common` bits),
 *   --config F        a YAML config (CLI_CONFIG)
 *   KEY=VALUE         config overrides, checked against the program's schemas with "did you
 *                     mean" for a near miss (CLI_OVERRIDES)
 *   --print-config    print the resolved config and exit (CLI_PRINT_CONFIG)
 *   --seed N          the seed of the program's random streams (CLI_SEED)
 *   --out DIR         the folder the program writes into (CLI_OUT)
 *   --quiet, --verbose  progress lines and errors only / also the resolved config (always)
 * plus its own flags (CliOpt). Any flag is written `--flag VALUE` or `--flag=VALUE`; a flag
 * given twice is an error, as is an unknown flag (with "did you mean"), a flag missing its
 * value, or a switch given a value. Every error reads
 *   WHERE: expected X, found Y
 * (cmd/ prefixes "PROGRAM: error: "). cli_parse never prints except for --help and --version,
 * which it writes to the given stream, setting args->done (the program then exits 0). */
#ifndef DRRL_CORE_CLI_H
#define DRRL_CORE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"

enum {
    CLI_CONFIG = 1u << 0,       /* --config F */
    CLI_OVERRIDES = 1u << 1,    /* KEY=VALUE */
    CLI_PRINT_CONFIG = 1u << 2, /* --print-config */
    CLI_SEED = 1u << 3,         /* --seed N */
    CLI_OUT = 1u << 4,          /* --out DIR */
};

#define CLI_MAX_OPTS 48  /* program flags in one spec */
#define CLI_MAX_OVER 128 /* KEY=VALUE arguments (plus the ones cli_push_override adds) */

typedef struct {
    const char *name; /* long form with dashes: "--reps" */
    const char *arg;  /* the value's name in --help ("R", "LIST"); NULL: a switch, no value */
    const char *help; /* one line (continuation lines may follow after '\n') */
} CliOpt;

typedef struct {
    const char *prog;     /* "drrl-eval" */
    const char *synopsis; /* usage lines, without the leading "usage: " */
    const char *about;    /* what the program does, reads and writes */
    const CliOpt *opts;   /* the program's own flags */
    int n_opts;
    unsigned common;      /* CLI_* bits */
    const char *seed_help; /* what --seed seeds (CLI_SEED) */
    const char *out_help;  /* what --out DIR receives (CLI_OUT) */
    const char *config_help;  /* what --config F is (NULL: a YAML config, default the embedded
                                 defaults) */
    const char *verbose_help; /* what --verbose adds (NULL: the resolved config at start) */
    const ConfigSchema *const *schemas; /* KEY=VALUE must name a key of one of them */
    const char *const *schema_prefixes; /* per schema: '|'-separated key prefixes a KEY may
                                           have ("data.|eval."); NULL (or a NULL entry): all */
    int n_schemas;
} CliSpec;

typedef enum { CLI_QUIET = 0, CLI_NORMAL = 1, CLI_VERBOSE = 2 } CliVerbosity;

typedef struct {
    const char *val[CLI_MAX_OPTS]; /* per spec->opts[i]: its value ("" for a switch), or NULL */
    const char *config;            /* --config, or NULL */
    const char *out;               /* --out, or NULL */
    int has_seed;
    uint64_t seed;                 /* --seed, when has_seed */
    int print_config;
    CliVerbosity verbosity;
    const char *over[CLI_MAX_OVER]; /* KEY=VALUE arguments in command-line order */
    int n_over;
    char pushed[4][CONFIG_STR_MAX + 64]; /* storage of cli_push_override's assignments */
    int n_pushed;
    int done; /* --help or --version was printed: nothing else to do */
} CliArgs;

/* cli_parse: parse argv[1..argc) by spec into a; help/version go to f. */
Status cli_parse(const CliSpec *spec, int argc, char **argv, FILE *f, CliArgs *a, Err *e);

/* cli_get: the value of a program flag ("" for a given switch), or NULL when absent. */
const char *cli_get(const CliSpec *spec, const CliArgs *a, const char *name);

/* cli_int, cli_double: the flag's value as a number in [lo, hi] (cli_double: finite; hi may
   be HUGE_VAL for "at least lo"); *v unchanged when absent. */
Status cli_int(const CliSpec *spec, const CliArgs *a, const char *name, long lo, long hi,
               long *v, Err *e);
Status cli_double(const CliSpec *spec, const CliArgs *a, const char *name, double lo,
                  double hi, double *v, Err *e);

/* cli_int_list: the flag's value as a comma-separated list ("4,8,16") of at most cap distinct
   integers in [lo, hi] into out[0..*n); out and *n unchanged when absent. */
Status cli_int_list(const CliSpec *spec, const CliArgs *a, const char *name, long lo, long hi,
                    int *out, int cap, int *n, Err *e);

/* cli_choice: the flag's value, which must be one of the '|'-separated choices; *v
   unchanged when absent. */
Status cli_choice(const CliSpec *spec, const CliArgs *a, const char *name, const char *choices,
                  const char **v, Err *e);

/* cli_exclusive: an error when both flags a_name and b_name were given. */
Status cli_exclusive(const CliSpec *spec, const CliArgs *a, const char *a_name,
                     const char *b_name, Err *e);

/* cli_push_override: append "key=value" to a->over (e.g. --out DIR as run.dir=DIR, --seed N
   as seed=N), after the command line's own, so that an explicit KEY=VALUE for the same key
   given on the command line is an error instead of silently losing. */
Status cli_push_override(CliArgs *a, const char *key, const char *value, Err *e);

/* cli_forbid_key: an error (naming the flag to use) when KEY=VALUE sets key: for a config key
   that the program's own flag replaces (drrl-eval's --seed seeds its draws, not the run's). */
Status cli_forbid_key(const CliArgs *a, const char *key, const char *use, Err *e);

/* cli_push_common: --seed N as seed_key=N and --out DIR as out_key=DIR (either key NULL:
   not pushed), through cli_push_override. */
Status cli_push_common(CliArgs *a, const char *seed_key, const char *out_key, Err *e);

/* cli_info: the stream for informational output: stdout, or a sink with --quiet (cli_parse
   also points the libraries' informational lines there: core/log.h). */
FILE *cli_info(const CliArgs *a);

/* cli_git_rev: the git revision built from (`git describe --always --dirty --exclude=*`: the commit hash, "unknown"
   outside a checkout); cli_version_number: the project's version (meson.build). */
const char *cli_git_rev(void);
const char *cli_version_number(void);

/* cli_version: the --version text (program, version, git revision, BLAS and threads). */
void cli_version(FILE *f, const char *prog);

/* cli_blas: the BLAS line of cli_version into buf (cap bytes, truncated): OpenBLAS's build
   configuration, its threading ("OpenMP", "pthreads" or "sequential") and its thread count. */
void cli_blas(char *buf, size_t cap);

#endif
