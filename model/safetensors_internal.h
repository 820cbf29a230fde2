/* safetensors_internal.h: the open file of safetensors.h, shared by safetensors.c (open and
 * validate) and safetensors_read.c (reading and converting tensors). Not part of the API. */
#ifndef DRRL_MODEL_SAFETENSORS_INTERNAL_H
#define DRRL_MODEL_SAFETENSORS_INTERNAL_H

#include "core/json.h"
#include "model/safetensors.h"

struct Safet {
    char *path;                 /* as opened (malloc'd) */
    int fd;
    uint64_t size;              /* the file's size in bytes */
    uint64_t data_start;        /* 8 + the header's length */
    JsonDoc *header;            /* the parsed header: the names live in its arena */
    const JsonValue *metadata;  /* "__metadata__" (an object of strings) or NULL */
    SafetTensor *tensors;       /* sorted by name */
    size_t n;
};

#endif
