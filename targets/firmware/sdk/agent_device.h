/* Bench agent SDK: identity, limits and health of the device. The banner,
 * `hello`, `sys.info` and `sys.reset` (docs/agent-protocol.md) rendered from a
 * struct the port fills in. */
#ifndef AGENT_DEVICE_H
#define AGENT_DEVICE_H

#include <stdint.h>

/* net.info: the interface's current configuration, as text. */
typedef struct {
    char ip[16], mask[16], gw[16];
    char ip6[46]; /* "" when none */
    uint8_t mac[6];
    uint32_t mtu;
} agent_net_t;

typedef struct {
    /* Identity. fw: "NAME/VERSION"; board: the board name of the target file. */
    const char *fw;
    const char *board;
    /* Features, comma-separated, among pop3,smtp,apop,auth-plain,auth-login,ipv6.
     * pop3 and apop are dropped unless pop3.open is registered, smtp and
     * auth-* unless smtp.send is. The optional verbs (pop3.noop, pop3.rset,
     * pop3.dele, pop3.abort, tcp.bulk, net.config) are added to caps= from the
     * verbs actually registered. */
    const char *features;
    /* 1 when every wait of every client honours a request's timeout_ms=
     * (caps timeout-arg). A stack with compile-time timeouts sets 0. */
    int timeout_arg;
    /* Limits the bench judges against (all in octets). */
    uint32_t mtu;          /* link MTU */
    uint32_t mss, mss6;    /* MSS announced in the SYN, IPv4 / IPv6 */
    uint32_t pop3_payload; /* largest POP3 client segment payload */
    uint32_t smtp_payload; /* largest SMTP client segment payload */
    uint32_t tcp_wnd;      /* receive window */
    uint32_t body_max;     /* largest SMTP body the device can hold */
    /* Client timeouts when a request gives no timeout_ms= (milliseconds):
     * TCP connect, each wait for a server reply, sending the message. */
    uint32_t connect_ms, reply_ms, msg_ms;
    /* Current addresses as text (read at each banner and hello: net.config
     * may change them). ip6 returns "" when the device has none; it must be
     * the address the stack really uses as source (no SLAAC surprise). */
    const char *(*ip)(void);
    const char *(*ip6)(void);
    /* sys.info, compared by the bench across sessions to find leaks. Each
     * callback may be NULL (reported as 0). The meaning is stack-neutral:
     * heap_free: bytes free in the allocator the network stack and the
     *   clients draw from (lwIP: MEM_SIZE heap; ThreadX: the byte pool).
     * packets: free and total packet buffers the stack receives into
     *   (lwIP: PBUF_POOL; NetX: the packet pool(s), summed).
     * connections: TCP connections that could still be opened, and the most
     *   there can be (lwIP: TCP PCBs, TIME-WAIT counted free because lwIP
     *   reuses them; NetX: TCP sockets not bound; BSD: the descriptor budget).
     * All three must come back to the same values once a session has ended. */
    uint32_t (*heap_free)(void);
    void (*packets)(uint32_t *free, uint32_t *total);
    void (*connections)(uint32_t *free, uint32_t *total);
    /* net.info (a required verb): fill n. */
    void (*net_info)(agent_net_t *n);
    /* net.config (optional; NULL: not registered, not in caps). ip, mask, gw
     * are given, ip6 may be NULL. Check everything first, then apply: return
     * NULL when applied, else the reason for `bad-arg` (nothing changed). */
    const char *(*net_config)(const char *ip, const char *mask, const char *gw, const char *ip6);
    /* sys.reset: reset the device (need not return); the next banner is the
     * answer. */
    void (*reset)(void);
} agent_device_t;

/* Registers hello, sys.info, sys.reset, net.info (and net.config when the
 * port has it) for dev (kept by reference). */
void agent_device_register(const agent_device_t *dev);
/* Prints `* boot ...`: once after every reset, after all verbs are registered. */
void agent_boot_banner(void);

#endif
