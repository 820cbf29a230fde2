#include "tests/check.h"
int main(void) { return check_skip("test_layers_grad", "being written"); }
