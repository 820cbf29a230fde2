/* config.c: YAML configuration files (libyaml) loaded into typed structs driven by a
 * ConfigSchema table; command-line overrides; printing back as YAML (see config.h).
 *
 * The YAML text is first parsed from the libyaml event stream into a small in-memory
 * tree of nodes that keep their 1-based line/column, then walked against the schema.
 * Every error goes through ctx_fail so that all messages share one shape:
 *   ORIGIN: key.path: expected ..., found ...
 * where ORIGIN is "FILE:LINE:COLUMN", "command line 'key=value'" or, for a broken
 * schema default, "schema 'NAME' default 'key=value'". */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PATH_MAX_LEN 512   /* dotted key paths in messages ("model.ranks[12]") */
#define DEPTH_MAX 64       /* nesting limit of the YAML tree (guards the recursion) */
#define FOUND_MAX 64       /* scalars quoted in messages are clipped to this many bytes */

/* ---------------------------------------------------------------- node tree */

typedef enum { N_SCALAR, N_MAP, N_SEQ } NodeKind;

typedef struct Node {
    NodeKind kind;
    char *text;          /* N_SCALAR: the value (NUL-terminated) */
    int plain;           /* N_SCALAR: unquoted (an empty plain scalar is YAML null) */
    int line, col;       /* 1-based start of the node */
    struct Node **kids;  /* N_SEQ: items; N_MAP: key0, value0, key1, value1, ... */
    int n, cap;
} Node;

static void node_free(Node *nd) {
    if (!nd) return;
    for (int i = 0; i < nd->n; i++) node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->text);
    free(nd);
}

static Node *node_new(NodeKind kind, yaml_mark_t m) {
    Node *nd = calloc(1, sizeof *nd);
    if (!nd) return NULL;
    nd->kind = kind;
    nd->line = (int)m.line + 1;
    nd->col = (int)m.column + 1;
    return nd;
}

static int node_add(Node *parent, Node *kid) {
    if (parent->n == parent->cap) {
        int cap = parent->cap ? 2 * parent->cap : 8;
        Node **k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k) return 0;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 1;
}

/* node_is_null: an empty plain scalar ("key:" with nothing after it). */
static int node_is_null(const Node *nd) {
    return nd->kind == N_SCALAR && nd->plain && nd->text[0] == '\0';
}

/* map_get: the value stored under key in mapping nd, or NULL. */
static const Node *map_get(const Node *nd, const char *key, size_t keylen) {
    for (int i = 0; nd && nd->kind == N_MAP && i + 1 < nd->n; i += 2) {
        const Node *k = nd->kids[i];
        if (k->kind == N_SCALAR && strlen(k->text) == keylen && !memcmp(k->text, key, keylen))
            return nd->kids[i + 1];
    }
    return NULL;
}

/* ---------------------------------------------------------------- messages */

/* Where a value came from: a file (messages carry the node's line:column), an override,
   or a schema default. path is the key the text was given for (overrides, defaults). */
typedef struct {
    const char *file;     /* file name, or NULL */
    const char *assign;   /* "key.path=value" for overrides and defaults, or NULL */
    const char *schema;   /* schema name when applying defaults, or NULL */
    Err *e;
} Ctx;

