/* resume.c: the resume contract of drrl-base and drrl-train (see resume.h). */
#include "pipeline/resume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Status resume_kind(const char *path, int *is_dir, Err *e) {
    struct stat sb;
    if (stat(path, &sb))
        return err_set(e, ST_MISSING, "--resume %s: expected a run directory or a checkpoint, "
                       "found nothing there (%s)", path, strerror(errno));
    *is_dir = S_ISDIR(sb.st_mode);
    return ST_OK;
}

Status resume_parent(const char *path, char *out, size_t cap, Err *e) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;  /* "a/b/" is b in a */
    while (n > 0 && path[n - 1] != '/') n--;  /* drop the last component */
    while (n > 1 && path[n - 1] == '/') n--;  /* and the slashes before it */
    if (n >= cap) return err_set(e, ST_INVALID, "%s: expected a path of at most %zu bytes", path, cap - 1);
    if (!n) snprintf(out, cap, ".");
    else snprintf(out, cap, "%.*s", (int)n, path);
    return ST_OK;
}

/* same_dir: a and b name the same directory (the same inode when both exist, else the same
   text up to trailing slashes) */
static int same_dir(const char *a, const char *b) {
    struct stat sa, sb;
    if (!stat(a, &sa) && !stat(b, &sb)) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/') na--;
    while (nb > 1 && b[nb - 1] == '/') nb--;
    return na == nb && !strncmp(a, b, na);
}

/* last_override: the last command-line assignment of key ("key=value"), or NULL */
static const char *last_override(const char *key, const char *const *over, int n_over) {
    size_t k = strlen(key);
    const char *found = NULL;
    for (int i = 0; i < n_over; i++)
        if (!strncmp(over[i], key, k) && over[i][k] == '=') found = over[i];
    return found;
}

/* listed: key is one of the '|'-separated keys of list */
static int listed(const char *key, const char *list) {
    size_t n = strlen(key);
    for (const char *c = list; *c;) {
        size_t k = strcspn(c, "|");
        if (k == n && !strncmp(key, c, k)) return 1;
        c += k + (c[k] == '|');
    }
    return 0;
}

/* check: every key of cfg against had (the checkpoint's): the resume list may differ (said on
   info), any other difference is the error */
static Status check(const ResumeRule *r, const char *ckpt, const void *had, const void *cfg,
                    const char *cfg_path, const char *const *over, int n_over, FILE *info,
                    Err *e) {
    char va[160], vb[160], from[CONFIG_STR_MAX + 64];
    int i = 0;
    Status s = config_diff(r->schema, had, cfg, &i, va, vb, sizeof va, e);
    for (; !s && i >= 0; i++, s = config_diff(r->schema, had, cfg, &i, va, vb, sizeof va, e)) {
        const char *key = r->schema->fields[i].path, *o = last_override(key, over, n_over);
        if (o) snprintf(from, sizeof from, "command line '%.*s'", CONFIG_STR_MAX, o);
        else snprintf(from, sizeof from, "%.*s", CONFIG_STR_MAX, cfg_path ? cfg_path : "?");
        if (!listed(key, r->may_change)) {
            char keys[512]; /* "a|b" as "a, b" */
            size_t n = 0;
            for (const char *c = r->may_change; *c && n + 3 < sizeof keys; c++) {
                if (*c == '|') keys[n++] = ',', keys[n++] = ' ';
                else keys[n++] = *c;
            }
            keys[n] = 0;
            return err_set(e, ST_CONFIG, "%s: %s: expected the checkpoint's value %s, found %s "
                           "(%s): on resume only these keys may change: %s", ckpt, key, va, vb,
                           from, keys);
        }
        if (info) fprintf(info, "resume: %s %s -> %s (%s)\n", key, va, vb, from);
    }
    return s;
}

Status resume_config(const ResumeRule *r, const char *ckpt, const char *stored,
                     const char *run_dir, const char *cfg_path, const char *const *over,
                     int n_over, void *cfg, FILE *info, Err *e) {
    char src[CONFIG_STR_MAX + 64];
    snprintf(src, sizeof src, "%.*s:/config", CONFIG_STR_MAX, ckpt);
    void *had = calloc(1, r->size);
    if (!had) return err_set(e, ST_NOMEM, "out of memory");
    Status s = config_load_text(r->schema, had, stored, src, NULL, 0, e);
    if (!s) s = cfg_path ? config_load(r->schema, cfg, cfg_path, over, n_over, e)
                         : config_load_text(r->schema, cfg, stored, src, over, n_over, e);
    char *dir = (char *)cfg + r->run_dir;
    const char *o = last_override("run.dir", over, n_over);
    if (!s && o && !same_dir(dir, run_dir))
        s = err_set(e, ST_CONFIG, "run.dir: expected the run's own directory %s on resume, found "
                    "%s (command line '%.*s'): to continue the run elsewhere, copy its directory "
                    "there (cp -a %s %s) and resume from the copy", run_dir, dir, CONFIG_STR_MAX,
                    o, run_dir, dir);
    if (!s && strlen(run_dir) >= CONFIG_STR_MAX)
        s = err_set(e, ST_CONFIG, "run.dir: expected at most %d bytes, found %zu (%s)",
                    CONFIG_STR_MAX - 1, strlen(run_dir), run_dir);
    if (!s) {
        snprintf(dir, CONFIG_STR_MAX, "%s", run_dir);
        snprintf((char *)had + r->run_dir, CONFIG_STR_MAX, "%s", run_dir);
        s = check(r, ckpt, had, cfg, cfg_path, over, n_over, info, e);
    }
    free(had);
    return s;
}
