/* test_blas_threads.c: the build decision of docs/design.md section 9, checked at run time.
 * With OpenMP on, the OpenBLAS we actually load must be the OpenMP flavour
 * (openblas_get_parallel() == 2), so that our OpenMP loops and OpenBLAS share one libgomp
 * pool instead of two pools spinning against each other on 2 cores. Also checks that
 * sgemm called from inside our own parallel region gives correct results. */
#include <cblas.h>
#include <string.h>

#include "drrl_build.h"
#include "tests/check.h"
#if DRRL_OPENMP
#include <omp.h>
#endif

int openblas_get_parallel(void);
int openblas_get_num_threads(void);

int main(void) {
    int par = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
    printf("OpenBLAS parallel mode %d, %d threads; DRRL_OPENMP=%d\n", par,
           openblas_get_num_threads(), DRRL_OPENMP);
#if DRRL_OPENMP
    CHECK(par == 2,
          "OpenMP build loaded OpenBLAS with parallel mode %d (want 2, the OpenMP flavour): "
          "install libopenblas-openmp-dev or set the libopenblas.so.0 alternative", par);
#endif
    /* sgemm inside a parallel region: each thread multiplies its own 33x17 @ 17x9 */
    enum { T = 4, M = 33, K = 17, N = 9 };
    static float A[T][M * K], B[T][K * N], C[T][M * N];
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < M * K; i++) A[t][i] = (float)((i * 7 + t) % 13) - 6.0f;
        for (int i = 0; i < K * N; i++) B[t][i] = (float)((i * 5 + 3 * t) % 11) - 5.0f;
    }
#if DRRL_OPENMP
#pragma omp parallel for
#endif
    for (int t = 0; t < T; t++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A[t], K, B[t], N,
                    0.0f, C[t], N);
    int ok = 1;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0; /* small integers: exact in float */
                for (int k = 0; k < K; k++) s += (double)A[t][i * K + k] * B[t][k * N + j];
                ok &= (double)C[t][i * N + j] == s;
            }
    CHECK(ok, "sgemm inside an OpenMP region matches the exact integer product");
    return check_exit("test_blas_threads");
}
