/* config.c: YAML configuration files loaded into typed structs driven by a ConfigSchema
 * table, and command-line overrides (see config.h). The text is read into a node tree
 * (config_tree.c), which is walked here against the schema: defaults, the files it includes
 * (config_include.c), file, overrides, required keys, validate. Printing back as YAML is in
 * config_emit.c.
 *
 * Every error goes through cfg_fail so that all messages share one shape:
 *   ORIGIN: key.path: expected ..., found ...
 * where ORIGIN is "FILE:LINE:COLUMN", "command line 'key=value'" or, for a broken
 * schema default, "schema 'NAME' default 'key=value'". */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "config_tree.h"
#include "file.h"
#include "suggest.h"

/* ---------------------------------------------------------------- schema helpers */

static void *field_ptr(void *cfg, const ConfigField *f) { return (char *)cfg + f->offset; }

static size_t field_size(const ConfigField *f) {
    switch (f->type) {
    case CF_INT: case CF_BOOL: return sizeof(int);
    case CF_FLOAT: return sizeof(double);
    case CF_STRING: case CF_ENUM: return CONFIG_STR_MAX;
    case CF_INT_LIST: return sizeof(IntList);
    case CF_FLOAT_LIST: return sizeof(FloatList);
    }
    return 0;
}

static int schema_find(const ConfigSchema *s, const char *path) {
    for (int i = 0; i < s->n_fields; i++)
        if (!strcmp(s->fields[i].path, path)) return i;
    return -1;
}

/* schema_is_section: some field lives below path ("model" for "model.n_layers"). */
static int schema_is_section(const ConfigSchema *s, const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < s->n_fields; i++)
        if (!strncmp(s->fields[i].path, path, n) && s->fields[i].path[n] == '.') return 1;
    return 0;
}

/* cfg_child_len: length of the first component of the field's path below prefix, or 0 if
   the field is not below prefix (prefix is "" or ends with '.'). */
size_t cfg_child_len(const ConfigField *f, const char *prefix, size_t plen) {
    if (strncmp(f->path, prefix, plen)) return 0;
    return strcspn(f->path + plen, ".");
}

/* cfg_child_seen: an earlier field than i has the same child name below prefix. */
int cfg_child_seen(const ConfigSchema *s, int i, const char *prefix, size_t plen) {
    const char *name = s->fields[i].path + plen;
    size_t n = cfg_child_len(&s->fields[i], prefix, plen);
    for (int j = 0; j < i; j++)
        if (cfg_child_len(&s->fields[j], prefix, plen) == n &&
            !strncmp(s->fields[j].path + plen, name, n)) return 1;
    return 0;
}

/* schema_children: "a, b, c": the keys valid directly below prefix, in schema order. */
static void schema_children(const ConfigSchema *s, const char *prefix, char *buf, size_t n) {
    size_t plen = strlen(prefix), used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n_fields; i++) {
        size_t len = cfg_child_len(&s->fields[i], prefix, plen);
        if (!len || cfg_child_seen(s, i, prefix, plen)) continue;
        int w = snprintf(buf + used, n - used, "%s%.*s", used ? ", " : "", (int)len,
                         s->fields[i].path + plen);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- scalar values */

/* parse_long: 1 for a decimal integer with optional sign, 2 if it overflows long. */
static int parse_long(const char *t, long *out) {
    const char *d = t + (*t == '+' || *t == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d)) return 0;
    errno = 0;
    *out = strtol(t, NULL, 10);
    return errno == ERANGE ? 2 : 1;
}

/* int_bounds: the inclusive range a CF_INT (element) must lie in, clipped to int. */
static void int_bounds(const ConfigField *f, long *lo, long *hi) {
    *lo = INT_MIN;
    *hi = INT_MAX;
    if (f->min > f->max) return;
    if (f->min > (double)INT_MIN) *lo = (long)ceil(f->min);
    if (f->max < (double)INT_MAX) *hi = (long)floor(f->max);
}