static Status ctx_fail(const Ctx *c, Status st, const Node *at, const char *path,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static Status ctx_fail(const Ctx *c, Status st, const Node *at, const char *path,
                       const char *fmt, ...) {
    char what[ERR_MSG_MAX], where[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->schema)
        snprintf(where, sizeof where, "schema '%s' default '%s'", c->schema, c->assign);
    else if (c->assign)
        snprintf(where, sizeof where, "command line '%s'", c->assign);
    else if (at)
        snprintf(where, sizeof where, "%s:%d:%d", c->file, at->line, at->col);
    else
        snprintf(where, sizeof where, "%s:1:1", c->file);
    if (path)
        return err_set(c->e, st, "%s: %s: %s", where, path, what);
    return err_set(c->e, st, "%s: %s", where, what);
}

/* node_found: how a node is described after "found" in type errors. */
static const char *node_found(const Node *nd, char *buf, size_t n) {
    if (nd->kind == N_MAP) return "a mapping";
    if (nd->kind == N_SEQ) return "a sequence";
    if (node_is_null(nd)) return "nothing";
    size_t len = strlen(nd->text);
    if (len > FOUND_MAX)
        snprintf(buf, n, "'%.*s...'", FOUND_MAX, nd->text);
    else
        snprintf(buf, n, "'%s'", nd->text);
    return buf;
}

/* node_shape: "a scalar", "a mapping" or "a sequence" (structural mismatches). */
static const char *node_shape(const Node *nd) {
    return nd->kind == N_MAP ? "a mapping" : nd->kind == N_SEQ ? "a sequence" : "a scalar";
}

/* fmt_double: the shortest %g text that reads back (strtod) to exactly x; integral
   values below 1e15 print without exponent ("10", not "1e+01"). */
static void fmt_double(double x, char *buf, size_t n) {
    if (x == floor(x) && fabs(x) < 1e15 && !(x == 0 && signbit(x))) {
        snprintf(buf, n, "%.0f", x);
        return;
    }
    char best[40] = "";
    for (int p = 1; p <= 17; p++) {
        char t[40];
        snprintf(t, sizeof t, "%.*g", p, x);
        double y = strtod(t, NULL);
        if (y != x || signbit(y) != signbit(x)) continue;
        if (!best[0] || strlen(t) < strlen(best)) snprintf(best, sizeof best, "%s", t);
    }
    snprintf(buf, n, "%s", best[0] ? best : "nan");
}

/* ---------------------------------------------------------------- YAML parsing */

typedef struct {
    yaml_parser_t p;
    const Ctx *c;
    const char *path;     /* key the text belongs to (overrides), or NULL (files) */
} Reader;

static Status reader_next(Reader *r, yaml_event_t *ev) {
    if (yaml_parser_parse(&r->p, ev)) return ST_OK;
    Node at = { .line = (int)r->p.problem_mark.line + 1, .col = (int)r->p.problem_mark.column + 1 };
    return ctx_fail(r->c, ST_FORMAT, &at, r->path, "expected valid YAML, found %s",
                    r->p.problem ? r->p.problem : "an unknown error");
}

static Status reader_node(Reader *r, yaml_event_t *ev, int depth, Node **out);

/* reader_children: read the items of a sequence or mapping until its end event. */
static Status reader_children(Reader *r, Node *nd, yaml_event_type_t end, int depth) {
    for (;;) {
        yaml_event_t ev;
        Status st = reader_next(r, &ev);
        if (st) return st;
        if (ev.type == end) { yaml_event_delete(&ev); return ST_OK; }
        Node *kid = NULL;
        st = reader_node(r, &ev, depth + 1, &kid);  /* consumes ev */
        if (st) return st;
        if (!node_add(nd, kid)) { node_free(kid); return err_set(r->c->e, ST_NOMEM, "out of memory"); }
    }
}

/* reader_node: build the node that starts with ev (deleted here) into *out. */
static Status reader_node(Reader *r, yaml_event_t *ev, int depth, Node **out) {
    Node at = { .line = (int)ev->start_mark.line + 1, .col = (int)ev->start_mark.column + 1 };
    yaml_event_type_t type = ev->type;
    Status st = ST_OK;
    if (type == YAML_ALIAS_EVENT)
        st = ctx_fail(r->c, ST_FORMAT, &at, r->path, "expected no aliases, found alias '*%s'",
                      (const char *)ev->data.alias.anchor);
    else if (depth > DEPTH_MAX)
        st = ctx_fail(r->c, ST_FORMAT, &at, r->path,
                      "expected at most %d levels of nesting, found more", DEPTH_MAX);
    Node *nd = NULL;
    if (!st) {
        nd = node_new(type == YAML_SCALAR_EVENT ? N_SCALAR
                      : type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ, ev->start_mark);
        if (!nd) st = err_set(r->c->e, ST_NOMEM, "out of memory");
    }
    if (!st && type == YAML_SCALAR_EVENT) {
        size_t len = ev->data.scalar.length;
        nd->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        nd->text = malloc(len + 1);
        if (!nd->text) st = err_set(r->c->e, ST_NOMEM, "out of memory");
        else { memcpy(nd->text, ev->data.scalar.value, len); nd->text[len] = '\0'; }
    }
    yaml_event_delete(ev);
    if (!st && type == YAML_SEQUENCE_START_EVENT)
        st = reader_children(r, nd, YAML_SEQUENCE_END_EVENT, depth);
    else if (!st && type == YAML_MAPPING_START_EVENT)
        st = reader_children(r, nd, YAML_MAPPING_END_EVENT, depth);
    if (st) { node_free(nd); return st; }
    *out = nd;
    return ST_OK;
}

/* reader_document: after STREAM_START, read at most one document; *root stays NULL for
   an empty stream. A second document is an error. */
static Status reader_document(Reader *r, Node **root) {
    yaml_event_t ev;
    Status st = reader_next(r, &ev);
    if (st) return st;
    if (ev.type == YAML_STREAM_END_EVENT) { yaml_event_delete(&ev); return ST_OK; }
    yaml_event_delete(&ev);                       /* DOCUMENT_START */
    if ((st = reader_next(r, &ev))) return st;
    if ((st = reader_node(r, &ev, 0, root))) return st;
    if ((st = reader_next(r, &ev))) return st;    /* DOCUMENT_END */
    yaml_event_delete(&ev);
    if ((st = reader_next(r, &ev))) return st;
    Node at = { .line = (int)ev.start_mark.line + 1, .col = (int)ev.start_mark.column + 1 };
    int more = ev.type != YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (more)
        return ctx_fail(r->c, ST_FORMAT, &at, r->path,
                        "expected a single document, found a second document");
    return ST_OK;
}

/* yaml_to_tree: parse text (len bytes) into *root (NULL when the text holds no document). */
static Status yaml_to_tree(const char *text, size_t len, const Ctx *c, const char *path,
                           Node **root) {
    Reader r = { .c = c, .path = path };
    *root = NULL;
    if (!yaml_parser_initialize(&r.p)) return err_set(c->e, ST_NOMEM, "out of memory");
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    yaml_event_t ev;
    Status st = reader_next(&r, &ev);             /* STREAM_START */
    if (!st) {
        yaml_event_delete(&ev);
        st = reader_document(&r, root);
    }
    yaml_parser_delete(&r.p);
    if (st) { node_free(*root); *root = NULL; }
    return st;
}

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

/* child_len: length of the first component of the field's path below prefix, or 0 if
   the field is not below prefix (prefix is "" or ends with '.'). */
static size_t child_len(const ConfigField *f, const char *prefix, size_t plen) {
    if (strncmp(f->path, prefix, plen)) return 0;
    return strcspn(f->path + plen, ".");
}

/* child_seen: an earlier field than i has the same child name below prefix. */
static int child_seen(const ConfigSchema *s, int i, const char *prefix, size_t plen) {
    const char *name = s->fields[i].path + plen;
    size_t n = child_len(&s->fields[i], prefix, plen);
    for (int j = 0; j < i; j++)
        if (child_len(&s->fields[j], prefix, plen) == n &&
            !strncmp(s->fields[j].path + plen, name, n)) return 1;
    return 0;
}

/* schema_children: "a, b, c": the keys valid directly below prefix, in schema order. */
static void schema_children(const ConfigSchema *s, const char *prefix, char *buf, size_t n) {
    size_t plen = strlen(prefix), used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n_fields; i++) {
        size_t len = child_len(&s->fields[i], prefix, plen);
        if (!len || child_seen(s, i, prefix, plen)) continue;
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
        return ctx_fail(c, ST_CONFIG, v, path, "expected an integer, found %s",
                        node_found(v, buf, sizeof buf));
    int_bounds(f, &lo, &hi);
    if (ok == 2 || x < lo || x > hi)
        return ctx_fail(c, ST_CONFIG, v, path, "expected an integer in [%ld, %ld], found %s",
                        lo, hi, v->text);
    *out = (int)x;
    return ST_OK;
}

/* number_range: " in [a, b]", " >= a", " <= b" or "" for a CF_FLOAT (element). */
static void number_range(const ConfigField *f, char *buf, size_t n) {
    char a[32], b[32];
    fmt_double(f->min, a, sizeof a);
    fmt_double(f->max, b, sizeof b);
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
        return ctx_fail(c, ST_CONFIG, v, path, "expected a number, found %s",
                        node_found(v, buf, sizeof buf));
    if (!isfinite(x))
        return ctx_fail(c, ST_CONFIG, v, path, "expected a finite number, found %s", v->text);
    number_range(f, range, sizeof range);
    if (range[0] && !(x >= f->min && x <= f->max))
        return ctx_fail(c, ST_CONFIG, v, path, "expected a number%s, found %s", range, v->text);
    *out = x;
    return ST_OK;
}

static Status value_bool(const Ctx *c, const Node *v, const char *path, int *out) {
    char buf[FOUND_MAX + 8];
    /* YAML 1.2 style: only true/false (no yes/no/on/off) */
    if (v->kind == N_SCALAR && !strcmp(v->text, "true")) { *out = 1; return ST_OK; }
    if (v->kind == N_SCALAR && !strcmp(v->text, "false")) { *out = 0; return ST_OK; }
    return ctx_fail(c, ST_CONFIG, v, path, "expected true or false, found %s",
                    node_found(v, buf, sizeof buf));
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
        return ctx_fail(c, ST_CONFIG, v, path, "expected a string, found %s", node_shape(v));
    size_t len = strlen(v->text);
    if (!len && !c->schema && !string_may_be_empty(f))
        return ctx_fail(c, ST_CONFIG, v, path, "expected a non-empty string, found %s",
                        node_found(v, buf, sizeof buf));
    if (len >= CONFIG_STR_MAX)
        return ctx_fail(c, ST_CONFIG, v, path,
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
        return ctx_fail(c, ST_CONFIG, v, path, "expected one of %s, found %s",
                        f->choices ? f->choices : "", node_found(v, buf, sizeof buf));
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
        return ctx_fail(c, ST_CONFIG, v, path, "expected a sequence of %s, found %s", what,
                        node_shape(v));
    if (v->n < 1 || v->n > CONFIG_LIST_MAX)
        return ctx_fail(c, ST_CONFIG, v, path, "expected a sequence of 1 to %d %s, found %d elements",
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
    Status st = yaml_to_tree(text, strlen(text), c, f->path, &root);
    if (st) return st;
    st = value_apply(c, f, root ? root : &null_node, f->path, cfg);
    node_free(root);
    return st;
}

/* ---------------------------------------------------------------- mappings */

static Status unknown_key(const Ctx *c, const ConfigSchema *s, const Node *at,
                          const char *prefix, const char *key) {
    char keys[ERR_MSG_MAX / 2], path[PATH_MAX_LEN];
    schema_children(s, prefix, keys, sizeof keys);
    snprintf(path, sizeof path, "%s%s", prefix, key);
    return ctx_fail(c, ST_CONFIG, at, path,
                    "expected a known key (one of: %s), found unknown key '%s'", keys, key);
}

static Status map_apply(const Ctx *c, const ConfigSchema *s, const Node *map, const char *prefix,
                        void *cfg, char *given, int depth);

/* pair_apply: one "key: value" of a mapping below prefix. */
static Status pair_apply(const Ctx *c, const ConfigSchema *s, const Node *map, int i,
                         const char *prefix, void *cfg, char *given, int depth) {
    const Node *k = map->kids[i], *v = map->kids[i + 1];
    char path[PATH_MAX_LEN];
    if (k->kind != N_SCALAR)
        return ctx_fail(c, ST_CONFIG, k, prefix[0] ? prefix : NULL,
                        "expected a scalar key, found %s", node_shape(k));
    snprintf(path, sizeof path, "%s%s", prefix, k->text);
    for (int j = 0; j < i; j += 2)   /* duplicates: libyaml itself accepts them */
        if (map->kids[j]->kind == N_SCALAR && !strcmp(map->kids[j]->text, k->text))
            return ctx_fail(c, ST_CONFIG, k, path,
                            "expected a key given once, found a duplicate '%s'", k->text);
    int fi = schema_find(s, path);
    if (fi >= 0) {
        given[fi] = 1;
        return value_apply(c, &s->fields[fi], v, path, cfg);
    }
    if (!schema_is_section(s, path)) return unknown_key(c, s, k, prefix, k->text);
    if (node_is_null(v)) return ST_OK;   /* "section:" with every key commented out */
    if (v->kind != N_MAP)
        return ctx_fail(c, ST_CONFIG, v, path, "expected a mapping, found %s", node_shape(v));
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
        cur = map_get(cur, p, (size_t)(dot - p));
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
        return ctx_fail(c, ST_CONFIG, NULL, key,
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
        return ctx_fail(&c, ST_CONFIG, NULL, NULL, "expected key.path=value, found no '='");
    char key[PATH_MAX_LEN];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assign), assign);
    if (!key[0])
        return ctx_fail(&c, ST_CONFIG, NULL, NULL, "expected key.path=value, found no key");
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
        return ctx_fail(&c, ST_MISSING, parent_mark(root, s->fields[i].path), s->fields[i].path,
                        "expected a required key, found nothing");
    }
    return ST_OK;
}

/* load_tree: apply the parsed file (root may be NULL: empty), then the overrides. */
static Status load_tree(const ConfigSchema *s, void *cfg, const Node *root, const char *name,
                        const char *const *overrides, int n_over, char *given, Err *e) {
    Ctx c = { .file = name, .e = e };
    Status st = ST_OK;
    if (root && node_is_null(root)) root = NULL;   /* a document holding only "~" */
    if (root && root->kind != N_MAP)
        return ctx_fail(&c, ST_CONFIG, root, NULL, "expected a mapping, found %s",
                        node_shape(root));
    if (root) st = map_apply(&c, s, root, "", cfg, given, 0);
    for (int i = 0; !st && i < n_over; i++)
        st = override_apply(s, cfg, overrides[i], given, e);
    if (!st) st = check_required(s, root, name, given, e);
    return st;
}

/* load_buffer: the whole loading sequence; text NULL means no file (name NULL too). */
static Status load_buffer(const ConfigSchema *s, void *cfg, const char *text, size_t len,
                          const char *name, const char *const *overrides, int n_over,
                          Err *e) {
    Status st = config_defaults(s, cfg, e);
    if (st) return st;
    Node *root = NULL;
    Ctx c = { .file = name, .e = e };
    if (text && (st = yaml_to_tree(text, len, &c, NULL, &root))) return st;
    char *given = calloc((size_t)s->n_fields + 1, 1);
    if (!given) { node_free(root); return err_set(e, ST_NOMEM, "out of memory"); }
    st = load_tree(s, cfg, root, name, overrides, n_over, given, e);
    free(given);
    node_free(root);
    if (!st && s->validate) st = s->validate(cfg, name ? name : "command line", e);
    return st;
}

Status config_load_text(const ConfigSchema *s, void *cfg, const char *text, const char *name,
                        const char *const *overrides, int n_over, Err *e) {
    if (!text) return err_set(e, ST_INVALID, "config_load_text: text is NULL");
    return load_buffer(s, cfg, text, strlen(text), name ? name : "<text>", overrides, n_over, e);
}

/* file_read: the whole file, malloc'd and NUL-terminated. */
static Status file_read(const char *path, char **out, size_t *len, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, ST_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) { free(buf); buf = NULL; break; }
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (!buf) return err_set(e, ST_NOMEM, "%s: out of memory", path);
    if (bad) { free(buf); return err_set(e, ST_IO, "%s: cannot read: %s", path, strerror(saved)); }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ST_OK;
}

