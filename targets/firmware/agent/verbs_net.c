/* net.info and net.config. */
#include <stdio.h>

#include "agent.h"
#include "agent_internal.h"
#include "lwip/ip_addr.h"
#include "netstack.h"

static agent_status_t v_net_info(const agent_req_t *req)
{
    (void)req;
    struct netif *n = netstack_netif();
    char mask[IP4ADDR_STRLEN_MAX], gw[IP4ADDR_STRLEN_MAX];
    const char *ip6 = netstack_ip6_str();
    ip4addr_ntoa_r(netif_ip4_netmask(n), mask, sizeof mask);
    ip4addr_ntoa_r(netif_ip4_gw(n), gw, sizeof gw);
    agent_ok("ip=%s mask=%s gw=%s ip6=%s mac=%02x:%02x:%02x:%02x:%02x:%02x mtu=%u",
             netstack_ip4_str(), mask, gw, ip6, n->hwaddr[0], n->hwaddr[1], n->hwaddr[2],
             n->hwaddr[3], n->hwaddr[4], n->hwaddr[5], (unsigned)n->mtu);
    return AGENT_DONE;
}

static agent_status_t v_net_config(const agent_req_t *req)
{
    ip4_addr_t ip, mask, gw;
    ip6_addr_t ip6;
    const char *s_ip = agent_arg_str(req, "ip", NULL);
    const char *s_mask = agent_arg_str(req, "mask", NULL);
    const char *s_gw = agent_arg_str(req, "gw", NULL);
    const char *s_ip6 = agent_arg_str(req, "ip6", NULL);

    if (!s_ip || !s_mask || !s_gw) {
        agent_err("bad-arg", "msg=ip%%2C%%20mask%%20and%%20gw%%20are%%20required");
        return AGENT_DONE;
    }
    if (!ip4addr_aton(s_ip, &ip) || !ip4addr_aton(s_mask, &mask) || !ip4addr_aton(s_gw, &gw) ||
        !ip4_addr_netmask_valid(ip4_addr_get_u32(&mask))) {
        agent_err("bad-arg", "msg=bad%%20IPv4%%20address");
        return AGENT_DONE;
    }
    if (s_ip6 && !ip6addr_aton(s_ip6, &ip6)) {
        agent_err("bad-arg", "msg=bad%%20IPv6%%20address");
        return AGENT_DONE;
    }
    netstack_set_ipv4(&ip, &mask, &gw);
    if (s_ip6)
        netstack_set_ipv6(&ip6);
    agent_ok(NULL);
    return AGENT_DONE;
}

static const agent_verb_t net_verbs[] = {
    {"net.info", v_net_info},
    {"net.config", v_net_config},
};

void verbs_net_register(void)
{
    agent_register(net_verbs, sizeof net_verbs / sizeof net_verbs[0]);
}
