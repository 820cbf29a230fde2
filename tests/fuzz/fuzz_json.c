/* fuzz_json.c: libFuzzer target of the strict JSON parser (core/json.h).
 *
 * Input: the text, parsed with json_parse. A failure must leave a message (fuzz_check_err) and
 * no document. A success must satisfy what json.h promises of the tree: every string
 * NUL-terminated at its length and valid UTF-8 (checked here by a decoder of its own: no
 * overlong forms, surrogates or code points above U+10FFFF), distinct keys in every object,
 * nesting within JSON_MAX_DEPTH, finite numbers whose exact integer equals the double when
 * is_int, positions >= 1:1. The tree is then printed back as JSON (every string escaped
 * again, integers exactly, other numbers with 17 significant digits and a fraction or an
 * exponent, so that 2^53 read from "9007199254740993.0" stays a non-integer) and parsed
 * again: the second tree must equal the first (types, values bit for bit but the sign of
 * zero, strings, members in order). The accessors run on every member of a top-level
 * object. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* utf8_ok: s[0..n) is valid UTF-8 */
static int utf8_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                               : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) return 0;
        uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static void check_string(const char *s, size_t n) {
    if (s[n] != '\0' || !utf8_ok((const unsigned char *)s, n)) abort();
}

static void check_tree(const JsonValue *v, int depth) {
    if (v->line < 1 || v->col < 1 || depth > JSON_MAX_DEPTH) abort();
    if (v->type == JSON_NUMBER &&
        (!isfinite(v->u.num.d) || (v->u.num.is_int && (double)v->u.num.i != v->u.num.d)))
        abort();
    if (v->type == JSON_STRING) check_string(v->u.str.s, v->u.str.len);
    if (v->type == JSON_ARRAY)
        for (size_t i = 0; i < v->u.arr.n; i++) check_tree(&v->u.arr.items[i], depth + 1);
    if (v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->u.obj.n; i++) {
            const JsonMember *m = &v->u.obj.members[i];
            check_string(m->key, m->key_len);
            for (size_t j = 0; j < i; j++)
                if (m->key_len == v->u.obj.members[j].key_len &&
                    !memcmp(m->key, v->u.obj.members[j].key, m->key_len))
                    abort();
            check_tree(&m->value, depth + 1);
        }
}

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_string(Buf *b, const char *s, size_t n) {
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') put(b, "\\", 1), put(b, s + i, 1);
        else if (c < 0x20) put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        else put(b, s + i, 1);
    }
    put(b, "\"", 1);
}

static void print(Buf *b, const JsonValue *v) {
    char num[64];
    switch (v->type) {
    case JSON_NULL: put(b, "null", 4); break;
    case JSON_BOOL: v->u.boolean ? put(b, "true", 4) : put(b, "false", 5); break;
    case JSON_NUMBER:
        if (v->u.num.is_int) snprintf(num, sizeof num, "%lld", (long long)v->u.num.i);
        else snprintf(num, sizeof num, "%.17g", v->u.num.d);
        put(b, num, strlen(num));
        if (!v->u.num.is_int && !strpbrk(num, ".e")) put(b, ".0", 2); /* 2^53: not an int */
        break;
    case JSON_STRING: put_string(b, v->u.str.s, v->u.str.len); break;
    case JSON_ARRAY:
        put(b, "[", 1);
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i) put(b, ",", 1);
            print(b, &v->u.arr.items[i]);
        }
        put(b, "]", 1);
        break;
    case JSON_OBJECT:
        put(b, "{", 1);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            if (i) put(b, ",\n", 2);
            put_string(b, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
            put(b, ":", 1);
            print(b, &v->u.obj.members[i].value);
        }
        put(b, "}", 1);
        break;
    }
}

static int same(const JsonValue *a, const JsonValue *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->u.boolean == b->u.boolean;
    case JSON_NUMBER:
        return a->u.num.d == b->u.num.d && a->u.num.is_int == b->u.num.is_int &&
               a->u.num.i == b->u.num.i;
    case JSON_STRING:
        return a->u.str.len == b->u.str.len && !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n) return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!same(&a->u.arr.items[i], &b->u.arr.items[i])) return 0;
        return 1;
    case JSON_OBJECT:
        if (a->u.obj.n != b->u.obj.n) return 0;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const JsonMember *x = &a->u.obj.members[i], *y = &b->u.obj.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) ||
                !same(&x->value, &y->value))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* accessors: every typed read of every member of a top-level object */
static void accessors(const JsonDoc *d) {
    const JsonValue *r = json_root(d);
    for (size_t i = 0; r->type == JSON_OBJECT && i < r->u.obj.n; i++) {
        const char *key = r->u.obj.members[i].key, *s;
        if (strlen(key) != r->u.obj.members[i].key_len) continue;
        int64_t x;
        double y;
        int b;
        Err e;
        fuzz_check_err(json_get_int(d, r, key, -5, 1000, &x, &e), &e);
        fuzz_check_err(json_get_double(d, r, key, -1, 1, &y, &e), &e);
        fuzz_check_err(json_get_string(d, r, key, &s, &e), &e);
        fuzz_check_err(json_get_bool(d, r, key, &b, &e), &e);
        fuzz_check_err(json_opt_int(d, r, key, 0, 10, &x, &e), &e);
        if (json_find(r, key) != &r->u.obj.members[i].value) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    JsonDoc *d = (JsonDoc *)1;
    Err e;
    err_clear(&e);
    Status s = json_parse(&d, (const char *)data, size, "fuzz.json", &e);
    fuzz_check_err(s, &e);
    if (s) {
        if (d) abort();
        return 0;
    }
    check_tree(json_root(d), 0);
    accessors(d);
    Buf b = {0};
    print(&b, json_root(d));
    JsonDoc *d2 = NULL;
    if (json_parse(&d2, b.p, b.n, "printed", &e) || !same(json_root(d), json_root(d2))) {
        fprintf(stderr, "round trip failed (%s):\n%.*s\n", e.msg, (int)b.n, b.p);
        abort();
    }
    json_free(d2);
    json_free(d);
    free(b.p);
    return 0;
}
