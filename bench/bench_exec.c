/*
 * bench_exec RUNS -- COMMAND ARGS...
 * Runs COMMAND RUNS times, one process each (as a build system would), and
 * prints "median_ms min_ms max_ms" of the wall time per run. Output of the
 * command goes to /dev/null; any failing run aborts the benchmark.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4 || argv[2][0] != '-' || argv[2][1] != '-') {
        fprintf(stderr, "usage: bench_exec RUNS -- COMMAND ARGS...\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    if (runs < 1 || runs > 10000) {
        fprintf(stderr, "bench_exec: RUNS must be 1..10000\n");
        return 2;
    }
    double *t = calloc((size_t)runs, sizeof *t);
    if (!t) {
        return 2;
    }
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execvp(argv[3], argv + 3);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        t[i] = now_ms() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "bench_exec: %s failed (run %d)\n", argv[3], i);
            return 1;
        }
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("%.2f %.2f %.2f\n", runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2, t[0],
           t[runs - 1]);
    free(t);
    return 0;
}
