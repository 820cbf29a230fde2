#include "tests/check.h"
int main(void) { return check_skip("test_store", "being written"); }
