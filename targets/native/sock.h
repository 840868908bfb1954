/* Blocking TCP over POSIX sockets with per-wait timeouts, as a NetX Duo port
 * would use its blocking nx_tcp_* calls. */
#ifndef NATIVE_SOCK_H
#define NATIVE_SOCK_H
#include <stddef.h>
#include <stdint.h>

/* 1 when host is an IPv4 or IPv6 literal. */
int sock_host_ok(const char *host);
/* Connect within timeout_ms; the socket (TCP_NODELAY) or -1 (errno set). */
int sock_connect(const char *host, uint16_t port, uint32_t timeout_ms);
/* Wait up to timeout_ms for bytes: count, 0 on the peer's FIN, -1 on an
 * error (reset), -2 on timeout. */
long sock_recv(int fd, void *buf, size_t cap, uint32_t timeout_ms);
/* 1 when the peer has closed (FIN or reset) with nothing left to read. */
int sock_peer_gone(int fd);
/* Write all of buf as one write once the previous ones have left (nothing
 * unsent in the kernel), so each write is its own segment. 0, -1 error,
 * -2 timeout waiting for the queue to drain. */
int sock_send(int fd, const void *buf, size_t n, uint32_t timeout_ms);
/* FIN, then read and discard until the peer's FIN (at most 5 s, then RST),
 * close. sock_close = sock_fin + sock_drain_close; a client sends its FIN,
 * reports, and only then drains, as the lwIP port's linger close does. */
void sock_close(int fd);
void sock_fin(int fd);
void sock_drain_close(int fd);
/* Close with RST (SO_LINGER 0). */
void sock_reset(int fd);
#endif
