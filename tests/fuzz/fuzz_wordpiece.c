/* fuzz_wordpiece.c: libFuzzer target of the WordPiece tokenizer (data/wordpiece.h): the
 * vocabulary reader and the tokenizer on arbitrary text.
 *
 * Input: byte 0 is the mode, the rest is split at the first NUL byte into A and B.
 *   mode odd:  A is a vocabulary file (written to FUZZ_DIR/vocab.txt and read with
 *              wordpiece_load; failures must leave a message), B the text to tokenize.
 *   mode even: the text is A (B ignored) and the vocabulary the real BERT uncased one
 *              (data/vocab/bert-base-uncased-vocab.txt, loaded once).
 * The text is tokenized with wordpiece_tokenize (capacities 0, mode >> 1 and the full count
 * must agree on the count and prefix) and wordpiece_encode at max_len 2 + (mode >> 1) % 24:
 * every id must lie in the vocabulary, the count must be what encode keeps, the mask must
 * match the length, and ids must map back to tokens. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/wordpiece.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static WordPiece *bert_vocab;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    Err e;
    if (wordpiece_load(&bert_vocab, FUZZ_SOURCE_ROOT "/data/vocab/bert-base-uncased-vocab.txt",
                       &e)) {
        fprintf(stderr, "fuzz_wordpiece: %s\n", e.msg);
        abort();
    }
    return 0;
}

static void check_ids(const WordPiece *wp, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= wordpiece_vocab_size(wp) || !wordpiece_token(wp, ids[i]))
            abort();
}

static void tokenize(WordPiece *wp, const char *text, int small) {
    int n = wordpiece_tokenize(wp, text, NULL, 0);
    if (n < 0) abort();
    int32_t *all = malloc(sizeof(int32_t) * (size_t)(n + 1));
    int32_t *part = malloc(sizeof(int32_t) * (size_t)(small + 1));
    if (!all || !part) abort();
    if (wordpiece_tokenize(wp, text, all, n) != n) abort();
    if (wordpiece_tokenize(wp, text, part, small) != n) abort();
    check_ids(wp, all, n);
    if (memcmp(all, part, sizeof(int32_t) * (size_t)(n < small ? n : small))) abort();
    const int max_len = 2 + small % 24;
    int32_t ids[26];
    uint8_t mask[26];
    int len = wordpiece_encode(wp, text, ids, mask, max_len);
    int want = n + 2 < max_len ? n + 2 : max_len;
    if (len != want || ids[0] != wordpiece_cls(wp) || ids[len - 1] != wordpiece_sep(wp)) abort();
    check_ids(wp, ids, max_len);
    if (memcmp(ids + 1, all, sizeof(int32_t) * (size_t)(len - 2))) abort();
    for (int i = 0; i < max_len; i++)
        if (mask[i] != (i < len) || (i >= len && ids[i] != wordpiece_pad(wp))) abort();
    free(all);
    free(part);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int mode = data[0];
    char *a = malloc(size + 1); /* data[1..] then two NULs */
    if (!a) abort();
    memcpy(a, data + 1, size - 1);
    a[size - 1] = a[size] = '\0';
    size_t alen = strlen(a);
    if (!(mode & 1)) {
        tokenize(bert_vocab, a, mode >> 1);
        free(a);
        return 0;
    }
    const char *path = fuzz_path(0, "vocab.txt");
    fuzz_write(path, (const uint8_t *)a, alen);
    WordPiece *wp = (WordPiece *)1;
    Err e;
    err_clear(&e);
    Status s = wordpiece_load(&wp, path, &e);
    fuzz_check_err(s, &e);
    if (!s) {
        for (int i = 0; i < wordpiece_vocab_size(wp); i++)
            if (wordpiece_id(wp, wordpiece_token(wp, i)) != i) abort();
        tokenize(wp, a + alen + 1, mode >> 1);
        wordpiece_free(wp);
    }
    free(a);
    return 0;
}