static Status value_int(const Ctx *c, const ConfigField *f, const Node *v, const char *path,
                        int *out) {
    char buf[FOUND_MAX + 8];
    long x = 0, lo, hi;
    int ok = v->kind == N_SCALAR ? parse_long(v->text, &x) : 0;
    if (!ok)
        return cfg_fail(c, ST_CONFIG, v, path, "expected an integer, found %s",
                        cfg_node_found(v, buf, sizeof buf));
    int_bounds(f, &lo, &hi);
    if (ok == 2 || x < lo || x > hi)
        return cfg_fail(c, ST_CONFIG, v, path, "expected an integer in [%ld, %ld], found %s",
                        lo, hi, v->text);
    *out = (int)x;
    return ST_OK;
}

/* number_range: " in [a, b]", " >= a", " <= b" or "" for a CF_FLOAT (element). */
static void number_range(const ConfigField *f, char *buf, size_t n) {
    char a[32], b[32];
    cfg_fmt_double(f->min, a, sizeof a);
    cfg_fmt_double(f->max, b, sizeof b);
    if (f->min > f->max) buf[0] = '\0';
    else if (isinf(f->max) && isinf(f->min)) buf[0] = '\0';
    else if (isinf(f->max)) snprintf(buf, n, " >= %s", a);
    else if (isinf(f->min)) snprintf(buf, n, " <= %s", b);
    else snprintf(buf, n, " in [%s, %s]", a, b);
}

static Status value_float(const Ctx *c, const ConfigField *f, const Node *v, const char *path,
                          double *out) {
    char buf[FOUND_MAX + 8], range[80];
    /* only decimal notation: strtod alone would also take "inf", "nan" and hex floats */
    int ok = v->kind == N_SCALAR && v->text[0] &&
             strspn(v->text, "0123456789+-.eE") == strlen(v->text) &&
             strcspn(v->text, "0123456789") < strlen(v->text);
    char *end = NULL;
    double x = ok ? strtod(v->text, &end) : 0.0;
    if (!ok || *end)
        return cfg_fail(c, ST_CONFIG, v, path, "expected a number, found %s",
                        cfg_node_found(v, buf, sizeof buf));
    if (!isfinite(x))
        return cfg_fail(c, ST_CONFIG, v, path, "expected a finite number, found %s", v->text);
    number_range(f, range, sizeof range);
    if (range[0] && !(x >= f->min && x <= f->max))
        return cfg_fail(c, ST_CONFIG, v, path, "expected a number%s, found %s", range, v->text);
    *out = x;
    return ST_OK;
}

static Status value_bool(const Ctx *c, const Node *v, const char *path, int *out) {
    char buf[FOUND_MAX + 8];
    /* YAML 1.2 style: only true/false (no yes/no/on/off) */
    if (v->kind == N_SCALAR && !strcmp(v->text, "true")) { *out = 1; return ST_OK; }
    if (v->kind == N_SCALAR && !strcmp(v->text, "false")) { *out = 0; return ST_OK; }
    return cfg_fail(c, ST_CONFIG, v, path, "expected true or false, found %s",
                    cfg_node_found(v, buf, sizeof buf));
}

/* string_may_be_empty: a CF_STRING may be "" when its default is empty (or absent). */
static int string_may_be_empty(const ConfigField *f) {
    const char *d = f->def;
    return !f->required && (!d || !d[0] || !strcmp(d, "\"\"") || !strcmp(d, "''"));
}

static Status value_string(const Ctx *c, const ConfigField *f, const Node *v,
                           const char *path, char *out) {
    char buf[FOUND_MAX + 8];
    if (v->kind != N_SCALAR)
        return cfg_fail(c, ST_CONFIG, v, path, "expected a string, found %s", cfg_node_shape(v));
    size_t len = strlen(v->text);
    if (cfg_node_is_yaml_null(v)) /* `dir: ~` made a folder named "~" */
        return cfg_fail(c, ST_CONFIG, v, path, "expected a string, found null (%s; quote it for "
                        "that text)", v->text);
    if (!len && !c->schema && !string_may_be_empty(f))
        return cfg_fail(c, ST_CONFIG, v, path, "expected a non-empty string, found %s",
                        cfg_node_found(v, buf, sizeof buf));
    if (len >= CONFIG_STR_MAX)
        return cfg_fail(c, ST_CONFIG, v, path,
                        "expected a string of at most %d bytes, found %zu bytes",
                        CONFIG_STR_MAX - 1, len);
    memset(out, 0, CONFIG_STR_MAX);   /* whole buffer: configs compare with memcmp */
    memcpy(out, v->text, len);
    return ST_OK;
}

