/* test_config.c: tests of core/config.c: YAML loading into a schema-driven struct,
 * defaults, overrides, the required-key check, the validate hook, exact error messages
 * (file:line:column, key path, expected/found), the config_to_yaml round trip, and the
 * top-level include (base and override, chains, cycles, depth, missing files).
 * Fixture files are written to a fresh mkdtemp directory under /tmp and removed after. */
#include "core/config.h"
#include "tests/check.h"

#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config touching every field type, sections two deep, a required key, a hook. */
typedef struct {
    int n_layers;
    double dropout;
    IntList ranks;
    char kind[CONFIG_STR_MAX];
    int causal;
    FloatList scales;
    int steps;
    char opt[CONFIG_STR_MAX];
    double lr;
    int warmup;
    char name[CONFIG_STR_MAX];
    char note[CONFIG_STR_MAX];
    int seed;
} TestCfg;

#define NO_RANGE 1, 0
static const ConfigField test_fields[] = {
    { "model.n_layers", CF_INT, offsetof(TestCfg, n_layers), 0, "4", 1, 64, NULL, "layers" },
    { "model.dropout", CF_FLOAT, offsetof(TestCfg, dropout), 0, "0.1", 0, 1, NULL, "dropout" },
    { "model.ranks", CF_INT_LIST, offsetof(TestCfg, ranks), 0, "[8, 16]", 1, 64, NULL,
      "candidate ranks" },
    { "model.attn.kind", CF_ENUM, offsetof(TestCfg, kind), 0, "softmax", NO_RANGE,
      "softmax|linear", "attention kind" },
    { "model.attn.causal", CF_BOOL, offsetof(TestCfg, causal), 0, "true", NO_RANGE, NULL,
      "causal mask" },
    { "model.attn.scales", CF_FLOAT_LIST, offsetof(TestCfg, scales), 0, "[1.0]", 0, 10, NULL,
      "per-head scales" },
    { "train.steps", CF_INT, offsetof(TestCfg, steps), 1, NULL, 1, 1000000, NULL,
      "optimizer steps" },
    { "train.opt", CF_ENUM, offsetof(TestCfg, opt), 0, "adamw", NO_RANGE, "adamw|sgd",
      "optimizer" },
    { "train.lr", CF_FLOAT, offsetof(TestCfg, lr), 0, "0.001", 0, 1, NULL, "learning rate" },
    { "train.warmup", CF_INT, offsetof(TestCfg, warmup), 0, "0", 0, 1000000, NULL,
      "warmup steps (< train.steps)" },
    { "name", CF_STRING, offsetof(TestCfg, name), 0, "run", NO_RANGE, NULL, "run name" },
    { "note", CF_STRING, offsetof(TestCfg, note), 0, "", NO_RANGE, NULL, "free text" },
    { "seed", CF_INT, offsetof(TestCfg, seed), 0, "0", NO_RANGE, NULL, "RNG seed" },
};

/* validate: warmup must end before training does. */
static Status test_validate(const void *cfg, const char *src, Err *e) {
    const TestCfg *c = cfg;
    if (c->warmup >= c->steps)
        return err_set(e, ST_CONFIG, "%s: train.warmup: expected less than train.steps (%d), "
                       "found %d", src, c->steps, c->warmup);
    return ST_OK;
}

static const ConfigSchema test_schema = {
    "test config", test_fields, (int)(sizeof test_fields / sizeof test_fields[0]), test_validate
};

static char tmpdir[64];

