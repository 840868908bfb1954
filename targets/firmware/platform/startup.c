/* Vector table and reset handler for the mps2 boards (Cortex-M3/M4/M7).
 *
 * QEMU takes the initial SP and PC from the vector table at address 0 (not from
 * the ELF entry point), so the linker script puts .isr_vector first in SSRAM1.
 * A system reset makes QEMU reload the ELF segments, but we still copy .data
 * from its load address so the image would also run from a real flash. */
#include <stdint.h>
#include <string.h>

extern uint32_t __stack_top;
extern uint32_t __data_load, __data_start, __data_end;
extern uint32_t __bss_start, __bss_end;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void); /* fault.c */
void SysTick_Handler(void);   /* clock.c */
void UART0_RX_IRQHandler(void); /* uart.c */
void ETH_IRQHandler(void);    /* lan9118.c */

#define WEAK_ALIAS __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_ALIAS;
void MemManage_Handler(void) WEAK_ALIAS;
void BusFault_Handler(void) WEAK_ALIAS;
void UsageFault_Handler(void) WEAK_ALIAS;
void SVC_Handler(void) WEAK_ALIAS;
void DebugMon_Handler(void) WEAK_ALIAS;
void PendSV_Handler(void) WEAK_ALIAS;

typedef void (*vector_t)(void);

/* 16 system exceptions + 32 external interrupts (QEMU gives these boards
 * num-irq = 32). MemManage/BusFault/UsageFault are not enabled in SHCSR, so they
 * escalate to HardFault. */
__attribute__((section(".isr_vector"), used)) const vector_t vector_table[16 + 32] = {
    (vector_t)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* External interrupts. */
    [16 + 0] = UART0_RX_IRQHandler,
    [16 + 1] = Default_Handler, /* UART0 TX: not enabled */
    [16 + 2 ... 16 + 12] = Default_Handler,
    [16 + 13] = ETH_IRQHandler,
    [16 + 14 ... 16 + 31] = Default_Handler,
};

void Reset_Handler(void)
{
    /* Plain loops: memcpy/memset might be built with assumptions about .data. */
    uint32_t *src = &__data_load, *dst = &__data_start;
    while (dst < &__data_end)
        *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end;)
        *dst++ = 0;
    main();
    for (;;)
        __asm volatile("wfi");
}

/* An interrupt nobody claimed: report it as a fault (the IPSR names it). */
void Default_Handler(void)
{
    extern void fault_unexpected_irq(void);
    fault_unexpected_irq();
}
