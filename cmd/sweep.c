/* sweep.c: drrl-sweep, attention latency, counted FLOPs and fidelity of a frozen byte-level
 * IMDB model's attention modes against sequence length (eval/sweep_run.h says what is
 * measured and how).
 *
 *   drrl-sweep --model MODEL.h5 | --checkpoint CKPT.h5|RUN_DIR
 *              [--lengths 1024,2048,4096,8192,16384]
 *              [--modes full,static:8,static:16,nystrom:32,performer:32[,policy]] [--rows K]
 *              [--reps R] [--out DIR] [--calib N] [--factors FILE.h5] [KEY=VALUE ...]
 *
 * With --checkpoint the model is the checkpoint's (env.model; --model, if given, must be that
 * file) and the whitened factors are its (env.calib_rows, env.factors), so static ranks and
 * the policy share them. Prints a Markdown table; --out DIR writes DIR/sweep.csv. A
 * learned-position model refuses L + 2 > max_pos; a conv-position model runs at any length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/file.h"
#include "core/sha256.h"
#include "core/store.h"
#include "eval/eval_lm.h"
#include "eval/eval_policy.h"
#include "model/bert_io.h"
#include "eval/sweep_run.h"
#include "pipeline/base_run.h"
#include "model/ranked_calib.h"

#define MAX_LIST 32

static const CliOpt OPTS[] = {
    {"--model", "MODEL.h5", "the frozen byte-level IMDB model"},
    {"--checkpoint", "CKPT", "a drrl-train run on the model (file or run directory): adds the\n"
     "policy mode; its factors and grid are used"},
    {"--lengths", "LIST", "input lengths in bytes (default 1024,2048,4096,8192,16384)"},
    {"--modes", "LIST", "full, static:r, static:r0/r1/.. (per layer), static:A+B (by\n"
     "layer and position: --checkpoint), static-plain:r, nystrom:m,\n"
     "performer:m, policy (default full,static:8,static:16,nystrom:32,\n"
     "performer:32; with --checkpoint every grid rank and policy)"},
    {"--rows", "K", "inputs per length (default 8)"},
    {"--reps", "R", "timed rounds per input, medians reported (default 3)"},
    {"--calib", "N", "calibration rows of the whitened factors (not with --checkpoint)"},
    {"--factors", "FILE.h5", "the whitened factors' cache (default next to the model; not\n"
     "with --checkpoint)"},
};
static const ConfigSchema *const SCHEMAS[] = {&base_schema};
static const CliSpec SPEC = {
    .prog = "drrl-sweep",
    .synopsis = "drrl-sweep --model MODEL.h5 | --checkpoint CKPT.h5|RUN_DIR [--lengths LIST]\n"
                "                  [--modes LIST] [--rows K] [--reps R] [--out DIR] [KEY=VALUE ...]",
    .about = "Attention latency, counted FLOPs and fidelity (KL, relative error) of a byte-level\n"
             "IMDB model's attention modes against sequence length, on inputs of exactly L bytes\n"
             "joined from same-label test reviews, each run alone. Prints a Markdown table.\n"
             "KEY=VALUE overrides the model's stored config (e.g. data.test=FILE).",
    .opts = OPTS, .n_opts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .common = CLI_OVERRIDES | CLI_PRINT_CONFIG | CLI_SEED | CLI_OUT,
    .seed_help = "seed of the Performer modes' random features (default 1)",
    .out_help = "writes DIR/sweep.csv (one row per length and mode)",
    .schemas = SCHEMAS, .n_schemas = 1,
};

static void die(const Err *e, int code) {
    if (dist_rank() == 0) fprintf(stderr, "drrl-sweep: error: %s\n", e->msg); /* once per job */
    dist_finalize();
    exit(code);
}

/* with_checkpoint: the policy's checkpoint gives the model, its factors and grid */
static void with_checkpoint(EvalCkpt *k, const char *ckpt, SweepOptions *o, Err *e) {
    EvalCkptArgs ka = {.arg = ckpt};
    if (eval_ckpt_open(k, &ka, e)) {
        err_prefix(e, "--checkpoint");
        die(e, 1);
    }
    char a[65], b[65];
    if (o->model && (sha256_file(o->model, a, e) || sha256_file(k->c.env.model, b, e) ||
                     strcmp(a, b))) {
        err_set(e, ST_CONFIG, "--model %s: expected the checkpoint's model %s (another file)",
                o->model, k->c.env.model);
        die(e, 1);
    }
    o->model = k->c.env.model, o->calib_rows = k->c.env.calib_rows, o->factors = k->c.env.factors;
}

/* default_modes: the list without --modes: with a checkpoint every grid rank and policy */
static const char *default_modes(const EvalCkpt *k, char *buf, size_t cap) {
    if (!k) return "full,static:8,static:16,nystrom:32,performer:32";
    size_t n = (size_t)snprintf(buf, cap, "full");
    for (int g = 0; g < k->c.env.ranks.n && n < cap; g++)
        n += (size_t)snprintf(buf + n, cap - n, ",static:%d", k->c.env.ranks.v[g]);
    if (n < cap) snprintf(buf + n, cap - n, ",nystrom:32,performer:32,policy");
    return buf;
}

