/* fuzz_tsv.c: libFuzzer target of the GLUE TSV reader (data/tsv.h).
 *
 * Input: the whole file. It is written to FUZZ_DIR/fuzz.tsv and read with tsv_load. A
 * failure must leave a message and an all-zero TsvData; a success must satisfy what tsv.h
 * promises of every row: non-empty valid UTF-8 text without NUL bytes, no leading or trailing
 * whitespace, the texts one after the other in one allocation, labels 0/1 (or -1 with an
 * index column), line numbers increasing from 2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/tsv.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void check_rows(const TsvData *d) {
    const char *next = d->n ? d->text[0] : NULL;
    for (int i = 0; i < d->n; i++) {
        const char *t = d->text[i];
        size_t len = strlen(t);
        if (t != next || len == 0 || is_space(t[0]) || is_space(t[len - 1])) abort();
        next = t + len + 1;
        if (d->labeled ? (d->label[i] != 0 && d->label[i] != 1) : d->label[i] != -1) abort();
        if (d->labeled && d->index[i] != i) abort();
        if (d->line[i] < 2 || (i > 0 && d->line[i] <= d->line[i - 1])) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(0, "fuzz.tsv");
    fuzz_write(path, data, size);
    TsvData d;
    memset(&d, 0xab, sizeof d); /* tsv_load must set every field */
    Err e;
    err_clear(&e);
    Status s = tsv_load(&d, path, &e);
    fuzz_check_err(s, &e);
    if (s) {
        static const TsvData zero;
        if (memcmp(&d, &zero, sizeof d)) abort();
    } else {
        check_rows(&d);
    }
    tsv_free(&d);
    return 0;
}
