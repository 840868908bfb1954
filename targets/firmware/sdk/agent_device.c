/* Bench agent SDK: the banner, hello, sys.info, sys.reset, net.info and
 * net.config (agent_device.h). */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "agent_device.h"

#define IDENTITY_MAX 480

static const agent_device_t *dev;

/* Optional verbs, in the order caps= lists them. */
static const char *const optional_verbs[] = {"pop3.noop",  "pop3.rset", "pop3.dele",
                                             "pop3.abort", "tcp.bulk",  "net.config"};

/* Appends "word," to list (cap bytes) unless it would not fit. */
static void add_word(char *list, size_t cap, const char *word, size_t len)
{
    size_t n = strlen(list);
    if (n + len + 2 > cap)
        return;
    memcpy(list + n, word, len);
    list[n + len] = ',';
    list[n + len + 1] = '\0';
}

/* A feature is claimed only when the verb that provides it is linked in. */
static int feature_linked(const char *f, size_t len)
{
    if ((len == 4 && !memcmp(f, "pop3", 4)) || (len == 4 && !memcmp(f, "apop", 4)))
        return agent_verb_registered("pop3.open");
    if ((len == 4 && !memcmp(f, "smtp", 4)) || (len > 5 && !memcmp(f, "auth-", 5)))
        return agent_verb_registered("smtp.send");
    return 1;
}

static void caps_list(char *list, size_t cap)
{
    list[0] = '\0';
    for (const char *f = dev->features ? dev->features : ""; *f;) {
        size_t len = strcspn(f, ",");
        if (len && feature_linked(f, len))
            add_word(list, cap, f, len);
        f += len + (f[len] == ',');
    }
    if (dev->timeout_arg)
        add_word(list, cap, "timeout-arg", 11);
    for (size_t i = 0; i < sizeof optional_verbs / sizeof optional_verbs[0]; i++)
        if (agent_verb_registered(optional_verbs[i]))
            add_word(list, cap, optional_verbs[i], strlen(optional_verbs[i]));
    size_t n = strlen(list);
    if (n)
        list[n - 1] = '\0';
}

/* The identity and limits shared by the banner and hello. */
static void identity(char *buf, size_t cap)
{
    char fw[96], board[96], caps[192], capsp[400];
    const char *ip = dev->ip ? dev->ip() : "";
    const char *ip6 = dev->ip6 ? dev->ip6() : "";
    caps_list(caps, sizeof caps);
    snprintf(buf, cap,
             "proto=1 fw=%s board=%s caps=%s mtu=%lu mss=%lu mss6=%lu pop3_payload=%lu "
             "smtp_payload=%lu tcp_wnd=%lu body_max=%lu connect_ms=%lu reply_ms=%lu "
             "msg_ms=%lu ip=%s%s%s",
             agent_pct_r(fw, sizeof fw, dev->fw, strlen(dev->fw)),
             agent_pct_r(board, sizeof board, dev->board, strlen(dev->board)),
             agent_pct_r(capsp, sizeof capsp, caps, strlen(caps)), /* ',' is sent as %2C */
             (unsigned long)dev->mtu, (unsigned long)dev->mss, (unsigned long)dev->mss6,
             (unsigned long)dev->pop3_payload, (unsigned long)dev->smtp_payload,
             (unsigned long)dev->tcp_wnd, (unsigned long)dev->body_max,
             (unsigned long)dev->connect_ms, (unsigned long)dev->reply_ms,
             (unsigned long)dev->msg_ms, ip, *ip6 ? " ip6=" : "", ip6);
}

void agent_boot_banner(void)
{
    char line[IDENTITY_MAX + 8];
    if (!dev)
        return;
    memcpy(line, "* boot ", 7);
    identity(line + 7, sizeof line - 8);
    size_t n = strlen(line);
    line[n++] = '\n';
    agent_write_line(line, n);
}

static agent_status_t v_hello(const agent_req_t *req)
{
    char buf[IDENTITY_MAX];
    (void)req;
    identity(buf, sizeof buf);
    agent_ok("%s", buf);
    return AGENT_DONE;
}

static agent_status_t v_sys_info(const agent_req_t *req)
{
    uint32_t pkt_free = 0, pkt_total = 0, conn_free = 0, conn_total = 0;
    (void)req;
    if (dev->packets)
        dev->packets(&pkt_free, &pkt_total);
    if (dev->connections)
        dev->connections(&conn_free, &conn_total);
    agent_ok("uptime_ms=%lu heap_free=%lu pool_free=%lu pool_total=%lu pcb_free=%lu pcb_total=%lu",
             (unsigned long)agent_clock_ms(),
             (unsigned long)(dev->heap_free ? dev->heap_free() : 0), (unsigned long)pkt_free,
             (unsigned long)pkt_total, (unsigned long)conn_free, (unsigned long)conn_total);
    return AGENT_DONE;
}

static agent_status_t v_sys_reset(const agent_req_t *req)
{
    (void)req;
    if (dev->reset)
        dev->reset(); /* no reply: the next `* boot` line is the answer */
    return AGENT_PENDING;
}

static agent_status_t v_net_info(const agent_req_t *req)
{
    agent_net_t n;
    (void)req;
    memset(&n, 0, sizeof n);
    if (dev->net_info)
        dev->net_info(&n);
    agent_ok("ip=%s mask=%s gw=%s ip6=%s mac=%02x:%02x:%02x:%02x:%02x:%02x mtu=%lu", n.ip, n.mask,
             n.gw, n.ip6, n.mac[0], n.mac[1], n.mac[2], n.mac[3], n.mac[4], n.mac[5],
             (unsigned long)n.mtu);
    return AGENT_DONE;
}

static agent_status_t v_net_config(const agent_req_t *req)
{
    char m[AGENT_PCT_MAX];
    const char *ip = agent_arg_str(req, "ip", NULL);
    const char *mask = agent_arg_str(req, "mask", NULL);
    const char *gw = agent_arg_str(req, "gw", NULL);
    if (!ip || !mask || !gw) {
        agent_err("bad-arg", "msg=ip%%2C%%20mask%%20and%%20gw%%20are%%20required");
        return AGENT_DONE;
    }
    const char *why = dev->net_config(ip, mask, gw, agent_arg_str(req, "ip6", NULL));
    if (why)
        agent_err("bad-arg", "msg=%s", agent_pct_r(m, sizeof m, why, strlen(why)));
    else
        agent_ok(NULL);
    return AGENT_DONE;
}

static const agent_verb_t sys_verbs[] = {
    {"hello", v_hello},
    {"sys.info", v_sys_info},
    {"sys.reset", v_sys_reset},
    {"net.info", v_net_info},
};

static const agent_verb_t net_config_verb[] = {
    {"net.config", v_net_config},
};

void agent_device_register(const agent_device_t *d)
{
    dev = d;
    agent_register(sys_verbs, sizeof sys_verbs / sizeof sys_verbs[0]);
    if (d->net_config)
        agent_register(net_config_verb, 1);
}
