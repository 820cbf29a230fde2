/* test_cli.c: the command-line convention (core/cli.h) and "did you mean" (core/suggest.h):
 * every common flag, --flag=value, repeated flags, unknown flags and keys with suggestions,
 * values of the wrong kind, switches given values, KEY=VALUE against a schema, overrides
 * pushed by flags, --help and --version output. Edit distances against hand-counted cases. */
#include <stddef.h>
#include <string.h>

#include "core/cli.h"
#include "core/log.h"
#include "core/suggest.h"
#include "tests/check.h"

typedef struct { int n_layers; double lr; int seed; char dir[CONFIG_STR_MAX]; } Demo;
static const ConfigField DEMO_FIELDS[] = {
    {"model.n_layers", CF_INT, offsetof(Demo, n_layers), 0, "4", 1, 64, NULL, "layers"},
    {"train.lr", CF_FLOAT, offsetof(Demo, lr), 0, "0.1", 0, 1, NULL, "learning rate"},
    {"seed", CF_INT, offsetof(Demo, seed), 0, "1", 0, 1000, NULL, "seed"},
    {"run.dir", CF_STRING, offsetof(Demo, dir), 0, "runs/x", 1, 0, NULL, "run directory"},
};
static const ConfigSchema DEMO = {"demo config", DEMO_FIELDS, 4, NULL};
static const ConfigSchema *const SCHEMAS[] = {&DEMO};
static const CliOpt OPTS[] = {
    {"--reps", "R", "timed rounds"},
    {"--split", "S", "dev|test"},
    {"--predictions", NULL, "write predictions"},
    {"--scale", "X", "a number"},
    {"--ranks", "LIST", "a list"},
};
static const CliSpec SPEC = {
    .prog = "drrl-demo", .synopsis = "drrl-demo [flags] [KEY=VALUE ...]",
    .about = "A demo.", .opts = OPTS, .n_opts = 5,
    .common = CLI_CONFIG | CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED | CLI_OUT,
    .seed_help = "seed of the demo", .out_help = "demo folder",
    .schemas = SCHEMAS, .n_schemas = 1,
};

/* parse: run cli_parse on a NULL-terminated list; help/version text into out */
static Status parse(CliArgs *a, Err *e, char *out, size_t cap, const char **args) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"drrl-demo";
    for (; *args; args++) argv[argc++] = (char *)*args;
    FILE *f = fmemopen(out, cap, "w");
    err_clear(e);
    Status s = cli_parse(&SPEC, argc, argv, f, a, e);
    fclose(f);
    return s;
}

#define PARSE(...) parse(&a, &e, text, sizeof text, (const char *[]){__VA_ARGS__, NULL})

static void test_distance(void) {
    CHECK(suggest_distance("kitten", "sitting") == 3, "kitten/sitting");
    CHECK(suggest_distance("", "abc") == 3, "empty");
    CHECK(suggest_distance("--reps", "--rep") == 1, "deletion");
    CHECK(suggest_distance("flaw", "lawn") == 2, "flaw/lawn");
    const char *c[] = {"--reps", "--split", "--seed"};
    CHECK(suggest_nearest("--rpes", c, 3) == 0, "transposition is 2 edits, near for 6 letters");
    CHECK(suggest_nearest("--xyzzy", c, 3) == -1, "nothing near");
}

