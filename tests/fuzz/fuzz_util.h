/* fuzz_util.h: what the libFuzzer targets of tests/fuzz/ share: a private scratch folder per
 * process (/tmp/drrl-fuzz-PID, removed at exit) where a target writes the fuzz input as the
 * file our path-taking readers open (the same path every iteration), and the check that a
 * failing reader left a message. */
#ifndef DRRL_TESTS_FUZZ_UTIL_H
#define DRRL_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* fuzz_dir: the scratch folder of this process, created on first use (aborts if it cannot). */
const char *fuzz_dir(void);

/* fuzz_path: "fuzz_dir()/name" into a static buffer of its own per name slot (0..3). */
const char *fuzz_path(int slot, const char *name);

/* fuzz_write: write n bytes to path (truncating); aborts on an I/O error. */
void fuzz_write(const char *path, const uint8_t *data, size_t n);

/* fuzz_check_err: abort unless a failed call (s != ST_OK) filled e with status s and a
   non-empty message; the contract of every Status-returning function. */
void fuzz_check_err(Status s, const Err *e);

#endif
