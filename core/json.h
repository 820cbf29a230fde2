/* json.h: a small, strict JSON parser (RFC 8259) with typed accessors, for the files other
 * tools write: Hugging Face config.json and the header of a .safetensors file.
 *
 * Accepted: exactly one value (any type) surrounded by optional whitespace (space, tab, LF,
 * CR). Objects, arrays, strings, numbers, true, false, null as the RFC's grammar says, and
 * nothing else: no comments, no trailing commas, no single quotes, no leading zeros ("01"),
 * no '+' sign, no NaN or Infinity, no raw control characters (< 0x20) inside strings, no
 * invalid UTF-8 (overlong forms, surrogates U+D800..U+DFFF, code points above U+10FFFF,
 * truncated sequences), no duplicate keys in one object, no nesting deeper than
 * JSON_MAX_DEPTH arrays and objects.
 * Strings: the escapes \" \\ \/ \b \f \n \r \t and \uXXXX (4 hex digits, either case); a
 * high surrogate \uD800..\uDBFF must be followed by a low one \uDC00..\uDFFF and the pair
 * gives one code point; a lone surrogate is an error. Decoded strings are UTF-8,
 * NUL-terminated, with their byte length (a \u0000 escape puts a NUL inside them).
 * Numbers: every number is kept as a double (strtod of the literal, nearest double; one out
 * of double's range is an error). An integral number is also kept exactly as int64
 * (is_int = 1): a literal without fraction or exponent in [-2^63, 2^63) exactly, or a
 * literal whose nearest double is integral and below 2^53 in magnitude (2.0, 1e3), where
 * every integer is exact; "-0" is an integer 0 (its double keeps the sign).
 * Errors name NAME:LINE:COLUMN (1-based; the column counts bytes from the line's start),
 * what was expected and what was found:
 *   config.json:3:18: expected ',' or '}' after an object member, found ']'
 * Memory: one arena per document (blocks of at least 64 KiB from malloc); every value,
 * string and member array lives in it and json_free releases it at once. */
#ifndef DRRL_CORE_JSON_H
#define DRRL_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JSON_MAX_DEPTH 128     /* arrays and objects nested at most this deep */
#define JSON_NAME_MAX 512      /* the document name kept for messages (longer: truncated) */

typedef enum {
    JSON_NULL = 0,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} JsonType;

typedef struct JsonValue JsonValue;
typedef struct JsonMember JsonMember;

struct JsonValue {
    JsonType type;
    int line, col;               /* where the value starts in the text (1-based) */
    union {
        int boolean;             /* JSON_BOOL: 0 or 1 */
        struct {
            double d;            /* the value as the nearest double */
            int64_t i;           /* the exact integer when is_int */
            int is_int;
        } num;                   /* JSON_NUMBER */
        struct {
            const char *s;       /* UTF-8, NUL-terminated */
            size_t len;          /* bytes, without the terminating NUL */
        } str;                   /* JSON_STRING */
        struct {
            const JsonValue *items;
            size_t n;
        } arr;                   /* JSON_ARRAY */
        struct {
            const JsonMember *members; /* in document order; keys distinct */
            size_t n;
        } obj;                   /* JSON_OBJECT */
    } u;
};

struct JsonMember {
    const char *key;             /* UTF-8, NUL-terminated */
    size_t key_len;
    JsonValue value;
};

typedef struct JsonDoc JsonDoc; /* a parsed document: its arena, root and name */

/* json_parse: parse len bytes of text (need not be NUL-terminated) into a new document *doc
 * (NULL on failure). name (a file name, "header of x.safetensors") starts every message.
 * ST_FORMAT for malformed text (NAME:LINE:COL: expected X, found Y), ST_NOMEM. */
Status json_parse(JsonDoc **doc, const char *text, size_t len, const char *name, Err *e);

/* json_parse_file: the whole file at path (core/file.h's file_read_all), named by path. */
Status json_parse_file(JsonDoc **doc, const char *path, Err *e);

/* json_free: release the document and everything in it (NULL is allowed). */
void json_free(JsonDoc *doc);

/* json_root: the document's top-level value; json_name: the name messages use. */
const JsonValue *json_root(const JsonDoc *doc);
const char *json_name(const JsonDoc *doc);

/* json_type_name: "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *json_type_name(JsonType t);

/* json_find: the member key of obj, or NULL when obj is not an object or has no such key. */
const JsonValue *json_find(const JsonValue *obj, const char *key);

/* Typed reads. v is the value to read, what names it in messages (a key, "shape[1]"); errors
 * read "NAME:LINE:COL: WHAT: expected X, found Y" (ST_FORMAT, or ST_CONFIG for a value of the
 * right type out of its range). */
Status json_int(const JsonDoc *doc, const JsonValue *v, const char *what, int64_t lo,
                int64_t hi, int64_t *out, Err *e);
Status json_double(const JsonDoc *doc, const JsonValue *v, const char *what, double lo,
                   double hi, double *out, Err *e);
Status json_string(const JsonDoc *doc, const JsonValue *v, const char *what, const char **out,
                   Err *e);
Status json_bool(const JsonDoc *doc, const JsonValue *v, const char *what, int *out, Err *e);
/* json_expect: ST_FORMAT unless v has type t (objects and arrays before walking them). */
Status json_expect(const JsonDoc *doc, const JsonValue *v, const char *what, JsonType t,
                   Err *e);

/* Members of an object, by key: ST_MISSING when obj has no such key ("NAME:LINE:COL: KEY:
 * expected a member of the object, found none", at the object's position), otherwise the
 * typed read above with what = key. The _opt forms leave *out unchanged and return ST_OK
 * when the key is absent (or its value is null). */
Status json_get_int(const JsonDoc *doc, const JsonValue *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out, Err *e);
Status json_get_double(const JsonDoc *doc, const JsonValue *obj, const char *key, double lo,
                       double hi, double *out, Err *e);
Status json_get_string(const JsonDoc *doc, const JsonValue *obj, const char *key,
                       const char **out, Err *e);
Status json_get_bool(const JsonDoc *doc, const JsonValue *obj, const char *key, int *out,
                     Err *e);
Status json_opt_int(const JsonDoc *doc, const JsonValue *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out, Err *e);
Status json_opt_double(const JsonDoc *doc, const JsonValue *obj, const char *key, double lo,
                       double hi, double *out, Err *e);
Status json_opt_string(const JsonDoc *doc, const JsonValue *obj, const char *key,
                       const char **out, Err *e);

#endif
