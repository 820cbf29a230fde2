/* wordpiece.c: BERT uncased WordPiece tokenizer (see wordpiece.h): vocabulary loading into an
 * open-addressing hash table, and a single streaming pass over the UTF-8 text that does
 * BERT's BasicTokenizer (clean, CJK split, whitespace split, lower + NFD + strip Mn,
 * punctuation split) and WordpieceTokenizer (greedy longest match) with no allocation.
 *
 * Equivalence with BERT's string pipeline: cleaning, CJK spacing and whitespace splitting act
 * per code point, so they are done while decoding. Lower-casing and NFD + strip-Mn act per
 * code point too (data/unicode_tables.h holds the composed result), except for the final
 * sigma rule of Python's str.lower(), which looks at the neighbours of U+03A3 inside the
 * whitespace word (after cleaning): we keep "last non-case-ignorable character was cased"
 * while walking the word and scan ahead in the text when a sigma appears. Punctuation is
 * tested on the mapped characters, as BERT splits after stripping accents. */
#include "wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "data/text.h"
#include "unicode_tables.h"

/* a token's UTF-8 bytes: at most WORDPIECE_MAX_CHARS code points of at most 4 bytes */
#define TOK_BYTES (4 * WORDPIECE_MAX_CHARS)

typedef struct {
    uint32_t hash;
    int32_t id; /* -1: empty slot */
} Slot;

struct WordPiece {
    char *buf;        /* the vocabulary file, lines NUL-terminated in place */
    size_t *offs;     /* (n) start of token i in buf */
    uint32_t *lens;   /* (n) byte length of token i */
    int n;
    Slot *slots;      /* (mask + 1) hash table */
    uint32_t mask;
    uint32_t max_len; /* longest token in bytes */
    int32_t pad, unk, cls, sep;
    /* scratch: the token being built */
    char tok[TOK_BYTES];
    int tok_off[WORDPIECE_MAX_CHARS + 1]; /* byte offset of code point i; [ncp] = end */
    int tok_ncp;                          /* code points seen (may exceed the maximum) */
    /* output */
    int32_t *out;
    int out_cap, out_n;
};

/* ---- hashing ---- */

static uint32_t fnv_step(uint32_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static const uint32_t FNV_INIT = 2166136261u;

/* lookup: id of ("##" if cont) + s[0..len), or -1 */
static int32_t lookup(const WordPiece *wp, int cont, const char *s, size_t len) {
    uint32_t h = FNV_INIT;
    if (cont) h = fnv_step(h, "##", 2);
    h = fnv_step(h, s, len);
    size_t full = len + (cont ? 2 : 0);
    for (uint32_t i = h & wp->mask;; i = (i + 1) & wp->mask) {
        const Slot *sl = &wp->slots[i];
        if (sl->id < 0) return -1;
        if (sl->hash != h || wp->lens[sl->id] != full) continue;
        const char *t = wp->buf + wp->offs[sl->id];
        if (cont && (t[0] != '#' || t[1] != '#')) continue;
        if (memcmp(t + (cont ? 2 : 0), s, len) == 0) return sl->id;
    }
}

/* ---- UTF-8 ---- */

/* decode: one strictly valid UTF-8 sequence at p (p[0] != 0); an invalid byte yields U+FFFD
 * and consumes one byte. Returns the next position. */
static const unsigned char *decode(const unsigned char *p, uint32_t *cp) {
    unsigned b = p[0];
    if (b < 0x80) {
        *cp = b;
        return p + 1;
    }
    int n;
    uint32_t c;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        n = 1;
        c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 2;
        c = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;      /* no overlongs */
        else if (b == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 3;
        c = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        else if (b == 0xF4) hi = 0x8F; /* <= U+10FFFF */
    } else {
        *cp = 0xFFFD;
        return p + 1;
    }
    for (int k = 1; k <= n; k++) {
        unsigned x = p[k]; /* a NUL terminator fails the range test, so we never read past it */
        if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xBF)) {
            *cp = 0xFFFD;
            return p + 1;
        }
        c = c << 6 | (x & 0x3F);
    }
    *cp = c;
    return p + n + 1;
}

