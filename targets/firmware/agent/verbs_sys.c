/* The device side of the SDK (sdk/agent_device.h) for the reference firmware:
 * identity, limits and addresses from lwIP and fw_limits.h, the memory figures
 * of sys.info from lwIP's stats, and the test-only sys.fault verb. */
#include <string.h>

#include "agent.h"
#include "agent_device.h"
#include "agent_internal.h"
#include "fw_limits.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h" /* tcp_tw_pcbs */
#include "lwip/stats.h"
#include "lwipopts.h"
#include "netstack.h"
#include "platform.h"

/* heap_free: lwIP's heap (MEM_SIZE), where PBUF_RAM and tcp_write copies live */
static uint32_t heap_free(void)
{
    return (uint32_t)(lwip_stats.mem.avail - lwip_stats.mem.used);
}

static void packets(uint32_t *free, uint32_t *total)
{
    const struct stats_mem *pool = lwip_stats.memp[MEMP_PBUF_POOL];
    *free = (uint32_t)(pool->avail - pool->used);
    *total = pool->avail;
}

/* PCBs in TIME-WAIT: lwIP hands them to the next tcp_new() when the pool is
 * empty, so they count as free (else a session that closed first would look
 * like a leak for 2*MSL). */
static void connections(uint32_t *free, uint32_t *total)
{
    const struct stats_mem *pcb = lwip_stats.memp[MEMP_TCP_PCB];
    unsigned tw = 0;
    for (const struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        tw++;
    *free = (uint32_t)(pcb->avail - pcb->used + tw);
    *total = pcb->avail;
}

static void reset(void)
{
    platform_reset();
}

/* The POP3 client does APOP (pop3.open apop=1) and the SMTP client AUTH PLAIN
 * and LOGIN (smtp.config auth=); every client wait honours a per-request
 * timeout_ms, whose default is CLIENT_TIMEOUT_MS_DEFAULT for each wait. */
static agent_device_t device = {
    .fw = FW_NAME "/" FW_VERSION,
    .board = BOARD_NAME,
    .features = "pop3,smtp,apop,auth-plain,auth-login,ipv6",
    .timeout_arg = 1,
    .pop3_payload = POP3_CLIENT_PAYLOAD,
    .smtp_payload = SMTP_CLIENT_PAYLOAD,
    .tcp_wnd = TCP_WND,
    .body_max = SMTP_BODY_MAX,
    .connect_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .reply_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .msg_ms = CLIENT_TIMEOUT_MS_DEFAULT,
    .ip = netstack_ip4_str,
    .ip6 = netstack_ip6_str,
    .heap_free = heap_free,
    .packets = packets,
    .connections = connections,
    .net_info = net_port_info,
    .net_config = net_port_config,
    .reset = reset,
};

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

static const agent_verb_t test_verbs[] = {
    {"sys.fault", v_sys_fault},
};
#endif

void verbs_sys_register(void)
{
    device.mtu = netstack_netif()->mtu;
    device.mss = netstack_mss4();
    device.mss6 = netstack_mss6();
    agent_device_register(&device);
#ifdef PLATFORM_TEST_VERBS
    agent_register(test_verbs, sizeof test_verbs / sizeof test_verbs[0]);
#endif
}
