/* config_tree.h: private to core/config*.c. The in-memory YAML tree that config files and
 * override values are read into (config_tree.c), the Ctx saying where a text came from,
 * and cfg_fail, through which every config error goes so that all messages read
 *   ORIGIN: key.path: expected ..., found ...
 * The cfg_ prefix keeps these library-internal names apart from the config_ API. */
#ifndef DRRL_CORE_CONFIG_TREE_H
#define DRRL_CORE_CONFIG_TREE_H

#include <stddef.h>

#include "err.h"

#define FOUND_MAX 64       /* scalars quoted in messages are clipped to this many bytes */

typedef enum { N_SCALAR, N_MAP, N_SEQ } NodeKind;

typedef struct Node {
    NodeKind kind;
    char *text;          /* N_SCALAR: the value (NUL-terminated) */
    int plain;           /* N_SCALAR: unquoted (an empty plain scalar is YAML null) */
    int line, col;       /* 1-based start of the node */
    struct Node **kids;  /* N_SEQ: items; N_MAP: key0, value0, key1, value1, ... */
    int n, cap;
} Node;

/* Where a value came from: a file (messages carry the node's line:column), an override,
   or a schema default. path is the key the text was given for (overrides, defaults). */
typedef struct {
    const char *file;     /* file name, or NULL */
    const char *assign;   /* "key.path=value" for overrides and defaults, or NULL */
    const char *schema;   /* schema name when applying defaults, or NULL */
    Err *e;
} Ctx;

/* cfg_fail: fill c->e with "ORIGIN: path: what" (no "path: " when path is NULL); ORIGIN
   is the schema default, the override, or c->file with at's line:column (1:1 if at is
   NULL). Returns st. */
Status cfg_fail(const Ctx *c, Status st, const Node *at, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* cfg_yaml_to_tree: parse text (len bytes) into *root (NULL when the text holds no
   document); errors are reported for path (overrides, defaults) or NULL (files). */
Status cfg_yaml_to_tree(const char *text, size_t len, const Ctx *c, const char *path,
                        Node **root);
/* cfg_node_free: free a tree (NULL is allowed). */
void cfg_node_free(Node *nd);
/* cfg_node_is_null: an empty plain scalar ("key:" with nothing after it). */
int cfg_node_is_null(const Node *nd);
/* cfg_node_is_yaml_null: a plain scalar YAML reads as null: ~, null, Null or NULL. */
int cfg_node_is_yaml_null(const Node *nd);
/* cfg_map_get: the value stored under key (keylen bytes) in mapping nd, or NULL. */
const Node *cfg_map_get(const Node *nd, const char *key, size_t keylen);
/* cfg_node_found: how a node is described after "found" in type errors ("'12'",
   "nothing", "a mapping"); buf holds at least FOUND_MAX + 8 bytes. */
const char *cfg_node_found(const Node *nd, char *buf, size_t n);
/* cfg_node_shape: "a scalar", "a mapping" or "a sequence" (structural mismatches). */
const char *cfg_node_shape(const Node *nd);

/* ---- config_include.c: the top-level include key and the file reader */

#define CFG_INCLUDE_KEY "include" /* top-level key naming a base config file */
#define CFG_INCLUDE_MAX 8         /* files in one include chain, the including one aside */

/* The files an include chain names, base first (file[0] is included by file[1], ..., the
   last by the file that was loaded); real: realpath(3) of each file read, for cycles. */
typedef struct {
    int n;
    char *file[CFG_INCLUDE_MAX];  /* names as resolved (folder of the includer + value) */
    Node *root[CFG_INCLUDE_MAX];  /* parsed trees (NULL for an empty file) */
    char *real[CFG_INCLUDE_MAX + 1];
} CfgIncludes;

/* cfg_includes_read: follow root's include chain (root read from the file called name);
   errors name the including file's include line, or the included file's own line. On
   error inc is empty. */
Status cfg_includes_read(const Node *root, const char *name, CfgIncludes *inc, Err *e);
/* cfg_includes_free: free the chain (inc becomes empty). */
void cfg_includes_free(CfgIncludes *inc);

#endif
