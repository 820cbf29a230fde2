/* json_get.c: the typed accessors of json.h: member lookup and reads of int, double, string
 * and bool whose errors name the document, the value's line:column, the key, what was
 * expected and what was found. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

const char *json_type_name(JsonType t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

const JsonValue *json_find(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const JsonMember *m = &obj->u.obj.members[i];
        if (m->key_len == n && !memcmp(m->key, key, n)) return &m->value;
    }
    return NULL;
}

/* found: a short description of v for "found ..." (its type, and the value of a scalar) */
static const char *found(const JsonValue *v, char *buf, size_t cap) {
    switch (v->type) {
    case JSON_BOOL: snprintf(buf, cap, "%s", v->u.boolean ? "true" : "false"); break;
    case JSON_NUMBER:
        if (v->u.num.is_int) snprintf(buf, cap, "%" PRId64, v->u.num.i);
        else snprintf(buf, cap, "%.17g", v->u.num.d);
        break;
    case JSON_STRING: snprintf(buf, cap, "the string '%.200s'", v->u.str.s); break;
    default: snprintf(buf, cap, "%s", json_type_name(v->type)); break;
    }
    return buf;
}

static Status wrong(const JsonDoc *d, const JsonValue *v, const char *what, Status s,
                    const char *expected, Err *e) {
    char buf[256];
    return err_set(e, s, "%s:%d:%d: %s: expected %s, found %s", json_name(d), v->line, v->col,
                   what, expected, found(v, buf, sizeof buf));
}

Status json_expect(const JsonDoc *d, const JsonValue *v, const char *what, JsonType t, Err *e) {
    return v->type == t ? ST_OK : wrong(d, v, what, ST_FORMAT, json_type_name(t), e);
}

Status json_int(const JsonDoc *d, const JsonValue *v, const char *what, int64_t lo, int64_t hi,
                int64_t *out, Err *e) {
    char exp[128];
    snprintf(exp, sizeof exp, "an integer in [%" PRId64 ", %" PRId64 "]", lo, hi);
    if (v->type != JSON_NUMBER || !v->u.num.is_int) return wrong(d, v, what, ST_FORMAT, exp, e);
    if (v->u.num.i < lo || v->u.num.i > hi) return wrong(d, v, what, ST_CONFIG, exp, e);
    *out = v->u.num.i;
    return ST_OK;
}

Status json_double(const JsonDoc *d, const JsonValue *v, const char *what, double lo, double hi,
                   double *out, Err *e) {
    char exp[128];
    snprintf(exp, sizeof exp, "a number in [%g, %g]", lo, hi);
    if (v->type != JSON_NUMBER) return wrong(d, v, what, ST_FORMAT, exp, e);
    if (!(v->u.num.d >= lo && v->u.num.d <= hi)) return wrong(d, v, what, ST_CONFIG, exp, e);
    *out = v->u.num.d;
    return ST_OK;
}

Status json_string(const JsonDoc *d, const JsonValue *v, const char *what, const char **out,
                   Err *e) {
    if (v->type != JSON_STRING) return wrong(d, v, what, ST_FORMAT, "a string", e);
    if (strlen(v->u.str.s) != v->u.str.len)
        return wrong(d, v, what, ST_FORMAT, "a string without NUL characters (\\u0000)", e);
    *out = v->u.str.s;
    return ST_OK;
}

Status json_bool(const JsonDoc *d, const JsonValue *v, const char *what, int *out, Err *e) {
    if (v->type != JSON_BOOL) return wrong(d, v, what, ST_FORMAT, "true or false", e);
    *out = v->u.boolean;
    return ST_OK;
}

/* member: obj's key; ST_MISSING (at obj's position) when obj is not an object or lacks it */
static Status member(const JsonDoc *d, const JsonValue *obj, const char *key,
                     const JsonValue **v, Err *e) {
    if (obj->type != JSON_OBJECT)
        return err_set(e, ST_FORMAT, "%s:%d:%d: expected an object holding '%s', found %s",
                       json_name(d), obj->line, obj->col, key, json_type_name(obj->type));
    *v = json_find(obj, key);
    if (!*v)
        return err_set(e, ST_MISSING, "%s:%d:%d: %s: expected a member of the object, found "
                       "none", json_name(d), obj->line, obj->col, key);
    return ST_OK;
}

Status json_get_int(const JsonDoc *d, const JsonValue *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out, Err *e) {
    const JsonValue *v;
    Status s = member(d, obj, key, &v, e);
    return s ? s : json_int(d, v, key, lo, hi, out, e);
}

Status json_get_double(const JsonDoc *d, const JsonValue *obj, const char *key, double lo,
                       double hi, double *out, Err *e) {
    const JsonValue *v;
    Status s = member(d, obj, key, &v, e);
    return s ? s : json_double(d, v, key, lo, hi, out, e);
}

Status json_get_string(const JsonDoc *d, const JsonValue *obj, const char *key,
                       const char **out, Err *e) {
    const JsonValue *v;
    Status s = member(d, obj, key, &v, e);
    return s ? s : json_string(d, v, key, out, e);
}

Status json_get_bool(const JsonDoc *d, const JsonValue *obj, const char *key, int *out, Err *e) {
    const JsonValue *v;
    Status s = member(d, obj, key, &v, e);
    return s ? s : json_bool(d, v, key, out, e);
}

/* present: obj's key when it is there and not null (an object is required either way) */
static Status present(const JsonDoc *d, const JsonValue *obj, const char *key,
                      const JsonValue **v, Err *e) {
    Status s = member(d, obj, key, v, e);
    if (s == ST_MISSING || (!s && (*v)->type == JSON_NULL)) {
        err_clear(e);
        *v = NULL;
        return ST_OK;
    }
    return s;
}

Status json_opt_int(const JsonDoc *d, const JsonValue *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out, Err *e) {
    const JsonValue *v;
    Status s = present(d, obj, key, &v, e);
    return s || !v ? s : json_int(d, v, key, lo, hi, out, e);
}

Status json_opt_double(const JsonDoc *d, const JsonValue *obj, const char *key, double lo,
                       double hi, double *out, Err *e) {
    const JsonValue *v;
    Status s = present(d, obj, key, &v, e);
    return s || !v ? s : json_double(d, v, key, lo, hi, out, e);
}

Status json_opt_string(const JsonDoc *d, const JsonValue *obj, const char *key,
                       const char **out, Err *e) {
    const JsonValue *v;
    Status s = present(d, obj, key, &v, e);
    return s || !v ? s : json_string(d, v, key, out, e);
}
