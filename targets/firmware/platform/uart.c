/* CMSDK APB UART0 driver.
 *
 * RX: the RX interrupt moves each byte into a ring buffer, so a whole request
 * line (up to 512 bytes) arrives as fast as the host sends it. QEMU's model
 * holds one byte and back-pressures the chardev until it is read, so nothing is
 * lost as long as the ring has room. TX: blocking on TXFULL; QEMU drains at host
 * speed (no baud-rate pacing). */
#include "mps2.h"
#include "platform.h"

#define UART_DATA REG32(UART0_BASE + 0x00)
#define UART_STATE REG32(UART0_BASE + 0x04)
#define UART_CTRL REG32(UART0_BASE + 0x08)
#define UART_INTSTATUS REG32(UART0_BASE + 0x0C) /* write 1 to clear */
#define UART_BAUDDIV REG32(UART0_BASE + 0x10)

#define STATE_TXFULL 0x1u
#define STATE_RXFULL 0x2u
#define CTRL_TXEN 0x1u
#define CTRL_RXEN 0x2u
#define CTRL_RXINTEN 0x8u
#define INT_RX 0x2u

#define RX_RING_SIZE 2048u /* power of two; four maximum-length lines */

static uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the ISR */
static volatile uint32_t rx_tail; /* written by uart_read */
static volatile uint32_t rx_overflows;

void UART0_RX_IRQHandler(void)
{
    /* Clear first: a byte arriving after the clear raises the line again. */
    UART_INTSTATUS = INT_RX;
    while (UART_STATE & STATE_RXFULL) {
        uint8_t c = (uint8_t)UART_DATA;
        uint32_t head = rx_head;
        if (head - rx_tail < RX_RING_SIZE) {
            rx_ring[head & (RX_RING_SIZE - 1)] = c;
            rx_head = head + 1;
        } else {
            rx_overflows++;
        }
    }
}

void uart_init(void)
{
    UART_BAUDDIV = SYSCLK_HZ / 115200u;
    UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXINTEN;
    nvic_clear_pending(UART0_RX_IRQ);
    nvic_enable(UART0_RX_IRQ);
}

void uart_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n--) {
        while (UART_STATE & STATE_TXFULL)
            ;
        UART_DATA = *p++;
    }
}

void uart_puts(const char *s)
{
    while (*s) {
        while (UART_STATE & STATE_TXFULL)
            ;
        UART_DATA = (uint8_t)*s++;
    }
}

size_t uart_read(void *buf, size_t cap)
{
    uint8_t *out = buf;
    size_t n = 0;
    uint32_t tail = rx_tail, head = rx_head;
    while (n < cap && tail != head)
        out[n++] = rx_ring[tail++ & (RX_RING_SIZE - 1)];
    rx_tail = tail;
    return n;
}

int uart_rx_pending(void)
{
    return rx_head != rx_tail;
}

uint32_t uart_rx_overflows(void)
{
    return rx_overflows;
}
