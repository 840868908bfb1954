/* Software reset and the idle sleep. */
#include "mps2.h"
#include "platform.h"

void platform_reset(void)
{
    /* UART TX is blocking, so everything printed has reached QEMU already.
     * SYSRESETREQ: QEMU resets the machine and reloads the image. */
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = (0x05FAu << 16) | (1u << 2);
    __asm volatile("dsb" ::: "memory");
    for (;;)
        ;
}

void platform_idle(int (*work_pending)(void))
{
    /* With PRIMASK set an interrupt still wakes WFI; it is taken once
     * interrupts are re-enabled. So an event that lands between the check and
     * the WFI is not slept through. */
    irq_disable();
    if (!work_pending())
        __asm volatile("dsb\n wfi" ::: "memory");
    irq_enable();
}
