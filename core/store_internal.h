/* store_internal.h: private to core/store*.c (not installed, not for callers of store.h).
 * The Store struct and the helpers the store files share, implemented in store_util.c.
 * The sto_ prefix keeps these library-internal names apart from the store_ API. */
#ifndef DRRL_CORE_STORE_INTERNAL_H
#define DRRL_CORE_STORE_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Longest dataset/group path we accept; paths are built from short keys. */
#define NAME_MAX_LEN 1024

struct Store {
    hid_t file;
    char *path;  /* final path (what messages name) */
    char *tmp;   /* temporary path while writing, NULL when opened for reading */
    int version; /* format_version of the file */
    int deflate; /* gzip level for chunked datasets written from now on (0: none) */
    int image;   /* 1: an in-memory file being written (store_create_image) */
};

typedef enum { OBJ_MISSING, OBJ_GROUP, OBJ_DATASET, OBJ_OTHER } ObjKind;

/* sto_quiet: stop HDF5 printing its error stack; call at every public entry point. */
void sto_quiet(void);
/* sto_hclose: close any kind of identifier and mark it invalid (negative ids: no-op). */
void sto_hclose(hid_t *id);
/* sto_dup_str: malloc'd copy of s, or NULL. */
char *sto_dup_str(const char *s);

/* sto_type_desc: numpy-style name of an HDF5 type for messages ("float32", "string"). */
void sto_type_desc(hid_t t, char *buf, size_t cap);
/* sto_dims_desc: "[256, 128]" ("[]" for a scalar). */
void sto_dims_desc(char *buf, size_t cap, int ndim, const int64_t *dims);
/* sto_space_dims: rank and dims of a dataspace; -1 for a null dataspace or a rank above
 * STORE_MAX_DIMS. */
int sto_space_dims(hid_t space, int64_t *dims);
/* sto_space_desc: a dataspace for messages: its dims, "null dataspace" or "rank N". */
void sto_space_desc(hid_t space, char *buf, size_t cap);

/* sto_check_name: absolute path, no empty components, shorter than NAME_MAX_LEN;
 * allow_root permits "/". */
Status sto_check_name(const Store *st, const char *name, int allow_root, Err *e);
/* sto_obj_kind: what lives at a checked name; if an intermediate level exists but is not
 * a group, it is copied into blocker (NAME_MAX_LEN bytes, or NULL) and the result is
 * OBJ_MISSING. */
ObjKind sto_obj_kind(hid_t file, const char *name, char *blocker);
/* sto_check_new: a checked name can be created: nothing lives there and no level above it
 * is a dataset (ST_INVALID, with the message, otherwise). */
Status sto_check_new(const Store *st, const char *name, Err *e);
/* sto_link_props: link-creation properties that create missing groups and store UTF-8
 * names (the caller closes them); negative on failure. */
hid_t sto_link_props(void);
/* sto_need_writable: an error unless st was opened by store_create. */
Status sto_need_writable(const Store *st, Err *e);
/* sto_open_dataset: open an existing dataset, with a "missing dataset" message otherwise. */
Status sto_open_dataset(Store *st, const char *name, hid_t *ds, Err *e);
/* sto_open_dataset_typed: sto_open_dataset plus its dataspace and file type; on failure
   nothing stays open. */
Status sto_open_dataset_typed(Store *st, const char *name, hid_t *ds, hid_t *space,
                              hid_t *ftype, Err *e);
/* sto_close_dataset_typed: close what sto_open_dataset_typed opened (each handle may be
   H5I_INVALID_HID already; all are left so). */
void sto_close_dataset_typed(hid_t *ds, hid_t *space, hid_t *ftype);

#endif
