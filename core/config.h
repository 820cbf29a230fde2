/* config.h: YAML configuration files parsed (libyaml) into typed C structs.
 *
 * A ConfigSchema lists every key the struct accepts: its dotted path ("model.n_layers"),
 * its type, where it lives in the struct (offsetof), whether it is required, its default,
 * its allowed range or choices. Loading is:
 *   defaults -> the files the YAML file includes -> the YAML file -> command-line overrides
 *   "key.path=value" -> required check -> schema->validate (cross-field checks).
 * A file may hold a top-level `include: OTHER.yaml` (relative to the including file's folder):
 * OTHER's keys are the base and the including file's keys override them key by key (a list
 * is replaced whole); OTHER may include another file, at most 8 deep; a cycle, a missing
 * file or a chain too deep is an error at the include line (core/config_include.c). The
 * resolved config (config_to_yaml) holds no include: it is what checkpoints store.
 * Every error names its origin and the key, in the form
 *   FILE:LINE:COLUMN: key.path: expected ..., found ...
 * (lines and columns 1-based), or for an override
 *   command line 'key.path=value': key.path: expected ..., found ...
 * Unknown keys, wrong types, missing required keys, out-of-range values, duplicate keys
 * and malformed YAML are all errors. The resolved config prints back as YAML that loads
 * to the same struct (config_to_yaml), so it can be stored in checkpoints as text.
 *
 * Details of the accepted YAML: one document per file (an empty file is an empty
 * mapping; "section:" with nothing after it is an empty section); aliases are rejected;
 * CF_BOOL takes only true/false; CF_INT only decimal integers that fit in int; CF_FLOAT
 * only decimal notation (no .inf/.nan); a CF_STRING may be empty only if it is optional
 * and its default is empty or absent. List elements are named "key[i]" (0-based) in
 * messages. A missing required key is reported at the start of its parent mapping (1:1
 * when that is the top level), or as "command line: key: ..." when no file was given.
 * Malformed YAML reads "FILE:LINE:COLUMN: expected valid YAML, found <libyaml problem>",
 * a file that cannot be opened "FILE: cannot open: <strerror>". On error the contents
 * of cfg are unspecified. Every stored field is written in full (unused list slots and
 * string bytes zeroed), so two configs loaded from the same values compare equal with
 * memcmp provided their padding was zeroed first. */
#ifndef DRRL_CORE_CONFIG_H
#define DRRL_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define CONFIG_STR_MAX 256  /* bytes for a CF_STRING / CF_ENUM value, NUL included */
#define CONFIG_LIST_MAX 64  /* elements in a CF_INT_LIST / CF_FLOAT_LIST */

typedef enum {
    CF_INT,        /* storage: int; YAML integer scalar (no fraction, no exponent) */
    CF_FLOAT,      /* storage: double; YAML integer or float scalar, finite */
    CF_BOOL,       /* storage: int (0/1); YAML true/false */
    CF_STRING,     /* storage: char[CONFIG_STR_MAX] */
    CF_ENUM,       /* storage: char[CONFIG_STR_MAX]; one of the "|"-separated choices */
    CF_INT_LIST,   /* storage: IntList; YAML sequence of integers (flow or block) */
    CF_FLOAT_LIST, /* storage: FloatList */
} ConfigType;

typedef struct { int n; int v[CONFIG_LIST_MAX]; } IntList;
typedef struct { int n; double v[CONFIG_LIST_MAX]; } FloatList;

typedef struct {
    const char *path;    /* dotted key path; parents are YAML mappings */
    ConfigType type;
    size_t offset;       /* offsetof(YourConfig, member) */
    int required;        /* 1: must be given (file or override); def is ignored */
    const char *def;     /* default as YAML text ("3", "0.1", "true", "[8, 16]", "adamw") */
    double min, max;     /* inclusive range: numbers, list elements; list length for lists
                            is checked against [1, CONFIG_LIST_MAX]; min > max: no range */
    const char *choices; /* CF_ENUM only: "a|b|c" */
    const char *help;    /* one line, printed as a comment by config_to_yaml */
} ConfigField;

typedef struct ConfigSchema {
    const char *name;          /* e.g. "demo config", used in messages */
    const ConfigField *fields;
    int n_fields;
    /* optional cross-field check run after everything else; fill e and return non-OK.
       src names the file for messages. */
    Status (*validate)(const void *cfg, const char *src, Err *e);
} ConfigSchema;

/* config_defaults: write every field's default into cfg (required fields zeroed). */
Status config_defaults(const ConfigSchema *s, void *cfg, Err *e);

/* config_load: defaults, then the YAML file at path (NULL: none), then overrides
   (n_over strings "key.path=value", value parsed as a YAML scalar or flow sequence),
   then the required-key check and schema->validate. */
Status config_load(const ConfigSchema *s, void *cfg, const char *path,
                   const char *const *overrides, int n_over, Err *e);

/* config_load_text: as config_load but the YAML comes from text; name is used as the
   file name in messages (e.g. "<embedded quickstart>"). */
Status config_load_text(const ConfigSchema *s, void *cfg, const char *text, const char *name,
                        const char *const *overrides, int n_over, Err *e);

/* config_override: apply one "key.path=value" to an already loaded cfg. */
Status config_override(const ConfigSchema *s, void *cfg, const char *assignment, Err *e);

/* config_to_yaml: the resolved config as YAML text (malloc'd, caller frees); nested keys
   become nested mappings, in schema order, with help as comments. */
Status config_to_yaml(const ConfigSchema *s, const void *cfg, char **out, Err *e);

/* config_print: config_to_yaml written to f. */
Status config_print(const ConfigSchema *s, const void *cfg, FILE *f, Err *e);

/* config_value_text: the value of field f in cfg as config_to_yaml prints it (exact: two
   values print alike only when equal), clipped to cap bytes. */
Status config_value_text(const ConfigField *f, const void *cfg, char *buf, size_t cap, Err *e);

/* config_diff: the first field, at index *from or later in schema order, whose value differs
   between a and b: its index in *from (-1: none differs) and both values
   (config_value_text) in va and vb. */
Status config_diff(const ConfigSchema *s, const void *a, const void *b, int *from, char *va,
                   char *vb, size_t cap, Err *e);

/* config_nearest_key: the key of s nearest to path by edit distance, comparing whole paths
   and last components ("model.layers" ~ model.n_layers, "lr" ~ train.lr; core/suggest.h),
   among the keys starting with one of the '|'-separated prefixes (NULL: all); its distance
   in *dist (0 with path itself returned when path is a key). NULL when no key qualifies. */
const char *config_nearest_key(const ConfigSchema *s, const char *path, const char *prefixes,
                               int *dist);

/* config_has_prefix: 1 when path starts with one of the '|'-separated prefixes. */
int config_has_prefix(const char *path, const char *prefixes);

#endif
