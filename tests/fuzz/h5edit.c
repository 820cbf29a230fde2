/* h5edit.c: the edit programs of h5edit.h, applied with the HDF5 API to a copy of the seed. */
#include "h5edit.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "fuzz_util.h"

static char *seed[H5EDIT_MAX_SEEDS];
static size_t seed_len[H5EDIT_MAX_SEEDS];
static int n_seeds;

void h5edit_seed(const char *path) {
    Err e;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (n_seeds == H5EDIT_MAX_SEEDS ||
        file_read_all(path, &seed[n_seeds], &seed_len[n_seeds], &e)) {
        fprintf(stderr, "h5edit: %s\n", n_seeds == H5EDIT_MAX_SEEDS ? "too many seeds" : e.msg);
        abort();
    }
    n_seeds++;
}

/* ------------------------------------------------------------------ the program */

typedef struct { const uint8_t *p, *end; } Prog;

static uint8_t take(Prog *g) { return g->p < g->end ? *g->p++ : 0; }

/* ------------------------------------------------------------------ the items */

#define MAX_ITEMS 512
#define NAME_MAX_LEN 256

typedef struct {
    int kind;                  /* 0 group, 1 dataset, 2 attribute */
    char obj[NAME_MAX_LEN];    /* absolute path of the object (the attribute's owner) */
    char attr[NAME_MAX_LEN];   /* attribute name (kind 2) */
} Item;

typedef struct { Item it[MAX_ITEMS]; int n; } Items;

static herr_t on_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    Items *l = op;
    if (l->n == MAX_ITEMS || strlen(name) >= NAME_MAX_LEN) return 0;
    Item *it = &l->it[l->n];
    memcpy(it->obj, l->it[l->n - 1].obj, NAME_MAX_LEN); /* the owner (or its attribute) */
    it->kind = 2;
    snprintf(it->attr, sizeof it->attr, "%s", name);
    l->n++;
    return 0;
}

static void add_object(hid_t file, const char *path, Items *l) {
    if (l->n == MAX_ITEMS || strlen(path) >= NAME_MAX_LEN) return;
    hid_t o = H5Oopen(file, path, H5P_DEFAULT);
    if (o < 0) return;
    H5I_type_t t = H5Iget_type(o);
    if (t == H5I_GROUP || t == H5I_DATASET) {
        Item *it = &l->it[l->n++];
        it->kind = t == H5I_DATASET;
        snprintf(it->obj, sizeof it->obj, "%s", path);
        it->attr[0] = '\0';
        H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, NULL, on_attr, l);
    }
    H5Oclose(o);
}

typedef struct { hid_t file; Items *l; } VisitCtx;

static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *op) {
    VisitCtx *c = op;
    char path[NAME_MAX_LEN + 2];
    if (info->type != H5L_TYPE_HARD || strlen(name) >= NAME_MAX_LEN) return 0;
    snprintf(path, sizeof path, "/%s", name);
    add_object(c->file, path, c->l);
    return 0;
}

static void list_items(hid_t file, Items *l) {
    l->n = 0;
    add_object(file, "/", l);
    VisitCtx c = {file, l};
    H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, on_link, &c);
}

/* ------------------------------------------------------------------ values */

static const double special_f[16] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0, 1e300,
                                     -1e300, 1e-310, 0.5, 2147483648.0, 1e39, 1e9, 4096.0, 7.0};
static const long long special_i[16] = {0, 1, -1, 2, 2147483647LL, -2147483647LL - 1,
                                        2147483648LL, 9223372036854775807LL,
                                        -9223372036854775807LL - 1, 1 << 20, (1 << 30) + 1,
                                        65, 64, 3, 1000000007, -2};

