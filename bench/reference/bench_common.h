/*
 * What every C reference of `ssihv bench` needs: failing loudly and one clock. Included by the references
 * (each is a single translation unit built with one gcc command, so the helpers are static).
 */
#ifndef SSIHV_BENCH_COMMON_H
#define SSIHV_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void die(const char *what) { perror(what); exit(1); }

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

#endif
