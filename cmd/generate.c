/* generate.c: drrl-generate, incremental decoding of a byte-level language model (model/lm.h)
 * with a full or low-rank key/value cache (model/lm_cache.h):
 *
 *   drrl-generate --model MODEL.h5 --prompt TEXT [--tokens N] [--rank R]
 *   drrl-generate --model MODEL.h5 --bench [--ranks 16] [--contexts 1024,...,16384]
 *                 [--window W] [--out DIR]
 *
 * --prompt: greedy continuation of TEXT (bytes after [CLS]), printed as text (bytes outside
 * printable ASCII and newline as \xNN). --bench: for the full cache and each rank of --ranks
 * (plain factors of every layer at that rank), the cache bytes per token and the median
 * per-token decode latency and tokens/s at each context, filling the cache from the model's
 * held-out test text (data.test of its stored config); a Markdown table, and DIR/decode.csv
 * with --out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/file.h"
#include "core/store.h"
#include "data/imdb.h"
#include "eval/lm_decode.h"
#include "model/bert_io.h"
#include "model/lm_cache.h"
#include "pipeline/base_eval.h"
#include "pipeline/base_run.h"

#define MAX_LIST 16

static const CliOpt OPTS[] = {
    {"--model", "MODEL.h5", "the decoder (a drrl-base model with model.arch: decoder)"},
    {"--prompt", "TEXT", "generate greedily after TEXT"},
    {"--tokens", "N", "bytes to generate (default 200)"},
    {"--rank", "R", "--prompt: the cache's rank in every layer (0: full, the default)"},
    {"--bench", NULL, "time decoding: full cache and each rank of --ranks, at each context"},
    {"--ranks", "LIST", "--bench: factor ranks (default 16)"},
    {"--contexts", "LIST", "--bench: context lengths (default 1024,2048,4096,8192,16384)"},
    {"--window", "W", "--bench: steps timed before each context, median reported (default 32)"},
};
static const CliSpec SPEC = {
    .prog = "drrl-generate",
    .synopsis = "drrl-generate --model MODEL.h5 --prompt TEXT [--tokens N] [--rank R]\n"
                "       drrl-generate --model MODEL.h5 --bench [--ranks LIST] [--contexts LIST] "
                "[--window W] [--out DIR]",
    .about = "Incremental decoding of a byte-level language model with a key/value cache,\n"
             "full or in the factor space of rank r (r numbers per head per token for keys\n"
             "and for values). --bench reports cache bytes per token and per-token latency.",
    .opts = OPTS, .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_OUT,
    .out_help = "--bench: writes DIR/decode.csv",
};

static void die(const Err *e, int code) {
    fprintf(stderr, "drrl-generate: error: %s\n", e->msg);
    exit(code);
}

/* the text the bench decodes: the model's test text, one row of n bytes ([CLS] first) */
static int32_t *bench_text(const char *model, int n, Err *e) {
    char len[32];
    snprintf(len, sizeof len, "data.max_len=%d", n + 2);
    const char *over[] = {len};
    BaseConfig c;
    BaseVocab v;
    EncodedSet s;
    memset(&v, 0, sizeof v), memset(&s, 0, sizeof s);
    Status st = base_run_model_config(model, over, 1, &c, e);
    if (!st) st = base_vocab_open(&v, &c, e);
    if (!st) st = base_load_split(&s, &c, &v, "test", 0, 0, NULL, 0, e);
    int32_t *t = st ? NULL : malloc(sizeof(int32_t) * (size_t)n);
    if (t) memcpy(t, s.ids, sizeof(int32_t) * (size_t)n);
    else if (!st) err_set(e, ST_NOMEM, "out of memory");
    encoded_free(&s);
    base_vocab_close(&v);
    return t;
}

