/* convert.c: the layer every checkpoint converter shares (convert.h): the table of
 * architectures, a .safetensors file seen through an architecture's renaming rule, and the
 * checked reads of its tensors by canonical name (shape, dtype, finite values, transposed
 * when the source stores a matrix as (in, out)). */
#include "model/convert.h"

#include "model/bert_io.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the architectures: drrl-convert's subcommands (convert.h says how to add one) */
static const ConvertArch ARCHS[] = {
    {"bert", "a Hugging Face BERT (BertForSequenceClassification or BertModel) into a drrl "
             "BERT classifier",
     "BertForSequenceClassification: bert.embeddings.*, bert.encoder.layer.<i>.*, "
     "bert.pooler.dense.*, classifier.*\n"
     "BertModel: the same without 'bert.' and without classifier.* (needs --n-classes K: the\n"
     "  classifier is initialised N(0, initializer_range^2), bias 0, from --seed)\n"
     "also accepted: a 'module.' prefix, LayerNorm gamma/beta; ignored with a note:\n"
     "  position_ids buffers, pre-training heads (cls.*)",
     convert_bert},
    {"gpt2", "a Hugging Face GPT-2 (GPT2LMHeadModel or GPT2Model) into a drrl decoder language "
             "model",
     "GPT2Model: wte.weight, wpe.weight, h.<i>.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc,\n"
     "  mlp.c_proj}.*, ln_f.*; GPT2LMHeadModel: the same under 'transformer.'\n"
     "ignored with a note: lm_head.weight (tied to wte), the causal-mask buffers\n"
     "  h.<i>.attn.bias and masked_bias",
     convert_gpt2},
};

const ConvertArch *convert_archs(int *n) {
    *n = (int)(sizeof ARCHS / sizeof ARCHS[0]);
    return ARCHS;
}

const ConvertArch *convert_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (!strcmp(ARCHS[i].name, name)) return &ARCHS[i];
    return NULL;
}

void convert_source_close(ConvertSource *s) {
    safet_close(s->st);
    free(s->canon);
    free(s->order);
    free(s->used);
    memset(s, 0, sizeof *s);
}

typedef struct {
    const char *name;
    size_t i;
} Named;

static int by_name(const void *a, const void *b) { /* ties: by the file's (sorted) index */
    const Named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* sort_kept: order[0..n_kept) by canonical name */
static Status sort_kept(ConvertSource *s, const char *path, Err *e) {
    Named *tmp = malloc((s->n_kept ? s->n_kept : 1) * sizeof *tmp);
    if (!tmp) return err_set(e, ST_NOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < s->n_kept; k++) tmp[k].name = s->canon[s->order[k]], tmp[k].i = s->order[k];
    qsort(tmp, s->n_kept, sizeof *tmp, by_name);
    for (size_t k = 0; k < s->n_kept; k++) s->order[k] = tmp[k].i;
    free(tmp);
    return ST_OK;
}

/* rename_all: every key through rename; drop reasons counted; kept ones sorted by name */
static Status rename_all(ConvertSource *s, const char *path, ConvertRename rename, Err *e) {
    for (size_t i = 0; i < s->n; i++) {
        const char *key = safet_tensor(s->st, i)->name, *why = NULL;
        if (strlen(key) >= CONVERT_NAME_MAX)
            return err_set(e, ST_FORMAT, "%s: tensor '%.100s...': expected a name shorter than "
                           "%d bytes, found %zu bytes", path, key, CONVERT_NAME_MAX, strlen(key));
        if (rename(key, s->canon[i], CONVERT_NAME_MAX, &why)) {
            s->order[s->n_kept++] = i;
            continue;
        }
        s->canon[i][0] = '\0';
        int w = 0;
        while (w < s->n_why && strcmp(s->why[w], why)) w++;
        if (w == s->n_why && w < CONVERT_MAX_WHY) s->why[s->n_why++] = why;
        if (w < s->n_why) s->why_count[w]++;
    }
    Status st = sort_kept(s, path, e);
    if (st) return st;
    for (size_t k = 1; k < s->n_kept; k++) {
        size_t a = s->order[k - 1], b = s->order[k];
        if (!strcmp(s->canon[a], s->canon[b]))
            return err_set(e, ST_FORMAT, "%s: tensors '%s' and '%s': expected one tensor per "
                           "name, found both standing for '%s'", path,
                           safet_tensor(s->st, a)->name, safet_tensor(s->st, b)->name,
                           s->canon[a]);
    }
    return ST_OK;
}

Status convert_source_open(ConvertSource *s, const char *path, ConvertRename rename, Err *e) {
    memset(s, 0, sizeof *s);
    Status st = safet_open(&s->st, path, e);
    if (st) return st;
    s->n = safet_count(s->st);
    size_t n = s->n ? s->n : 1;
    s->canon = malloc(n * sizeof *s->canon);
    s->order = malloc(n * sizeof *s->order);
    s->used = calloc(n, 1);
    if (!s->canon || !s->order || !s->used)
        st = err_set(e, ST_NOMEM, "%s: out of memory (%zu tensors)", path, s->n);
    if (!st) st = rename_all(s, path, rename, e);
    if (st) convert_source_close(s);
    return st;
}

/* find_index: the file index of canonical name, or (size_t)-1 (binary search of order) */
static size_t find_index(const ConvertSource *s, const char *name) {
    size_t lo = 0, hi = s->n_kept;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->canon[s->order[mid]], name);
        if (!c) return s->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return (size_t)-1;
}

