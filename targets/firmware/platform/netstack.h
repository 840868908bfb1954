/* lwIP bring-up and the one network interface (LAN9118). */
#ifndef NETSTACK_H
#define NETSTACK_H
#include <stdint.h>
#include "lwip/ip_addr.h"
#include "lwip/netif.h"

/* Default static configuration (QEMU user network). */
#define NET_DEFAULT_IP "10.0.2.15"
#define NET_DEFAULT_MASK "255.255.255.0"
#define NET_DEFAULT_GW "10.0.2.2"
#define NET_DEFAULT_IP6 "fec0::15"

/* IPv6 address slot of the static (global/site) address; slot 0 is link-local. */
#define NET_IP6_STATIC_SLOT 1

void netstack_init(void);
/* Feed received frames to lwIP and run its timers. */
void netstack_poll(void);
int netstack_rx_pending(void);
struct netif *netstack_netif(void);

/* Static IPv4 configuration. */
void netstack_set_ipv4(const ip4_addr_t *ip, const ip4_addr_t *mask, const ip4_addr_t *gw);
/* Static IPv6 address, PREFERRED at once (no DAD wait). */
void netstack_set_ipv6(const ip6_addr_t *ip6);

/* The MSS lwIP announces in its SYN: min(TCP_MSS, MTU - 40) for IPv4 and
 * min(TCP_MSS, MTU - 60) for IPv6 (tcp_eff_send_mss_netif). */
uint16_t netstack_mss4(void);
uint16_t netstack_mss6(void);

/* "a.b.c.d" / IPv6 text of the current addresses (static buffers). */
const char *netstack_ip4_str(void);
const char *netstack_ip6_str(void); /* "" when no static IPv6 address */
#endif
