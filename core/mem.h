/* mem.h: memory planned once. A MemPlan collects named buffers (pointer, element count)
 * while a model, optimizer or environment is being laid out from its config; mem_plan_alloc
 * then makes ONE zeroed 64-byte-aligned allocation for all of them and points every
 * registered pointer into it. Hot loops never allocate. */
#ifndef DRRL_CORE_MEM_H
#define DRRL_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* MEM_PLAN_MAX: buffers one plan can hold; more makes mem_plan_alloc fail (ST_INVALID).
 * 1024 serves a BERT_MAX_LAYERS training model's activations (model/bert.c, about 460) with
 * room. A MemPlan is then about 40 KiB (1024 x 40-byte slots): embed it in the object it
 * plans, or keep it on the main thread's stack, never on small (e.g. OpenMP worker) stacks. */
#define MEM_PLAN_MAX 1024

typedef struct {
    const char *name;
    int kind;      /* 0 float, 1 int32, 2 double, 3 int64, 4 uint8 */
    void *target;  /* float**, int32_t**, double**, int64_t** or uint8_t** to fill */
    size_t count;  /* elements */
    size_t offset; /* bytes from base, 64-aligned */
} MemSlot;

typedef struct {
    MemSlot slot[MEM_PLAN_MAX];
    int n;
    size_t bytes; /* total so far */
    void *base;   /* the one allocation (NULL until mem_plan_alloc) */
    int overflow; /* set if more than MEM_PLAN_MAX buffers were added */
} MemPlan;

void mem_plan_init(MemPlan *p);
void mem_plan_f32(MemPlan *p, float **ptr, size_t count, const char *name);
void mem_plan_i32(MemPlan *p, int32_t **ptr, size_t count, const char *name);
void mem_plan_f64(MemPlan *p, double **ptr, size_t count, const char *name);
void mem_plan_i64(MemPlan *p, int64_t **ptr, size_t count, const char *name);
void mem_plan_u8(MemPlan *p, uint8_t **ptr, size_t count, const char *name);
/* mem_plan_alloc: one aligned, zeroed allocation; assigns every registered pointer. */
Status mem_plan_alloc(MemPlan *p, Err *e);
/* mem_plan_free: release the allocation; registered pointers are set to NULL. */
void mem_plan_free(MemPlan *p);

#endif
