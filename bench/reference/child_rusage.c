/*
 * What `ssihv bench startup` starts a command through to learn the command's own peak RSS. ru_maxrss of a reaped
 * child is the larger of its peak and that of the process image it replaced at exec (the kernel keeps the maximum
 * across exec, fs/exec.c), and a child that a .NET benchmark forks or vforks starts as a copy of that benchmark,
 * tens of MiB large. This program's image is about 1 MiB, less than any ssihv process, so what it reports for its
 * child is the command's own peak.
 *
 * Usage: child_rusage RESULT_FILE COMMAND [ARGUMENT...]
 * Runs COMMAND (a path; this process's environment, stdin, stdout and stderr), reaps it with wait4 and writes
 * one line to RESULT_FILE: "elapsed_ns=N maxrss_kib=N status=N" (elapsed from just before fork to the reap; the
 * status as wait4 gives it). The command gets SIGKILL if this program dies first, so a benchmark that gives up
 * on it leaves nothing running. Exit 0 when the line is written, whatever the command's exit; 1 when it could not
 * be started or waited for; 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: child_rusage RESULT_FILE COMMAND [ARGUMENT...]\n");
        return 2;
    }
    long long start = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "child_rusage: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[2], argv + 2);
        fprintf(stderr, "child_rusage: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "child_rusage: wait4(%d): %s\n", (int)pid, strerror(errno));
            return 1;
        }
    }
    long long elapsed = now_ns() - start;
    FILE *result = fopen(argv[1], "w");
    if (result == NULL || fprintf(result, "elapsed_ns=%lld maxrss_kib=%ld status=%d\n", elapsed, usage.ru_maxrss, status) < 0
        || fclose(result) != 0) {
        fprintf(stderr, "child_rusage: cannot write %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}