/* enum_has: text is one of the "|"-separated choices. */
static int enum_has(const char *choices, const char *text) {
    size_t n = strlen(text);
    for (const char *p = choices; p && *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && !strncmp(p, text, n)) return 1;
        p += len + (p[len] == '|');
    }
    return 0;
}

static Status value_enum(const Ctx *c, const ConfigField *f, const Node *v, const char *path,
                         char *out) {
    char buf[FOUND_MAX + 8];
    if (v->kind != N_SCALAR || !v->text[0] || !enum_has(f->choices, v->text))
        return cfg_fail(c, ST_CONFIG, v, path, "expected one of %s, found %s",
                        f->choices ? f->choices : "", cfg_node_found(v, buf, sizeof buf));
    return value_string(c, f, v, path, out);
}

/* ---------------------------------------------------------------- lists */

/* value_list: a CF_INT_LIST / CF_FLOAT_LIST; elements are checked with the field's range
   and named "path[i]" (0-based) in messages. */
static Status value_list(const Ctx *c, const ConfigField *f, const Node *v, const char *path,
                         void *out) {
    int is_int = f->type == CF_INT_LIST;
    const char *what = is_int ? "integers" : "numbers";
    if (v->kind != N_SEQ)
        return cfg_fail(c, ST_CONFIG, v, path, "expected a sequence of %s, found %s", what,
                        cfg_node_shape(v));
    if (v->n < 1 || v->n > CONFIG_LIST_MAX)
        return cfg_fail(c, ST_CONFIG, v, path, "expected a sequence of 1 to %d %s, found %d elements",
                        CONFIG_LIST_MAX, what, v->n);
    IntList il;
    FloatList fl;
    memset(&il, 0, sizeof il);   /* unused slots zeroed: configs compare with memcmp */
    memset(&fl, 0, sizeof fl);
    for (int i = 0; i < v->n; i++) {
        char ep[PATH_MAX_LEN];
        snprintf(ep, sizeof ep, "%s[%d]", path, i);
        Status st = is_int ? value_int(c, f, v->kids[i], ep, &il.v[i])
                           : value_float(c, f, v->kids[i], ep, &fl.v[i]);
        if (st) return st;
    }
    il.n = fl.n = v->n;
    if (is_int) memcpy(out, &il, sizeof il);
    else memcpy(out, &fl, sizeof fl);
    return ST_OK;
}

/* value_apply: check node v against field f and store it into cfg. */
static Status value_apply(const Ctx *c, const ConfigField *f, const Node *v, const char *path,
                          void *cfg) {
    void *dst = field_ptr(cfg, f);
    switch (f->type) {
    case CF_INT: return value_int(c, f, v, path, dst);
    case CF_FLOAT: return value_float(c, f, v, path, dst);
    case CF_BOOL: return value_bool(c, v, path, dst);
    case CF_STRING: return value_string(c, f, v, path, dst);
    case CF_ENUM: return value_enum(c, f, v, path, dst);
    case CF_INT_LIST: case CF_FLOAT_LIST: return value_list(c, f, v, path, dst);
    }
    return err_set(c->e, ST_INVALID, "%s: unknown field type %d", path, (int)f->type);
}

/* value_from_text: parse text as a one-line YAML document and apply it to field f
   (overrides and defaults). Empty text is an empty (null) scalar. */
