/* lwIP hooks (LWIP_HOOK_FILENAME): included by lwIP's sources after their own
 * headers, so lwIP types are known here. */
#ifndef LWIP_HOOKS_H
#define LWIP_HOOKS_H
#include "lwip/ip_addr.h"

/* Initial TCP sequence numbers: lwIP's default is 6510 + ticks, the same on
 * every boot. Draw them from LWIP_RAND instead (timer-seeded, see sys_arch.c). */
u32_t lwip_port_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                        const ip_addr_t *remote_ip, u16_t remote_port);
#define LWIP_HOOK_TCP_ISN lwip_port_tcp_isn
#endif
