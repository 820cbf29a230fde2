/* tasks.c: an OpenMP loop of independent tasks that records a failed one (see tasks.h). */
#include "attention/tasks.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int attn_tasks_run(int n, int nt, AttnTaskFn fn, void *ctx, int *bad_task) {
    int bad = 0, bad_t = -1;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int me = 0;
#ifdef _OPENMP
        me = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
#endif
        for (int t = 0; t < n; t++) {
            int info = fn(ctx, t, me);
            if (info) {
#ifdef _OPENMP
#pragma omp critical(attn_tasks_err)
#endif
                {
                    bad = info;
                    bad_t = t;
                }
            }
        }
    }
    *bad_task = bad_t;
    return bad;
}
