/* bench_linear.c: being written. */
int main(void) { return 0; }