const SafetTensor *convert_find(const ConvertSource *s, const char *name) {
    size_t i = find_index(s, name);
    return i == (size_t)-1 ? NULL : safet_tensor(s->st, i);
}

/* label: "'key'" or "'key' (canonical)" for messages */
static void label(const ConvertSource *s, size_t i, char *buf, size_t cap) {
    const char *key = safet_tensor(s->st, i)->name;
    if (!strcmp(key, s->canon[i])) snprintf(buf, cap, "'%s'", key);
    else snprintf(buf, cap, "'%s' (%s)", key, s->canon[i]);
}

Status convert_check(ConvertSource *s, const char *name, int ndim, const int64_t *dims,
                     int transpose, Err *e) {
    const char *path = safet_path(s->st);
    int64_t want[SAFET_MAX_DIMS];
    for (int d = 0; d < ndim && d < SAFET_MAX_DIMS; d++)
        want[d] = transpose && ndim == 2 ? dims[1 - d] : dims[d];
    char ws[128], fs[128], lab[2 * CONVERT_NAME_MAX + 8];
    safet_shape_str(want, ndim, ws, sizeof ws);
    size_t i = find_index(s, name);
    if (i == (size_t)-1)
        return err_set(e, ST_MISSING, "%s: tensor '%s': expected one of shape %s, found none in "
                       "the file", path, name, ws);
    const SafetTensor *t = safet_tensor(s->st, i);
    label(s, i, lab, sizeof lab);
    safet_shape_str(t->shape, t->ndim, fs, sizeof fs);
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == want[d];
    if (!ok)
        return err_set(e, ST_SHAPE, "%s: tensor %s: expected shape %s%s, found %s", path, lab, ws,
                       transpose ? " (stored (in, out))" : "", fs);
    if (t->dtype != SAFET_F32 && t->dtype != SAFET_F16 && t->dtype != SAFET_BF16 &&
        t->dtype != SAFET_F64)
        return err_set(e, ST_SHAPE, "%s: tensor %s: expected a floating-point dtype (F32, F16, "
                       "BF16 or F64), found %s", path, lab, safet_dtype_name(t->dtype));
    s->used[i] = 1;
    return ST_OK;
}

Status convert_take(ConvertSource *s, const char *name, int ndim, const int64_t *dims,
                    int transpose, float *dst, Err *e) {
    Status st = convert_check(s, name, ndim, dims, transpose, e);
    if (st) return st;
    size_t i = find_index(s, name);
    const SafetTensor *t = safet_tensor(s->st, i);
    int tr = transpose && ndim == 2;
    float *buf = tr ? malloc((t->count ? t->count : 1) * sizeof *buf) : dst;
    if (!buf) return err_set(e, ST_NOMEM, "%s: tensor '%s': out of memory", safet_path(s->st),
                             t->name);
    st = safet_read_f32(s->st, t, buf, (size_t)t->count, e);
    if (!st && tr) { /* stored (dims[1], dims[0]): dst[r][c] = buf[c][r] */
        const size_t R = (size_t)dims[0], C = (size_t)dims[1];
        for (size_t r = 0; r < R; r++)
            for (size_t c = 0; c < C; c++) dst[r * C + c] = buf[c * R + r];
    }
    if (tr) free(buf);
    for (size_t k = 0; !st && k < t->count; k++)
        if (!isfinite(dst[k])) {
            char lab[2 * CONVERT_NAME_MAX + 8];
            label(s, i, lab, sizeof lab);
            st = err_set(e, ST_NUMERIC, "%s: tensor %s: element %zu%s: expected a finite value "
                         "(as float32), found %g", safet_path(s->st), lab, k,
                         tr ? " (after transposing)" : "", (double)dst[k]);
        }
    return st;
}

Status convert_unused(const ConvertSource *s, const char *what, Err *e) {
    size_t n = 0;
    char list[ERR_MSG_MAX / 2] = "";
    for (size_t k = 0; k < s->n_kept; k++) {
        size_t i = s->order[k];
        if (s->used[i]) continue;
        size_t at = strlen(list);
        if (n < 10 && at + 4 < sizeof list)
            snprintf(list + at, sizeof list - at, "%s'%s'", n ? ", " : "",
                     safet_tensor(s->st, i)->name);
        n++;
    }
    if (!n) return ST_OK;
    return err_set(e, ST_FORMAT, "%s: expected only the tensors of %s, found %zu more: %s%s",
                   safet_path(s->st), what, n, list, n > 10 ? ", ..." : "");
}

void convert_notes(const ConvertSource *s, FILE *f, const char *prog) {
    for (int w = 0; f && w < s->n_why; w++)
        fprintf(f, "%s: note: %s: ignoring %zu tensor%s (%s)\n", prog, safet_path(s->st),
                s->why_count[w], s->why_count[w] == 1 ? "" : "s", s->why[w]);
}

Status convert_save(const Bert *m, const ConvertOpts *o, const char *arch, Err *e) {
    char note[2 * 4096 + 64];
    snprintf(note, sizeof note, "# converted by drrl-convert %s from %s with %s\n", arch,
             o->weights, o->config);
    BertFileMeta meta = {.config_yaml = note, .vocab_sha256 = "", .data_sha256 = "",
                         .dev_accuracy = (double)NAN, .train_steps = 0};
    return bert_save(m, o->out, &meta, e);
}
