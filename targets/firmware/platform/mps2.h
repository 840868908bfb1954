/* Memory map and registers of QEMU's mps2-an385 / an386 / an500 boards that the
 * platform layer uses. Values read from QEMU 7.2 hw/arm/mps2.c: the three boards
 * share the CMSDK peripherals and RAM layout; only the LAN9118 moves (an500 puts
 * it at 0xa0000000). The Makefile passes -DBOARD_AN385/AN386/AN500. */
#ifndef MPS2_H
#define MPS2_H
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define SYSCLK_HZ 25000000u

/* CMSDK APB UART0 = QEMU's serial0. RX irq 0, TX irq 1. */
#define UART0_BASE 0x40004000u
#define UART0_RX_IRQ 0

/* LAN9118 (a LAN9220 on the real boards). */
#if defined(BOARD_AN500)
#define LAN9118_BASE 0xa0000000u
#else
#define LAN9118_BASE 0x40200000u
#endif
#define LAN9118_IRQ 13

/* Cortex-M system control space. */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICER0 REG32(0xE000E180u)
#define NVIC_ICPR0 REG32(0xE000E280u)
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define SCB_SHCSR REG32(0xE000ED24u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)

static inline void nvic_enable(int irq) { NVIC_ISER0 = 1u << irq; }
static inline void nvic_disable(int irq) { NVIC_ICER0 = 1u << irq; }
static inline void nvic_clear_pending(int irq) { NVIC_ICPR0 = 1u << irq; }

static inline void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
/* Save PRIMASK and disable; restore with irq_restore. */
static inline uint32_t irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}
static inline void irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

#endif
