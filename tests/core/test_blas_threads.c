#include "tests/check.h"
int main(void) { return check_skip("test_blas_threads", "being written"); }