/* run: every length, with progress, the table on stdout and the CSV to csv (may be NULL) */
static Status run(Sweep *d, const SweepOptions *o, int rows, int reps, FILE *csv, Err *e) {
    SweepCell cells[EVAL_MAX_MODES];
    Progress p;
    int64_t total = 0;
    const int P = dist_size(), mine = (rows + P - 1) / P; /* process 0 runs rows 0, P, 2P .. */
    for (int i = 0; i < o->n_lengths; i++)
        total += (int64_t)o->n_modes * reps * mine *
                 (((int64_t)o->lengths[i] * o->lengths[i] + 65535) / 65536);
    /* the table streams on stdout; process 0's progress on stderr */
    progress_init(&p, dist_rank() ? NULL : stderr, "drrl-sweep", total, 10.0);
    for (int li = 0; li < o->n_lengths; li++) {
        char label[64];
        snprintf(label, sizeof label, "drrl-sweep: length %d", o->lengths[li]);
        progress_label(&p, label);
        Status s = sweep_length(d, o, o->lengths[li], rows, reps, cells, &p, e);
        if (s) return s;
        if (!dist_rank())
            sweep_report_rows(stdout, csv, o->lengths[li], o->modes, o->n_modes, cells);
    }
    return ST_OK;
}

int main(int argc, char **argv) {
    static CliArgs a;
    static Sweep d;
    static EvalCkpt k;
    static EvalMode modes[EVAL_MAX_MODES];
    Err e;
    err_clear(&e);
    if (dist_init(&argc, &argv, &e)) die(&e, 1);
    const int lead = dist_rank() == 0; /* process 0 speaks and writes; the others compute */
    if (!lead) log_info_set(log_null());
    if (cli_parse(&SPEC, argc, argv, lead ? stdout : log_null(), &a, &e)) die(&e, 2);
    if (a.done) return dist_finalize(), 0;
    long rows = 8, reps = 3, calib = 0;
    int lengths[MAX_LIST] = {1024, 2048, 4096, 8192, 16384}, nl = 5;
    if (cli_int(&SPEC, &a, "--rows", 1, 1L << 20, &rows, &e) ||
        cli_int(&SPEC, &a, "--reps", 1, 1L << 20, &reps, &e) ||
        cli_int(&SPEC, &a, "--calib", 1, 1L << 30, &calib, &e))
        die(&e, 2);
    if (cli_forbid_key(&a, "seed", "--seed N (the Performer features)", &e)) die(&e, 2);
    const char *ckpt = cli_get(&SPEC, &a, "--checkpoint");
    if (cli_int_list(&SPEC, &a, "--lengths", 1, 1 << 22, lengths, MAX_LIST, &nl, &e)) die(&e, 2);
    SweepOptions o = {.model = cli_get(&SPEC, &a, "--model"), .over = a.over, .n_over = a.n_over,
                      .lengths = lengths, .n_lengths = nl, .calib_rows = (int)calib,
                      .factors = cli_get(&SPEC, &a, "--factors"),
                      .performer_seed = a.has_seed ? a.seed : 1, .modes = modes};
    if (!o.model && !ckpt)
        die((err_set(&e, ST_INVALID, "--model: expected --model or --checkpoint, found neither"),
             &e), 2);
    if (ckpt && (calib || o.factors))
        die((err_set(&e, ST_INVALID, "%s: expected none with --checkpoint (its env.calib_rows and "
                     "env.factors are used, so that static ranks and the policy share factors), "
                     "found one", calib ? "--calib" : "--factors"), &e), 2);
    if (ckpt) with_checkpoint(&k, ckpt, &o, &e), d.k = &k;
    if (!o.calib_rows) o.calib_rows = RANKED_CALIB_DEFAULT_ROWS;
    char deflist[256];
    const char *ms = cli_get(&SPEC, &a, "--modes");
    if (sweep_modes(ms ? ms : default_modes(ckpt ? &k : NULL, deflist, sizeof deflist),
                    ckpt ? k.c.env.ranks.v : NULL, ckpt ? k.c.env.ranks.n : 0, ckpt != NULL,
                    modes, &o.n_modes, &e))
        die(&e, 2);
    if (a.print_config) { /* the model's stored config, read without the weights or data */
        BaseConfig bc;
        if (base_run_model_config(o.model, a.over, a.n_over, &bc, &e) ||
            (lead && config_print(&base_schema, &bc, stdout, &e)))
            die(&e, 1);
        return dist_finalize(), 0;
    }
    FILE *info = lead ? cli_info(&a) : log_null();
    BertConfig mc; /* a causal decoder runs the modes that have a causal form */
    if (bert_read_config(o.model, &mc, &e) ||
        (mc.arch == BERT_ARCH_DECODER && eval_lm_modes(modes, &o.n_modes, ms != NULL, info, &e)))
        die(&e, ms ? 2 : 1);
    if (dist_agree(sweep_load(&d, &o, info, &e), &e)) die(&e, 1);
    sweep_report_header(info, &d, (int)rows, (int)reps);
    if (dist_size() > 1)
        fprintf(info, "processes: %d (row k of each length runs on process k mod %d; each times "
                "its own rows, all at once)\n", dist_size(), dist_size());
    static AtomicFile csv; /* DIR/sweep.csv, renamed into place only after a whole run */
    if (a.out && lead) {
        char path[4200];
        snprintf(path, sizeof path, "%s/sweep.csv", a.out);
        if (store_mkdirs(a.out, &e) || file_atomic_open(&csv, path, &e)) die(&e, 1);
        sweep_report_csv_header(csv.f);
    }
    Status st = run(&d, &o, (int)rows, (int)reps, csv.f, &e);
    if (st && csv.f) file_atomic_abort(&csv);
    if (!st && csv.f) st = file_atomic_commit(&csv, &e);
    if ((st = dist_agree(st, &e))) die(&e, 1);
    if (csv.path[0] && lead) printf("\nwrote %s\n", csv.path);
    sweep_free(&d);
    dist_finalize();
    return 0;
}
