/* config_emit.c: a resolved config printed back as YAML (config_to_yaml, config_print;
 * see config.h): nested keys as nested mappings in schema order, help as comments,
 * numbers in the shortest form that reads back exactly, so the text loads to the
 * same struct. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* cfg_fmt_double: the shortest %g text that reads back (strtod) to exactly x; integral
   values below 1e15 print without exponent ("10", not "1e+01"). */
void cfg_fmt_double(double x, char *buf, size_t n) {
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

/* sb_quoted: a YAML double-quoted string ('"', '\\' and control bytes escaped, and the
   characters libyaml would not read back as themselves: C1 controls, U+0085 (NEL), U+2028,
   U+2029 (line breaks folded in quoted scalars), U+FEFF, U+FFFE, U+FFFF). */
static void sb_quoted(Sb *b, const char *s) {
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(b, "\\%c", *p);
        else if (*p == '\n') sb_printf(b, "\\n");
        else if (*p == '\t') sb_printf(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f) sb_printf(b, "\\x%02x", *p);
        else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) sb_printf(b, "\\x%02x", *++p);
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
            sb_printf(b, "\\u%04x", 0x2000 | (p[2] - 0x80)), p += 2;
        else if (p[0] == 0xef && ((p[1] == 0xbb && p[2] == 0xbf) ||
                                  (p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))))
            sb_printf(b, "\\u%04x", 0xf000 | (p[1] - 0x80) << 6 | (p[2] - 0x80)), p += 2;
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

/* sb_double: a finite double in its shortest exact form (non-finite: an error). */
static Status sb_double(Sb *b, double x, const char *path, Err *e) {
    char t[40];
    if (!isfinite(x))
        return err_set(e, ST_INVALID, "%s: expected a finite number, found %g", path, x);
    cfg_fmt_double(x, t, sizeof t);
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
        size_t len = cfg_child_len(f, prefix, plen);
        if (!len || cfg_child_seen(s, i, prefix, plen)) continue;
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

/* ---------------------------------------------------------------- comparing */

Status config_value_text(const ConfigField *f, const void *cfg, char *buf, size_t cap, Err *e) {
    Sb b = {0};
    Status st = sb_value(&b, f, cfg, e);
    if (!st && b.oom) st = err_set(e, ST_NOMEM, "config_value_text: out of memory");
    if (!st) snprintf(buf, cap, "%s", b.buf ? b.buf : "");
    free(b.buf);
    return st;
}

Status config_diff(const ConfigSchema *s, const void *a, const void *b, int *from, char *va,
                   char *vb, size_t cap, Err *e) {
    for (int i = *from; i < s->n_fields; i++) {
        const ConfigField *f = &s->fields[i];
        Sb x = {0}, y = {0}; /* whole texts compared: the clipped ones could agree */
        Status st = sb_value(&x, f, a, e);
        if (!st) st = sb_value(&y, f, b, e);
        if (!st && (x.oom || y.oom)) st = err_set(e, ST_NOMEM, "config_diff: out of memory");
        int differ = !st && strcmp(x.buf ? x.buf : "", y.buf ? y.buf : "");
        if (differ) {
            snprintf(va, cap, "%s", x.buf ? x.buf : "");
            snprintf(vb, cap, "%s", y.buf ? y.buf : "");
        }
        free(x.buf);
        free(y.buf);
        if (st) return st;
        if (differ) {
            *from = i;
            return ST_OK;
        }
    }
    *from = -1;
    return ST_OK;
}