static Status value_from_text(const Ctx *c, const ConfigField *f, const char *text, void *cfg) {
    Node *root = NULL, null_node = { .kind = N_SCALAR, .text = (char *)"", .plain = 1 };
    Status st = cfg_yaml_to_tree(text, strlen(text), c, f->path, &root);
    if (st) return st;
    st = value_apply(c, f, root ? root : &null_node, f->path, cfg);
    cfg_node_free(root);
    return st;
}

/* ---------------------------------------------------------------- mappings */

/* nearest_key: the schema key nearest to path (whole path, or last components compared:
   "model.layers" -> model.n_layers, "lr" -> train.lr), "" when none is near (core/suggest.h) */
static const char *nearest_key(const ConfigSchema *s, const char *path) {
    int d;
    const char *best = config_nearest_key(s, path, NULL, &d), *pl = strrchr(path, '.');
    return best && suggest_near(pl ? pl + 1 : path, d) ? best : "";
}

static Status unknown_key(const Ctx *c, const ConfigSchema *s, const Node *at,
                          const char *prefix, const char *key) {
    char keys[ERR_MSG_MAX / 2], path[PATH_MAX_LEN];
    schema_children(s, prefix, keys, sizeof keys);
    snprintf(path, sizeof path, "%s%s", prefix, key);
    const char *near = nearest_key(s, path);
    return cfg_fail(c, ST_CONFIG, at, path,
                    "expected a known key (one of: %s), found unknown key '%s'%s%s%s", keys, key,
                    *near ? "; did you mean " : "", near, *near ? "?" : "");
}

static Status map_apply(const Ctx *c, const ConfigSchema *s, const Node *map, const char *prefix,
                        void *cfg, char *given, int depth);

/* pair_apply: one "key: value" of a mapping below prefix. */
static Status pair_apply(const Ctx *c, const ConfigSchema *s, const Node *map, int i,
                         const char *prefix, void *cfg, char *given, int depth) {
    const Node *k = map->kids[i], *v = map->kids[i + 1];
    char path[PATH_MAX_LEN];
    if (k->kind != N_SCALAR)
        return cfg_fail(c, ST_CONFIG, k, prefix[0] ? prefix : NULL,
                        "expected a scalar key, found %s", cfg_node_shape(k));
    snprintf(path, sizeof path, "%s%s", prefix, k->text);
    for (int j = 0; j < i; j += 2)   /* duplicates: libyaml itself accepts them */
        if (map->kids[j]->kind == N_SCALAR && !strcmp(map->kids[j]->text, k->text))
            return cfg_fail(c, ST_CONFIG, k, path,
                            "expected a key given once, found a duplicate '%s'", k->text);
    if (!prefix[0] && !strcmp(k->text, CFG_INCLUDE_KEY)) return ST_OK; /* include_apply */
    int fi = schema_find(s, path);
    if (fi >= 0) {
        given[fi] = 1;
        return value_apply(c, &s->fields[fi], v, path, cfg);
    }
    if (!schema_is_section(s, path)) return unknown_key(c, s, k, prefix, k->text);
    if (cfg_node_is_null(v)) return ST_OK;   /* "section:" with every key commented out */
    if (v->kind != N_MAP)
        return cfg_fail(c, ST_CONFIG, v, path, "expected a mapping, found %s", cfg_node_shape(v));
    strncat(path, ".", sizeof path - strlen(path) - 1);
    return map_apply(c, s, v, path, cfg, given, depth + 1);
}

/* map_apply: every pair of mapping map, whose keys live below prefix ("" or "a.b."). */
static Status map_apply(const Ctx *c, const ConfigSchema *s, const Node *map, const char *prefix,
                        void *cfg, char *given, int depth) {
    for (int i = 0; i + 1 < map->n; i += 2) {
        Status st = pair_apply(c, s, map, i, prefix, cfg, given, depth);
        if (st) return st;
    }
    return ST_OK;
}

/* parent_mark: the innermost mapping of the tree that exists on the way to path's parent
   (for "missing required key" messages); NULL means the root (reported as 1:1). */
