/* tcp.bulk host= port= octets= [timeout_ms=]: the throughput benchmark.
 *
 * Connects (IPv4 or IPv6 by the form of host), streams `octets` bytes of the
 * fill pattern and closes with FIN. Data goes in whole-MSS writes and Nagle
 * stays on, so every segment but the last is full-size. The reply
 * `ok octets=N ms=M` is sent once the peer has ACKed every byte; ms counts from
 * the connection being established to that last ACK (so octets/ms is the
 * payload throughput; the handshake is not included). The timeout applies to
 * each wait (connect, and any stretch without ACK progress). */
#include <string.h>

#include "agent.h"
#include "agent_internal.h"
#include "fill.h"
#include "fw_limits.h"
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "platform.h"

#define BULK_TICK_MS 100
#define BULK_CHUNK (4 * TCP_MSS)

static struct {
    int active;
    int connected;
    struct tcp_pcb *pcb;
    uint32_t total, queued, acked;
    uint32_t timeout_ms, last_progress, t_established;
    fill_cursor_t cursor;
    uint8_t chunk[BULK_CHUNK];
    uint32_t chunk_len; /* generated but not yet accepted by tcp_write */
} bulk;

static void bulk_tick(void *arg);

/* lwIP's lwip_strerr() exists only with LWIP_DEBUG. */
static const char *err_word(err_t err)
{
    switch (err) {
    case ERR_RST: return "reset";
    case ERR_ABRT: return "aborted";
    case ERR_CLSD: return "closed";
    case ERR_RTE: return "no-route";
    case ERR_MEM: return "no-memory";
    case ERR_USE: return "in-use";
    case ERR_TIMEOUT: return "timeout";
    default: return "error";
    }
}

/* Ends the operation: detaches from the pcb and closes it (FIN), or aborts it
 * (RST). Returns ERR_ABRT when the pcb was aborted: an lwIP callback must then
 * return ERR_ABRT. */
static err_t bulk_end(int abort)
{
    struct tcp_pcb *pcb = bulk.pcb;
    bulk.active = 0;
    bulk.pcb = NULL;
    sys_untimeout(bulk_tick, NULL);
    if (!pcb)
        return ERR_OK;
    tcp_arg(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_recv(pcb, NULL); /* lwIP's default then discards data and handles FIN */
    tcp_err(pcb, NULL);
    if (abort || tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static void bulk_push(struct tcp_pcb *pcb)
{
    uint16_t mss = tcp_mss(pcb);
    for (;;) {
        if (bulk.chunk_len == 0) {
            uint32_t left = bulk.total - bulk.queued;
            uint32_t n = tcp_sndbuf(pcb);
            if (left == 0)
                break;
            if (n > BULK_CHUNK)
                n = BULK_CHUNK;
            if (n < left)
                n -= n % mss; /* whole segments only, except the tail */
            else
                n = left;
            if (n == 0)
                break;
            fill_next(&bulk.cursor, bulk.chunk, n);
            bulk.chunk_len = n;
        }
        if (bulk.chunk_len > tcp_sndbuf(pcb))
            break;
        u8_t flags = TCP_WRITE_FLAG_COPY;
        if (bulk.queued + bulk.chunk_len < bulk.total)
            flags |= TCP_WRITE_FLAG_MORE;
        if (tcp_write(pcb, bulk.chunk, (u16_t)bulk.chunk_len, flags) != ERR_OK)
            break; /* out of segments or heap: retry on the next ACK */
        bulk.queued += bulk.chunk_len;
        bulk.chunk_len = 0;
    }
    tcp_output(pcb);
}

static err_t bulk_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    bulk.acked += len;
    bulk.last_progress = clock_ms();
    if (bulk.acked >= bulk.total) {
        agent_ok("octets=%lu ms=%lu", (unsigned long)bulk.acked,
                 (unsigned long)(clock_ms() - bulk.t_established));
        return bulk_end(0);
    }
    bulk_push(pcb);
    return ERR_OK;
}

static err_t bulk_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) { /* the peer closed before taking everything */
        agent_err("closed", "octets=%lu", (unsigned long)bulk.acked);
        return bulk_end(1);
    }
    tcp_recved(pcb, p->tot_len); /* anything the sink says is ignored */
    pbuf_free(p);
    return ERR_OK;
}

static void bulk_error(void *arg, err_t err)
{
    (void)arg;
    bulk.pcb = NULL; /* lwIP has freed it */
    if (!bulk.active)
        return;
    if (!bulk.connected)
        agent_err("connect", "msg=%s", err_word(err));
    else
        agent_err("closed", "octets=%lu", (unsigned long)bulk.acked);
    (void)bulk_end(0);
}

static err_t bulk_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err; /* always ERR_OK in lwIP 2.1 */
    bulk.connected = 1;
    bulk.t_established = bulk.last_progress = clock_ms();
    if (bulk.total == 0) {
        agent_ok("octets=0 ms=0");
        return bulk_end(0);
    }
    bulk_push(pcb);
    return ERR_OK;
}

static void bulk_tick(void *arg)
{
    (void)arg;
    if (!bulk.active)
        return;
    if (clock_ms() - bulk.last_progress > bulk.timeout_ms) {
        agent_err("timeout", "stage=%s octets=%lu", bulk.connected ? "send" : "connect",
                  (unsigned long)bulk.acked);
        (void)bulk_end(1);
        return;
    }
    sys_timeout(BULK_TICK_MS, bulk_tick, NULL);
}

static agent_status_t v_tcp_bulk(const agent_req_t *req)
{
    ip_addr_t addr;
    uint32_t port, octets, timeout_ms;
    const char *host = agent_arg_str(req, "host", NULL);

    if (!host || !ipaddr_aton(host, &addr)) {
        agent_err("bad-arg", "msg=host%%20must%%20be%%20an%%20IPv4%%20or%%20IPv6%%20literal");
        return AGENT_DONE;
    }
    if (agent_arg_u32(req, "port", 0, &port) || port == 0 || port > 65535 ||
        !agent_arg(req, "octets") || agent_arg_u32(req, "octets", 0, &octets) ||
        agent_arg_u32(req, "timeout_ms", CLIENT_TIMEOUT_MS_DEFAULT, &timeout_ms)) {
        agent_err("bad-arg", "msg=port%%2C%%20octets%%20or%%20timeout_ms");
        return AGENT_DONE;
    }

    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(&addr));
    if (!pcb) {
        agent_err("nomem", NULL);
        return AGENT_DONE;
    }
    memset(&bulk, 0, sizeof bulk);
    bulk.active = 1;
    bulk.pcb = pcb;
    bulk.total = octets;
    bulk.timeout_ms = timeout_ms;
    bulk.last_progress = clock_ms();
    fill_cursor_init(&bulk.cursor);

    tcp_arg(pcb, NULL);
    tcp_err(pcb, bulk_error);
    tcp_recv(pcb, bulk_recv);
    tcp_sent(pcb, bulk_sent);
    err_t err = tcp_connect(pcb, &addr, (u16_t)port, bulk_connected);
    if (err != ERR_OK) {
        agent_err("connect", "msg=%s", err_word(err));
        (void)bulk_end(1);
        return AGENT_DONE;
    }
    sys_timeout(BULK_TICK_MS, bulk_tick, NULL);
    return AGENT_PENDING;
}

static const agent_verb_t bulk_verbs[] = {
    {"tcp.bulk", v_tcp_bulk},
};

void verbs_bulk_register(void)
{
    agent_register(bulk_verbs, sizeof bulk_verbs / sizeof bulk_verbs[0]);
}
