/* Bench reference firmware: bring-up, banner, main loop.
 *
 * Everything runs in this one loop (lwIP NO_SYS): interrupts only move UART
 * bytes into a ring, acknowledge the LAN9118 and count SysTick milliseconds;
 * each of them wakes the WFI in platform_idle(). The agent (sdk/) runs in loop
 * mode: the UART ring is its input, clock_ms its clock. */
#include "agent/agent_internal.h"
#include "app/app.h"
#include "platform/netstack.h"
#include "platform/platform.h"
#include "sdk/agent.h"
#include "sdk/agent_device.h"

/* Defaults so the image links before the mail application exists; the app's
 * own definitions replace these. */
__attribute__((weak)) void app_init(void) {}
__attribute__((weak)) void app_poll(void) {}

static const agent_port_t agent_port = {
    .uart_write = uart_write,
    .uart_read = uart_read,
    .clock_ms = clock_ms,
};

static int work_pending(void)
{
    return uart_rx_pending() || netstack_rx_pending();
}

int main(void)
{
    clock_init();
    uart_init();
    netstack_init();

    agent_init(&agent_port);
    verbs_sys_register();
    verbs_bulk_register();
    app_init();

    agent_boot_banner();

    for (;;) {
        netstack_poll(); /* RX frames, then lwIP timers */
        agent_poll();
        app_poll();
        platform_idle(work_pending);
    }
}
