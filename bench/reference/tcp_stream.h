/*
 * Whole-buffer reads and writes on a TCP stream and TCP_NODELAY, as both TCP references
 * (tcp_reference.c, uffd_remote_reference.c) use them: our transports set TCP_NODELAY too.
 */
#ifndef SSIHV_TCP_STREAM_H
#define SSIHV_TCP_STREAM_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench_common.h"

/* 0 when all `length` bytes were read; -1 when the peer closed the stream or the read failed. */
static int read_all(int fd, void *buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = read(fd, (char *)buffer + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

static void write_all(int fd, const void *buffer, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t n = write(fd, (const char *)buffer + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write");
        done += (size_t)n;
    }
}

static void no_delay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) die("setsockopt TCP_NODELAY");
}

#endif
