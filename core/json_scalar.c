/* json_scalar.c: JSON strings and numbers for json.c (json.h states the accepted forms).
 *
 * A string is decoded in one pass after a scan for its end (the closing '"', a raw control
 * character or the end of the text, escapes skipped); the scan bounds every read of the
 * decode, so a \u escape or a UTF-8 sequence cut short by the closing quote is an error
 * naming the byte found there. UTF-8 (RFC 3629, table 3-7 of the Unicode standard):
 *   00..7F                      one byte (below 20: a control character, refused)
 *   C2..DF 80..BF               two bytes
 *   E0 A0..BF 80..BF, E1..EC 80..BF 80..BF, ED 80..9F 80..BF (no surrogates),
 *   EE..EF 80..BF 80..BF        three bytes
 *   F0 90..BF 80..BF 80..BF, F1..F3 80..BF x3, F4 80..8F 80..BF 80..BF (<= U+10FFFF)
 *   anything else (80..C1, F5..FF as a first byte) is refused.
 * A \uXXXX escape writes its code point in the same encoding (1 to 3 bytes; a surrogate
 * pair's code point 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 4 bytes). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_internal.h"

typedef unsigned char uc;

/* utf8_put: the code point cp (<= 0x10FFFF, not a surrogate) at o; returns the bytes written */
static size_t utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* utf8_seq: copy the UTF-8 sequence at *r (first byte >= 0x80, the sequence ends before q)
   to *o, validating it; advances both */
static Status utf8_seq(JsonParser *P, const char **r, const char *q, char **o) {
    uc c = (uc)**r, lo = 0x80, hi = 0xBF;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n) return json_fail(P, *r, "UTF-8 text in a string", "the byte 0x%02x (not the start "
                             "of a UTF-8 sequence)", c);
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    for (size_t i = 1; i < n; i++) {
        const char *at = *r + i;
        uc b = at < q ? (uc)*at : 0;
        if (at >= q || b < 0x80 || b > 0xBF)
            return json_unexpected(P, at, "a UTF-8 continuation byte (0x80..0xbf)");
        if (i == 1 && (b < lo || b > hi))
            return json_fail(P, *r, "valid UTF-8 in a string", "the bytes 0x%02x 0x%02x (an "
                             "overlong form, a surrogate or a code point above U+10FFFF)", c, b);
    }
    memcpy(*o, *r, n);
    *o += n, *r += n;
    return ST_OK;
}

/* hex4: the 4 hex digits at r (before q) */
static Status hex4(JsonParser *P, const char *r, const char *q, uint32_t *cp) {
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        const char *at = r + i;
        char c = at < q ? *at : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (at >= q || d < 0) return json_unexpected(P, at, "4 hex digits after \\u");
        *cp = *cp << 4 | (uint32_t)d;
    }
    return ST_OK;
}

/* unicode_escape: *r at the 'u' of \uXXXX (and a following low surrogate's \uXXXX) */
static Status unicode_escape(JsonParser *P, const char **r, const char *q, char **o) {
    uint32_t cp, lo;
    Status s = hex4(P, *r + 1, q, &cp);
    if (s) return s;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return json_fail(P, *r - 1, "a code point or a high surrogate first in a \\u escape",
                         "the lone low surrogate \\u%04X", (unsigned)cp);
    *r += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (q - *r < 2 || (*r)[0] != '\\' || (*r)[1] != 'u')
            return json_fail(P, *r, "a low surrogate escape (\\uDC00..\\uDFFF) after the high "
                             "surrogate", "%s", *r < q ? "no \\u escape" : "the end of the string");
        if ((s = hex4(P, *r + 2, q, &lo))) return s;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return json_fail(P, *r, "a low surrogate escape (\\uDC00..\\uDFFF) after a high "
                             "surrogate", "\\u%04X after \\u%04X", (unsigned)lo, (unsigned)cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *r += 6;
    }
    *o += utf8_put(*o, cp);
    return ST_OK;
}

