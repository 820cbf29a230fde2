/* json_internal.h: the parser state shared by json.c (structure, arena, errors) and
 * json_scalar.c (strings and numbers). Not part of the API. */
#ifndef DRRL_CORE_JSON_INTERNAL_H
#define DRRL_CORE_JSON_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "core/json.h"

#define JSON_STR_(x) #x
#define JSON_STR(x) JSON_STR_(x)

typedef struct {
    JsonDoc *doc;
    const char *p, *end;       /* the next byte; one past the text */
    const char *line_start;    /* the first byte of the current line */
    int line;                  /* 1-based */
    JsonValue *vstack;         /* scratch: items of the open arrays */
    size_t vn, vcap;
    JsonMember *mstack;        /* scratch: members of the open objects */
    size_t mn, mcap;
    Err *e;
} JsonParser;

/* json_fail: ST_FORMAT "NAME:LINE:COL(at): expected EXPECTED, found FOUND" */
Status json_fail(JsonParser *P, const char *at, const char *expected, const char *found_fmt,
                 ...) __attribute__((format(printf, 4, 5)));
/* json_unexpected: json_fail with the byte at `at` described (json_describe) */
Status json_unexpected(JsonParser *P, const char *at, const char *expected);
/* json_describe: "'x'", "a control character (0x0a)", "the byte 0xff", "the end of the input" */
const char *json_describe(const JsonParser *P, const char *at, char *buf, size_t cap);
/* json_skip_ws: past spaces, tabs, CR and LF (counting lines) */
void json_skip_ws(JsonParser *P);
/* json_arena: n bytes from the document's arena; NULL with ST_NOMEM set in P->e */
void *json_arena(JsonParser *P, size_t n);

/* json_parse_string: the string at P->p (a '"'), decoded to UTF-8 in the arena */
Status json_parse_string(JsonParser *P, const char **s, size_t *len);
/* json_parse_number: the number at P->p ('-' or a digit) into v->u.num */
Status json_parse_number(JsonParser *P, JsonValue *v);

#endif
