/* run.h: run a helper program (the PyTorch reference scripts) from a test binary. */
#ifndef DRRL_TESTS_RUN_H
#define DRRL_TESTS_RUN_H

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* run: execute argv (argv[0] an absolute path) with stdout/stderr passed through; returns
   the exit status, or -1 if it could not run or died from a signal. quiet: send its output
   to /dev/null. */
static inline int run(char *const argv[], int quiet) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            FILE *devnull = freopen("/dev/null", "w", stdout);
            (void)devnull;
            devnull = freopen("/dev/null", "w", stderr);
            (void)devnull;
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