/* escape: *r at the byte after a backslash */
static Status escape(JsonParser *P, const char **r, const char *q, char **o) {
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = *r < q ? **r : 0;
    const char *k = c ? strchr(from, c) : NULL;
    if (k) {
        *(*o)++ = to[k - from];
        (*r)++;
        return ST_OK;
    }
    if (c == 'u') return unicode_escape(P, r, q, o);
    return json_unexpected(P, *r, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) "
                           "after '\\'");
}

Status json_parse_string(JsonParser *P, const char **s, size_t *len) {
    const char *start = P->p, *q = start + 1;
    while (q < P->end) { /* the scan: to the closing quote, a control character or the end */
        uc c = (uc)*q;
        if (c == '"' || c < 0x20) break;
        if (c == '\\' && P->end - q < 2) q = P->end;
        else q += c == '\\' ? 2 : 1;
    }
    char *out = json_arena(P, (size_t)(q - start)), *o = out;
    if (!out) return ST_NOMEM;
    const char *r = start + 1;
    while (r < q) {
        Status st = ST_OK;
        if (*r == '\\') r++, st = escape(P, &r, q, &o);
        else if ((uc)*r >= 0x80) st = utf8_seq(P, &r, q, &o);
        else *o++ = *r++;
        if (st) return st;
    }
    if (q >= P->end) {
        char what[96];
        snprintf(what, sizeof what, "the closing '\"' of the string started at %d:%d", P->line,
                 (int)(start - P->line_start) + 1);
        return json_unexpected(P, q, what);
    }
    if (*q != '"') return json_unexpected(P, q, "a string character (control characters must "
                                         "be escaped)");
    *o = '\0';
    *s = out, *len = (size_t)(o - out);
    P->p = q + 1;
    return ST_OK;
}

static int digit(const JsonParser *P, const char *q) { return q < P->end && *q >= '0' && *q <= '9'; }

Status json_parse_number(JsonParser *P, JsonValue *v) {
    const char *s = P->p, *q = s;
    int integer = 1;
    if (*q == '-') q++;
    if (!digit(P, q)) return json_unexpected(P, q, "a digit after '-'");
    if (*q == '0' && digit(P, q + 1))
        return json_fail(P, q, "a number without leading zeros", "'0' followed by a digit");
    while (digit(P, q)) q++;
    if (q < P->end && *q == '.') {
        integer = 0, q++;
        if (!digit(P, q)) return json_unexpected(P, q, "a digit after '.' in a number");
        while (digit(P, q)) q++;
    }
    if (q < P->end && (*q == 'e' || *q == 'E')) {
        integer = 0, q++;
        if (q < P->end && (*q == '+' || *q == '-')) q++;
        if (!digit(P, q)) return json_unexpected(P, q, "a digit in the exponent of a number");
        while (digit(P, q)) q++;
    }
    size_t n = (size_t)(q - s);
    char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return err_set(P->e, ST_NOMEM, "%s: out of memory", json_name(P->doc));
    memcpy(buf, s, n);
    buf[n] = '\0';
    double d = strtod(buf, NULL);
    int64_t i = 0;
    int is_int = 0;
    if (integer) {
        errno = 0;
        long long ll = strtoll(buf, NULL, 10);
        if (!errno) is_int = 1, i = ll;
    }
    if (buf != small) free(buf);
    if (isinf(d))
        return json_fail(P, s, "a number within double's range (|x| < 1.8e308)", "'%.*s%s'",
                         n > 40 ? 40 : (int)n, s, n > 40 ? "..." : "");
    if (!is_int && d == floor(d) && fabs(d) < 9007199254740992.0) is_int = 1, i = (int64_t)d;
    v->u.num.d = d, v->u.num.i = i, v->u.num.is_int = is_int;
    P->p = q;
    return ST_OK;
}
