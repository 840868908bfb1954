/* net.info and net.config for the SDK's device struct, from lwIP's netif. */
#include <stdio.h>
#include <string.h>

#include "agent_device.h"
#include "agent_internal.h"
#include "lwip/ip_addr.h"
#include "netstack.h"

void net_port_info(agent_net_t *out)
{
    struct netif *n = netstack_netif();
    snprintf(out->ip, sizeof out->ip, "%s", netstack_ip4_str());
    ip4addr_ntoa_r(netif_ip4_netmask(n), out->mask, sizeof out->mask);
    ip4addr_ntoa_r(netif_ip4_gw(n), out->gw, sizeof out->gw);
    snprintf(out->ip6, sizeof out->ip6, "%s", netstack_ip6_str());
    memcpy(out->mac, n->hwaddr, sizeof out->mac);
    out->mtu = n->mtu;
}

const char *net_port_config(const char *s_ip, const char *s_mask, const char *s_gw,
                            const char *s_ip6)
{
    ip4_addr_t ip, mask, gw;
    ip6_addr_t ip6;
    if (!ip4addr_aton(s_ip, &ip) || !ip4addr_aton(s_mask, &mask) || !ip4addr_aton(s_gw, &gw) ||
        !ip4_addr_netmask_valid(ip4_addr_get_u32(&mask)))
        return "bad IPv4 address";
    if (s_ip6 && !ip6addr_aton(s_ip6, &ip6))
        return "bad IPv6 address";
    netstack_set_ipv4(&ip, &mask, &gw);
    if (s_ip6)
        netstack_set_ipv6(&ip6);
    return NULL;
}
