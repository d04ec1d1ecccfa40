/*
 * The C reference of `ssihv bench transport`: the smallest request/reply exchange over TCP loopback that does
 * what a page fetch does. A server thread accepts one connection and answers every 16-byte request (request id,
 * page number) with a 4096-byte page whose first 8 bytes echo the request id; the client, on the main thread
 * of the same process (as both of our transports run in one process), measures
 *   - SEQUENTIAL requests with one outstanding: each round trip timed with CLOCK_MONOTONIC;
 *   - PIPELINED requests with DEPTH outstanding on the same connection: requests per second.
 * Both sockets have TCP_NODELAY, as ours do. Every reply's id is checked.
 *
 * Usage: tcp_reference SEQUENTIAL PIPELINED DEPTH LATENCIES.BIN
 * Writes the sequential latencies (double, µs) to LATENCIES.BIN and prints key=value pairs:
 *   pipelined_rps=... wrong_replies=...
 * Exit 0 on success, 1 on failure, 2 on bad arguments. Gives up after 120 s (alarm).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "tcp_stream.h"

#define PAGE 4096
#define REQUEST 16
#define GIVE_UP_SECONDS 120

static int listener;

static void *serve(void *unused)
{
    (void)unused;
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        die("accept");
    no_delay(fd);
    static uint8_t page[PAGE];
    for (int i = 0; i < PAGE; i++)
        page[i] = (uint8_t)(i * 7);
    uint8_t request[REQUEST];
    while (read_all(fd, request, REQUEST) == 0) {
        memcpy(page, request, 8); /* the id */
        write_all(fd, page, PAGE);
    }
    close(fd);
    return NULL;
}

static unsigned long wrong_replies;

static void send_request(int fd, uint64_t id)
{
    uint8_t request[REQUEST];
    memcpy(request, &id, 8);
    memcpy(request + 8, &id, 8); /* the page number: any */
    write_all(fd, request, REQUEST);
}

static void receive_reply(int fd, uint64_t expected)
{
    static uint8_t reply[PAGE];
    uint64_t id;
    if (read_all(fd, reply, PAGE) != 0)
        die("read reply");
    memcpy(&id, reply, 8);
    if (id != expected)
        wrong_replies++;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s SEQUENTIAL PIPELINED DEPTH LATENCIES.BIN\n", argv[0]);
        return 2;
    }
    long sequential = atol(argv[1]), pipelined = atol(argv[2]), depth = atol(argv[3]);
    if (sequential < 1 || pipelined < 1 || depth < 1 || depth > pipelined) {
        fprintf(stderr, "%s: expected SEQUENTIAL >= 1, PIPELINED >= 1, 1 <= DEPTH <= PIPELINED\n", argv[0]);
        return 2;
    }
    alarm(GIVE_UP_SECONDS);

    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1) != 0
        || getsockname(listener, (struct sockaddr *)&address, &length) != 0)
        die("listen on 127.0.0.1");
    pthread_t server;
    if (pthread_create(&server, NULL, serve, NULL) != 0)
        die("pthread_create");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0)
        die("connect");
    no_delay(fd);

    double *latencies = malloc(sizeof(double) * (size_t)sequential);
    if (!latencies)
        die("malloc");
    uint64_t id = 1;
    for (long i = 0; i < sequential; i++, id++) {
        double start = now_us();
        send_request(fd, id);
        receive_reply(fd, id);
        latencies[i] = now_us() - start;
    }

    /* Pipelined: keep DEPTH requests outstanding; replies come back in order on one connection. */
    uint64_t next_reply = id;
    double start = now_us();
    long sent = 0, received = 0;
    for (; sent < depth; sent++)
        send_request(fd, id++);
    while (received < pipelined) {
        receive_reply(fd, next_reply++);
        received++;
        if (sent < pipelined) {
            send_request(fd, id++);
            sent++;
        }
    }
    double elapsed = now_us() - start;
    close(fd);
    pthread_join(server, NULL);

    FILE *out = fopen(argv[4], "wb");
    if (!out || fwrite(latencies, sizeof(double), (size_t)sequential, out) != (size_t)sequential || fclose(out) != 0)
        die(argv[4]);
    printf("pipelined_rps=%.1f wrong_replies=%lu\n", pipelined / (elapsed / 1e6), wrong_replies);
    return wrong_replies ? 1 : 0;
}
