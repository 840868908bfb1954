/* Platform services used by main.c, the agent and the network glue. */
#ifndef PLATFORM_H
#define PLATFORM_H
#include <stddef.h>
#include <stdint.h>

#if defined(BOARD_AN500)
#define BOARD_NAME "mps2-an500"
#elif defined(BOARD_AN386)
#define BOARD_NAME "mps2-an386"
#else
#define BOARD_NAME "mps2-an385"
#endif

/* Clock (clock.c): SysTick at 1 kHz. */
void clock_init(void);
uint32_t clock_ms(void);
/* A few bits that vary from boot to boot (timer phase), for seeding. */
uint32_t clock_entropy(void);

/* UART0 (uart.c): RX by interrupt into a ring buffer, TX blocking. */
void uart_init(void);
void uart_write(const void *buf, size_t n);
void uart_puts(const char *s);
/* Copies up to cap received bytes into buf; returns the count (0 if none). */
size_t uart_read(void *buf, size_t cap);
int uart_rx_pending(void);
/* Bytes dropped because the ring was full (should stay 0). */
uint32_t uart_rx_overflows(void);

/* Reset and faults (reset.c, fault.c). */
void platform_reset(void) __attribute__((noreturn));
void platform_fatal(const char *kind, const char *msg) __attribute__((noreturn));

/* Sleep until an interrupt unless work_pending() says otherwise (main.c calls
 * this with interrupts masked to close the check-then-sleep race). */
void platform_idle(int (*work_pending)(void));

#endif
