/* torch_ref.h: the harness of the tests that compare our layers with PyTorch references
 * written by a script (tests/nn/test_torch_ref.c, tests/nn/test_conv1d_torch.c; its loader
 * also serves tests/model/test_bert_torch.c): run
 *     /usr/bin/python3 $DRRL_SOURCE_ROOT/scripts/SCRIPT DIR/FILE      (DIR from mkdtemp)
 * open the HDF5 file with core/store (its format, version 1), hand it to the test's body,
 * keep the file when a check failed. Skips (exit 77) when DRRL_SOURCE_ROOT is unset or
 * /usr/bin/python3, torch, h5py or numpy is absent. Tolerance of torch_ref_compare:
 * |ours - ref| <= rtol |ref| + atol max(1, scale), scale = the largest |ref| of the tensor. */
#ifndef DRRL_TESTS_TORCH_REF_H
#define DRRL_TESTS_TORCH_REF_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/store.h"
#include "tests/check.h"
#include "tests/run.h"

/* read a tensor; on failure record a check failure and return NULL (caller frees) */
static inline void *torch_ref_load(Store *st, const char *name, DType t, int ndim,
                                   const int64_t *dims) {
    size_t n = 1, esz = t == DT_F64 || t == DT_I64 ? 8 : t == DT_U8 ? 1 : 4;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    void *buf = calloc(n ? n : 1, esz);
    Err e;
    err_clear(&e);
    Status s = buf ? store_read(st, name, t, buf, ndim, dims, &e) : ST_NOMEM;
    CHECK(s == ST_OK, "reading %s: %s", name, e.msg);
    if (s != ST_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* compare ours (float) with ref (double) under the tolerance above; prints the worst ratio */
static inline void torch_ref_compare(const float *ours, const double *ref, size_t n,
                                     const char *what, double rtol, double atol_) {
    if (!ours || !ref) {
        CHECK(0, "%s: missing data", what);
        return;
    }
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    double atol = atol_ * fmax(1.0, scale);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)ours[i] - ref[i]), lim = rtol * fabs(ref[i]) + atol;
        if (err / lim > worst) worst = err / lim;
        if (err > lim && bad++ < 5)
            CHECK(0, "%s[%zu]: ours %.9g, torch %.9g", what, i, (double)ours[i], ref[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu elements outside tolerance", what, bad, n);
    printf("  %-40s n=%-5zu scale %.3g  worst err/tol %.3f\n", what, n, scale, worst);
}

/* the whole test: run scripts/script_name into a fresh temporary FILE, open it as `format`
   version 1 and call body on it; returns the test's exit code */
static inline int torch_ref_main(const char *name, const char *script_name, const char *file,
                                 const char *format, void (*body)(Store *st)) {
    const char *root = getenv("DRRL_SOURCE_ROOT");
    if (!root || !*root)
        return check_skip(name, "DRRL_SOURCE_ROOT is not set (run via meson test)");
    char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) return check_skip(name, "/usr/bin/python3 is not installed");
    char *probe[] = {py, "-c", "import torch, h5py, numpy", NULL};
    if (run(probe, 1) != 0)
        return check_skip(name, "/usr/bin/python3 cannot import torch, h5py and numpy "
                                "(Debian: python3-torch python3-h5py python3-numpy)");
    /* mkdtemp's template: it replaces the trailing X's by a unique suffix */
    char script[4096], dir[] = "/tmp/drrl-torch-ref-XXXXXX", out[4200];
    snprintf(script, sizeof script, "%s/scripts/%s", root, script_name);
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return check_exit(name);
    }
    snprintf(out, sizeof out, "%s/%s", dir, file);
    char *cmd[] = {py, script, out, NULL};
    int rc = run(cmd, 0);
    CHECK(rc == 0, "%s %s %s exited with %d", py, script, out, rc);
    if (rc == 0) {
        Store *st = NULL;
        Err e;
        err_clear(&e);
        Status s = store_open(&st, out, format, 1, 1, &e);
        CHECK(s == ST_OK, "store_open: %s", e.msg);
        if (s == ST_OK) {
            CHECK(store_version(st) == 1, "format_version %d", store_version(st));
            body(st);
            store_close(st);
        }
    }
    if (check_failures) {
        printf("reference file kept: %s\n", out);
    } else {
        unlink(out);
        rmdir(dir);
    }
    return check_exit(name);
}

#endif
