/* SysTick at 1 kHz from the 25 MHz core clock (CLKSOURCE = processor clock).
 * QEMU runs it against the host clock, so milliseconds are wall-clock true. */
#include "mps2.h"
#include "platform.h"

static volatile uint32_t ms_ticks;

void SysTick_Handler(void)
{
    ms_ticks++;
}

void clock_init(void)
{
    SYST_RVR = SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 0x7; /* CLKSOURCE | TICKINT | ENABLE */
}

uint32_t clock_ms(void)
{
    return ms_ticks;
}

uint32_t clock_entropy(void)
{
    /* The SysTick phase and the LAN9118 free-running counter (25 MHz, virtual
     * clock) depend on host timing, so they differ from boot to boot. */
    extern uint32_t lan9118_free_run(void);
    return (SYST_CVR << 16) ^ lan9118_free_run() ^ (ms_ticks * 2654435761u);
}
