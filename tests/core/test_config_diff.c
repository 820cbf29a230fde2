/* test_config_diff.c: tests of config_value_text and config_diff (core/config.h), which the
 * resume contract (pipeline/resume.h) compares configs with: every field type, the first
 * difference in schema order and the next ones from there, values that differ only past the
 * clipped length, floats that differ in the last bit, and equal configs. */
#include "core/config.h"
#include "tests/check.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    int n;
    double x;
    int flag;
    char s[CONFIG_STR_MAX];
    char kind[CONFIG_STR_MAX];
    IntList il;
    FloatList fl;
} Cfg;

#define NO_RANGE 1, 0
static const ConfigField fields[] = {
    {"a.n", CF_INT, offsetof(Cfg, n), 0, "3", NO_RANGE, NULL, "n"},
    {"a.x", CF_FLOAT, offsetof(Cfg, x), 0, "0.1", NO_RANGE, NULL, "x"},
    {"a.flag", CF_BOOL, offsetof(Cfg, flag), 0, "false", NO_RANGE, NULL, "flag"},
    {"b.s", CF_STRING, offsetof(Cfg, s), 0, "abc", NO_RANGE, NULL, "s"},
    {"b.kind", CF_ENUM, offsetof(Cfg, kind), 0, "p", NO_RANGE, "p|q", "kind"},
    {"il", CF_INT_LIST, offsetof(Cfg, il), 0, "[1, 2]", NO_RANGE, NULL, "il"},
    {"fl", CF_FLOAT_LIST, offsetof(Cfg, fl), 0, "[0.5]", NO_RANGE, NULL, "fl"},
};
static const ConfigSchema schema = {"diff test", fields, 7, NULL};

/* load: defaults plus the overrides */
static void load(Cfg *c, const char *const *over, int n) {
    Err e;
    memset(c, 0, sizeof *c);
    Status s = config_load_text(&schema, c, "", "<test>", over, n, &e);
    CHECK(s == ST_OK, "load: %s", e.msg);
}

/* diffs: the paths that differ between a and b, space-separated, and the last values */
static void diffs(const Cfg *a, const Cfg *b, char *out, size_t cap, char *va, char *vb,
                  size_t vcap) {
    Err e;
    out[0] = 0;
    int i = 0;
    for (;;) {
        Status s = config_diff(&schema, a, b, &i, va, vb, vcap, &e);
        CHECK(s == ST_OK, "config_diff: %s", e.msg);
        if (s || i < 0) return;
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "", fields[i].path);
        i++;
    }
}

int main(void) {
    Cfg a, b;
    char got[256], va[32], vb[32];
    load(&a, NULL, 0);
    load(&b, NULL, 0);
    diffs(&a, &b, got, sizeof got, va, vb, sizeof va);
    CHECK(!strcmp(got, ""), "equal configs differ in '%s'", got);

    const char *over[] = {"a.flag=true", "b.kind=q", "fl=[0.5, 1e-300]"};
    load(&b, over, 3);
    diffs(&a, &b, got, sizeof got, va, vb, sizeof va);
    CHECK(!strcmp(got, "a.flag b.kind fl"), "differences: '%s'", got);
    CHECK(!strcmp(va, "[0.5]") && !strcmp(vb, "[0.5, 1e-300]"), "values: %s vs %s", va, vb);

    /* the last bit of a double */
    const char *ox[] = {"a.x=0.10000000000000002"};
    load(&b, ox, 1);
    diffs(&a, &b, got, sizeof got, va, vb, sizeof va);
    CHECK(!strcmp(got, "a.x") && !strcmp(va, "0.1") && !strcmp(vb, "0.10000000000000002"),
          "one ulp: '%s' %s vs %s", got, va, vb);

    /* strings that differ only after the clipped length are still different */
    char la[201], lb[300];
    memset(la, 'y', 200), la[200] = 0;
    char sa[260], sb[260];
    snprintf(sa, sizeof sa, "b.s=%sA", la);
    snprintf(sb, sizeof sb, "b.s=%sB", la);
    const char *oa[] = {sa}, *ob[] = {sb};
    load(&a, oa, 1);
    load(&b, ob, 1);
    diffs(&a, &b, got, sizeof got, va, vb, sizeof va);
    CHECK(!strcmp(got, "b.s"), "long strings: '%s'", got);
    CHECK(strlen(va) == sizeof va - 1 && va[0] == '"', "clipped value '%s'", va);

    /* config_value_text of each type prints as config_to_yaml does */
    Err e;
    const char *ol[] = {"a.n=-7", "il=[4, 5, 6]", "b.s=q\"x"};
    load(&a, ol, 3);
    CHECK(config_value_text(&fields[0], &a, lb, sizeof lb, &e) == ST_OK && !strcmp(lb, "-7"), "int %s", lb);
    CHECK(config_value_text(&fields[5], &a, lb, sizeof lb, &e) == ST_OK && !strcmp(lb, "[4, 5, 6]"), "list %s", lb);
    CHECK(config_value_text(&fields[3], &a, lb, sizeof lb, &e) == ST_OK && !strcmp(lb, "\"q\\\"x\""), "string %s", lb);
    return check_exit("test_config_diff");
}
