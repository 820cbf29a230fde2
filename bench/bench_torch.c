/* bench_torch.c: PyTorch latencies for drrl-bench (bench_torch.h): the CSV reader, the best
 * thread setting per N, and running scripts/torch_bench.py. */
#include "bench/bench_torch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef DRRL_SOURCE_DIR
#define DRRL_SOURCE_DIR "."
#endif
#define TORCH_PYTHON "/usr/bin/python3"
#define TORCH_SKIP_CODE 77 /* the script's exit code when torch cannot be imported */

/* column: index of name in the comma-separated header (trailing newline ignored), or -1. */
static int column(const char *header, const char *name) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", header);
    buf[strcspn(buf, "\r\n")] = 0;
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++)
        if (!strcmp(tok, name)) return i;
    return -1;
}

/* field: the idx-th comma-separated field of line as a number; 0 if it parses fully. */
static int field(const char *line, int idx, double *out) {
    const char *p = line;
    for (int i = 0; i < idx; i++) {
        p = strchr(p, ',');
        if (!p) return -1;
        p++;
    }
    char *end;
    *out = strtod(p, &end);
    return end == p || (*end && *end != ',' && *end != '\n' && *end != '\r') ? -1 : 0;
}

static Status add_row(TorchTimes *t, int n, int threads, double ms, const char *path, Err *e) {
    for (int i = 0; i < t->count; i++)
        if (t->n[i] == n) {
            if (ms < t->ms[i]) t->ms[i] = ms, t->threads[i] = threads;
            return ST_OK;
        }
    if (t->count == TORCH_MAX_ROWS)
        return err_set(e, ST_FORMAT, "%s: expected at most %d lengths, found more", path,
                       TORCH_MAX_ROWS);
    t->n[t->count] = n, t->threads[t->count] = threads, t->ms[t->count] = ms;
    t->count++;
    return ST_OK;
}

Status torch_read(TorchTimes *t, const char *path, int d, int H, int B, Err *e) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, ST_IO, "%s: cannot open the PyTorch CSV", path);
    char line[1024];
    Status s = ST_OK;
    if (!fgets(line, sizeof line, f)) s = err_set(e, ST_FORMAT, "%s: expected a header, found an "
                                                  "empty file", path);
    int cn = -1, ct = -1, cl = -1, chk[3] = {-1, -1, -1};
    const char *chk_name[3] = {"d", "heads", "batch"};
    const int chk_want[3] = {d, H, B};
    if (!s) {
        cn = column(line, "n"), ct = column(line, "threads"), cl = column(line, "latency_ms");
        for (int k = 0; k < 3; k++) chk[k] = column(line, chk_name[k]);
        if (cn < 0 || ct < 0 || cl < 0)
            s = err_set(e, ST_FORMAT, "%s:1: expected a header with columns n, threads, "
                        "latency_ms, found '%.*s'", path, (int)strcspn(line, "\r\n"), line);
    }
    for (int ln = 2; !s && fgets(line, sizeof line, f); ln++) {
        if (line[strspn(line, " \r\n")] == 0) continue;
        double n, th, ms, v = 0;
        if (field(line, cn, &n) || field(line, ct, &th) || field(line, cl, &ms) || n < 1 ||
            th < 1 || !(ms > 0)) {
            s = err_set(e, ST_FORMAT, "%s:%d: expected n, threads >= 1 and latency_ms > 0, found "
                        "'%.*s'", path, ln, (int)strcspn(line, "\r\n"), line);
            break;
        }
        for (int k = 0; k < 3 && !s; k++)
            if (chk[k] >= 0 && (field(line, chk[k], &v) || v != chk_want[k]))
                s = err_set(e, ST_FORMAT, "%s:%d: %s: expected %d (the bench's layer), found "
                            "%g in '%.*s'", path, ln, chk_name[k], chk_want[k], v,
                            (int)strcspn(line, "\r\n"), line);
        if (!s) s = add_row(t, (int)n, (int)th, ms, path, e);
    }
    fclose(f);
    return s;
}

double torch_best_ms(const TorchTimes *t, int N, int *threads) {
    for (int i = 0; i < t->count; i++)
        if (t->n[i] == N) {
            if (threads) *threads = t->threads[i];
            return t->ms[i];
        }
    return -1;
}

Status torch_run_script(const BenchArgs *a, const char *out_csv, int quiet, Err *e) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root || !*root) root = DRRL_SOURCE_DIR;
    char script[1024], list[512] = "", cmd[4096];
    snprintf(script, sizeof script, "%s/scripts/torch_bench.py", root);
    if (access(TORCH_PYTHON, X_OK) != 0)
        return err_set(e, ST_MISSING, "%s not found", TORCH_PYTHON);
    if (access(script, R_OK) != 0)
        return err_set(e, ST_MISSING, "%s not found (set DRRL_SOURCE_ROOT)", script);
    for (int i = 0; i < a->nn; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", a->n[i]);
    }
    snprintf(cmd, sizeof cmd,
             "%s '%s' --n %s --d %d --heads %d --batch %d --reps %d --warmup %d "
             "--threads 1,2 --max-seconds %g --seed %llu --out '%s'%s",
             TORCH_PYTHON, script, list, a->d, a->H, a->B, a->reps, a->warmup, a->max_seconds,
             (unsigned long long)a->seed, out_csv, quiet ? " > /dev/null" : "");
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc))
        return err_set(e, ST_IO, "cannot run '%s'", cmd);
    if (WEXITSTATUS(rc) == TORCH_SKIP_CODE)
        return err_set(e, ST_MISSING, "PyTorch is not installed for %s", TORCH_PYTHON);
    if (WEXITSTATUS(rc) != 0)
        return err_set(e, ST_IO, "'%s' exited with status %d", cmd, WEXITSTATUS(rc));
    return ST_OK;
}
