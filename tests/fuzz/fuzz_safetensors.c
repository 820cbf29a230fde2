/* fuzz_safetensors.c: libFuzzer target of the .safetensors reader (model/safetensors.h) and of
 * drrl-convert bert's use of it (model/convert.h).
 *
 * Input: the whole file, written to FUZZ_DIR/fuzz.safetensors and opened with safet_open. A
 * failure must leave a message and no handle. A success must satisfy what safetensors.h
 * promises: names strictly increasing (distinct, sorted), each found by safet_find, each
 * byte range inside the data area and of count x dtype size bytes, the non-empty ranges
 * covering the data area without overlap; every tensor then reads (safet_read_raw, and
 * safet_read_f32 for F32/F16/BF16/F64, which must refuse the other dtypes with a message).
 * The file is then converted by convert_bert with a tiny fixed config.json in the scratch
 * folder (vocab 4, hidden 2, 1 head, intermediate 3, 1 layer, 3 positions, 2 token types)
 * and --n-classes 2 (a classifier of 2 rows converts, a missing one is initialised), writing
 * FUZZ_DIR/fuzz.h5: any failure must leave a message. The seeds (tests/fuzz/corpus/fuzz_safetensors/) hold such checkpoints in
 * F32 and mixed dtypes, BertModel's layout, files of every dtype and malformed files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model/convert.h"
#include "model/safetensors.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *cfg = "{\"model_type\": \"bert\", \"vocab_size\": 4, \"hidden_size\": 2, "
                      "\"num_attention_heads\": 1, \"intermediate_size\": 3, "
                      "\"num_hidden_layers\": 1, \"max_position_embeddings\": 3, "
                      "\"type_vocab_size\": 2, \"hidden_act\": \"gelu\"}";
    fuzz_write(fuzz_path(1, "config.json"), (const uint8_t *)cfg, strlen(cfg));
    return 0;
}

static int is_float(SafetDtype t) {
    return t == SAFET_F32 || t == SAFET_F16 || t == SAFET_BF16 || t == SAFET_F64;
}

/* check_tensor: t's promises, then its reads */
static void check_tensor(const Safet *f, const SafetTensor *t, uint64_t area) {
    if (safet_find(f, t->name) != t) abort();
    if (t->begin > t->end || t->end > area) abort();
    if (t->end - t->begin != t->count * safet_dtype_size(t->dtype)) abort();
    size_t bytes = (size_t)(t->end - t->begin);
    void *raw = malloc(bytes ? bytes : 1);
    float *x = malloc(t->count ? sizeof(float) * t->count : 1);
    if (!raw || !x) abort();
    Err e;
    err_clear(&e);
    if (safet_read_raw(f, t, raw, bytes, &e)) abort();
    Status s = safet_read_f32(f, t, x, (size_t)t->count, &e);
    if (is_float(t->dtype) ? s != ST_OK : (s == ST_OK || !e.msg[0])) abort();
    free(raw);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(0, "fuzz.safetensors");
    fuzz_write(path, data, size);
    Safet *f = (Safet *)1;
    Err e;
    err_clear(&e);
    Status s = safet_open(&f, path, &e);
    fuzz_check_err(s, &e);
    if (s) {
        if (f) abort();
        return 0;
    }
    uint64_t hlen = 0, covered = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    uint64_t area = size - 8 - hlen;
    for (size_t i = 0; i < safet_count(f); i++) {
        const SafetTensor *t = safet_tensor(f, i);
        if (i && strcmp(safet_tensor(f, i - 1)->name, t->name) >= 0) abort();
        check_tensor(f, t, area);
        covered += t->end - t->begin;
    }
    if (covered != area) abort(); /* no overlap and no gap: the sizes add up to the area */
    safet_close(f);
    ConvertOpts o = {.config = fuzz_path(1, "config.json"), .weights = path,
                     .out = fuzz_path(2, "fuzz.h5"), .n_classes = 2, .seed = 1, .note = NULL};
    ConvertResult r;
    err_clear(&e);
    fuzz_check_err(convert_bert(&o, &r, &e), &e);
    return 0;
}
