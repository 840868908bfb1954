/* The native board: the agent SDK and the project's mail clients (proto/) as
 * a Linux process, in the blocking style of a NetX Duo port. Its UART is the
 * master side of a pty the bench made (--uart-fd); it runs in the network
 * namespace the bench made, behind a veth pair. The UART thread reads the pty
 * and answers `busy`; the SDK's worker thread runs the blocking mail calls.
 * sys.reset re-executes the process (same pty, new banner). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_device.h"
#include "fw_limits.h"
#include "mail_posix.h"

/* sys.info: the kernel's memory is not the process's to see, so the figures
 * are a fixed budget minus what the client sockets hold queued in the kernel.
 * They come back to the budget once every session is closed. */
#define CONN_BUDGET 64
#define MEM_BUDGET (4u << 20)
#define PKT_BUDGET 512u

static int uart_fd = -1;
static char **saved_argv;
static struct {
    const char *ip, *ip6, *mask, *gw, *ifname;
} opt = {"10.0.2.15", "", "255.255.255.0", "10.0.2.2", ""};

/* ---------- the port: pty, clock, a mutex and a semaphore ---------- */
static pthread_mutex_t agent_mx = PTHREAD_MUTEX_INITIALIZER;
static sem_t work_sem;

static void lock(void) { pthread_mutex_lock(&agent_mx); }
static void unlock(void) { pthread_mutex_unlock(&agent_mx); }
static void wake(void) { sem_post(&work_sem); }

static void uart_write(const void *buf, size_t n)
{
    const char *b = buf;
    while (n) {
        ssize_t w = write(uart_fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nobody on the other end: the line is lost, as on a real UART */
        b += w;
        n -= (size_t)w;
    }
}

static uint32_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static uint32_t boot_ms;
static uint32_t clock_ms(void) { return mono_ms() - boot_ms; } /* since this boot */

static const agent_port_t port = {.uart_write = uart_write, .clock_ms = clock_ms,
                                  .lock = lock, .unlock = unlock, .wake_worker = wake};

/* ---------- the device ---------- */
static const char *ip4(void) { return opt.ip; }
static const char *ip6(void) { return opt.ip6; }

static void mac_of(uint8_t mac[6])
{
    char path[128];
    unsigned m[6] = {0};
    snprintf(path, sizeof path, "/sys/class/net/%s/address", opt.ifname);
    FILE *f = opt.ifname[0] ? fopen(path, "r") : NULL;
    if (f) {
        if (fscanf(f, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
            memset(m, 0, sizeof m);
        fclose(f);
    }
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)m[i];
}

static void net_info(agent_net_t *n)
{
    snprintf(n->ip, sizeof n->ip, "%s", opt.ip);
    snprintf(n->mask, sizeof n->mask, "%s", opt.mask);
    snprintf(n->gw, sizeof n->gw, "%s", opt.gw);
    snprintf(n->ip6, sizeof n->ip6, "%s", opt.ip6);
    mac_of(n->mac);
    n->mtu = LINK_MTU;
}

/* TCP sockets this process holds (the kernel's connections are not ours to
 * count): a leaked client socket shows here. */
static void connections(uint32_t *free, uint32_t *total)
{
    char path[64], link[64];
    uint32_t used = 0;
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            used += !strncmp(link, "socket:", 7);
        }
    }
    *total = CONN_BUDGET;
    *free = used > CONN_BUDGET ? 0 : CONN_BUDGET - used;
}

static uint32_t heap_free(void)
{
    size_t q = mail_posix_queued();
    return q >= MEM_BUDGET ? 0 : (uint32_t)(MEM_BUDGET - q);
}

static void packets(uint32_t *free, uint32_t *total)
{
    uint32_t used = (uint32_t)((mail_posix_queued() + LINK_MTU - 1) / LINK_MTU);
    *total = PKT_BUDGET;
    *free = used >= PKT_BUDGET ? 0 : PKT_BUDGET - used;
}

static void reset(void)
{
    execv("/proc/self/exe", saved_argv); /* same arguments, same pty */
    _exit(1);
}

static agent_device_t device = {
    .fw = "bench-native/" FW_VERSION,
    .board = "native",
    .features = "pop3,smtp,apop,auth-plain,auth-login,ipv6",
    .timeout_arg = 1,
    .mtu = LINK_MTU,
    .mss = LINK_MTU - 40,
    .mss6 = LINK_MTU - 60,
    .pop3_payload = POP3_CLIENT_PAYLOAD,
    .smtp_payload = SMTP_CLIENT_PAYLOAD,
    .tcp_wnd = 64240,
    .body_max = SMTP_BODY_MAX,
    .connect_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .reply_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .msg_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .ip = ip4,
    .ip6 = ip6,
    .heap_free = heap_free,
    .packets = packets,
    .connections = connections,
    .net_info = net_info,
    .reset = reset,
};

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        sem_wait(&work_sem);
        agent_work();
    }
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: native-agent --uart-fd N [--ip A] [--ip6 A] [--mask M] [--gw A] "
                    "[--ifname IF]\n");
    return 2;
}

int main(int argc, char **argv)
{
    saved_argv = argv;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--uart-fd")) uart_fd = atoi(v);
        else if (!strcmp(k, "--ip")) opt.ip = v;
        else if (!strcmp(k, "--ip6")) opt.ip6 = v;
        else if (!strcmp(k, "--mask")) opt.mask = v;
        else if (!strcmp(k, "--gw")) opt.gw = v;
        else if (!strcmp(k, "--ifname")) opt.ifname = v;
        else return usage();
    }
    if (uart_fd < 0)
        return usage();
    boot_ms = mono_ms();
    sem_init(&work_sem, 0, 0);
    agent_init(&port);
    agent_device_register(&device);
    mail_posix_register();
    pthread_t w;
    if (pthread_create(&w, NULL, worker, NULL))
        return 1;
    agent_boot_banner();
    for (;;) {
        char buf[256];
        struct pollfd p = {uart_fd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return 1;
        ssize_t n = read(uart_fd, buf, sizeof buf);
        if (n > 0)
            agent_input(buf, (size_t)n);
        else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            struct timespec ts = {0, 20000000}; /* the bench's side is closed: wait for it */
            nanosleep(&ts, NULL);
        }
    }
}