static void test_flags(void) {
    CliArgs a;
    Err e;
    char text[4096];
    CHECK(PARSE("--reps", "3", "--split=test", "--predictions", "--config", "c.yaml", "--out=o",
                "--seed", "7", "--quiet", "--print-config", "model.n_layers=2") == ST_OK,
          "%s", e.msg);
    CHECK(!strcmp(cli_get(&SPEC, &a, "--reps"), "3"), "--reps value");
    CHECK(!strcmp(cli_get(&SPEC, &a, "--split"), "test"), "--split=test");
    CHECK(!strcmp(cli_get(&SPEC, &a, "--predictions"), ""), "a switch reads as empty");
    CHECK(cli_get(&SPEC, &a, "--scale") == NULL, "absent");
    CHECK(!strcmp(a.config, "c.yaml") && !strcmp(a.out, "o"), "config %s out %s", a.config, a.out);
    CHECK(a.has_seed && a.seed == 7, "seed");
    CHECK(a.verbosity == CLI_QUIET && a.print_config, "quiet, print-config");
    CHECK(a.n_over == 1 && !strcmp(a.over[0], "model.n_layers=2"), "override");
    CHECK(cli_info(&a) != stdout, "--quiet: info goes to a sink");
    CHECK(log_info() == cli_info(&a), "--quiet: the libraries' info lines go to the same sink");
    long reps = 1;
    CHECK(cli_int(&SPEC, &a, "--reps", 1, 100, &reps, &e) == ST_OK && reps == 3, "cli_int");
    const char *split = "dev";
    CHECK(cli_choice(&SPEC, &a, "--split", "dev|test", &split, &e) == ST_OK &&
          !strcmp(split, "test"), "cli_choice");
    CHECK(cli_choice(&SPEC, &a, "--split", "dev|train", &split, &e) == ST_INVALID &&
          strstr(e.msg, "--split: expected one of dev|train, found 'test'"), "%s", e.msg);
    CHECK(PARSE("--verbose") == ST_OK && a.verbosity == CLI_VERBOSE && cli_info(&a) == stdout,
          "verbose");
    CHECK(log_info() == stdout, "without --quiet the libraries' info lines go to stdout");
    CHECK(PARSE("--scale", "-0.5") == ST_OK, "a negative number is a value: %s", e.msg);
    double x = 0;
    CHECK(cli_double(&SPEC, &a, "--scale", -1, 1, &x, &e) == ST_OK && x == -0.5, "cli_double");
    CHECK(cli_double(&SPEC, &a, "--scale", 0, 1, &x, &e) == ST_INVALID &&
          strstr(e.msg, "--scale: expected a number in [0, 1], found '-0.5'"), "%s", e.msg);
}

static void test_errors(void) {
    CliArgs a;
    Err e;
    char text[4096];
    CHECK(PARSE("--reps", "3", "--reps=4") == ST_INVALID &&
          strstr(e.msg, "--reps: expected once, found it again ('4' after '3')"), "%s", e.msg);
    CHECK(PARSE("--config", "a", "--config=b") == ST_INVALID &&
          strstr(e.msg, "--config: expected once"), "a second --config: %s", e.msg);
    CHECK(PARSE("--quiet", "--quiet") == ST_INVALID, "a repeated switch");
    CHECK(PARSE("--quiet", "--verbose") == ST_INVALID && strstr(e.msg, "found both"), "%s", e.msg);
    CHECK(PARSE("--rep", "3") == ST_INVALID &&
          strstr(e.msg, "--rep: expected a flag of drrl-demo, found an unknown flag; did you mean "
                 "--reps?"), "%s", e.msg);
    CHECK(PARSE("--verbos") == ST_INVALID && strstr(e.msg, "did you mean --verbose?"), "%s", e.msg);
    CHECK(PARSE("--frobnicate") == ST_INVALID && !strstr(e.msg, "did you mean"), "%s", e.msg);
    CHECK(PARSE("--reps") == ST_INVALID &&
          strstr(e.msg, "--reps: expected a value, found the end of the arguments"), "%s", e.msg);
    CHECK(PARSE("--reps", "--split", "dev") == ST_INVALID &&
          strstr(e.msg, "--reps: expected a value, found the flag '--split'"), "%s", e.msg);
    CHECK(PARSE("--predictions=yes") == ST_INVALID &&
          strstr(e.msg, "--predictions: expected no value (a switch), found 'yes'"), "%s", e.msg);
    CHECK(PARSE("--seed", "x1") == ST_INVALID &&
          strstr(e.msg, "--seed: expected an integer in [0, 2147483647], found 'x1'"), "%s", e.msg);
    const char *bad_seeds[] = {" -1", "-1", "+3", " 3", "2147483648", "99999999999999999999"};
    for (int i = 0; i < 6; i++)
        CHECK(PARSE("--seed", bad_seeds[i]) == ST_INVALID && strstr(e.msg, "--seed: expected an "
              "integer in [0, 2147483647]"), "'%s': %s", bad_seeds[i], e.msg);
    CHECK(PARSE("--seed", "2147483647") == ST_OK && a.seed == 2147483647u, "largest seed");
    CHECK(PARSE("--out=") == ST_INVALID && strstr(e.msg, "--out: expected a value, found ''"),
          "%s", e.msg);
    CHECK(PARSE("--reps", "") == ST_INVALID && strstr(e.msg, "--reps: expected a value, found ''"),
          "%s", e.msg);
    CHECK(PARSE("--predictions", "--predictions") == ST_INVALID &&
          strstr(e.msg, "--predictions: expected once, found it again") && !strstr(e.msg, "''"),
          "%s", e.msg);
    CHECK(PARSE("stray") == ST_INVALID && strstr(e.msg, "'stray': expected a flag (--name) or "
          "KEY=VALUE, found a bare word"), "%s", e.msg);
    CHECK(PARSE("model.layers=2") == ST_CONFIG &&
          strstr(e.msg, "model.layers: expected a config key, found an unknown key; did you mean "
                 "model.n_layers?"), "%s", e.msg);
    CHECK(PARSE("lr=0.2") == ST_CONFIG && strstr(e.msg, "did you mean train.lr?"), "%s", e.msg);
    CHECK(PARSE("bogus.key=1") == ST_CONFIG && !strstr(e.msg, "did you mean"), "%s", e.msg);
    CHECK(PARSE("--reps", "x") == ST_OK, "parse keeps the text");
    long reps = 1;
    CHECK(cli_int(&SPEC, &a, "--reps", 1, 100, &reps, &e) == ST_INVALID && reps == 1 &&
          strstr(e.msg, "--reps: expected an integer in [1, 100], found 'x'"), "%s", e.msg);
}