/* write_fixture: dir/name holding text; the path goes to out. */
static void write_fixture(const char *name, const char *text, char *out, size_t n) {
    snprintf(out, n, "%s/%s", tmpdir, name);
    FILE *f = fopen(out, "w");
    CHECK(f != NULL, "cannot write %s", out);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* load_fixture: text written to t.yaml, loaded with overrides; path receives its name. */
static Status load_fixture(const char *text, const char *const *over, int n_over, TestCfg *cfg,
                           char *path, Err *e) {
    write_fixture("t.yaml", text, path, 512);
    memset(cfg, 0, sizeof *cfg);
    err_clear(e);
    return config_load(&test_schema, cfg, path, over, n_over, e);
}

/* expect_file_error: loading text fails with "PATH" + suffix, exactly. */
static void expect_file_error(const char *text, const char *override, const char *suffix,
                              int line) {
    TestCfg cfg;
    Err e;
    char path[512], want[ERR_MSG_MAX];
    const char *over[1] = { override };
    Status st = load_fixture(text, over, override ? 1 : 0, &cfg, path, &e);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    CHECK(st != ST_OK, "line %d: load should fail", line);
    CHECK(!strcmp(e.msg, want), "line %d:\n  got  '%s'\n  want '%s'", line, e.msg, want);
}

/* expect_override_error: a valid file plus one override fails with exactly want. */
static void expect_override_error(const char *override, const char *want, int line) {
    TestCfg cfg;
    Err e;
    char path[512];
    const char *over[1] = { override };
    Status st = load_fixture("train:\n  steps: 10\n", over, 1, &cfg, path, &e);
    CHECK(st != ST_OK, "line %d: load should fail", line);
    CHECK(!strcmp(e.msg, want), "line %d:\n  got  '%s'\n  want '%s'", line, e.msg, want);
}

static void test_defaults(void) {
    TestCfg c;
    Err e;
    memset(&c, 0x55, sizeof c);
    CHECK(config_defaults(&test_schema, &c, &e) == ST_OK, "%s", e.msg);
    CHECK(c.n_layers == 4 && c.causal == 1 && c.steps == 0 && c.warmup == 0 && c.seed == 0,
          "ints %d %d %d", c.n_layers, c.causal, c.steps);
    CHECK(c.dropout == 0.1 && c.lr == 0.001, "floats %g %g", c.dropout, c.lr);
    CHECK(c.ranks.n == 2 && c.ranks.v[0] == 8 && c.ranks.v[1] == 16 && c.ranks.v[2] == 0,
          "ranks n=%d", c.ranks.n);
    CHECK(c.scales.n == 1 && c.scales.v[0] == 1.0, "scales n=%d", c.scales.n);
    CHECK(!strcmp(c.kind, "softmax") && !strcmp(c.opt, "adamw"), "enums %s %s", c.kind, c.opt);
    CHECK(!strcmp(c.name, "run") && c.note[0] == '\0' && c.name[4] == '\0', "strings");
}

static void test_full_file(void) {
    TestCfg c;
    Err e;
    char path[512];
    const char *text =
        "# a comment\n"
        "model:\n"
        "  n_layers: 8\n"
        "  ranks:\n"
        "    - 4\n"
        "    - 32\n"
        "  attn:\n"
        "    kind: linear\n"
        "    scales: [0.5, 2, 1e-3]\n"
        "train:\n"
        "  steps: 100\n"
        "  lr: 0.01\n"
        "name: \"my run\"\n"
        "note: ''\n"
        "seed: -7\n";
    Status st = load_fixture(text, NULL, 0, &c, path, &e);
    CHECK(st == ST_OK, "load: %s", e.msg);
    CHECK(c.n_layers == 8 && c.steps == 100 && c.seed == -7 && c.causal == 1, "ints");
    CHECK(c.ranks.n == 2 && c.ranks.v[0] == 4 && c.ranks.v[1] == 32, "block list");
    CHECK(c.scales.n == 3 && c.scales.v[0] == 0.5 && c.scales.v[1] == 2.0 &&
          c.scales.v[2] == 1e-3, "flow list");
    CHECK(c.lr == 0.01 && c.dropout == 0.1, "floats: file value and default");
    CHECK(!strcmp(c.kind, "linear") && !strcmp(c.opt, "adamw"), "enums");
    CHECK(!strcmp(c.name, "my run") && c.note[0] == '\0', "strings '%s'", c.name);
}

static void test_overrides(void) {
    TestCfg c;
    Err e;
    char path[512];
    const char *over[] = { "train.lr=0.5", "model.ranks=[1, 2, 3]", "model.attn.causal=false",
                           "name=other", "train.steps=7" };
    Status st = load_fixture("train:\n  steps: 100\n  lr: 0.01\nname: x\n", over, 5, &c, path, &e);
    CHECK(st == ST_OK, "load: %s", e.msg);
    CHECK(c.lr == 0.5 && c.steps == 7, "override wins: lr %g steps %d", c.lr, c.steps);
    CHECK(c.ranks.n == 3 && c.ranks.v[2] == 3, "list override");
    CHECK(c.causal == 0 && !strcmp(c.name, "other"), "bool/string override");

    /* the required key may come from an override alone; no file at all */
    const char *steps[] = { "train.steps=3" };
    memset(&c, 0, sizeof c);
    CHECK(config_load(&test_schema, &c, NULL, steps, 1, &e) == ST_OK, "%s", e.msg);
    CHECK(c.steps == 3 && c.n_layers == 4, "no file");
    CHECK(config_override(&test_schema, &c, "seed=42", &e) == ST_OK && c.seed == 42, "%s", e.msg);
    CHECK(config_load(&test_schema, &c, NULL, NULL, 0, &e) == ST_MISSING, "no file, no steps");
    CHECK(!strcmp(e.msg, "command line: train.steps: expected a required key, found nothing"),
          "got '%s'", e.msg);
}

static void test_file_errors(void) {
    /* malformed YAML */
    expect_file_error("model:\n  n_layers: 3\n bad: 1\n", NULL,
                      ":3:2: expected valid YAML, found did not find expected key", __LINE__);
    expect_file_error("model:\n  ranks: [1, 2\n", NULL,
                      ":3:1: expected valid YAML, found did not find expected ',' or ']'",
                      __LINE__);
    expect_file_error("seed: 1\n---\nseed: 2\n", NULL,
                      ":2:1: expected a single document, found a second document", __LINE__);
    expect_file_error("seed: &x 1\nnote: *x\n", NULL,
                      ":2:7: expected no aliases, found alias '*x'", __LINE__);
    expect_file_error("? [a]\n: 1\n", NULL,
                      ":1:3: expected a scalar key, found a sequence", __LINE__);
    {   /* nesting deeper than the parser's limit is an error, not a stack overflow */
        char deep[256];
        memset(deep, '[', 100);
        snprintf(deep + 100, sizeof deep - 100, "\n");
        expect_file_error(deep, NULL, ":1:66: expected at most 64 levels of nesting, found more",
                          __LINE__);
    }
    expect_file_error("- 1\n", NULL, ":1:1: expected a mapping, found a sequence", __LINE__);
    /* unknown keys */
    expect_file_error("seed: 1\nzzz: 1\n", NULL,
                      ":2:1: zzz: expected a known key (one of: model, train, name, note, seed), "
                      "found unknown key 'zzz'", __LINE__);
    expect_file_error("model:\n  attn:\n    kindd: x\n", NULL,
                      ":3:5: model.attn.kindd: expected a known key (one of: kind, causal, "
                      "scales), found unknown key 'kindd'; did you mean model.attn.kind?",
                      __LINE__);
    /* wrong types */
    expect_file_error("model:\n  n_layers: abc\n", NULL,
                      ":2:13: model.n_layers: expected an integer, found 'abc'", __LINE__);
    expect_file_error("model:\n  n_layers: 2.5\n", NULL,
                      ":2:13: model.n_layers: expected an integer, found '2.5'", __LINE__);
    expect_file_error("model:\n  n_layers:\n", NULL,
                      ":2:12: model.n_layers: expected an integer, found nothing", __LINE__);
    expect_file_error("train:\n  lr: x\n", NULL,
                      ":2:7: train.lr: expected a number, found 'x'", __LINE__);
    expect_file_error("train:\n  lr: .inf\n", NULL,
                      ":2:7: train.lr: expected a number, found '.inf'", __LINE__);
    expect_file_error("model:\n  attn:\n    causal: yes\n", NULL,
                      ":3:13: model.attn.causal: expected true or false, found 'yes'", __LINE__);
    expect_file_error("name: [a]\n", NULL, ":1:7: name: expected a string, found a sequence",
                      __LINE__);
    expect_file_error("name: \"\"\n", NULL, ":1:7: name: expected a non-empty string, found ''",
                      __LINE__);
    expect_file_error("train:\n  opt: adam\n", NULL,
                      ":2:8: train.opt: expected one of adamw|sgd, found 'adam'", __LINE__);
    expect_file_error("model:\n  ranks: 8\n", NULL,
                      ":2:10: model.ranks: expected a sequence of integers, found a scalar",
                      __LINE__);
    expect_file_error("model:\n  ranks: []\n", NULL,
                      ":2:10: model.ranks: expected a sequence of 1 to 64 integers, found 0 "
                      "elements", __LINE__);
    expect_file_error("model:\n  ranks: [8, x]\n", NULL,
                      ":2:14: model.ranks[1]: expected an integer, found 'x'", __LINE__);
    expect_file_error("model:\n  attn:\n    scales:\n      - 1\n      - [2]\n", NULL,
                      ":5:9: model.attn.scales[1]: expected a number, found a sequence",
                      __LINE__);
    expect_file_error("model: 3\n", NULL, ":1:8: model: expected a mapping, found a scalar",
                      __LINE__);
    /* ranges */
    expect_file_error("model:\n  n_layers: 100\n", NULL,
                      ":2:13: model.n_layers: expected an integer in [1, 64], found 100", __LINE__);
    expect_file_error("seed: 99999999999\n", NULL,
                      ":1:7: seed: expected an integer in [-2147483648, 2147483647], found "
                      "99999999999", __LINE__);
    expect_file_error("model:\n  dropout: 1.5\n", NULL,
                      ":2:12: model.dropout: expected a number in [0, 1], found 1.5", __LINE__);
    expect_file_error("train:\n  lr: 1e999\n", NULL,
                      ":2:7: train.lr: expected a finite number, found 1e999", __LINE__);
    expect_file_error("model:\n  ranks: [8, 16, 128]\n", NULL,
                      ":2:18: model.ranks[2]: expected an integer in [1, 64], found 128",
                      __LINE__);
    expect_file_error("model:\n  attn:\n    scales: [1, 11]\n", NULL,
                      ":3:17: model.attn.scales[1]: expected a number in [0, 10], found 11",
                      __LINE__);
    /* required, duplicate, validate */
    expect_file_error("model:\n  n_layers: 3\n", NULL,
                      ":1:1: train.steps: expected a required key, found nothing", __LINE__);
    expect_file_error("model:\n  n_layers: 3\ntrain:\n  lr: 0.1\n", NULL,
                      ":4:3: train.steps: expected a required key, found nothing", __LINE__);
    expect_file_error("train:\n  steps: 5\n  lr: 0.1\n  lr: 0.2\n", NULL,
                      ":4:3: train.lr: expected a key given once, found a duplicate 'lr'",
                      __LINE__);
    expect_file_error("train:\n  steps: 10\n  warmup: 20\n", NULL,
                      ": train.warmup: expected less than train.steps (10), found 20", __LINE__);
    /* the override is applied after the file: it can fix or break the cross-field rule, and
       the message names it with the file */
    expect_file_error("train:\n  steps: 100\n  warmup: 20\n", "train.steps=20",
                      " with train.steps=20: train.warmup: expected less than train.steps (20), "
                      "found 20", __LINE__);
}

static void test_override_errors(void) {
    expect_override_error("model.zz=3", "command line 'model.zz=3': model.zz: expected a known "
                          "key (one of: n_layers, dropout, ranks, attn), found unknown key 'zz'",
                          __LINE__);
    expect_override_error("zz=3", "command line 'zz=3': zz: expected a known key (one of: model, "
                          "train, name, note, seed), found unknown key 'zz'", __LINE__);
    expect_override_error("train.lr.x=3", "command line 'train.lr.x=3': train.lr.x: expected a "
                          "known key (one of: steps, opt, lr, warmup), found unknown key 'lr.x'",
                          __LINE__);
    expect_override_error("model.attn=3", "command line 'model.attn=3': model.attn: expected a "
                          "key with a value (one of: kind, causal, scales), found a section",
                          __LINE__);
    expect_override_error("train.lr=abc", "command line 'train.lr=abc': train.lr: expected a "
                          "number, found 'abc'", __LINE__);
    expect_override_error("train.lr", "command line 'train.lr': expected key.path=value, found "
                          "no '='", __LINE__);
    expect_override_error("=1", "command line '=1': expected key.path=value, found no key",
                          __LINE__);
    expect_override_error("model.ranks=[1, 0]", "command line 'model.ranks=[1, 0]': "
                          "model.ranks[1]: expected an integer in [1, 64], found 0", __LINE__);
    expect_override_error("model.ranks=[1, 2", "command line 'model.ranks=[1, 2': model.ranks: "
                          "expected valid YAML, found did not find expected ',' or ']'", __LINE__);
    expect_override_error("train.opt=adam", "command line 'train.opt=adam': train.opt: expected "
                          "one of adamw|sgd, found 'adam'", __LINE__);
    expect_override_error("model.attn.causal=", "command line 'model.attn.causal=': "
                          "model.attn.causal: expected true or false, found nothing", __LINE__);
}

static void test_misc_errors(void) {
    TestCfg c;
    Err e;
    char path[512], want[ERR_MSG_MAX];
    snprintf(path, sizeof path, "%s/nope.yaml", tmpdir);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    CHECK(config_load(&test_schema, &c, path, NULL, 0, &e) == ST_IO, "missing file status");
    CHECK(!strcmp(e.msg, want), "got '%s'", e.msg);

    CHECK(config_load_text(&test_schema, &c, "seed: x\n", "<embedded>", NULL, 0, &e) == ST_CONFIG,
          "text status");
    CHECK(!strcmp(e.msg, "<embedded>:1:7: seed: expected an integer, found 'x'"), "got '%s'",
          e.msg);

    /* a schema whose default is out of its own range is reported as such */
    static const ConfigField bad_fields[] = {
        { "x", CF_INT, 0, 0, "100", 1, 64, NULL, "x" },
    };
    static const ConfigSchema bad = { "bad", bad_fields, 1, NULL };
    int x;
    CHECK(config_defaults(&bad, &x, &e) == ST_CONFIG, "bad default status");
    CHECK(!strcmp(e.msg, "schema 'bad' default 'x=100': x: expected an integer in [1, 64], "
                  "found 100"), "got '%s'", e.msg);
}

static void test_round_trip(void) {
    TestCfg a, b;
    Err e;
    char path[512];
    const char *over[] = { "model.dropout=0.3333333333333333", "train.lr=1e-300",
                           "name='he said \"hi\" \\ ok'",
                           "note=\"tab\\there\\N\\x80\\u2028\\uFEFF\"", /* NEL, C1, LS, BOM */
                           "model.attn.scales=[0.1, 0.2, 9.999999999999998]", "seed=-2147483648" };
    CHECK(load_fixture("train:\n  steps: 9\n  opt: sgd\n", over, 6, &a, path, &e) == ST_OK,
          "%s", e.msg);
    CHECK(a.dropout == 1.0 / 3.0 && !strcmp(a.name, "he said \"hi\" \\ ok") &&
          !strcmp(a.note, "tab\there\xc2\x85\xc2\x80\xe2\x80\xa8\xef\xbb\xbf"),
          "override values");
    char *text = NULL;
    CHECK(config_to_yaml(&test_schema, &a, &text, &e) == ST_OK, "%s", e.msg);
    if (!text) return;
    memset(&b, 0, sizeof b);
    CHECK(config_load_text(&test_schema, &b, text, "<round trip>", NULL, 0, &e) == ST_OK,
          "%s\n%s", e.msg, text);
    CHECK(!memcmp(&a, &b, sizeof a), "round trip differs:\n%s", text);
    CHECK(strstr(text, "model:\n  # layers\n  n_layers: 4\n") != NULL, "layout:\n%s", text);
    CHECK(strstr(text, "  attn:\n    # attention kind\n    kind: \"softmax\"\n") != NULL,
          "nesting:\n%s", text);
    CHECK(strstr(text, "  lr: 1e-300\n") && strstr(text, "  dropout: 0.3333333333333333\n") &&
          strstr(text, "  ranks: [8, 16]\n"), "shortest floats:\n%s", text);
    CHECK(strstr(text, "name: \"he said \\\"hi\\\" \\\\ ok\"\n") != NULL, "quoting:\n%s", text);
    free(text);

    /* config_print writes the same text */
    FILE *f = tmpfile();
    CHECK(f && config_print(&test_schema, &a, f, &e) == ST_OK, "print: %s", e.msg);
    if (f) fclose(f);
}

/* expect_include_error: loading tmpdir/file fails with status st and exactly the message
   want, in which every "@" stands for tmpdir (case: the case number in failure messages). */
static void expect_include_error(const char *file, Status st, const char *want, int casen) {
    TestCfg c;
    Err e;
    char path[512], full[ERR_MSG_MAX];
    size_t n = 0, dl = strlen(tmpdir);
    for (const char *w = want; *w && n + dl + 1 < sizeof full; w++)
        if (*w == '@') memcpy(full + n, tmpdir, dl), n += dl;
        else full[n++] = *w;
    full[n] = '\0';
    snprintf(path, sizeof path, "%s/%s", tmpdir, file);
    CHECK(config_load(&test_schema, &c, path, NULL, 0, &e) == st, "case %d: status %s", casen,
          status_name(e.status));
    CHECK(!strcmp(e.msg, full), "case %d:\n  got  '%s'\n  want '%s'", casen, e.msg, full);
}

/* include: the included file is the base, the including file overrides key by key (a list
   whole), overrides win over both, chains, and every error at its file and line */
static void test_include(void) {
    static const char *const names[] = {
        "base.yaml", "sub/top.yaml", "sub/mid.yaml", "flat.yaml", "miss.yaml", "c1.yaml",
        "c2.yaml", "self.yaml", "bad.yaml", "badinc.yaml", "list.yaml", "twice.yaml",
        "d0.yaml", "d1.yaml", "d2.yaml", "d3.yaml", "d4.yaml", "d5.yaml", "d6.yaml", "d7.yaml",
        "d8.yaml", "d9.yaml"};
    char path[512], sub[512];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
    write_fixture("base.yaml", "model:\n  n_layers: 3\n  ranks: [1, 2, 3]\n  attn:\n"
                  "    kind: linear\ntrain:\n  steps: 10\n  lr: 0.01\nname: base\nseed: 5\n",
                  path, sizeof path);
    write_fixture("sub/mid.yaml", "include: ../base.yaml\ntrain:\n  lr: 0.02\nseed: 6\n", path,
                  sizeof path);
    write_fixture("sub/top.yaml", "model:\n  ranks: [4]\n  attn:\n    causal: false\n"
                  "include: mid.yaml\nseed: 7\n", path, sizeof path);
    /* the same values in one file */
    write_fixture("flat.yaml", "model:\n  n_layers: 3\n  ranks: [4]\n  attn:\n    kind: linear\n"
                  "    causal: false\ntrain:\n  steps: 10\n  lr: 0.02\nname: ovr\nseed: 7\n",
                  path, sizeof path);
    TestCfg a, b;
    Err e;
    const char *over[] = {"name=ovr"};
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    snprintf(path, sizeof path, "%s/sub/top.yaml", tmpdir);
    CHECK(config_load(&test_schema, &a, path, over, 1, &e) == ST_OK, "include chain: %s", e.msg);
    CHECK(a.n_layers == 3 && a.steps == 10 && !strcmp(a.kind, "linear"), "base keys");
    CHECK(a.lr == 0.02 && a.seed == 7 && a.causal == 0, "overriding keys: lr %g seed %d",
          a.lr, a.seed);
    CHECK(a.ranks.n == 1 && a.ranks.v[0] == 4 && a.ranks.v[1] == 0, "list replaced whole");
    CHECK(!strcmp(a.name, "ovr"), "command line wins: %s", a.name);
    snprintf(path, sizeof path, "%s/flat.yaml", tmpdir);
    CHECK(config_load(&test_schema, &b, path, NULL, 0, &e) == ST_OK, "flat: %s", e.msg);
    CHECK(!memcmp(&a, &b, sizeof a), "include chain == the same values in one file");
    char *text = NULL;
    CHECK(config_to_yaml(&test_schema, &a, &text, &e) == ST_OK && text &&
          !strstr(text, "include"), "the resolved config holds no include");
    free(text);
    /* text: a name without a folder resolves against the current directory; absolute works */
    char abs[600];
    snprintf(abs, sizeof abs, "include: %s/base.yaml\nseed: 8\n", tmpdir);
    CHECK(config_load_text(&test_schema, &b, abs, "<text>", NULL, 0, &e) == ST_OK &&
          b.steps == 10 && b.seed == 8, "text include: %s", e.msg);

    /* errors: the fixture files (name, text pairs) are written, then the first is loaded */
    static const struct {
        const char *files[4];
        Status st;
        const char *want;
    } bad[] = {
        {{"miss.yaml", "seed: 1\ninclude: nope.yaml\n"}, ST_IO, "@/miss.yaml:2:10: include: "
         "expected a readable config file, found 'nope.yaml' (@/nope.yaml: cannot open: No "
         "such file or directory)"},
        {{"c1.yaml", "include: c2.yaml\n", "c2.yaml", "train:\n  steps: 1\ninclude: c1.yaml\n"},
         ST_CONFIG, "@/c2.yaml:3:10: include: expected no include cycle, found @/c1.yaml -> "
         "@/c2.yaml -> @/c1.yaml"},
        {{"self.yaml", "include: self.yaml\n"}, ST_CONFIG, "@/self.yaml:1:10: include: expected "
         "no include cycle, found @/self.yaml -> @/self.yaml"},
        {{"badinc.yaml", "# base\ninclude: bad.yaml\n", "bad.yaml",
          "train:\n  steps: 1\nmodel:\n  n_layers: 99\n"}, ST_CONFIG, "@/bad.yaml:4:13: "
         "model.n_layers: expected an integer in [1, 64], found 99"},
        {{"list.yaml", "include: [base.yaml]\n"}, ST_CONFIG, "@/list.yaml:1:10: include: "
         "expected a file name, found a sequence"},
        {{"twice.yaml", "include: base.yaml\ninclude: base.yaml\n"}, ST_CONFIG, "@/twice.yaml:"
         "2:1: include: expected a key given once, found a duplicate 'include'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int f = 0; f < 4 && bad[i].files[f]; f += 2)
            write_fixture(bad[i].files[f], bad[i].files[f + 1], path, sizeof path);
        expect_include_error(bad[i].files[0], bad[i].st, bad[i].want, (int)i);
    }
    /* d0 -> d1 -> ... -> d9: 9 includes, one too many; d1 (8 includes) loads */
    for (int i = 0; i <= 9; i++) {
        char name[16], body[64];
        snprintf(name, sizeof name, "d%d.yaml", i);
        if (i < 9) snprintf(body, sizeof body, "seed: %d\ninclude: d%d.yaml\n", i, i + 1);
        else snprintf(body, sizeof body, "seed: 9\ntrain:\n  steps: 2\n");
        write_fixture(name, body, path, sizeof path);
    }
    expect_include_error("d0.yaml", ST_CONFIG, "@/d8.yaml:2:10: include: expected at most 8 "
                         "nested includes, found more", -1);
    snprintf(path, sizeof path, "%s/d1.yaml", tmpdir);
    CHECK(config_load(&test_schema, &b, path, NULL, 0, &e) == ST_OK && b.seed == 1 &&
          b.steps == 2, "8 nested includes: %s", e.msg);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        remove(path);
    }
    rmdir(sub);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/drrl_test_config_XXXXXX");
    if (!mkdtemp(tmpdir)) return check_skip("test_config", "mkdtemp failed");
    test_defaults();
    test_full_file();
    test_overrides();
    test_file_errors();
    test_override_errors();
    test_misc_errors();
    test_round_trip();
    test_include();
    char path[512];
    snprintf(path, sizeof path, "%s/t.yaml", tmpdir);
    remove(path);
    rmdir(tmpdir);
    return check_exit("test_config");
}
