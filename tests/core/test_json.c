/* test_json.c: the strict JSON parser (core/json.h).
 *   valid documents: every escape (\uXXXX to 1-3 UTF-8 bytes, a surrogate pair to 4, \u0000
 *   inside a string), raw UTF-8 kept, nesting to exactly JSON_MAX_DEPTH, numbers (exact int64
 *   at both ends of its range, integral doubles as integers, beyond int64 as double only,
 *   -0, fractions and exponents against strtod), line:column of values;
 *   each class of malformed input with its whole message (NAME:LINE:COL: expected X, found Y);
 *   the accessors: missing member, wrong type, out of range, null as absent for _opt, strings
 *   holding NUL refused, messages naming the key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "tests/check.h"

#define NAME "test_json"

static JsonDoc *parse(const char *text, Err *e) {
    JsonDoc *d = NULL;
    err_clear(e);
    Status s = json_parse(&d, text, strlen(text), "t.json", e);
    CHECK(s == ST_OK && d, "parse '%s': %s", text, e->msg);
    return d;
}

static void test_strings(void) {
    Err e;
    const char *text = "{\"esc\": \"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\", "
                       "\"u\": \"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\", "
                       "\"raw\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", "
                       "\"nul\": \"a\\u0000b\", \"\": \"empty key\"}";
    JsonDoc *d = parse(text, &e);
    if (!d) return;
    const JsonValue *r = json_root(d), *v;
    CHECK(r->type == JSON_OBJECT && r->u.obj.n == 5, "5 members");
    v = json_find(r, "esc");
    CHECK(v && v->u.str.len == 16 && !memcmp(v->u.str.s, "q\"b\\s/b\bf\fn\nr\rt\t", 17),
          "simple escapes");
    v = json_find(r, "u");
    const char *want = "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    CHECK(v && v->u.str.len == strlen(want) && !strcmp(v->u.str.s, want),
          "\\u escapes to UTF-8 (1, 2, 3 bytes, surrogate pair to 4)");
    v = json_find(r, "raw");
    CHECK(v && !strcmp(v->u.str.s, want + 1), "raw UTF-8 kept");
    v = json_find(r, "nul");
    CHECK(v && v->u.str.len == 3 && !memcmp(v->u.str.s, "a\0b", 4), "\\u0000 inside a string");
    const char *s = NULL;
    CHECK(json_string(d, v, "nul", &s, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:1:103: nul: expected a string without NUL characters "
                             "(\\u0000), found the string 'a'"),
          "a string holding NUL refused by json_string: %s", e.msg);
    CHECK(json_get_string(d, r, "", &s, &e) == ST_OK && !strcmp(s, "empty key"), "empty key");
    json_free(d);
}

static void test_numbers(void) {
    Err e;
    JsonDoc *d = parse("[0, -0, 123, -9223372036854775808, 9223372036854775807, "
                       "9223372036854775808, 1.5, 1e3, 2.0, -1.25e-3, 1E+2, 9007199254740993.0, "
                       "1e-400, 0.1]", &e);
    if (!d) return;
    const JsonValue *a = json_root(d);
    CHECK(a->type == JSON_ARRAY && a->u.arr.n == 14, "14 numbers");
    if (a->u.arr.n != 14) {
        json_free(d);
        return;
    }
    const JsonValue *x = a->u.arr.items;
    struct { int is_int; int64_t i; double dv; } want[] = {
        {1, 0, 0}, {1, 0, -0.0}, {1, 123, 123}, {1, INT64_MIN, -9223372036854775808.0},
        {1, INT64_MAX, 9223372036854775807.0}, {0, 0, 9223372036854775808.0}, {0, 0, 1.5},
        {1, 1000, 1000}, {1, 2, 2}, {0, 0, -1.25e-3}, {1, 100, 100},
        {0, 0, 9007199254740992.0}, {1, 0, 0}, {0, 0, 0.1}};
    for (int k = 0; k < 14; k++) {
        CHECK(x[k].type == JSON_NUMBER && x[k].u.num.is_int == want[k].is_int &&
                  (!want[k].is_int || x[k].u.num.i == want[k].i) && x[k].u.num.d == want[k].dv,
              "number %d: is_int %d, i %lld, d %.17g", k, x[k].u.num.is_int,
              (long long)x[k].u.num.i, x[k].u.num.d);
    }
    CHECK(x[1].u.num.d == 0 && 1 / x[1].u.num.d < 0, "-0 keeps its sign as a double");
    int64_t i;
    CHECK(json_int(d, &x[5], "big", INT64_MIN, INT64_MAX, &i, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:1:57: big: expected an integer in [-9223372036854775808, "
                             "9223372036854775807], found 9.2233720368547758e+18"),
          "2^63 is not an int64: %s", e.msg);
    json_free(d);
}

static void test_structure(void) {
    Err e;
    JsonDoc *d = parse(" \n\t{\"a\": [1, [2, {\"b\": null}], {}, []],\r\n  \"t\": true, "
                       "\"f\": false}\n ", &e);
    if (!d) return;
    const JsonValue *r = json_root(d), *a = json_find(r, "a");
    CHECK(r->line == 2 && r->col == 2, "root at 2:2, found %d:%d", r->line, r->col);
    CHECK(a && a->type == JSON_ARRAY && a->u.arr.n == 4 && a->line == 2 && a->col == 8,
          "a: an array of 4 at 2:8");
    if (a && a->u.arr.n == 4) {
        const JsonValue *in = &a->u.arr.items[1];
        CHECK(in->type == JSON_ARRAY && in->u.arr.n == 2 &&
                  in->u.arr.items[1].type == JSON_OBJECT &&
                  json_find(&in->u.arr.items[1], "b")->type == JSON_NULL,
              "nested [2, {b: null}]");
        CHECK(a->u.arr.items[2].u.obj.n == 0 && a->u.arr.items[3].u.arr.n == 0, "empty {} []");
    }
    const JsonValue *t = json_find(r, "t");
    CHECK(t && t->type == JSON_BOOL && t->u.boolean == 1 && t->line == 3 && t->col == 8,
          "t: true at 3:8");
    CHECK(json_find(r, "f")->u.boolean == 0, "f: false");
    CHECK(r->u.obj.members[0].key_len == 1 && !strcmp(r->u.obj.members[1].key, "t"),
          "members in document order");
    json_free(d);
    /* nesting exactly JSON_MAX_DEPTH deep is accepted, one more is not */
    char deep[2 * JSON_MAX_DEPTH + 3];
    for (int k = 0; k < JSON_MAX_DEPTH; k++) deep[k] = '[', deep[2 * JSON_MAX_DEPTH - 1 - k] = ']';
    deep[2 * JSON_MAX_DEPTH] = '\0';
    json_free(parse(deep, &e));
    d = parse("\"top-level scalar\"", &e);
    CHECK(d && json_root(d)->type == JSON_STRING, "a scalar at the top level");
    json_free(d);
}