static void test_lists(void) {
    CliArgs a;
    Err e;
    char text[4096];
    int v[4] = {9, 9, 9, 9}, n = -1;
    CHECK(PARSE("--scale", "0.5") == ST_OK, "%s", e.msg);
    CHECK(cli_int_list(&SPEC, &a, "--ranks", 1, 64, v, 4, &n, &e) == ST_OK && n == -1 && v[0] == 9,
          "absent: unchanged");
    CHECK(PARSE("--ranks=4,8,16") == ST_OK, "%s", e.msg);
    CHECK(cli_int_list(&SPEC, &a, "--ranks", 1, 64, v, 4, &n, &e) == ST_OK && n == 3 &&
          v[0] == 4 && v[1] == 8 && v[2] == 16, "4,8,16: n %d", n);
    const char *bad[][2] = {
        {"4,8,4", "--ranks: expected distinct values, found 4 twice"},
        {"4,128", "--ranks: expected a comma-separated list of integers in [1, 64], found '4,128'"},
        {"4,,8", "found '4,,8'"}, {"4,8,", "found '4,8,'"}, {"+4", "found '+4'"},
        {"1,2,3,4,5", "--ranks: expected at most 4 values, found 5"},
    };
    for (int i = 0; i < 6; i++) {
        CHECK(PARSE("--ranks", bad[i][0]) == ST_OK, "%s", e.msg);
        CHECK(cli_int_list(&SPEC, &a, "--ranks", 1, 64, v, 4, &n, &e) == ST_INVALID &&
              strstr(e.msg, bad[i][1]), "'%s': %s", bad[i][0], e.msg);
    }
    double x = 0;
    CHECK(PARSE("--scale", "inf") == ST_OK &&
          cli_double(&SPEC, &a, "--scale", 0, HUGE_VAL, &x, &e) == ST_INVALID &&
          strstr(e.msg, "--scale: expected a finite number >= 0, found 'inf'"), "%s", e.msg);
}

/* a schema restricted to some prefixes: the other keys are unknown, suggestions stay inside */
static void test_prefixes(void) {
    static const char *const pre[] = {"train.|seed"};
    CliSpec sp = SPEC;
    sp.schema_prefixes = pre;
    char *argv[3] = {(char *)"drrl-demo", NULL, NULL};
    CliArgs a;
    Err e;
    char text[256];
    FILE *f = fmemopen(text, sizeof text, "w");
    argv[1] = (char *)"train.lr=0.1";
    CHECK(cli_parse(&sp, 2, argv, f, &a, &e) == ST_OK, "train.lr within the prefixes: %s", e.msg);
    argv[1] = (char *)"model.n_layers=2";
    CHECK(cli_parse(&sp, 2, argv, f, &a, &e) == ST_CONFIG &&
          strstr(e.msg, "model.n_layers: expected a config key, found an unknown key"),
          "outside the prefixes: %s", e.msg);
    argv[1] = (char *)"train.l=0.1";
    CHECK(cli_parse(&sp, 2, argv, f, &a, &e) == ST_CONFIG && strstr(e.msg, "did you mean train.lr?"),
          "%s", e.msg);
    fclose(f);
}