static const Node *parent_mark(const Node *root, const char *path) {
    const Node *at = NULL, *cur = root;
    for (const char *p = path, *dot; cur && (dot = strchr(p, '.')); p = dot + 1) {
        cur = cfg_map_get(cur, p, (size_t)(dot - p));
        if (!cur || cur->kind != N_MAP) break;
        at = cur;
    }
    return at;
}

/* ---------------------------------------------------------------- overrides */

/* override_unknown: key is not a field; name the valid keys at the deepest level of key
   that exists in the schema. */
static Status override_unknown(const Ctx *c, const ConfigSchema *s, const char *key) {
    char prefix[PATH_MAX_LEN], keys[ERR_MSG_MAX / 2];
    size_t plen = 0;   /* prefix is key[0, plen): the sections of key that exist */
    snprintf(prefix, sizeof prefix, "%s", key);
    for (char *dot; (dot = strchr(prefix + plen, '.'));) {
        *dot = '\0';
        int sec = schema_is_section(s, prefix);
        *dot = '.';
        if (!sec) break;
        plen = (size_t)(dot - prefix) + 1;
    }
    if (!strchr(prefix + plen, '.') && schema_is_section(s, prefix)) {
        strncat(prefix, ".", sizeof prefix - strlen(prefix) - 1);
        schema_children(s, prefix, keys, sizeof keys);
        return cfg_fail(c, ST_CONFIG, NULL, key,
                        "expected a key with a value (one of: %s), found a section", keys);
    }
    const char *rest = key + plen;
    prefix[plen] = '\0';
    return unknown_key(c, s, NULL, prefix, rest);
}

/* override_apply: "key.path=value"; marks the field as given. */
static Status override_apply(const ConfigSchema *s, void *cfg, const char *assign, char *given,
                             Err *e) {
    Ctx c = { .assign = assign, .e = e };
    const char *eq = strchr(assign, '=');
    if (!eq)
        return cfg_fail(&c, ST_CONFIG, NULL, NULL, "expected key.path=value, found no '='");
    char key[PATH_MAX_LEN];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assign), assign);
    if (!key[0])
        return cfg_fail(&c, ST_CONFIG, NULL, NULL, "expected key.path=value, found no key");
    int fi = schema_find(s, key);
    if (fi < 0) return override_unknown(&c, s, key);
    Status st = value_from_text(&c, &s->fields[fi], eq + 1, cfg);
    if (!st && given) given[fi] = 1;
    return st;
}

/* ---------------------------------------------------------------- loading */

Status config_defaults(const ConfigSchema *s, void *cfg, Err *e) {
    for (int i = 0; i < s->n_fields; i++) {
        const ConfigField *f = &s->fields[i];
        memset(field_ptr(cfg, f), 0, field_size(f));
        if (f->required || !f->def) continue;
        char assign[ERR_MSG_MAX / 2];
        snprintf(assign, sizeof assign, "%s=%s", f->path, f->def);
        Ctx c = { .assign = assign, .schema = s->name ? s->name : "?", .e = e };
        Status st = value_from_text(&c, f, f->def, cfg);
        if (st) return st;
    }
    return ST_OK;
}

/* check_required: every required field was given by the file or an override. */
static Status check_required(const ConfigSchema *s, const Node *root, const char *name,
                             const char *given, Err *e) {
    Ctx c = { .file = name, .e = e };
    for (int i = 0; i < s->n_fields; i++) {
        if (!s->fields[i].required || given[i]) continue;
        if (!name)
            return err_set(e, ST_MISSING, "command line: %s: expected a required key, found nothing",
                           s->fields[i].path);
        return cfg_fail(&c, ST_MISSING, parent_mark(root, s->fields[i].path), s->fields[i].path,
                        "expected a required key, found nothing");
    }
    return ST_OK;
}

/* include_apply: the files root includes (config_include.c), base first, each overriding the
   one before; the file itself is applied after them. */
