/* Blocking TCP helpers (sock.h). */
#define _GNU_SOURCE
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MS 5000

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int sock_host_ok(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int sock_connect(const char *host, uint16_t port, uint32_t timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        len = sizeof *s6;
    } else {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int r = poll(&p, 1, (int)timeout_ms);
    int err = 0;
    socklen_t el = sizeof err;
    if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
        close(fd);
        errno = r == 0 ? ETIMEDOUT : err ? err : EIO;
        return -1;
    }
    return fd;
}

long sock_recv(int fd, void *buf, size_t cap, uint32_t timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, (int)timeout_ms);
    if (r == 0)
        return -2;
    if (r < 0)
        return -1;
    ssize_t n = recv(fd, buf, cap, 0);
    return n < 0 ? -1 : (long)n;
}

int sock_peer_gone(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int sock_send(int fd, const void *buf, size_t n, uint32_t timeout_ms)
{
    uint32_t start = now_ms();
    int unsent = 0;
    /* the previous write must have left as its own segment first */
    while (ioctl(fd, SIOCOUTQNSD, &unsent) == 0 && unsent > 0) {
        if (now_ms() - start >= timeout_ms)
            return -2;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    const char *b = buf;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {fd, POLLOUT, 0};
            uint32_t spent = now_ms() - start;
            if (spent >= timeout_ms || poll(&p, 1, (int)(timeout_ms - spent)) <= 0)
                return -2;
            continue;
        }
        if (w < 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

void sock_fin(int fd)
{
    shutdown(fd, SHUT_WR);
}

void sock_close(int fd)
{
    sock_fin(fd);
    sock_drain_close(fd);
}

void sock_drain_close(int fd)
{
    char buf[2048];
    uint32_t start = now_ms();
    for (;;) {
        uint32_t spent = now_ms() - start;
        if (spent >= LINGER_MS) {
            sock_reset(fd); /* a server that neither closes nor goes quiet */
            return;
        }
        long n = sock_recv(fd, buf, sizeof buf, LINGER_MS - spent);
        if (n == 0 || n == -1)
            break;
    }
    close(fd);
}

void sock_reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}
