/* config_tree.c: the YAML reader of the config loader. libyaml's event stream is parsed
 * into a small in-memory tree of nodes that keep their 1-based line/column (aliases,
 * nesting deeper than DEPTH_MAX and a second document are errors), plus cfg_fail, the
 * one function every config error goes through, and node descriptions for messages. */
#include "config_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEPTH_MAX 64       /* nesting limit of the YAML tree (guards the recursion) */

/* ---------------------------------------------------------------- node tree */

void cfg_node_free(Node *nd) {
    if (!nd) return;
    for (int i = 0; i < nd->n; i++) cfg_node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->text);
    free(nd);
}

static Node *node_new(NodeKind kind, yaml_mark_t m) {
    Node *nd = calloc(1, sizeof *nd);
    if (!nd) return NULL;
    nd->kind = kind;
    nd->line = (int)m.line + 1;
    nd->col = (int)m.column + 1;
    return nd;
}

static int node_add(Node *parent, Node *kid) {
    if (parent->n == parent->cap) {
        int cap = parent->cap ? 2 * parent->cap : 8;
        Node **k = realloc(parent->kids, (size_t)cap * sizeof *k);
        if (!k) return 0;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 1;
}

/* cfg_node_is_null: an empty plain scalar ("key:" with nothing after it). */
int cfg_node_is_null(const Node *nd) {
    return nd->kind == N_SCALAR && nd->plain && nd->text[0] == '\0';
}

int cfg_node_is_yaml_null(const Node *nd) {
    return nd->kind == N_SCALAR && nd->plain &&
           (!strcmp(nd->text, "~") || !strcmp(nd->text, "null") || !strcmp(nd->text, "Null") ||
            !strcmp(nd->text, "NULL"));
}

/* cfg_map_get: the value stored under key in mapping nd, or NULL. */
const Node *cfg_map_get(const Node *nd, const char *key, size_t keylen) {
    for (int i = 0; nd && nd->kind == N_MAP && i + 1 < nd->n; i += 2) {
        const Node *k = nd->kids[i];
        if (k->kind == N_SCALAR && strlen(k->text) == keylen && !memcmp(k->text, key, keylen))
            return nd->kids[i + 1];
    }
    return NULL;
}

/* ---------------------------------------------------------------- messages */

Status cfg_fail(const Ctx *c, Status st, const Node *at, const char *path,
                const char *fmt, ...) {
    char what[ERR_MSG_MAX], where[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->schema)
        snprintf(where, sizeof where, "schema '%s' default '%s'", c->schema, c->assign);
    else if (c->assign) /* a long value is cut here, so that the reason after it survives */
        snprintf(where, sizeof where, "command line '%.*s%s'", FOUND_MAX, c->assign,
                 strlen(c->assign) > FOUND_MAX ? "..." : "");
    else if (at)
        snprintf(where, sizeof where, "%s:%d:%d", c->file, at->line, at->col);
    else
        snprintf(where, sizeof where, "%s:1:1", c->file);
    if (path)
        return err_set(c->e, st, "%s: %s: %s", where, path, what);
    return err_set(c->e, st, "%s: %s", where, what);
}

/* cfg_node_found: how a node is described after "found" in type errors. */
const char *cfg_node_found(const Node *nd, char *buf, size_t n) {
    if (nd->kind == N_MAP) return "a mapping";
    if (nd->kind == N_SEQ) return "a sequence";
    if (cfg_node_is_null(nd)) return "nothing";
    size_t len = strlen(nd->text);
    if (len > FOUND_MAX)
        snprintf(buf, n, "'%.*s...'", FOUND_MAX, nd->text);
    else
        snprintf(buf, n, "'%s'", nd->text);
    return buf;
}

/* cfg_node_shape: "a scalar", "a mapping" or "a sequence" (structural mismatches). */
const char *cfg_node_shape(const Node *nd) {
    return nd->kind == N_MAP ? "a mapping" : nd->kind == N_SEQ ? "a sequence" : "a scalar";
}

/* ---------------------------------------------------------------- YAML parsing */

typedef struct {
    yaml_parser_t p;
    const Ctx *c;
    const char *path;     /* key the text belongs to (overrides), or NULL (files) */
} Reader;

static Status reader_next(Reader *r, yaml_event_t *ev) {
    if (yaml_parser_parse(&r->p, ev)) return ST_OK;
    Node at = { .line = (int)r->p.problem_mark.line + 1, .col = (int)r->p.problem_mark.column + 1 };
    return cfg_fail(r->c, ST_FORMAT, &at, r->path, "expected valid YAML, found %s",
                    r->p.problem ? r->p.problem : "an unknown error");
}

static Status reader_node(Reader *r, yaml_event_t *ev, int depth, Node **out);

/* reader_children: read the items of a sequence or mapping until its end event. */
static Status reader_children(Reader *r, Node *nd, yaml_event_type_t end, int depth) {
    for (;;) {
        yaml_event_t ev;
        Status st = reader_next(r, &ev);
        if (st) return st;
        if (ev.type == end) { yaml_event_delete(&ev); return ST_OK; }
        Node *kid = NULL;
        st = reader_node(r, &ev, depth + 1, &kid);  /* consumes ev */
        if (st) return st;
        if (!node_add(nd, kid)) { cfg_node_free(kid); return err_set(r->c->e, ST_NOMEM, "out of memory"); }
    }
}

/* reader_node: build the node that starts with ev (deleted here) into *out. */
static Status reader_node(Reader *r, yaml_event_t *ev, int depth, Node **out) {
    Node at = { .line = (int)ev->start_mark.line + 1, .col = (int)ev->start_mark.column + 1 };
    yaml_event_type_t type = ev->type;
    Status st = ST_OK;
    if (type == YAML_ALIAS_EVENT)
        st = cfg_fail(r->c, ST_FORMAT, &at, r->path, "expected no aliases, found alias '*%s'",
                      (const char *)ev->data.alias.anchor);
    else if (depth > DEPTH_MAX)
        st = cfg_fail(r->c, ST_FORMAT, &at, r->path,
                      "expected at most %d levels of nesting, found more", DEPTH_MAX);
    Node *nd = NULL;
    if (!st) {
        nd = node_new(type == YAML_SCALAR_EVENT ? N_SCALAR
                      : type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ, ev->start_mark);
        if (!nd) st = err_set(r->c->e, ST_NOMEM, "out of memory");
    }
    if (!st && type == YAML_SCALAR_EVENT) {
        size_t len = ev->data.scalar.length;
        nd->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        nd->text = malloc(len + 1);
        if (!nd->text) st = err_set(r->c->e, ST_NOMEM, "out of memory");
        else { memcpy(nd->text, ev->data.scalar.value, len); nd->text[len] = '\0'; }
    }
    yaml_event_delete(ev);
    if (!st && type == YAML_SEQUENCE_START_EVENT)
        st = reader_children(r, nd, YAML_SEQUENCE_END_EVENT, depth);
    else if (!st && type == YAML_MAPPING_START_EVENT)
        st = reader_children(r, nd, YAML_MAPPING_END_EVENT, depth);
    if (st) { cfg_node_free(nd); return st; }
    *out = nd;
    return ST_OK;
}

/* reader_document: after STREAM_START, read at most one document; *root stays NULL for
   an empty stream. A second document is an error. */
static Status reader_document(Reader *r, Node **root) {
    yaml_event_t ev;
    Status st = reader_next(r, &ev);
    if (st) return st;
    if (ev.type == YAML_STREAM_END_EVENT) { yaml_event_delete(&ev); return ST_OK; }
    yaml_event_delete(&ev);                       /* DOCUMENT_START */
    if ((st = reader_next(r, &ev))) return st;
    if ((st = reader_node(r, &ev, 0, root))) return st;
    if ((st = reader_next(r, &ev))) return st;    /* DOCUMENT_END */
    yaml_event_delete(&ev);
    if ((st = reader_next(r, &ev))) return st;
    Node at = { .line = (int)ev.start_mark.line + 1, .col = (int)ev.start_mark.column + 1 };
    int more = ev.type != YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (more)
        return cfg_fail(r->c, ST_FORMAT, &at, r->path,
                        "expected a single document, found a second document");
    return ST_OK;
}

/* cfg_yaml_to_tree: parse text (len bytes) into *root (NULL when the text holds no document). */
Status cfg_yaml_to_tree(const char *text, size_t len, const Ctx *c, const char *path,
                        Node **root) {
    Reader r = { .c = c, .path = path };
    *root = NULL;
    if (!yaml_parser_initialize(&r.p)) return err_set(c->e, ST_NOMEM, "out of memory");
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    yaml_event_t ev;
    Status st = reader_next(&r, &ev);             /* STREAM_START */
    if (!st) {
        yaml_event_delete(&ev);
        st = reader_document(&r, root);
    }
    yaml_parser_delete(&r.p);
    if (st) { cfg_node_free(*root); *root = NULL; }
    return st;
}
