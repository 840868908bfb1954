/* Fault reporting: `* fault kind=... pc=0x...` on the UART, then a reset so the
 * bench sees a fresh banner (docs/agent-protocol.md, unsolicited lines). Writes
 * to the UART registers directly; nothing here may depend on a sane heap or
 * stack beyond a few words. */
#include <stdio.h>
#include <string.h>

#include "mps2.h"
#include "platform.h"

static void fault_report(const char *line)
{
    uart_puts("\n"); /* end any half-printed line so ours is parsed */
    uart_puts(line);
    uart_puts("\n");
}

/* Called from HardFault_Handler with the stacked exception frame
 * (r0, r1, r2, r3, r12, lr, pc, xpsr). */
__attribute__((used)) void fault_hard_c(const uint32_t *frame)
{
    char line[160];
    snprintf(line, sizeof line,
             "* fault kind=hardfault pc=0x%08lx msg=lr%%3D0x%08lx%%20cfsr%%3D0x%08lx%%20hfsr%%3D0x%08lx%%20bfar%%3D0x%08lx",
             (unsigned long)frame[6], (unsigned long)frame[5], (unsigned long)SCB_CFSR,
             (unsigned long)SCB_HFSR, (unsigned long)SCB_BFAR);
    fault_report(line);
    platform_reset();
}

/* Pick the stack the fault frame was pushed on (bit 2 of EXC_RETURN). */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile("tst lr, #4\n"
                   "ite eq\n"
                   "mrseq r0, msp\n"
                   "mrsne r0, psp\n"
                   "b fault_hard_c\n");
}

void fault_unexpected_irq(void)
{
    char line[96];
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    snprintf(line, sizeof line, "* fault kind=hardfault msg=unexpected%%20exception%%20%lu",
             (unsigned long)ipsr);
    fault_report(line);
    platform_reset();
}

/* kind is a protocol word (assert, watchdog); msg is free text, escaped here. */
void platform_fatal(const char *kind, const char *msg)
{
    static const char keep[] = "._~:/@+-";
    char line[256];
    size_t n = (size_t)snprintf(line, sizeof line, "* fault kind=%s msg=", kind);
    for (; msg && *msg && n + 4 < sizeof line; msg++) {
        unsigned char c = (unsigned char)*msg;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c)))
            line[n++] = (char)c;
        else
            n += (size_t)snprintf(line + n, sizeof line - n, "%%%02X", c);
    }
    line[n] = 0;
    irq_disable();
    fault_report(line);
    platform_reset();
}