typedef struct {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *msg;
} Bad;

static const Bad BAD[] = {
    {"", 0, "t.json:1:1: expected a value (object, array, string, number, true, false or null), "
            "found the end of the input"},
    {"  \n ", 0, "t.json:2:2: expected a value (object, array, string, number, true, false or "
                 "null), found the end of the input"},
    {"{\"a\": 1,}", 0, "t.json:1:9: expected a member after ',' in an object, found '}' (a "
                       "trailing comma)"},
    {"[1,\n 2, ]", 0, "t.json:2:5: expected a value after ',' in an array, found ']' (a trailing "
                      "comma)"},
    {"[1 2]", 0, "t.json:1:4: expected ',' or ']' after an array item, found '2'"},
    {"{\"a\" 1}", 0, "t.json:1:6: expected ':' after an object key, found '1'"},
    {"{\"a\": 1 \"b\": 2}", 0, "t.json:1:9: expected ',' or '}' after an object member, found "
                             "'\"'"},
    {"{a: 1}", 0, "t.json:1:2: expected a string key ('\"') in an object, found 'a'"},
    {"[01]", 0, "t.json:1:2: expected a number without leading zeros, found '0' followed by a "
                "digit"},
    {"-", 0, "t.json:1:2: expected a digit after '-', found the end of the input"},
    {"[1.]", 0, "t.json:1:4: expected a digit after '.' in a number, found ']'"},
    {"1e+", 0, "t.json:1:4: expected a digit in the exponent of a number, found the end of the "
               "input"},
    {"+1", 0, "t.json:1:1: expected a value (object, array, string, number, true, false or "
              "null), found '+'"},
    {"[NaN]", 0, "t.json:1:2: expected a value (object, array, string, number, true, false or "
                 "null), found 'N'"},
    {"tru", 0, "t.json:1:1: expected a value (object, array, string, number, true, false or "
               "null), found 't'"},
    {"1e400", 0, "t.json:1:1: expected a number within double's range (|x| < 1.8e308), found "
                 "'1e400'"},
    {"1 2", 0, "t.json:1:3: expected the end of the input after the value, found '2'"},
    {"// c\n{}", 0, "t.json:1:1: expected a value (object, array, string, number, true, false "
                    "or null), found '/'"},
    {"\xef\xbb\xbf{}", 0, "t.json:1:1: expected a value (object, array, string, number, true, "
                          "false or null), found the byte 0xef"},
    {"{\"a\": \"abc", 0, "t.json:1:11: expected the closing '\"' of the string started at 1:7, "
                         "found the end of the input"},
    {"[\"a\nb\"]", 0, "t.json:1:4: expected a string character (control characters must be "
                      "escaped), found a control character (0x0a)"},
    {"\"a\\x\"", 0, "t.json:1:4: expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or "
                    "\\uXXXX) after '\\', found 'x'"},
    {"\"\\u12\"", 0, "t.json:1:6: expected 4 hex digits after \\u, found '\"'"},
    {"\"\\uD800\"", 0, "t.json:1:8: expected a low surrogate escape (\\uDC00..\\uDFFF) after "
                       "the high surrogate, found the end of the string"},
    {"\"\\uD800x\"", 0, "t.json:1:8: expected a low surrogate escape (\\uDC00..\\uDFFF) after "
                        "the high surrogate, found no \\u escape"},
    {"\"\\uDC00\"", 0, "t.json:1:2: expected a code point or a high surrogate first in a \\u "
                       "escape, found the lone low surrogate \\uDC00"},
    {"\"\\ud800\\u0041\"", 0, "t.json:1:8: expected a low surrogate escape (\\uDC00..\\uDFFF) "
                              "after a high surrogate, found \\u0041 after \\uD800"},
    {"\"\xff\"", 0, "t.json:1:2: expected UTF-8 text in a string, found the byte 0xff (not the "
                    "start of a UTF-8 sequence)"},
    {"\"\xc3\"", 0, "t.json:1:3: expected a UTF-8 continuation byte (0x80..0xbf), found '\"'"},
    {"\"\xe0\x80\x80\"", 0, "t.json:1:2: expected valid UTF-8 in a string, found the bytes "
                            "0xe0 0x80 (an overlong form, a surrogate or a code point above "
                            "U+10FFFF)"},
    {"\"\xed\xa0\x80\"", 0, "t.json:1:2: expected valid UTF-8 in a string, found the bytes "
                            "0xed 0xa0 (an overlong form, a surrogate or a code point above "
                            "U+10FFFF)"},
    {"\"\xf4\x90\x80\x80\"", 0, "t.json:1:2: expected valid UTF-8 in a string, found the bytes "
                                "0xf4 0x90 (an overlong form, a surrogate or a code point above "
                                "U+10FFFF)"},
    {"{\"a\": 1,\n \"b\": 2, \"a\": 3}", 0, "t.json:2:15: expected distinct keys in an object, "
                                           "found 'a' again (first at 1:7)"},
    {"[1, \"a\0b\"]", 10, "t.json:1:7: expected a string character (control characters must "
                          "be escaped), found a control character (0x00)"},
    {"{\"x\": 1}\n\n  ]", 0, "t.json:3:3: expected the end of the input after the value, found "
                             "']'"},
};

