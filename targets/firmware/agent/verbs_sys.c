/* hello, sys.info, sys.reset and the boot banner. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "agent_internal.h"
#include "limits.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h" /* tcp_tw_pcbs */
#include "lwip/stats.h"
#include "lwipopts.h"
#include "netstack.h"
#include "platform.h"

/* caps= is derived from the verbs actually registered, so the banner cannot
 * claim a client or an optional verb that is not linked in. The POP3 client does
 * APOP (pop3.open apop=1) and the SMTP client AUTH PLAIN and LOGIN (smtp.config
 * auth=); every client wait honours a per-request timeout_ms (timeout-arg). */
static const char *const optional_verbs[] = {"pop3.noop", "pop3.rset",  "pop3.dele",
                                             "pop3.abort", "tcp.bulk", "net.config"};

static const char *caps_value(void)
{
    char list[192] = "";
    if (agent_verb_registered("pop3.open"))
        strcat(list, "pop3,");
    if (agent_verb_registered("smtp.send"))
        strcat(list, "smtp,");
    if (agent_verb_registered("pop3.open"))
        strcat(list, "apop,");
    if (agent_verb_registered("smtp.config"))
        strcat(list, "auth-plain,auth-login,");
    strcat(list, "ipv6,timeout-arg,");
    for (size_t i = 0; i < sizeof optional_verbs / sizeof optional_verbs[0]; i++)
        if (agent_verb_registered(optional_verbs[i])) {
            strcat(list, optional_verbs[i]);
            strcat(list, ",");
        }
    size_t n = strlen(list);
    if (n)
        list[n - 1] = '\0';
    return agent_pct(list, strlen(list)); /* ',' is reserved: sent as %2C */
}

/* The identity and limits shared by the banner and hello. */
static const char *identity(void)
{
    static char buf[480];
    const char *ip6 = netstack_ip6_str();
    snprintf(buf, sizeof buf,
             "proto=1 fw=%s board=%s caps=%s mtu=%u mss=%u mss6=%u pop3_payload=%u "
             "smtp_payload=%u tcp_wnd=%u body_max=%lu connect_ms=%u reply_ms=%u msg_ms=%u ip=%s%s%s",
             agent_pct(FW_NAME "/" FW_VERSION, strlen(FW_NAME "/" FW_VERSION)), BOARD_NAME,
             caps_value(), (unsigned)netstack_netif()->mtu, (unsigned)netstack_mss4(),
             (unsigned)netstack_mss6(), (unsigned)POP3_CLIENT_PAYLOAD,
             (unsigned)SMTP_CLIENT_PAYLOAD, (unsigned)TCP_WND, (unsigned long)SMTP_BODY_MAX,
             /* the default of every client wait; timeout_ms= overrides it per request */
             (unsigned)CLIENT_TIMEOUT_MS_DEFAULT, (unsigned)CLIENT_TIMEOUT_MS_DEFAULT,
             (unsigned)CLIENT_TIMEOUT_MS_DEFAULT, netstack_ip4_str(), *ip6 ? " ip6=" : "", ip6);
    return buf;
}

void agent_boot_banner(void)
{
    char line[500];
    size_t n = (size_t)snprintf(line, sizeof line, "* boot %s\n", identity());
    uart_write(line, n < sizeof line ? n : sizeof line - 1);
}

static agent_status_t v_hello(const agent_req_t *req)
{
    (void)req;
    agent_ok("%s", identity());
    return AGENT_DONE;
}

/* PCBs in TIME-WAIT: lwIP hands them to the next tcp_new() when the pool is
 * empty, so sys.info counts them as free (else a session that closed first
 * would look like a leak for 2*MSL). */
static unsigned tcp_time_wait_count(void)
{
    unsigned n = 0;
    for (const struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        n++;
    return n;
}

static agent_status_t v_sys_info(const agent_req_t *req)
{
    (void)req;
    const struct stats_mem *pool = lwip_stats.memp[MEMP_PBUF_POOL];
    const struct stats_mem *pcb = lwip_stats.memp[MEMP_TCP_PCB];
    /* heap_free: lwIP's heap (MEM_SIZE), where PBUF_RAM and tcp_write copies live */
    agent_ok("uptime_ms=%lu heap_free=%lu pool_free=%u pool_total=%u pcb_free=%u pcb_total=%u",
             (unsigned long)clock_ms(),
             (unsigned long)(lwip_stats.mem.avail - lwip_stats.mem.used),
             (unsigned)(pool->avail - pool->used), (unsigned)pool->avail,
             (unsigned)(pcb->avail - pcb->used + tcp_time_wait_count()), (unsigned)pcb->avail);
    return AGENT_DONE;
}

static agent_status_t v_sys_reset(const agent_req_t *req)
{
    (void)req;
    platform_reset(); /* no reply: the next `* boot` line is the answer */
}

#ifdef PLATFORM_TEST_VERBS
/* sys.fault kind=hardfault|assert: only in images built with TEST_VERBS=1, to
 * prove the fault reporting (`* fault ...`, then a reset and a new banner). */
static agent_status_t v_sys_fault(const agent_req_t *req)
{
    const char *kind = agent_arg_str(req, "kind", "hardfault");
    if (strcmp(kind, "assert") == 0)
        LWIP_ASSERT("sys.fault test assert", 0);
    __asm volatile("udf #0"); /* UsageFault, escalated to HardFault */
    return AGENT_DONE;
}
#endif

static const agent_verb_t sys_verbs[] = {
    {"hello", v_hello},
    {"sys.info", v_sys_info},
    {"sys.reset", v_sys_reset},
#ifdef PLATFORM_TEST_VERBS
    {"sys.fault", v_sys_fault},
#endif
};

void verbs_sys_register(void)
{
    agent_register(sys_verbs, sizeof sys_verbs / sizeof sys_verbs[0]);
}
