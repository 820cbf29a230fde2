/* h5edit.h: the structured mutation of HDF5 files shared by the HDF5 targets of tests/fuzz/.
 *
 * An arbitrary byte string is almost never an HDF5 file, so fuzzing our readers with raw
 * bytes would only fuzz H5Fopen failing (and the HDF5 library is not ours to fuzz). Instead a
 * target makes a valid file with our own writer once (the seed), and every fuzz input is a
 * small program of edits applied with the HDF5 API to a fresh copy of it; our reader then
 * runs on the result. So libFuzzer mutates which item is changed and how, and every edit
 * yields a well-formed HDF5 file whose contents our code must judge.
 *
 * Input: byte 0 == 0xff: raw mode, the rest is the whole file (kept because it is cheap: it
 * exercises the open path with files that are not HDF5 at all). Otherwise byte 0 picks the
 * seed (modulo their count: a target may have several) and up to H5EDIT_MAX_OPS edits follow, each [op][target][a][b] then, when op & 8, [len] and len bytes of text (the
 * strings the ops write; empty otherwise; NUL bytes end it early).
 * The items are every group, dataset and attribute of the current file (recomputed after each
 * edit), in name order; target picks one (modulo their count). Ops (op % 8):
 *   0 DELETE   remove the item (a link or an attribute; the root stays)
 *   1 RESHAPE  same element type, new shape: a picks the rank (same, one less, one more,
 *              scalar, or a null dataspace), b the dims (same, +1, -1, 0, 1, doubled, small),
 *              values 1, 2, 3... (at most 2^20 elements)
 *   2 RETYPE   same shape, new element type (a): integers of 8..64 bits signed or not,
 *              big-endian ones, float32/64, variable or fixed-length strings, a compound, a
 *              bitfield
 *   3 SPECIAL  one element (a; 255: all) of a number set to a special value (b): NaN, +-Inf,
 *              0, -1, huge, denormal, INT32/INT64 limits...; a string item gets text instead
 *   4 STRING   the item replaced by a string (b odd: fixed length, else variable) of the text
 *   5 GROUPIFY a dataset becomes an empty group, a group (not the root) a scalar dataset
 *   6 COPY     dataset a (another item index) copied over the target dataset
 *   7 ADD      an attribute added (or replaced) on the target's object, named by a (from the
 *              attribute names of the file and a few extra), typed by b like RETYPE
 * Edits that do not apply to the item (e.g. COPY onto an attribute) are skipped. */
#ifndef DRRL_TESTS_FUZZ_H5EDIT_H
#define DRRL_TESTS_FUZZ_H5EDIT_H

#include <stddef.h>
#include <stdint.h>

#define H5EDIT_MAX_OPS 8
#define H5EDIT_MAX_SEEDS 4

/* h5edit_seed: add the bytes of the valid file at path (the target's writer made it) to the
   seeds (at most H5EDIT_MAX_SEEDS); aborts if it cannot be read. Also silences HDF5's error
   printing. */
void h5edit_seed(const char *path);

/* h5edit_file: write the file the input describes (raw bytes, or the seed edited by the
   program) to out. */
void h5edit_file(const char *out, const uint8_t *data, size_t size);

#endif