static int encode(uint32_t cp, char *s) {
    if (cp < 0x80) {
        s[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        s[0] = (char)(0xC0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12);
        s[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18);
    s[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    s[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- Unicode properties ---- */

static unsigned props_of(uint32_t cp) {
    if (cp < 128) return uni_prop_ascii[cp];
    /* last range whose start <= cp (uni_prop_ranges[0] starts at 0) */
    int lo = 0, hi = UNI_PROP_COUNT - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if ((uni_prop_ranges[mid] >> 8) <= cp) lo = mid;
        else hi = mid - 1;
    }
    return uni_prop_ranges[lo] & 0xFF;
}

/* BERT's _is_chinese_char */
static int is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* index of cp in the mapping table, or -1 */
static int map_find(uint32_t cp) {
    int lo = 0, hi = UNI_MAP_COUNT - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (uni_map_cp[mid] < cp) lo = mid + 1;
        else if (uni_map_cp[mid] > cp) hi = mid - 1;
        else return mid;
    }
    return -1;
}

/* ---- tokenizing ---- */

static void emit(WordPiece *wp, int32_t id) {
    if (wp->out_n < wp->out_cap) wp->out[wp->out_n] = id;
    wp->out_n++;
}

/* flush: run WordPiece on the token in scratch, emit its pieces and clear it */
static void flush(WordPiece *wp) {
    int n = wp->tok_ncp;
    if (n == 0) return;
    wp->tok_ncp = 0;
    if (n > WORDPIECE_MAX_CHARS) {
        emit(wp, wp->unk);
        return;
    }
    const int *off = wp->tok_off;
    int32_t pieces[WORDPIECE_MAX_CHARS];
    int np = 0;
    for (int start = 0; start < n;) {
        int cont = start > 0;
        int32_t id = -1;
        int end = n;
        for (; end > start; end--) {
            uint32_t len = (uint32_t)(off[end] - off[start]);
            if (len + (cont ? 2u : 0u) > wp->max_len) continue;
            id = lookup(wp, cont, wp->tok + off[start], len);
            if (id >= 0) break;
        }
        if (id < 0) {
            emit(wp, wp->unk);
            return;
        }
        pieces[np++] = id;
        start = end;
    }
    for (int i = 0; i < np; i++) emit(wp, pieces[i]);
}

/* add_char: one character of the lower-cased, accent-stripped text, with its properties */
static void add_char(WordPiece *wp, uint32_t cp, unsigned props) {
    if (props & UNI_PUNCT) flush(wp);
    int i = wp->tok_ncp;
    if (i < WORDPIECE_MAX_CHARS) {
        int at = i ? wp->tok_off[i] : 0;
        wp->tok_off[i] = at;
        wp->tok_off[i + 1] = at + encode(cp, wp->tok + at);
    }
    wp->tok_ncp = i + 1;
    if (props & UNI_PUNCT) flush(wp);
}

/* final_sigma_ahead: the part of Python's final-sigma test that looks after the sigma: true
 * if the word ends before a character that is not case-ignorable, or that character is not
 * cased. Characters the cleaner drops do not exist for this test; CJK ideographs end a word. */
static int final_sigma_ahead(const unsigned char *p) {
    while (*p) {
        uint32_t cp;
        p = decode(p, &cp);
        unsigned pr = props_of(cp);
        if (pr & UNI_DROP) continue;
        if ((pr & UNI_SPACE) || is_cjk(cp)) return 1;
        if (pr & UNI_CASEIGN) continue;
        return !(pr & UNI_CASED);
    }
    return 1;
}

int wordpiece_tokenize(WordPiece *wp, const char *text, int32_t *ids, int cap) {
    wp->out = ids;
    wp->out_cap = ids ? (cap > 0 ? cap : 0) : 0;
    wp->out_n = 0;
    wp->tok_ncp = 0;
    int prev_cased = 0; /* last non-case-ignorable character of the word was cased */
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        uint32_t cp;
        unsigned pr;
        if (*p < 0x80) { /* ASCII fast path */
            cp = *p++;
            pr = uni_prop_ascii[cp];
            if (pr & UNI_DROP) continue;
            if (pr & UNI_SPACE) {
                flush(wp);
                prev_cased = 0;
                continue;
            }
            if (!(pr & UNI_CASEIGN)) prev_cased = (pr & UNI_CASED) != 0;
            if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
            add_char(wp, cp, pr);
            continue;
        }
        p = decode(p, &cp);
        pr = props_of(cp);
        if (pr & UNI_DROP) continue;
        if (pr & UNI_SPACE) {
            flush(wp);
            prev_cased = 0;
            continue;
        }
        int cjk = is_cjk(cp);
        if (cjk) {
            flush(wp);
            prev_cased = 0;
        }
        if (cp == 0x3A3) { /* GREEK CAPITAL LETTER SIGMA: final or not */
            uint32_t lc = prev_cased && final_sigma_ahead(p) ? 0x3C2 : 0x3C3;
            add_char(wp, lc, props_of(lc));
        } else if (pr & UNI_MN) {
            /* accents vanish */
        } else if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: NFD into jamo */
            uint32_t s = cp - 0xAC00;
            add_char(wp, 0x1100 + s / 588, 0);
            add_char(wp, 0x1161 + (s % 588) / 28, 0);
            if (s % 28) add_char(wp, 0x11A7 + s % 28, 0);
        } else {
            int m = map_find(cp);
            if (m < 0) {
                add_char(wp, cp, pr);
            } else {
                const unsigned char *q = uni_map_str + uni_map_off[m];
                const unsigned char *qe = uni_map_str + uni_map_off[m + 1];
                while (q < qe) {
                    uint32_t c2;
                    q = decode(q, &c2);
                    add_char(wp, c2, props_of(c2));
                }
            }
        }
        if (!(pr & UNI_CASEIGN)) prev_cased = (pr & UNI_CASED) != 0;
        if (cjk) {
            flush(wp);
            prev_cased = 0;
        }
    }
    flush(wp);
    wp->out = NULL;
    return wp->out_n;
}

int wordpiece_encode(WordPiece *wp, const char *text, int32_t *ids, uint8_t *mask,
                     int max_len) {
    if (max_len < 2) return -1;
    ids[0] = wp->cls;
    int n = wordpiece_tokenize(wp, text, ids + 1, max_len - 2);
    if (n > max_len - 2) n = max_len - 2;
    ids[n + 1] = wp->sep;
    int len = n + 2;
    for (int i = 0; i < max_len; i++) {
        if (i >= len) ids[i] = wp->pad;
        mask[i] = i < len;
    }
    return len;
}

/* ---- vocabulary ---- */

static int valid_utf8(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        uint32_t cp;
        if (*p < 0x80) {
            p++;
            continue;
        }
        const unsigned char *q = decode(p, &cp);
        if (cp == 0xFFFD && q == p + 1) return 0;
        p = q;
    }
    return 1;
}