/* new_type: a file type picked by b (caller closes it); fixed strings are len + 1 long */
static hid_t new_type(uint8_t b, size_t len) {
    const int nf = 13; /* the fixed types of the switch */
    int k = b % (nf + 3);
    switch (k) {
    case 0: return H5Tcopy(H5T_STD_I8LE);
    case 1: return H5Tcopy(H5T_STD_U8LE);
    case 2: return H5Tcopy(H5T_STD_I16LE);
    case 3: return H5Tcopy(H5T_STD_I32LE);
    case 4: return H5Tcopy(H5T_STD_I64LE);
    case 5: return H5Tcopy(H5T_STD_U32LE);
    case 6: return H5Tcopy(H5T_STD_U64LE);
    case 7: return H5Tcopy(H5T_STD_I32BE);
    case 8: return H5Tcopy(H5T_STD_I64BE);
    case 9: return H5Tcopy(H5T_IEEE_F32LE);
    case 10: return H5Tcopy(H5T_IEEE_F64LE);
    case 11: return H5Tcopy(H5T_IEEE_F64BE);
    case 12: return H5Tcopy(H5T_STD_B8LE);
    default: break;
    }
    if (k == nf + 2) {
        hid_t c = H5Tcreate(H5T_COMPOUND, 16);
        H5Tinsert(c, "a", 0, H5T_STD_I64LE);
        H5Tinsert(c, "b", 8, H5T_IEEE_F64LE);
        return c;
    }
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, k == nf ? H5T_VARIABLE : len + 1);
    H5Tset_cset(s, H5T_CSET_UTF8);
    return s;
}

/* Fill: the values of a new object of n elements of file type t */
typedef struct { void *buf; hid_t mem; char *text; } Fill;

static void fill_make(Fill *f, hid_t t, hssize_t n, const char *text, int special, int idx) {
    size_t cnt = n > 0 ? (size_t)n : 1;
    H5T_class_t c = H5Tget_class(t);
    f->text = strdup(text);
    if (c == H5T_STRING && H5Tis_variable_str(t) > 0) {
        char **p = malloc(cnt * sizeof *p);
        for (size_t i = 0; i < cnt; i++) p[i] = f->text;
        f->buf = p, f->mem = H5Tcopy(t);
    } else if (c == H5T_STRING) {
        size_t sz = H5Tget_size(t);
        char *p = calloc(cnt, sz);
        for (size_t i = 0; i < cnt; i++) strncpy(p + i * sz, text, sz);
        f->buf = p, f->mem = H5Tcopy(t);
    } else if (c == H5T_FLOAT || c == H5T_INTEGER) {
        double *p = malloc(cnt * sizeof *p);
        for (size_t i = 0; i < cnt; i++) p[i] = c == H5T_FLOAT ? 0.01 * (double)(i + 1) : (double)(i + 1);
        if (special >= 0)
            for (size_t i = 0; i < cnt; i++)
                if (idx == 255 || (size_t)idx % cnt == i) p[i] = special_f[special % 16];
        f->buf = p, f->mem = H5Tcopy(H5T_NATIVE_DOUBLE);
    } else {
        size_t sz = H5Tget_size(t);
        unsigned char *p = calloc(cnt, sz);
        for (size_t i = 0; i < cnt * sz; i++) p[i] = (unsigned char)(i * 37 + 1);
        f->buf = p, f->mem = H5Tcopy(t);
    }
}

static void fill_free(Fill *f) {
    free(f->buf);
    free(f->text);
    H5Tclose(f->mem);
}

/* ------------------------------------------------------------------ writing objects */

/* put: replace item by a new object of type t over space sp (the item's kind is kept; a
   group item becomes a dataset) */
static void put(hid_t file, const Item *it, hid_t t, hid_t sp, const char *text, int special,
                int idx) {
    Fill f;
    fill_make(&f, t, H5Sget_select_npoints(sp), text, special, idx);
    if (it->kind == 2) {
        H5Adelete_by_name(file, it->obj, it->attr, H5P_DEFAULT);
        hid_t a = H5Acreate_by_name(file, it->obj, it->attr, t, sp, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT);
        if (a >= 0) {
            if (H5Sget_simple_extent_type(sp) != H5S_NULL) H5Awrite(a, f.mem, f.buf);
            H5Aclose(a);
        }
    } else if (strcmp(it->obj, "/") != 0) {
        H5Ldelete(file, it->obj, H5P_DEFAULT);
        hid_t d = H5Dcreate2(file, it->obj, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) {
            if (H5Sget_simple_extent_type(sp) != H5S_NULL)
                H5Dwrite(d, f.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, f.buf);
            H5Dclose(d);
        }
    }
    fill_free(&f);
}

