/* recall_dump.c: a test and analysis helper (not installed) that writes a generated recall split
 * as text, for scripts/recall_check.py (the independent label check) and for joining per-input
 * results with the rows' pair counts.
 *
 *   recall_dump CONFIG.yaml|MODEL.h5 SPLIT [KEY=VALUE ...]
 *
 * CONFIG.yaml is a drrl-base config, MODEL.h5 a drrl-base model file (its stored config is
 * used); SPLIT is train, dev or test; KEY=VALUE override the config (e.g.
 * data.recall.test_rows=500). Output on stdout:
 *   # recall length=N keys=K values=V fillers=F min_pairs=A max_pairs=B max_len=W seed=S split=X
 *     pair_dist=uniform|zipf   (one line)
 *   index<TAB>pairs<TAB>label<TAB>ids (W space-separated token ids, [PAD] included)
 * one line per row: the rows as the pipeline loads them (base_load_split), the pair counts the
 * generator reports for them (recall_generate's metadata; the rows are checked identical). Exit status 0, or 1 with the error on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/recall.h"
#include "pipeline/base_config.h"
#include "pipeline/base_eval.h"
#include "pipeline/base_run.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: recall_dump CONFIG.yaml|MODEL.h5 train|dev|test [KEY=VALUE ...]\n");
        return 2;
    }
    const char *src = argv[1], *split = argv[2];
    const char *const *over = (const char *const *)argv + 3;
    const int n_over = argc - 3;
    const size_t sl = strlen(src);
    BaseConfig c;
    BaseVocab v;
    EncodedSet s;
    memset(&v, 0, sizeof v);
    memset(&s, 0, sizeof s);
    Err e = {0};
    Status st = sl > 3 && !strcmp(src + sl - 3, ".h5")
                    ? base_run_model_config(src, over, n_over, &c, &e)
                    : config_load(&base_schema, &c, src, over, n_over, &e);
    if (!st && !base_is_recall(&c))
        st = err_set(&e, ST_CONFIG, "%s: data.format: expected recall, found %s", src,
                     c.data.format);
    if (!st && strcmp(split, "train") && strcmp(split, "dev") && strcmp(split, "test"))
        st = err_set(&e, ST_INVALID, "split: expected train, dev or test, found %s", split);
    /* the rows as the pipeline loads them, and the generator's own pair counts of the same rows */
    if (!st) st = base_vocab_open(&v, &c, &e);
    if (!st) st = base_load_split(&s, &c, &v, split, 0, 1, NULL, 0, &e);
    const RecallConfig rc = base_recall_config(&c);
    EncodedSet g;
    memset(&g, 0, sizeof g);
    int32_t *pairs = malloc(sizeof(int32_t) * (size_t)(s.n + 1));
    const int which = !strcmp(split, "test") ? RECALL_TEST : !strcmp(split, "dev") ? RECALL_DEV
                                                                                  : RECALL_TRAIN;
    if (!st && !pairs) st = err_set(&e, ST_NOMEM, "out of memory");
    if (!st) st = recall_generate(&g, pairs, &rc, which, s.n, s.max_len, &e);
    if (!st && memcmp(g.ids, s.ids, sizeof(int32_t) * (size_t)s.n * s.max_len))
        st = err_set(&e, ST_INVALID, "base_load_split and recall_generate differ on split %s", split);
    encoded_free(&g);
    if (st) {
        fprintf(stderr, "recall_dump: %s\n", e.msg);
        free(pairs);
        encoded_free(&s);
        return 1;
    }
    printf("# recall length=%d keys=%d values=%d fillers=%d min_pairs=%d max_pairs=%d "
           "max_len=%d seed=%d split=%s pair_dist=%s\n", rc.length, rc.n_keys, rc.n_values,
           rc.n_fillers, rc.min_pairs, rc.max_pairs, s.max_len, c.data.recall.seed, split,
           c.data.recall.pair_dist);
    for (int i = 0; i < s.n; i++) {
        const int32_t *row = s.ids + (size_t)i * s.max_len;
        printf("%d\t%d\t%d\t", s.index[i], pairs[i], s.label[i]);
        for (int j = 0; j < s.max_len; j++) printf(j ? " %d" : "%d", row[j]);
        putchar('\n');
    }
    free(pairs);
    encoded_free(&s);
    base_vocab_close(&v);
    return 0;
}