Status wordpiece_load(WordPiece **out, const char *vocab_path, Err *e) {
    *out = NULL;
    WordPiece *wp = calloc(1, sizeof *wp);
    if (!wp) return err_set(e, ST_NOMEM, "%s: out of memory", vocab_path);
    size_t size = 0;
    Status st = file_read_all(vocab_path, &wp->buf, &size, e);
    if (st) {
        free(wp);
        return st;
    }
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += wp->buf[i] == '\n';
    if (size > 0 && wp->buf[size - 1] != '\n') lines++;
    if (lines > (size_t)INT32_MAX / 4) {
        st = err_set(e, ST_FORMAT, "%s: expected at most %d tokens, found %zu lines",
                     vocab_path, INT32_MAX / 4, lines);
        goto fail;
    }
    uint32_t slots = 16;
    while (slots < 2 * lines) slots *= 2;
    wp->offs = malloc((lines ? lines : 1) * sizeof *wp->offs);
    wp->lens = malloc((lines ? lines : 1) * sizeof *wp->lens);
    wp->slots = malloc(slots * sizeof *wp->slots);
    if (!wp->offs || !wp->lens || !wp->slots) {
        st = err_set(e, ST_NOMEM, "%s: out of memory for %zu tokens", vocab_path, lines);
        goto fail;
    }
    wp->mask = slots - 1;
    for (uint32_t i = 0; i < slots; i++) wp->slots[i].id = -1;

    size_t pos = 0;
    for (size_t ln = 0; ln < lines; ln++) {
        size_t start = pos;
        while (pos < size && wp->buf[pos] != '\n') pos++;
        size_t end = pos;
        if (pos < size) pos++; /* skip the LF */
        if (end > start && wp->buf[end - 1] == '\r') end--;
        wp->buf[end] = '\0';
        size_t len = end - start;
        const char *tok = wp->buf + start;
        int line = (int)ln + 1;
        if (len == 0) {
            st = err_set(e, ST_FORMAT, "%s:%d: expected a token, found an empty line",
                         vocab_path, line);
            goto fail;
        }
        if (strlen(tok) != len) {
            st = err_set(e, ST_FORMAT, "%s:%d: expected a token, found a NUL byte",
                         vocab_path, line);
            goto fail;
        }
        if (!valid_utf8(tok, len)) {
            st = err_set(e, ST_FORMAT, "%s:%d: expected UTF-8 text, found invalid bytes",
                         vocab_path, line);
            goto fail;
        }
        if (len > UINT32_MAX / 2) {
            st = err_set(e, ST_FORMAT, "%s:%d: token too long (%zu bytes)", vocab_path, line,
                         len);
            goto fail;
        }
        uint32_t h = fnv_step(FNV_INIT, tok, len);
        uint32_t i = h & wp->mask;
        for (; wp->slots[i].id >= 0; i = (i + 1) & wp->mask) {
            int32_t other = wp->slots[i].id;
            if (wp->slots[i].hash == h && wp->lens[other] == len &&
                memcmp(wp->buf + wp->offs[other], tok, len) == 0) {
                st = err_set(e, ST_FORMAT, "%s:%d: duplicate token '%.200s' (first on line %d)",
                             vocab_path, line, tok, (int)other + 1);
                goto fail;
            }
        }
        wp->slots[i].hash = h;
        wp->slots[i].id = (int32_t)ln;
        wp->offs[ln] = start;
        wp->lens[ln] = (uint32_t)len;
        if (len > wp->max_len) wp->max_len = (uint32_t)len;
        wp->n = (int)ln + 1;
    }
    const char *names[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int32_t *dst[4] = {&wp->pad, &wp->unk, &wp->cls, &wp->sep};
    for (int k = 0; k < 4; k++) {
        *dst[k] = lookup(wp, 0, names[k], strlen(names[k]));
        if (*dst[k] < 0) {
            st = err_set(e, ST_MISSING, "%s: expected the special token %s, found none in %d tokens",
                         vocab_path, names[k], wp->n);
            goto fail;
        }
    }
    *out = wp;
    return ST_OK;
fail:
    wordpiece_free(wp);
    return st;
}

void wordpiece_free(WordPiece *wp) {
    if (!wp) return;
    free(wp->buf);
    free(wp->offs);
    free(wp->lens);
    free(wp->slots);
    free(wp);
}

int wordpiece_vocab_size(const WordPiece *wp) { return wp->n; }

int32_t wordpiece_id(const WordPiece *wp, const char *token) {
    return lookup(wp, 0, token, strlen(token));
}

const char *wordpiece_token(const WordPiece *wp, int32_t id) {
    if (id < 0 || id >= wp->n) return NULL;
    return wp->buf + wp->offs[id];
}

int32_t wordpiece_pad(const WordPiece *wp) { return wp->pad; }
int32_t wordpiece_unk(const WordPiece *wp) { return wp->unk; }
int32_t wordpiece_cls(const WordPiece *wp) { return wp->cls; }
int32_t wordpiece_sep(const WordPiece *wp) { return wp->sep; }
