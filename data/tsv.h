/* tsv.h: loader for GLUE-format TSV files (SST-2 train/dev/test, docs/design.md section 6).
 *
 * The header row decides the kind of file:
 *   "sentence\tlabel"   train/dev: text and a 0/1 label (split on the last TAB);
 *   "index\tsentence"   test: an integer index and text, label -1 (split on the first TAB).
 * Every row must have exactly 2 tab-separated columns. Text is UTF-8 (fully validated:
 * overlong forms, surrogates and code points above U+10FFFF are rejected; NUL bytes too),
 * with leading and trailing whitespace stripped; it must not be empty. Quotes are ordinary
 * characters and duplicate rows are kept. A missing final newline, CRLF line ends and a
 * UTF-8 byte-order mark before the header are tolerated.
 *
 * Errors name the file and 1-based line with expected vs found, e.g.
 *   dev.tsv:5: expected 2 tab-separated columns, found 3
 *   dev.tsv:7: label: expected 0 or 1, found '2'
 *   dev.tsv:9: expected valid UTF-8, found byte 0xff at column 12
 *   test.tsv:4: index: expected an integer, found 'x'
 *   x.tsv:1: header: expected 'sentence\tlabel' or 'index\tsentence', found '...'
 *   dev.tsv:3: expected a non-empty sentence, found ''
 *   dev.tsv: cannot open: No such file or directory
 * (the file is named by the path as given). */
#ifndef DRRL_DATA_TSV_H
#define DRRL_DATA_TSV_H

#include <stdint.h>

#include "core/err.h"

typedef struct {
    int n;            /* rows (header excluded) */
    char **text;      /* (n) NUL-terminated UTF-8, trailing/leading spaces stripped */
    int32_t *label;   /* (n) 0/1, or -1 for the unlabeled test split */
    int32_t *index;   /* (n) the test split's index column; row number (0-based) otherwise */
    int32_t *line;    /* (n) 1-based line number in the file, for messages */
    int labeled;      /* 1 for sentence\tlabel files, 0 for index\tsentence */
} TsvData;

/* tsv_load: read the whole file at path into d. All texts live in one allocation (text[0]
 * points at its start, the strings follow one another in row order); label, index and line
 * are separate arrays. On failure d is left empty (all zero, safe to tsv_free) and nothing
 * is leaked. ST_IO: cannot open/read; ST_FORMAT: malformed contents; ST_NOMEM. */
Status tsv_load(TsvData *d, const char *path, Err *e);

/* tsv_free: release everything tsv_load allocated and zero d (safe on a zeroed d). */
void tsv_free(TsvData *d);

#endif