static void test_malformed(void) {
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        Err e;
        err_clear(&e);
        JsonDoc *d = (JsonDoc *)1;
        size_t len = BAD[k].len ? BAD[k].len : strlen(BAD[k].text);
        Status s = json_parse(&d, BAD[k].text, len, "t.json", &e);
        CHECK(s == ST_FORMAT && !d && !strcmp(e.msg, BAD[k].msg),
              "case %zu: status %d, message\n  got:  %s\n  want: %s", k, (int)s, e.msg,
              BAD[k].msg);
    }
    /* one level deeper than allowed */
    char deep[2 * JSON_MAX_DEPTH + 3];
    memset(deep, '[', JSON_MAX_DEPTH + 1);
    memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
    Err e;
    JsonDoc *d = NULL;
    Status s = json_parse(&d, deep, 2 * JSON_MAX_DEPTH + 2, "t.json", &e);
    CHECK(s == ST_FORMAT && !strcmp(e.msg, "t.json:1:129: expected at most 128 nested arrays "
                                           "and objects, found deeper nesting"),
          "depth: %s", e.msg);
}

static void test_accessors(void) {
    Err e;
    JsonDoc *d = parse("{\"n\": 12, \"x\": 0.5, \"s\": \"gelu\", \"b\": true, \"z\": null,\n"
                       " \"neg\": -3, \"arr\": [1]}", &e);
    if (!d) return;
    const JsonValue *r = json_root(d);
    int64_t i = 7;
    double x = 7;
    const char *s = "unchanged";
    int b = 7;
    CHECK(json_get_int(d, r, "n", 1, 100, &i, &e) == ST_OK && i == 12, "n");
    CHECK(json_get_double(d, r, "n", 0, 100, &x, &e) == ST_OK && x == 12, "an int as a double");
    CHECK(json_get_double(d, r, "x", 0, 1, &x, &e) == ST_OK && x == 0.5, "x");
    CHECK(json_get_string(d, r, "s", &s, &e) == ST_OK && !strcmp(s, "gelu"), "s");
    CHECK(json_get_bool(d, r, "b", &b, &e) == ST_OK && b == 1, "b");
    CHECK(json_get_int(d, r, "missing", 0, 1, &i, &e) == ST_MISSING &&
              !strcmp(e.msg, "t.json:1:1: missing: expected a member of the object, found none"),
          "missing: %s", e.msg);
    CHECK(json_get_int(d, r, "x", 0, 10, &i, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:1:16: x: expected an integer in [0, 10], found 0.5"),
          "fraction as int: %s", e.msg);
    CHECK(json_get_int(d, r, "neg", 0, 10, &i, &e) == ST_CONFIG &&
              !strcmp(e.msg, "t.json:2:9: neg: expected an integer in [0, 10], found -3"),
          "out of range: %s", e.msg);
    CHECK(json_get_string(d, r, "n", &s, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:1:7: n: expected a string, found 12"), "int as string: %s",
          e.msg);
    CHECK(json_get_bool(d, r, "s", &b, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:1:26: s: expected true or false, found the string 'gelu'"),
          "string as bool: %s", e.msg);
    CHECK(json_get_double(d, r, "arr", 0, 1, &x, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:2:20: arr: expected a number in [0, 1], found an array"),
          "array as double: %s", e.msg);
    CHECK(json_get_int(d, r, "z", 0, 1, &i, &e) == ST_FORMAT, "null is not an int for _get");
    i = 99, x = 99, s = "kept";
    CHECK(json_opt_int(d, r, "z", 0, 1, &i, &e) == ST_OK && i == 99, "null as absent");
    CHECK(json_opt_double(d, r, "none", 0, 1, &x, &e) == ST_OK && x == 99, "absent opt");
    CHECK(json_opt_string(d, r, "s", &s, &e) == ST_OK && !strcmp(s, "gelu"), "present opt");
    CHECK(json_opt_int(d, r, "s", 0, 1, &i, &e) == ST_FORMAT, "present opt of the wrong type");
    CHECK(json_get_int(d, json_find(r, "arr"), "k", 0, 1, &i, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:2:20: expected an object holding 'k', found an array"),
          "lookup in an array: %s", e.msg);
    CHECK(json_expect(d, json_find(r, "arr"), "arr", JSON_OBJECT, &e) == ST_FORMAT &&
              !strcmp(e.msg, "t.json:2:20: arr: expected an object, found an array"),
          "json_expect: %s", e.msg);
    json_free(d);
}

int main(void) {
    test_strings();
    test_numbers();
    test_structure();
    test_malformed();
    test_accessors();
    return check_exit(NAME);
}
