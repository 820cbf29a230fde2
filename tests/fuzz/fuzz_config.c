/* fuzz_config.c: libFuzzer target of the YAML config loader (core/config.h) on the two real
 * schemas, drrl-base's (pipeline/base_config.c) and drrl-train's (pipeline/train_config.c).
 *
 * Input: byte 0 picks the schema (even: base, odd: train); the rest, split at NUL bytes, is
 * the YAML text (first part) and up to 4 command-line overrides "key.path=value" (the other
 * parts). The text is written to FUZZ_DIR/fuzz.yaml and loaded with config_load, so a
 * relative `include:` resolves inside the scratch folder, which holds a few files to include
 * (a valid config, one that includes itself, a chain of two, an invalid one, and the real
 * configs/sst2-drrl.yaml and configs/tiny.yaml that configs/quickstart.yaml and
 * configs/sst2-deploy.yaml include). Any failure
 * must come with a message (fuzz_check_err). On success the resolved config is printed
 * (config_to_yaml) and loaded again: it must load and give the same struct byte for byte
 * (the round trip config.h promises), and config_override of each override on the loaded
 * struct must not crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "fuzz_util.h"
#include "pipeline/base_config.h"
#include "pipeline/train_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *name, const char *text) {
    fuzz_write(fuzz_path(0, name), (const uint8_t *)text, strlen(text));
}

/* copy: configs/NAME of the source tree into the scratch folder (configs include it) */
static void copy(const char *name) {
    char src[4096], *text;
    size_t len;
    Err e;
    snprintf(src, sizeof src, "%s/configs/%s", FUZZ_SOURCE_ROOT, name);
    if (file_read_all(src, &text, &len, &e)) {
        fprintf(stderr, "fuzz_config: %s\n", e.msg);
        abort();
    }
    fuzz_write(fuzz_path(0, name), (const uint8_t *)text, len);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    copy("sst2-drrl.yaml");
    copy("tiny.yaml");
    put("base.yaml", "seed: 3\nmodel:\n  d_model: 64\n  n_heads: 2\ntrain:\n  lr: 0.01\n");
    put("self.yaml", "include: self.yaml\nseed: 1\n");
    put("a.yaml", "include: b.yaml\nseed: 2\n");
    put("b.yaml", "include: base.yaml\nrun:\n  dir: x\n");
    put("bad.yaml", "seed: [1, 2\n");
    put("env.yaml", "env:\n  type: toy\nppo:\n  iterations: 3\n");
    return 0;
}

#define MAX_OVER 4

/* the struct of either schema, zeroed (padding included) before every load */
typedef union { BaseConfig b; TrainConfig t; } AnyConfig;

static void round_trip(const ConfigSchema *sc, const AnyConfig *c, size_t sz) {
    Err e;
    err_clear(&e);
    char *yaml = NULL;
    Status s = config_to_yaml(sc, c, &yaml, &e);
    fuzz_check_err(s, &e);
    if (s) return;
    AnyConfig *d = calloc(1, sizeof *d);
    if (!d) abort();
    s = config_load_text(sc, d, yaml, fuzz_path(1, "printed.yaml"), NULL, 0, &e);
    if (s || memcmp(c, d, sz)) {
        fprintf(stderr, "round trip failed (%s):\n%s\n", s ? e.msg : "differs", yaml);
        abort();
    }
    free(d);
    free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ConfigSchema *sc = data[0] & 1 ? &train_schema : &base_schema;
    size_t sz = data[0] & 1 ? sizeof(TrainConfig) : sizeof(BaseConfig);
    char *buf = malloc(size); /* data[1..] plus a NUL */
    if (!buf) abort();
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *over[MAX_OVER];
    int n_over = 0;
    size_t text_len = strlen(buf);
    for (size_t i = text_len + 1; i < size && n_over < MAX_OVER; i += strlen(buf + i) + 1)
        over[n_over++] = buf + i;
    const char *path = fuzz_path(0, "fuzz.yaml");
    fuzz_write(path, (const uint8_t *)buf, text_len);
    AnyConfig *c = calloc(1, sizeof *c);
    if (!c) abort();
    Err e;
    err_clear(&e);
    Status s = config_load(sc, c, path, over, n_over, &e);
    fuzz_check_err(s, &e);
    if (!s) {
        round_trip(sc, c, sz);
        for (int i = 0; i < n_over; i++) {
            err_clear(&e);
            fuzz_check_err(config_override(sc, c, over[i], &e), &e);
        }
    }
    free(c);
    free(buf);
    return 0;
}
