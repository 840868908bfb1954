/* lwIP's NO_SYS hooks: the millisecond clock, the random source, asserts. */
#include <stdio.h>

#include "lwip/arch.h"
#include "lwip_hooks.h"
#include "lwip/sys.h"
#include "platform.h"

u32_t sys_now(void)
{
    return clock_ms();
}

/* xorshift32, seeded on first use from boot-to-boot varying timer phase and
 * stirred with it on every call: gives different initial TCP sequence numbers
 * and ephemeral ports each boot. Not cryptographic. */
uint32_t lwip_port_rand(void)
{
    static uint32_t state;
    state ^= clock_entropy();
    if (state == 0)
        state = 0x9E3779B9u;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

u32_t lwip_port_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                        const ip_addr_t *remote_ip, u16_t remote_port)
{
    (void)local_ip;
    (void)local_port;
    (void)remote_ip;
    (void)remote_port;
    return lwip_port_rand();
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
    char buf[160];
    const char *base = file;
    for (const char *p = file; *p; p++)
        if (*p == '/')
            base = p + 1;
    snprintf(buf, sizeof buf, "%s %s:%d", msg, base, line);
    platform_fatal("assert", buf);
}
