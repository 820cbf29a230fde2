#include "tests/check.h"
int main(void) { return check_skip("test_err_rng_mem", "being written"); }
