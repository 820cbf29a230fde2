/* json.c: the strict JSON parser of json.h: recursive descent over the text, one arena per
 * document, errors naming NAME:LINE:COLUMN, what was expected and what was found.
 *
 * Arrays and objects: their items (members) are parsed onto a scratch stack shared by every
 * level (an inner array pushes above its parent's items and pops them when it closes), then
 * copied into the arena as one block, so the arena holds exactly the final tree. Strings are
 * decoded into an arena block as long as their raw text (escapes only shrink: \uXXXX is 6
 * bytes for at most 3 of UTF-8, a surrogate pair 12 for 4). Lines advance only in whitespace:
 * a raw newline is an error everywhere else, so every error lies on the current line. */
#include "core/json.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/json_internal.h"

#define ARENA_BLOCK (64 * 1024)

typedef struct Block {
    struct Block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} Block;

struct JsonDoc {
    Block *blocks;
    JsonValue root;
    char name[JSON_NAME_MAX];
};

/* arena_alloc: n bytes aligned for any type, from the document's arena (NULL: out of memory) */
static void *arena_alloc(JsonDoc *d, size_t n) {
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0) n = align;
    Block *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof(Block) + cap);
        if (!b) return NULL;
        b->next = d->blocks, b->used = 0, b->cap = cap;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void json_free(JsonDoc *d) {
    if (!d) return;
    for (Block *b = d->blocks, *next; b; b = next) next = b->next, free(b);
    free(d);
}

const JsonValue *json_root(const JsonDoc *d) { return &d->root; }
const char *json_name(const JsonDoc *d) { return d->name; }

Status json_fail(JsonParser *P, const char *at, const char *expected, const char *found_fmt,
                 ...) {
    char found[256];
    va_list ap;
    va_start(ap, found_fmt);
    vsnprintf(found, sizeof found, found_fmt, ap);
    va_end(ap);
    return err_set(P->e, ST_FORMAT, "%s:%d:%d: expected %s, found %s", P->doc->name, P->line,
                   (int)(at - P->line_start) + 1, expected, found);
}

const char *json_describe(const JsonParser *P, const char *at, char *buf, size_t cap) {
    if (at >= P->end) return "the end of the input";
    unsigned char c = (unsigned char)*at;
    if (c >= 0x20 && c < 0x7f) snprintf(buf, cap, "'%c'", c);
    else if (c < 0x20 || c == 0x7f) snprintf(buf, cap, "a control character (0x%02x)", c);
    else snprintf(buf, cap, "the byte 0x%02x", c);
    return buf;
}

Status json_unexpected(JsonParser *P, const char *at, const char *expected) {
    char buf[64];
    return json_fail(P, at, expected, "%s", json_describe(P, at, buf, sizeof buf));
}

void json_skip_ws(JsonParser *P) {
    while (P->p < P->end) {
        char c = *P->p;
        if (c == '\n') P->line++, P->line_start = P->p + 1;
        else if (c != ' ' && c != '\t' && c != '\r') return;
        P->p++;
    }
}

void *json_arena(JsonParser *P, size_t n) {
    void *p = arena_alloc(P->doc, n);
    if (!p) err_set(P->e, ST_NOMEM, "%s: out of memory (%zu bytes)", P->doc->name, n);
    return p;
}

/* push: make room for one more item (vals) or member (mems) on the scratch stacks */
static Status push_room(JsonParser *P, int members) {
    size_t *n = members ? &P->mn : &P->vn, *cap = members ? &P->mcap : &P->vcap;
    if (*n < *cap) return ST_OK;
    size_t ncap = *cap ? 2 * *cap : 64, sz = members ? sizeof(JsonMember) : sizeof(JsonValue);
    void *old = members ? (void *)P->mstack : (void *)P->vstack;
    void *p = realloc(old, ncap * sz);
    if (!p) return err_set(P->e, ST_NOMEM, "%s: out of memory (%zu scratch entries)",
                           P->doc->name, ncap);
    if (members) P->mstack = p;
    else P->vstack = p;
    *cap = ncap;
    return ST_OK;
}

static Status parse_value(JsonParser *P, JsonValue *v, int depth);

/* parse_array: after '['; items onto the scratch stack, then one arena block */
static Status parse_array(JsonParser *P, JsonValue *v, int depth) {
    size_t base = P->vn;
    json_skip_ws(P);
    if (P->p < P->end && *P->p == ']') {
        P->p++;
        v->u.arr.items = NULL, v->u.arr.n = 0;
        return ST_OK;
    }
    for (;;) {
        JsonValue item;
        Status s = parse_value(P, &item, depth + 1);
        if (!s) s = push_room(P, 0);
        if (s) return s;
        P->vstack[P->vn++] = item;
        json_skip_ws(P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            json_skip_ws(P);
            if (P->p < P->end && *P->p == ']')
                return json_fail(P, P->p, "a value after ',' in an array", "']' (a trailing "
                                 "comma)");
            continue;
        }
        if (P->p < P->end && *P->p == ']') break;
        return json_unexpected(P, P->p, "',' or ']' after an array item");
    }
    P->p++;
    size_t n = P->vn - base;
    JsonValue *items = json_arena(P, n * sizeof *items);
    if (!items) return ST_NOMEM;
    memcpy(items, P->vstack + base, n * sizeof *items);
    P->vn = base;
    v->u.arr.items = items, v->u.arr.n = n;
    return ST_OK;
}