static Status include_apply(const ConfigSchema *s, void *cfg, const Node *root, const char *name,
                            char *given, Err *e) {
    CfgIncludes inc;
    Status st = cfg_includes_read(root, name, &inc, e);
    for (int i = 0; !st && i < inc.n; i++) {
        Ctx c = { .file = inc.file[i], .e = e };
        if (inc.root[i] && !cfg_node_is_null(inc.root[i]))
            st = map_apply(&c, s, inc.root[i], "", cfg, given, 0);
    }
    cfg_includes_free(&inc);
    return st;
}

/* load_tree: apply the parsed file (root may be NULL: empty) after the files it includes,
   then the overrides. */
static Status load_tree(const ConfigSchema *s, void *cfg, const Node *root, const char *name,
                        const char *const *overrides, int n_over, char *given, Err *e) {
    Ctx c = { .file = name, .e = e };
    Status st = ST_OK;
    if (root && cfg_node_is_null(root)) root = NULL;   /* a document holding only "~" */
    if (root && root->kind != N_MAP)
        return cfg_fail(&c, ST_CONFIG, root, NULL, "expected a mapping, found %s",
                        cfg_node_shape(root));
    if (root) st = include_apply(s, cfg, root, name, given, e);
    if (root && !st) st = map_apply(&c, s, root, "", cfg, given, 0);
    for (int i = 0; !st && i < n_over; i++)
        st = override_apply(s, cfg, overrides[i], given, e);
    if (!st) st = check_required(s, root, name, given, e);
    return st;
}

/* load_buffer: the whole loading sequence; text NULL means no file (name NULL too); a file
   (file = 1) must set something. */
static Status load_buffer(const ConfigSchema *s, void *cfg, const char *text, size_t len,
                          const char *name, int file, const char *const *overrides, int n_over,
                          Err *e) {
    Status st = config_defaults(s, cfg, e);
    if (st) return st;
    Node *root = NULL;
    Ctx c = { .file = name, .e = e };
    if (text && (st = cfg_yaml_to_tree(text, len, &c, NULL, &root))) return st;
    /* a file that sets nothing is a mistake (a wrong or truncated file), not "the defaults":
       those are what running without a file gives */
    if (file && (!root || cfg_node_is_null(root))) {
        cfg_node_free(root);
        return err_set(e, ST_CONFIG, "%s: expected a mapping of settings, found an empty "
                       "document (the defaults need no file)", name ? name : "<text>");
    }
    char *given = calloc((size_t)s->n_fields + 1, 1);
    if (!given) { cfg_node_free(root); return err_set(e, ST_NOMEM, "out of memory"); }
    st = load_tree(s, cfg, root, name, overrides, n_over, given, e);
    free(given);
    cfg_node_free(root);
    char src[1024]; /* the sources the values came from: the file, with its overrides */
    int n = snprintf(src, sizeof src, "%s", name ? name : n_over ? "" : "command line");
    for (int i = 0; i < n_over && n >= 0 && (size_t)n < sizeof src; i++)
        n += snprintf(src + n, sizeof src - (size_t)n, "%s%s",
                      i ? ", " : name ? " with " : "the override ", overrides[i]);
    return !st && s->validate ? s->validate(cfg, src, e) : st;
}

Status config_load_text(const ConfigSchema *s, void *cfg, const char *text, const char *name,
                        const char *const *overrides, int n_over, Err *e) {
    if (!text) return err_set(e, ST_INVALID, "config_load_text: text is NULL");
    return load_buffer(s, cfg, text, strlen(text), name ? name : "<text>", 0, overrides, n_over,
                       e);
}

Status config_load(const ConfigSchema *s, void *cfg, const char *path,
                   const char *const *overrides, int n_over, Err *e) {
    if (!path) return load_buffer(s, cfg, NULL, 0, NULL, 0, overrides, n_over, e);
    char *text = NULL;
    size_t len = 0;
    Status st = file_read_all(path, &text, &len, e);
    if (st) return st;
    st = load_buffer(s, cfg, text, len, path, 1, overrides, n_over, e);
    free(text);
    return st;
}

Status config_override(const ConfigSchema *s, void *cfg, const char *assignment, Err *e) {
    return override_apply(s, cfg, assignment, NULL, e);
}

