/* tasks.h: independent tasks spread over an OpenMP team, each thread with its own index (the
 * slice of a workspace it owns), with the failure of a task reported: the per-head LAPACK
 * work of attention/factors.c and attention/activation.c. */
#ifndef DRRL_ATTENTION_TASKS_H
#define DRRL_ATTENTION_TASKS_H

/* one task: returns 0, or a nonzero code (LAPACK's info) when it failed */
typedef int (*AttnTaskFn)(void *ctx, int task, int thread);

/* attn_tasks_run: fn(ctx, t, thread) for every t in [0, n), dynamically scheduled one task at a
   time over nt threads (thread in [0, nt); without OpenMP: in order, thread 0). Returns 0 if
   every task returned 0, else the code of a failed task with its index in *bad_task (when
   several fail, which one is unspecified). */
int attn_tasks_run(int n, int nt, AttnTaskFn fn, void *ctx, int *bad_task);

#endif
