/* convert.c: drrl-convert, converting other tools' checkpoints into drrl model files:
 *   drrl-convert ARCH --config config.json --weights model.safetensors --out model.h5
 *                [--n-classes K] [--seed N] [--quiet]
 * ARCH picks the architecture from model/convert.h's table (bert); this file only parses
 * the command line (the subcommand, then the common flags through core/cli.h, as
 * "drrl-convert ARCH") and reports; the work is the architecture's ConvertFn. Exit status:
 * 0 written, 2 a command-line error, 1 any other error (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/suggest.h"
#include "model/convert.h"

#define PROG "drrl-convert"

static const CliOpt OPTS[] = {
    {"--config", "FILE", "the checkpoint's Hugging Face config.json (required)"},
    {"--weights", "FILE", "the checkpoint's weights, a .safetensors file (required)"},
    {"--out", "FILE", "the drrl model file to write (HDF5, written atomically; required)"},
    {"--n-classes", "K", "classes of the classifier: required when the checkpoint has none\n"
                         "(it is then initialised), else must equal the checkpoint's"},
};
#define N_OPTS ((int)(sizeof OPTS / sizeof OPTS[0]))

static int fail(const Err *e, int code) {
    fprintf(stderr, PROG ": error: %s\n", e->msg);
    return code;
}

/* archs_list: "bert|gpt2" */
static void archs_list(char *buf, size_t cap) {
    int n;
    const ConvertArch *a = convert_archs(&n);
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "|" : "", a[i].name);
}

static void usage(FILE *f) {
    int n;
    const ConvertArch *a = convert_archs(&n);
    char list[256];
    archs_list(list, sizeof list);
    fprintf(f, "usage: " PROG " {%s} --config config.json --weights model.safetensors --out "
            "model.h5 [--n-classes K] [--seed N] [--quiet]\n"
            "Converts a Hugging Face checkpoint (config.json and .safetensors weights) into a\n"
            "drrl model file. Architectures:\n", list);
    for (int i = 0; i < n; i++) fprintf(f, "  %-8s %s\n", a[i].name, a[i].about);
    fprintf(f, "'" PROG " ARCH --help' lists the flags and the accepted layouts; --version "
            "prints the version.\n");
}

/* pick_arch: argv[1], the subcommand; NULL when the program is done (--help, --version:
   *code 0; an error, printed: *code 2) */
static const ConvertArch *pick_arch(int argc, char **argv, int *code) {
    char list[256];
    archs_list(list, sizeof list);
    *code = 0;
    const char *w = argc > 1 ? argv[1] : NULL;
    if (w && (!strcmp(w, "--help") || !strcmp(w, "-h"))) {
        usage(stdout);
        return NULL;
    }
    if (w && !strcmp(w, "--version")) {
        cli_version(stdout, PROG);
        return NULL;
    }
    const ConvertArch *a = w ? convert_arch_find(w) : NULL;
    if (a) return a;
    int n;
    const ConvertArch *all = convert_archs(&n);
    const char *names[16];
    for (int i = 0; i < n && i < 16; i++) names[i] = all[i].name;
    int best = w ? suggest_nearest(w, names, n < 16 ? n : 16) : -1;
    Err e;
    if (!w)
        err_set(&e, ST_INVALID, "expected an architecture (%s) first, found nothing (" PROG
                " --help lists them)", list);
    else if (best >= 0)
        err_set(&e, ST_INVALID, "'%s': expected an architecture (%s) first, found an unknown "
                "one; did you mean %s?", w, list, names[best]);
    else
        err_set(&e, ST_INVALID, "'%s': expected an architecture (%s) first, found %s", w, list,
                strncmp(w, "--", 2) ? "an unknown one" : "a flag");
    *code = fail(&e, 2);
    return NULL;
}

/* required: the value of a flag that must be given */
static const char *required(const CliSpec *s, const CliArgs *a, const char *flag,
                            const char *what, Err *e) {
    const char *v = cli_get(s, a, flag);
    if (!v) err_set(e, ST_INVALID, "%s: expected %s, found nothing (the flag is required)", flag,
                    what);
    return v;
}

int main(int argc, char **argv) {
    int code;
    const ConvertArch *arch = pick_arch(argc, argv, &code);
    if (!arch) return code;
    char prog[64], synopsis[256], about[2048];
    snprintf(prog, sizeof prog, PROG " %s", arch->name);
    snprintf(synopsis, sizeof synopsis, "%s --config config.json --weights model.safetensors "
             "--out model.h5 [--n-classes K] [--seed N] [--quiet]", prog);
    snprintf(about, sizeof about, "Converts %s.\nAccepted checkpoints:\n%s\nEvery other key, a "
             "missing tensor or a shape that config.json does not imply is an error naming it.",
             arch->about, arch->layouts);
    const CliSpec spec = {
        .prog = prog, .synopsis = synopsis, .about = about, .opts = OPTS, .n_opts = N_OPTS,
        .common = CLI_SEED,
        .seed_help = "seed of a freshly initialised classifier (default 1)",
        .verbose_help = "no extra output",
    };
    CliArgs a;
    Err e;
    err_clear(&e);
    if (cli_parse(&spec, argc - 1, argv + 1, stdout, &a, &e)) return fail(&e, 2);
    if (a.done) return 0;
    ConvertOpts o = {.seed = a.has_seed ? a.seed : 1, .note = stderr};
    long k = 0;
    if (!(o.config = required(&spec, &a, "--config", "a config.json", &e)) ||
        !(o.weights = required(&spec, &a, "--weights", "a .safetensors file", &e)) ||
        !(o.out = required(&spec, &a, "--out", "the model file to write", &e)) ||
        cli_int(&spec, &a, "--n-classes", 1, CONVERT_MAX_CLASSES, &k, &e))
        return fail(&e, 2);
    o.n_classes = (int)k;
    ConvertResult r;
    if (arch->run(&o, &r, &e)) return fail(&e, 1);
    printf(PROG ": wrote %s: %s; %zu parameters%s\n", o.out, r.summary, r.n_params,
           r.initialised ? " (the classifier initialised, not converted)" : "");
    return 0;
}
