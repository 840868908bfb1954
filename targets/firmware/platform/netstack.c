/* lwIP bring-up (NO_SYS, raw API) on the LAN9118 with static addresses. */
#include <string.h>

#include "lan9118.h"
#include "lwip/init.h"
#include "lwip/ip6_addr.h"
#include "lwip/timeouts.h"
#include "lwipopts.h"
#include "netif/ethernet.h"
#include "netstack.h"
#include "platform.h"

static struct netif eth;

struct netif *netstack_netif(void)
{
    return &eth;
}

void netstack_init(void)
{
    ip4_addr_t ip, mask, gw;
    ip6_addr_t ip6;

    lwip_init();

    ip4addr_aton(NET_DEFAULT_IP, &ip);
    ip4addr_aton(NET_DEFAULT_MASK, &mask);
    ip4addr_aton(NET_DEFAULT_GW, &gw);
    if (netif_add(&eth, &ip, &mask, &gw, NULL, lan9118_netif_init, ethernet_input) == NULL)
        platform_fatal("assert", "LAN9118 not found");
    netif_set_default(&eth);
    netif_set_up(&eth);
    netif_set_link_up(&eth); /* QEMU's PHY reports link up from reset */

    /* Link-local (fe80::/64 from the MAC) runs its one DAD probe; the static
     * address is usable at once. */
    netif_create_ip6_linklocal_address(&eth, 1);
    ip6addr_aton(NET_DEFAULT_IP6, &ip6);
    netstack_set_ipv6(&ip6);
}

void netstack_set_ipv4(const ip4_addr_t *ip, const ip4_addr_t *mask, const ip4_addr_t *gw)
{
    netif_set_addr(&eth, ip, mask, gw);
}

void netstack_set_ipv6(const ip6_addr_t *ip6)
{
    netif_ip6_addr_set_state(&eth, NET_IP6_STATIC_SLOT, IP6_ADDR_INVALID);
    netif_ip6_addr_set(&eth, NET_IP6_STATIC_SLOT, ip6);
    netif_ip6_addr_set_state(&eth, NET_IP6_STATIC_SLOT, IP6_ADDR_PREFERRED);
}

void netstack_poll(void)
{
    lan9118_poll(&eth);
    sys_check_timeouts();
}

int netstack_rx_pending(void)
{
    return lan9118_rx_pending();
}

uint16_t netstack_mss4(void)
{
    uint16_t m = (uint16_t)(eth.mtu - 40);
    return m < TCP_MSS ? m : TCP_MSS;
}

uint16_t netstack_mss6(void)
{
#if LWIP_ND6_ALLOW_RA_UPDATES
    uint16_t mtu = eth.mtu6;
#else
    uint16_t mtu = eth.mtu;
#endif
    uint16_t m = (uint16_t)(mtu - 60);
    return m < TCP_MSS ? m : TCP_MSS;
}

const char *netstack_ip4_str(void)
{
    static char buf[IP4ADDR_STRLEN_MAX];
    return ip4addr_ntoa_r(netif_ip4_addr(&eth), buf, sizeof buf);
}

const char *netstack_ip6_str(void)
{
    static char buf[IP6ADDR_STRLEN_MAX];
    if (!ip6_addr_isvalid(netif_ip6_addr_state(&eth, NET_IP6_STATIC_SLOT)))
        return "";
    ip6addr_ntoa_r(netif_ip6_addr(&eth, NET_IP6_STATIC_SLOT), buf, sizeof buf);
    for (char *p = buf; *p; p++) /* lwIP prints upper-case hex; RFC 5952 says lower */
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return buf;
}
