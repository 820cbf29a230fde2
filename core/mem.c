/* mem.c: one-allocation memory plans (see mem.h). */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static const size_t kind_size[5] = {sizeof(float), sizeof(int32_t), sizeof(double),
                                    sizeof(int64_t), sizeof(uint8_t)};

void mem_plan_init(MemPlan *p) { memset(p, 0, sizeof *p); }

static void add(MemPlan *p, int kind, void *target, size_t count, const char *name) {
    if (p->n >= MEM_PLAN_MAX) {
        p->overflow = 1;
        return;
    }
    MemSlot *s = &p->slot[p->n++];
    s->name = name;
    s->kind = kind;
    s->target = target;
    s->count = count;
    s->offset = p->bytes;
    size_t b = count * kind_size[kind];
    p->bytes += (b + 63) & ~(size_t)63;
}

void mem_plan_f32(MemPlan *p, float **ptr, size_t count, const char *name) {
    add(p, 0, ptr, count, name);
}
void mem_plan_i32(MemPlan *p, int32_t **ptr, size_t count, const char *name) {
    add(p, 1, ptr, count, name);
}
void mem_plan_f64(MemPlan *p, double **ptr, size_t count, const char *name) {
    add(p, 2, ptr, count, name);
}
void mem_plan_i64(MemPlan *p, int64_t **ptr, size_t count, const char *name) {
    add(p, 3, ptr, count, name);
}
void mem_plan_u8(MemPlan *p, uint8_t **ptr, size_t count, const char *name) {
    add(p, 4, ptr, count, name);
}

static void assign(MemSlot *s, char *base) {
    char *at = base ? base + s->offset : NULL;
    switch (s->kind) {
    case 0: *(float **)s->target = (float *)(void *)at; break;
    case 1: *(int32_t **)s->target = (int32_t *)(void *)at; break;
    case 2: *(double **)s->target = (double *)(void *)at; break;
    case 3: *(int64_t **)s->target = (int64_t *)(void *)at; break;
    default: *(uint8_t **)s->target = (uint8_t *)at; break;
    }
}

Status mem_plan_alloc(MemPlan *p, Err *e) {
    if (p->overflow)
        return err_set(e, ST_INVALID, "memory plan: more than %d buffers (MEM_PLAN_MAX)",
                       MEM_PLAN_MAX);
    size_t bytes = p->bytes ? p->bytes : 64;
    p->base = aligned_alloc(64, bytes);
    if (!p->base)
        return err_set(e, ST_NOMEM, "memory plan: cannot allocate %zu bytes", bytes);
    memset(p->base, 0, bytes);
    for (int i = 0; i < p->n; i++) assign(&p->slot[i], p->base);
    return ST_OK;
}

void mem_plan_free(MemPlan *p) {
    if (!p->base) return;
    for (int i = 0; i < p->n; i++) assign(&p->slot[i], NULL);
    free(p->base);
    p->base = NULL;
}