/* --bench: one row per cache (full, then each rank) */
static void bench(const Bert *m, const CliArgs *a, Err *e) {
    int ranks[MAX_LIST] = {16}, ctx[MAX_LIST] = {1024, 2048, 4096, 8192, 16384}, nr = 1, nc = 5;
    long window = 32;
    const int dh = m->c.d_model / m->c.n_heads;
    if (cli_int_list(&SPEC, a, "--ranks", 1, dh, ranks, MAX_LIST, &nr, e) ||
        cli_int_list(&SPEC, a, "--contexts", 1, 1 << 20, ctx, MAX_LIST, &nc, e) ||
        cli_int(&SPEC, a, "--window", 1, 4096, &window, e))
        die(e, 2);
    const int last = ctx[nc - 1];
    int32_t *text = bench_text(cli_get(&SPEC, a, "--model"), last, e);
    if (!text) die(e, 1);
    static Ranked R;
    RankedOptions o = {.max_B = 1, .max_N = 1, .ranks = ranks, .n_ranks = nr};
    if (ranked_init(&R, m, &o, e)) die(e, 1);
    FILE *csv = NULL;
    char path[4096];
    if (a->out) {
        snprintf(path, sizeof path, "%s/decode.csv", a->out);
        if (store_mkdirs(a->out, e)) die(e, 1);
        csv = fopen(path, "w");
        if (!csv) err_set(e, ST_IO, "%s: cannot write", path), die(e, 1);
        fprintf(csv, "cache,rank,bytes_per_token,bytes_vs_full,context,sec_per_token,"
                "tokens_per_s\n");
    }
    printf("| cache | bytes/token | vs full |");
    for (int i = 0; i < nc; i++) printf(" ms/token @%d |", ctx[i]);
    printf("\n|---|---|---|");
    for (int i = 0; i < nc; i++) printf("---|");
    printf("\n");
    double full_bytes = 0;
    for (int k = -1; k < nr; k++) {
        int rk[BERT_MAX_LAYERS];
        for (int l = 0; l < m->c.n_layers; l++) rk[l] = k < 0 ? 0 : ranks[k];
        LmCache c;
        double sec[MAX_LIST];
        if (lm_cache_init(&c, m, &R, RANK_PLAIN, rk, last, e) ||
            lm_decode_bench(&c, text, last, ctx, nc, (int)window, sec, e))
            die(e, 1);
        const double b = (double)lm_cache_bytes_per_token(&c);
        if (k < 0) full_bytes = b;
        printf("| %s | %.0f | %.3f |", k < 0 ? "full" : "rank", b, b / full_bytes);
        if (k >= 0) printf(" (r = %d)", ranks[k]);
        for (int i = 0; i < nc; i++) printf(" %.3f |", 1e3 * sec[i]);
        printf("\n");
        for (int i = 0; csv && i < nc; i++)
            fprintf(csv, "%s,%d,%.0f,%.4f,%d,%.6g,%.2f\n", k < 0 ? "full" : "rank",
                    k < 0 ? dh : ranks[k], b, b / full_bytes, ctx[i], sec[i], 1.0 / sec[i]);
        lm_cache_free(&c);
    }
    if (csv && fclose(csv)) err_set(e, ST_IO, "%s: write failed", path), die(e, 1);
    if (csv) printf("wrote %s\n", path);
    ranked_free(&R);
    free(text);
}

/* --prompt: the greedy continuation, printed */
static void generate(const Bert *m, const CliArgs *a, Err *e) {
    long n = 200, r = 0;
    if (cli_int(&SPEC, a, "--tokens", 1, 1 << 20, &n, e) ||
        cli_int(&SPEC, a, "--rank", 0, m->c.d_model / m->c.n_heads, &r, e))
        die(e, 2);
    const char *text = cli_get(&SPEC, a, "--prompt");
    const int np = (int)strlen(text) + 1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(np + n));
    if (!ids) err_set(e, ST_NOMEM, "out of memory"), die(e, 1);
    ids[0] = IMDB_CLS;
    for (int i = 1; i < np; i++) ids[i] = IMDB_BYTE0 + (unsigned char)text[i - 1];
    static Ranked R;
    int rk[BERT_MAX_LAYERS] = {0}, grid[1] = {(int)r};
    for (int l = 0; l < m->c.n_layers; l++) rk[l] = (int)r;
    RankedOptions o = {.max_B = 1, .max_N = 1, .ranks = grid, .n_ranks = r > 0};
    LmCache c;
    const int ctx = np + (int)n <= bert_max_len(&m->c) ? np + (int)n : bert_max_len(&m->c);
    if ((r > 0 && ranked_init(&R, m, &o, e)) ||
        lm_cache_init(&c, m, r > 0 ? &R : NULL, RANK_PLAIN, rk, ctx, e) ||
        lm_generate_greedy(&c, ids, np, (int)n, ids + np, e))
        die(e, 1);
    fputs(text, stdout);
    for (int i = np; i < np + n; i++) {
        const int b = ids[i] - IMDB_BYTE0;
        if (b == '\n' || (b >= 32 && b < 127)) putchar(b);
        else printf("\\x%02x", ids[i] >= IMDB_BYTE0 ? b : ids[i]);
    }
    printf("\n");
    lm_cache_free(&c);
    if (r > 0) ranked_free(&R);
    free(ids);
}

int main(int argc, char **argv) {
    static CliArgs a;
    Err e;
    err_clear(&e);
    if (cli_parse(&SPEC, argc, argv, stdout, &a, &e)) die(&e, 2);
    if (a.done) return 0;
    const char *model = cli_get(&SPEC, &a, "--model");
    const int b = cli_get(&SPEC, &a, "--bench") != NULL, p = cli_get(&SPEC, &a, "--prompt") != NULL;
    if (!model) err_set(&e, ST_INVALID, "--model: expected a model file, found none"), die(&e, 2);
    if (b == p)
        err_set(&e, ST_INVALID, "expected exactly one of --prompt and --bench, found %s",
                b ? "both" : "neither"), die(&e, 2);
    BertConfig bc;
    Bert m;
    if (bert_read_config(model, &bc, &e)) die(&e, 1);
    if (bc.arch != BERT_ARCH_DECODER)
        err_set(&e, ST_INVALID, "%s: expected a decoder (model.arch: decoder), found an encoder",
                model), die(&e, 1);
    if (bert_init(&m, &bc, 1, 1, 0, &e) || bert_load(&m, model, NULL, &e)) die(&e, 1);
    if (b) bench(&m, &a, &e);
    else generate(&m, &a, &e);
    bert_free(&m);
    return 0;
}