static void test_push(void) {
    CliArgs a;
    Err e;
    char text[4096];
    CHECK(PARSE("--out", "d", "train.lr=0.2") == ST_OK, "%s", e.msg);
    CHECK(cli_push_override(&a, "run.dir", a.out, &e) == ST_OK && a.n_over == 2 &&
          !strcmp(a.over[1], "run.dir=d"), "pushed");
    CHECK(PARSE("--out", "d", "run.dir=e") == ST_OK, "%s", e.msg);
    CHECK(cli_push_override(&a, "run.dir", a.out, &e) == ST_INVALID &&
          strstr(e.msg, "run.dir: expected it once, found it also set by a flag"), "%s", e.msg);
}

static void test_forbid(void) {
    CliArgs a;
    Err e;
    char text[256];
    CHECK(PARSE("seed=3") == ST_OK && cli_forbid_key(&a, "seed", "--seed N", &e) == ST_INVALID &&
          strstr(e.msg, "command line 'seed=3': seed: expected --seed N instead"), "%s", e.msg);
    CHECK(PARSE("train.lr=0.1") == ST_OK && cli_forbid_key(&a, "seed", "--seed N", &e) == ST_OK,
          "another key");
}

static void test_help_version(void) {
    CliArgs a;
    Err e;
    char text[4096];
    memset(text, 0, sizeof text);
    CHECK(PARSE("--help") == ST_OK && a.done, "help");
    CHECK(strstr(text, "usage: drrl-demo [flags]") && strstr(text, "--reps R") &&
          strstr(text, "--seed N") && strstr(text, "seed of the demo") &&
          strstr(text, "drrl-demo --print-config`") && strstr(text, "--version"),
          "help text: %s", text);
    memset(text, 0, sizeof text);
    CHECK(PARSE("-h") == ST_OK && a.done && strstr(text, "usage:"), "-h");
    memset(text, 0, sizeof text);
    CHECK(PARSE("--version") == ST_OK && a.done, "version");
    char want[128];
    snprintf(want, sizeof want, "drrl-demo %s (git %s)\nBLAS: ", cli_version_number(),
             cli_git_rev());
    CHECK(!strncmp(text, want, strlen(want)), "version text: %s", text);
    CHECK(strstr(text, "OpenBLAS") && strstr(text, "threads"), "BLAS line: %s", text);
    /* the revision against git itself, when the source root is a checkout (it is in CI): the
       hash (before "-dirty") must name a commit of the repository */
    const char *root = getenv("DRRL_SOURCE_ROOT"), *rev = cli_git_rev();
    char cmd[1024];
    size_t hl = strspn(rev, "0123456789abcdef");
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --git-dir > /dev/null 2>&1", root ? root : ".");
    if (system(cmd) == 0) {
        CHECK(hl >= 12 && (rev[hl] == 0 || !strcmp(rev + hl, "-dirty")), "rev %s", rev);
        snprintf(cmd, sizeof cmd, "git -C '%s' cat-file -e '%.*s^{commit}' 2>/dev/null",
                 root ? root : ".", (int)hl, rev);
        CHECK(hl >= 12 && system(cmd) == 0, "rev %s is not a commit of %s", rev, root);
    } else {
        CHECK(!strcmp(rev, "unknown") || hl >= 12, "rev %s", rev);
    }
}

/* the YAML loader's unknown-key error carries the same suggestion (core/config.c) */
static void test_config_suggest(void) {
    Demo d;
    Err e;
    err_clear(&e);
    CHECK(config_load_text(&DEMO, &d, "model:\n  layers: 3\n", "x.yaml", NULL, 0, &e) ==
          ST_CONFIG && strstr(e.msg, "x.yaml:2:3: model.layers:") &&
          strstr(e.msg, "found unknown key 'layers'; did you mean model.n_layers?"), "%s", e.msg);
    CHECK(config_load_text(&DEMO, &d, "train:\n  lr: 0.2\n", "x.yaml", NULL, 0, &e) == ST_OK,
          "%s", e.msg);
    CHECK(config_load_text(&DEMO, &d, "sed: 3\n", "x.yaml", NULL, 0, &e) == ST_CONFIG &&
          strstr(e.msg, "did you mean seed?"), "%s", e.msg);
    CHECK(config_load_text(&DEMO, &d, "zzzzzz: 3\n", "x.yaml", NULL, 0, &e) == ST_CONFIG &&
          !strstr(e.msg, "did you mean"), "%s", e.msg);
}

int main(void) {
    test_config_suggest();
    test_distance();
    test_flags();
    test_errors();
    test_lists();
    test_prefixes();
    test_forbid();
    test_push();
    test_help_version();
    return check_exit("test_cli");
}
