/* config_include.c: the top-level `include: FILE` of config files, and the whole-file reader
 * of the loader. A config may name one other config file; a name that is not absolute is
 * resolved relative to the folder of the including file (for config_load_text, relative to
 * the folder of the name it was given: the current directory for "<text>"). That file may
 * include another, at most CFG_INCLUDE_MAX files deep. cfg_includes_read returns the chain
 * base first; the loader (config.c) applies it in that order and the including file last,
 * so the included file's keys are the base and the including file's keys override them
 * (key by key: a section's keys merge, a list is replaced whole). Errors, at the include
 * line of the including file:
 *   FILE:LINE:COL: include: expected a file name, found ...
 *   FILE:LINE:COL: include: expected a readable config file, found 'x.yaml'
 *                  (DIR/x.yaml: cannot open: No such file or directory)
 *   FILE:LINE:COL: include: expected no include cycle, found a.yaml -> b.yaml -> a.yaml
 *   FILE:LINE:COL: include: expected at most 8 nested includes, found more
 * and the included file's own errors (YAML, keys, values) name that file and line. Two
 * files are the same file when realpath(3) says so. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_tree.h"
#include "file.h"

void cfg_includes_free(CfgIncludes *inc) {
    for (int i = 0; i < inc->n; i++) {
        cfg_node_free(inc->root[i]);
        free(inc->file[i]);
    }
    for (int i = 0; i <= CFG_INCLUDE_MAX; i++) free(inc->real[i]);
    memset(inc, 0, sizeof *inc);
}

/* include_of: the value of root's top-level include key, or NULL (no root, not a mapping,
   no such key). */
static const Node *include_of(const Node *root) {
    if (!root || root->kind != N_MAP) return NULL;
    return cfg_map_get(root, CFG_INCLUDE_KEY, strlen(CFG_INCLUDE_KEY));
}

/* chain_text: "TOP -> FILE1 -> ... -> next" for the cycle message. */
static void chain_text(const CfgIncludes *inc, const char *top, const char *next, char *buf,
                       size_t n) {
    size_t used = 0;
    for (int i = -1; i <= inc->n && used < n; i++) {
        const char *f = i < 0 ? top : i < inc->n ? inc->file[i] : next;
        int w = snprintf(buf + used, n - used, "%s%s", i < 0 ? "" : " -> ", f);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* include_one: read and parse the file include value v of c->file names (appended to inc). */
static Status include_one(const Ctx *c, const Node *v, const char *top, CfgIncludes *inc) {
    char found[FOUND_MAX + 8], path[PATH_MAX], chain[ERR_MSG_MAX / 2];
    if (v->kind != N_SCALAR || !v->text[0])
        return cfg_fail(c, ST_CONFIG, v, CFG_INCLUDE_KEY, "expected a file name, found %s",
                        cfg_node_found(v, found, sizeof found));
    if (inc->n == CFG_INCLUDE_MAX)
        return cfg_fail(c, ST_CONFIG, v, CFG_INCLUDE_KEY,
                        "expected at most %d nested includes, found more", CFG_INCLUDE_MAX);
    const char *slash = strrchr(c->file, '/');
    int dirlen = v->text[0] == '/' || !slash ? 0 : (int)(slash - c->file + 1);
    int w = snprintf(path, sizeof path, "%.*s%s", dirlen, c->file, v->text);
    if (w < 0 || (size_t)w >= sizeof path)
        return cfg_fail(c, ST_CONFIG, v, CFG_INCLUDE_KEY,
                        "expected a path of at most %d bytes, found %d bytes", PATH_MAX - 1, w);
    char *text = NULL;
    size_t len = 0;
    Err fe;
    Status st = file_read_all(path, &text, &len, &fe);
    if (st)
        return cfg_fail(c, st, v, CFG_INCLUDE_KEY,
                        "expected a readable config file, found '%s' (%s)", v->text, fe.msg);
    char *real = realpath(path, NULL);
    for (int i = 0; real && i <= inc->n; i++)
        if (inc->real[i] && !strcmp(inc->real[i], real)) {
            chain_text(inc, top, path, chain, sizeof chain);
            free(real), free(text);
            return cfg_fail(c, ST_CONFIG, v, CFG_INCLUDE_KEY,
                            "expected no include cycle, found %s", chain);
        }
    int k = inc->n++;
    inc->real[k + 1] = real;
    inc->file[k] = strdup(path);
    if (!inc->file[k]) st = err_set(c->e, ST_NOMEM, "out of memory");
    Ctx ic = {.file = inc->file[k], .e = c->e};
    if (!st) st = cfg_yaml_to_tree(text, len, &ic, NULL, &inc->root[k]);
    free(text);
    const Node *r = inc->root[k];
    if (!st && r && !cfg_node_is_null(r) && r->kind != N_MAP)
        st = cfg_fail(&ic, ST_CONFIG, r, NULL, "expected a mapping, found %s", cfg_node_shape(r));
    return st;
}

Status cfg_includes_read(const Node *root, const char *name, CfgIncludes *inc, Err *e) {
    memset(inc, 0, sizeof *inc);
    inc->real[0] = realpath(name, NULL);   /* NULL for a name that is not a file */
    Status st = ST_OK;
    const Node *cur = root, *v;
    for (const char *from = name; !st && (v = include_of(cur));) {
        Ctx c = {.file = from, .e = e};
        st = include_one(&c, v, name, inc);
        if (!st) cur = inc->root[inc->n - 1], from = inc->file[inc->n - 1];
    }
    if (st) {
        cfg_includes_free(inc);
        return st;
    }
    for (int i = 0; i < inc->n / 2; i++) {   /* base first */
        int j = inc->n - 1 - i;
        char *f = inc->file[i];
        Node *r = inc->root[i];
        inc->file[i] = inc->file[j], inc->root[i] = inc->root[j];
        inc->file[j] = f, inc->root[j] = r;
    }
    return ST_OK;
}