/* item_type_space: the item's current type and dataspace (-1 each for a group) */
static void item_type_space(hid_t file, const Item *it, hid_t *t, hid_t *sp) {
    *t = *sp = -1;
    if (it->kind == 2) {
        hid_t a = H5Aopen_by_name(file, it->obj, it->attr, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0) return;
        *t = H5Aget_type(a), *sp = H5Aget_space(a);
        H5Aclose(a);
    } else if (it->kind == 1) {
        hid_t d = H5Dopen2(file, it->obj, H5P_DEFAULT);
        if (d < 0) return;
        *t = H5Dget_type(d), *sp = H5Dget_space(d);
        H5Dclose(d);
    }
}

/* new_space: the reshape of sp chosen by a (rank) and b (dims); NULL dataspaces included */
static hid_t new_space(hid_t sp, uint8_t a, uint8_t b) {
    hsize_t dims[H5S_MAX_RANK] = {0};
    int r = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : 0;
    if (r < 0) r = 0;
    switch (a % 5) {
    case 1: r = r > 0 ? r - 1 : 0; break;
    case 2: r = r < 3 ? r + 1 : 3; break;
    case 3: return H5Screate(H5S_SCALAR);
    case 4: return H5Screate(H5S_NULL);
    default: break;
    }
    if (r == 0) return H5Screate(H5S_SCALAR);
    hsize_t n = 1;
    for (int i = 0; i < r; i++, b = (uint8_t)(b / 7 + 3 * i)) {
        hsize_t o = dims[i];
        hsize_t opt[7] = {o, o + 1, o ? o - 1 : 0, 0, 1, 2 * o, (hsize_t)(b >> 4)};
        dims[i] = opt[b % 7];
        n *= dims[i] ? dims[i] : 1;
    }
    if (n > (1u << 20)) return H5Screate(H5S_SCALAR);
    return H5Screate_simple(r, dims, NULL);
}

/* ------------------------------------------------------------------ the ops */

static void op_delete(hid_t file, const Item *it) {
    if (it->kind == 2) H5Adelete_by_name(file, it->obj, it->attr, H5P_DEFAULT);
    else if (strcmp(it->obj, "/") != 0) H5Ldelete(file, it->obj, H5P_DEFAULT);
}

static void op_reshape_retype(hid_t file, const Item *it, int reshape, uint8_t a, uint8_t b,
                              const char *text) {
    hid_t t, sp;
    item_type_space(file, it, &t, &sp);
    if (t < 0) return;
    hid_t nt = reshape ? H5Tcopy(t) : new_type(a, strlen(text));
    hid_t ns = reshape ? new_space(sp, a, b) : H5Scopy(sp);
    put(file, it, nt, ns, text, -1, 0);
    H5Tclose(nt), H5Sclose(ns), H5Tclose(t), H5Sclose(sp);
}

/* op_special: element a (255: all) of a number item set to special value b, keeping the
   other values; integers take the integer table */