Status config_load(const ConfigSchema *s, void *cfg, const char *path,
                   const char *const *overrides, int n_over, Err *e) {
    if (!path) return load_buffer(s, cfg, NULL, 0, NULL, overrides, n_over, e);
    char *text = NULL;
    size_t len = 0;
    Status st = file_read(path, &text, &len, e);
    if (st) return st;
    st = load_buffer(s, cfg, text, len, path, overrides, n_over, e);
    free(text);
    return st;
}

Status config_override(const ConfigSchema *s, void *cfg, const char *assignment, Err *e) {
    return override_apply(s, cfg, assignment, NULL, e);
}

/* ---------------------------------------------------------------- printing */

typedef struct { char *buf; size_t len, cap; int oom; } Sb;

static void sb_printf(Sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(Sb *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 256);
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) { b->oom = 1; return; }
        b->buf = nb;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* sb_quoted: a YAML double-quoted string ('"', '\\' and control bytes escaped). */
static void sb_quoted(Sb *b, const char *s) {
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(b, "\\%c", *p);
        else if (*p == '\n') sb_printf(b, "\\n");
        else if (*p == '\t') sb_printf(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f) sb_printf(b, "\\x%02x", *p);
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

/* sb_double: a finite double in its shortest exact form (non-finite: an error). */
static Status sb_double(Sb *b, double x, const char *path, Err *e) {
    char t[40];
    if (!isfinite(x))
        return err_set(e, ST_INVALID, "%s: expected a finite number, found %g", path, x);
    fmt_double(x, t, sizeof t);
    sb_printf(b, "%s", t);
    return ST_OK;
}

static Status sb_value(Sb *b, const ConfigField *f, const void *cfg, Err *e) {
    const void *p = (const char *)cfg + f->offset;
    switch (f->type) {
    case CF_INT: sb_printf(b, "%d", *(const int *)p); return ST_OK;
    case CF_BOOL: sb_printf(b, "%s", *(const int *)p ? "true" : "false"); return ST_OK;
    case CF_FLOAT: return sb_double(b, *(const double *)p, f->path, e);
    case CF_STRING: case CF_ENUM: sb_quoted(b, p); return ST_OK;
    case CF_INT_LIST: {
        const IntList *l = p;
        sb_printf(b, "[");
        for (int i = 0; i < l->n && i < CONFIG_LIST_MAX; i++) sb_printf(b, "%s%d", i ? ", " : "", l->v[i]);
        sb_printf(b, "]");
        return ST_OK;
    }
    case CF_FLOAT_LIST: {
        const FloatList *l = p;
        Status st = ST_OK;
        sb_printf(b, "[");
        for (int i = 0; !st && i < l->n && i < CONFIG_LIST_MAX; i++) {
            sb_printf(b, "%s", i ? ", " : "");
            st = sb_double(b, l->v[i], f->path, e);
        }
        sb_printf(b, "]");
        return st;
    }
    }
    return err_set(e, ST_INVALID, "%s: unknown field type %d", f->path, (int)f->type);
}

/* sb_comment: "# help" on its own line (newlines in help folded into spaces). */
static void sb_comment(Sb *b, int indent, const char *help) {
    if (!help || !help[0]) return;
    sb_printf(b, "%*s# ", indent, "");
    for (const char *p = help; *p; p++) sb_printf(b, "%c", (*p == '\n' || *p == '\r') ? ' ' : *p);
    sb_printf(b, "\n");
}

/* sb_section: the keys below prefix, as a mapping indented by indent spaces; children
   appear in the order of their first field in the schema. */
static Status sb_section(Sb *b, const ConfigSchema *s, const void *cfg, const char *prefix,
                         int indent, Err *e) {
    size_t plen = strlen(prefix);
    for (int i = 0; i < s->n_fields; i++) {
        const ConfigField *f = &s->fields[i];
        size_t len = child_len(f, prefix, plen);
        if (!len || child_seen(s, i, prefix, plen)) continue;
        const char *name = f->path + plen;
        if (!name[len]) {   /* a value at this level */
            Status st;
            sb_comment(b, indent, f->help);
            sb_printf(b, "%*s%s: ", indent, "", name);
            if ((st = sb_value(b, f, cfg, e))) return st;
            sb_printf(b, "\n");
            continue;
        }
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof sub, "%.*s.", (int)(plen + len), f->path);
        sb_printf(b, "%*s%.*s:\n", indent, "", (int)len, name);
        Status st = sb_section(b, s, cfg, sub, indent + 2, e);
        if (st) return st;
    }
    return ST_OK;
}

Status config_to_yaml(const ConfigSchema *s, const void *cfg, char **out, Err *e) {
    Sb b = { 0 };
    *out = NULL;
    sb_printf(&b, "# %s\n", s->name ? s->name : "config");
    Status st = sb_section(&b, s, cfg, "", 0, e);
    if (!st && b.oom) st = err_set(e, ST_NOMEM, "config_to_yaml: out of memory");
    if (st) { free(b.buf); return st; }
    *out = b.buf;
    return ST_OK;
}

Status config_print(const ConfigSchema *s, const void *cfg, FILE *f, Err *e) {
    char *text = NULL;
    Status st = config_to_yaml(s, cfg, &text, e);
    if (st) return st;
    if (fputs(text, f) < 0 || fflush(f) != 0)
        st = err_set(e, ST_IO, "config_print: cannot write: %s", strerror(errno));
    free(text);
    return st;
}
