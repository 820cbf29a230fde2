/* fuzz_factors.c: libFuzzer target of the factors cache reader (attention/factors_io.c,
 * attn_factors_read): the whitened or plain weight-level factors of one layer that
 * drrl-factors, drrl-train and drrl-eval keep in a MODEL.factors.h5 file.
 *
 * HDF5 files are made by structured mutation (h5edit.h has the input format): the seed is a
 * factor cache file (format drrl-factors) with two groups written by attn_factors_write (/factors/layer/0/whitened, d = 8,
 * H = 2, calibration hash set; /factors/layer/1/plain, no hash), made in LLVMFuzzerInitialize
 * from factors filled with small values (nothing is computed). Each input edits a copy of it;
 * both groups are read back into factors of the seed's shape, the first once with the
 * expected hash and once with none, as the ranked model does with its cache. Failures must
 * leave a message; a success must give finite values and a known kind. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/factors_io.h"
#include "fuzz_util.h"
#include "h5edit.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the factor cache's format (model/ranked_calib.h; the model library is not linked here) */
#define FACTORS_FORMAT "drrl-factors"
#define D 8
#define H 2
static const char *const hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static AttnFactors f;

static void fill(AttnFactors *x, AttnFactorKind kind) {
    const size_t big = (size_t)H * (D + 1) * (D / H), dsz = (size_t)H * D * (D / H);
    for (size_t i = 0; i < big; i++) x->a[i] = x->b[i] = x->c[i] = 0.01f * (float)(i % 17);
    for (size_t i = 0; i < dsz; i++) x->dm[i] = -0.02f * (float)(i % 5);
    for (int i = 0; i < D; i++) x->bo[i] = 0.1f;
    for (int i = 0; i < H * (D / H); i++) x->s_qk[i] = x->s_vo[i] = 1.0 / (i + 1);
    x->kind = kind;
    x->ridge = kind == ATTN_FACTORS_WHITENED ? 1e-3 : 0;
    snprintf(x->calib_hash, sizeof x->calib_hash, "%s", kind == ATTN_FACTORS_WHITENED ? hash : "");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *seed = fuzz_path(0, "seed.h5");
    Err e;
    Store *st;
    if (attn_factors_init(&f, D, H, &e) || store_create(&st, seed, FACTORS_FORMAT, 1, &e)) {
        fprintf(stderr, "fuzz_factors: seed: %s\n", e.msg);
        abort();
    }
    fill(&f, ATTN_FACTORS_WHITENED);
    Status s = attn_factors_write(st, "/factors/layer/0/whitened", &f, &e);
    fill(&f, ATTN_FACTORS_PLAIN);
    if (s || attn_factors_write(st, "/factors/layer/1/plain", &f, &e) || store_commit(st, &e)) {
        fprintf(stderr, "fuzz_factors: seed: %s\n", e.msg);
        abort();
    }
    h5edit_seed(seed);
    return 0;
}

static void read_group(Store *st, const char *group, const char *expect) {
    Err e;
    err_clear(&e);
    f.kind = (AttnFactorKind)7;
    Status s = attn_factors_read(st, group, &f, expect, &e);
    fuzz_check_err(s, &e);
    if (s) return;
    if (f.kind != ATTN_FACTORS_PLAIN && f.kind != ATTN_FACTORS_WHITENED) abort();
    if (strlen(f.calib_hash) >= sizeof f.calib_hash || (expect && strcmp(expect, f.calib_hash)))
        abort();
    for (int i = 0; i < H * (D + 1) * (D / H); i++)
        if (!isfinite(f.a[i]) || !isfinite(f.b[i]) || !isfinite(f.c[i])) abort();
    for (int i = 0; i < H * (D / H); i++)
        if (!isfinite(f.s_qk[i]) || !isfinite(f.s_vo[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_path(1, "fuzz.h5");
    h5edit_file(path, data, size);
    Store *st = NULL;
    Err e;
    err_clear(&e);
    Status s = store_open(&st, path, FACTORS_FORMAT, 1, 1, &e);
    fuzz_check_err(s, &e);
    if (s) return 0;
    read_group(st, "/factors/layer/0/whitened", hash);
    read_group(st, "/factors/layer/0/whitened", NULL);
    read_group(st, "/factors/layer/1/plain", "");
    read_group(st, "/factors/layer/1/plain", NULL);
    store_close(st);
    return 0;
}