static void op_special(hid_t file, const Item *it, uint8_t a, uint8_t b, const char *text) {
    hid_t t, sp;
    item_type_space(file, it, &t, &sp);
    if (t < 0) return;
    H5T_class_t c = H5Tget_class(t);
    hssize_t n = H5Sget_select_npoints(sp);
    if ((c == H5T_INTEGER || c == H5T_FLOAT) && n > 0 && n <= (1 << 20)) {
        int is_int = c == H5T_INTEGER;
        hid_t mem = is_int ? H5T_NATIVE_LLONG : H5T_NATIVE_DOUBLE;
        void *buf = malloc((size_t)n * 8);
        hid_t o = it->kind == 2 ? H5Aopen_by_name(file, it->obj, it->attr, H5P_DEFAULT, H5P_DEFAULT)
                                : H5Dopen2(file, it->obj, H5P_DEFAULT);
        herr_t r = it->kind == 2 ? H5Aread(o, mem, buf) : H5Dread(o, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        for (hssize_t i = 0; r >= 0 && i < n; i++) {
            if (a != 255 && a % n != i) continue;
            if (is_int) ((long long *)buf)[i] = special_i[b % 16];
            else ((double *)buf)[i] = special_f[b % 16];
        }
        if (r >= 0) {
            if (it->kind == 2) H5Awrite(o, mem, buf);
            else H5Dwrite(o, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        }
        if (o >= 0 && it->kind == 2) H5Aclose(o);
        else if (o >= 0) H5Dclose(o);
        free(buf);
    } else if (c == H5T_STRING) {
        put(file, it, t, sp, text, -1, 0);
    }
    H5Tclose(t), H5Sclose(sp);
}

static void op_groupify(hid_t file, const Item *it) {
    if (it->kind == 2 || strcmp(it->obj, "/") == 0) return;
    H5Ldelete(file, it->obj, H5P_DEFAULT);
    if (it->kind == 1) {
        hid_t g = H5Gcreate2(file, it->obj, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g >= 0) H5Gclose(g);
    } else {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(file, it->obj, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) H5Dclose(d);
        H5Sclose(sp);
    }
}

static void op_copy(hid_t file, const Item *src, const Item *dst) {
    if (src->kind != 1 || dst->kind != 1 || strcmp(src->obj, dst->obj) == 0) return;
    H5Ldelete(file, dst->obj, H5P_DEFAULT);
    H5Ocopy(file, src->obj, file, dst->obj, H5P_DEFAULT, H5P_DEFAULT);
}

static void op_add(hid_t file, const Items *l, const Item *it, uint8_t a, uint8_t b,
                   const char *text) {
    static const char *const extra[] = {"conv_kernel", "position", "format", "format_version",
                                        "kind", "calib_hash"};
    const int ne = (int)(sizeof extra / sizeof extra[0]);
    int na = 0;
    for (int i = 0; i < l->n; i++) na += l->it[i].kind == 2;
    int k = a % (na + ne);
    Item at = *it;
    at.kind = 2;
    if (k < ne) {
        snprintf(at.attr, sizeof at.attr, "%s", extra[k]);
    } else {
        for (int i = 0, j = ne; i < l->n; i++)
            if (l->it[i].kind == 2 && j++ == k) memcpy(at.attr, l->it[i].attr, NAME_MAX_LEN);
    }
    hid_t t = new_type(b, strlen(text)), sp = H5Screate(H5S_SCALAR);
    put(file, &at, t, sp, text, b >> 4, 255);
    H5Tclose(t), H5Sclose(sp);
}

/* ------------------------------------------------------------------ the program */

static void apply(hid_t file, Prog *g) {
    static Items l; /* large: not on the stack */
    for (int k = 0; k < H5EDIT_MAX_OPS && g->p < g->end; k++) {
        uint8_t op = take(g), tg = take(g), a = take(g), b = take(g);
        char text[300] = "";
        if (op & 8) { /* text given */
            size_t len = take(g);
            for (size_t i = 0; i < len && i + 1 < sizeof text; i++) text[i] = (char)take(g);
        }
        list_items(file, &l);
        if (l.n == 0) return;
        const Item *it = &l.it[tg % l.n];
        switch (op % 8) {
        case 0: op_delete(file, it); break;
        case 1: op_reshape_retype(file, it, 1, a, b, text); break;
        case 2: op_reshape_retype(file, it, 0, a, b, text); break;
        case 3: op_special(file, it, a, b, text); break;
        case 4: {
            hid_t t = new_type(b & 1 ? 14 : 13, strlen(text)), sp = H5Screate(H5S_SCALAR);
            put(file, it, t, sp, text, -1, 0);
            H5Tclose(t), H5Sclose(sp);
            break;
        }
        case 5: op_groupify(file, it); break;
        case 6: op_copy(file, &l.it[a % l.n], it); break;
        default: op_add(file, &l, it, a, b, text); break;
        }
    }
}

void h5edit_file(const char *out, const uint8_t *data, size_t size) {
    if (size > 0 && data[0] == 0xff) {
        fuzz_write(out, data + 1, size - 1);
        return;
    }
    if (n_seeds == 0) abort();
    const int k = size > 0 ? data[0] % n_seeds : 0;
    fuzz_write(out, (const uint8_t *)seed[k], seed_len[k]);
    hid_t file = H5Fopen(out, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) abort(); /* the seed is ours: it opens */
    Prog g = {data + (size > 0), data + size};
    apply(file, &g);
    H5Fclose(file);
}