/* key_cmp: order of members by key bytes (then length), for the duplicate check */
static int key_cmp(const void *a, const void *b) {
    const JsonMember *x = *(const JsonMember *const *)a, *y = *(const JsonMember *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x < y ? -1 : (x > y); /* equal keys: document order */
}

/* check_distinct: no key twice in members[0..n) (sorted copy of pointers: O(n log n)) */
static Status check_distinct(JsonParser *P, const JsonMember *m, size_t n) {
    if (n < 2) return ST_OK;
    const JsonMember **s = malloc(n * sizeof *s);
    if (!s) return err_set(P->e, ST_NOMEM, "%s: out of memory (%zu keys)", P->doc->name, n);
    for (size_t i = 0; i < n; i++) s[i] = &m[i];
    qsort(s, n, sizeof *s, key_cmp);
    Status st = ST_OK;
    for (size_t i = 1; i < n && !st; i++) {
        if (s[i]->key_len != s[i - 1]->key_len || memcmp(s[i]->key, s[i - 1]->key, s[i]->key_len))
            continue;
        st = err_set(P->e, ST_FORMAT, "%s:%d:%d: expected distinct keys in an object, found "
                     "'%.200s' again (first at %d:%d)", P->doc->name, s[i]->value.line,
                     s[i]->value.col, s[i]->key, s[i - 1]->value.line, s[i - 1]->value.col);
    }
    free(s);
    return st;
}

/* parse_member: one "key": value onto the member stack */
static Status parse_member(JsonParser *P, int depth) {
    if (P->p >= P->end || *P->p != '"')
        return json_unexpected(P, P->p, "a string key ('\"') in an object");
    JsonMember m;
    Status s = json_parse_string(P, &m.key, &m.key_len);
    if (s) return s;
    json_skip_ws(P);
    if (P->p >= P->end || *P->p != ':')
        return json_unexpected(P, P->p, "':' after an object key");
    P->p++;
    s = parse_value(P, &m.value, depth + 1);
    if (!s) s = push_room(P, 1);
    if (s) return s;
    P->mstack[P->mn++] = m;
    return ST_OK;
}

/* parse_object: after '{'; members onto the scratch stack, then one arena block */
static Status parse_object(JsonParser *P, JsonValue *v, int depth) {
    size_t base = P->mn;
    json_skip_ws(P);
    if (P->p < P->end && *P->p == '}') {
        P->p++;
        v->u.obj.members = NULL, v->u.obj.n = 0;
        return ST_OK;
    }
    for (;;) {
        Status s = parse_member(P, depth);
        if (s) return s;
        json_skip_ws(P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            json_skip_ws(P);
            if (P->p < P->end && *P->p == '}')
                return json_fail(P, P->p, "a member after ',' in an object", "'}' (a trailing "
                                 "comma)");
            continue;
        }
        if (P->p < P->end && *P->p == '}') break;
        return json_unexpected(P, P->p, "',' or '}' after an object member");
    }
    P->p++;
    size_t n = P->mn - base;
    JsonMember *mem = json_arena(P, n * sizeof *mem);
    if (!mem) return ST_NOMEM;
    memcpy(mem, P->mstack + base, n * sizeof *mem);
    P->mn = base;
    v->u.obj.members = mem, v->u.obj.n = n;
    return check_distinct(P, mem, n);
}

/* literal: true, false or null at P->p */
static Status parse_literal(JsonParser *P, JsonValue *v) {
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(P->end - P->p) >= n && !memcmp(P->p, words[i], n)) {
            P->p += n;
            v->type = i == 2 ? JSON_NULL : JSON_BOOL;
            v->u.boolean = i == 0;
            return ST_OK;
        }
    }
    return json_unexpected(P, P->p, "a value (object, array, string, number, true, false or "
                           "null)");
}

static Status parse_value(JsonParser *P, JsonValue *v, int depth) {
    json_skip_ws(P);
    memset(v, 0, sizeof *v);
    v->line = P->line, v->col = (int)(P->p - P->line_start) + 1;
    if (P->p >= P->end)
        return json_unexpected(P, P->p, "a value (object, array, string, number, true, false "
                               "or null)");
    char c = *P->p;
    if (c == '{' || c == '[') {
        if (depth >= JSON_MAX_DEPTH)
            return json_fail(P, P->p, "at most " JSON_STR(JSON_MAX_DEPTH) " nested arrays and "
                             "objects", "deeper nesting");
        P->p++;
        v->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
        return c == '{' ? parse_object(P, v, depth) : parse_array(P, v, depth);
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return json_parse_string(P, &v->u.str.s, &v->u.str.len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        v->type = JSON_NUMBER;
        return json_parse_number(P, v);
    }
    return parse_literal(P, v);
}

Status json_parse(JsonDoc **doc, const char *text, size_t len, const char *name, Err *e) {
    *doc = NULL;
    if (!text) text = ""; /* (NULL, 0): an empty text, without arithmetic on NULL */
    JsonDoc *d = calloc(1, sizeof *d);
    if (!d) return err_set(e, ST_NOMEM, "%s: out of memory", name);
    snprintf(d->name, sizeof d->name, "%s", name);
    JsonParser P = {.doc = d, .p = text, .end = text + len, .line_start = text, .line = 1,
                    .e = e};
    Status s = parse_value(&P, &d->root, 0);
    if (!s) {
        json_skip_ws(&P);
        if (P.p < P.end) s = json_unexpected(&P, P.p, "the end of the input after the value");
    }
    free(P.vstack);
    free(P.mstack);
    if (s) {
        json_free(d);
        return s;
    }
    *doc = d;
    return ST_OK;
}

Status json_parse_file(JsonDoc **doc, const char *path, Err *e) {
    char *text = NULL;
    size_t len = 0;
    *doc = NULL;
    Status s = file_read_all(path, &text, &len, e);
    if (s) return s;
    s = json_parse(doc, text, len, path, e);
    free(text);
    return s;
}
