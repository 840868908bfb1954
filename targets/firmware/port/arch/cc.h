/* lwIP compiler/platform glue for arm-none-eabi-gcc + newlib. */
#ifndef LWIP_ARCH_CC_H
#define LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

/* BYTE_ORDER comes from newlib's <machine/endian.h> (little-endian). */
#define LWIP_NO_STDINT_H 0
#define LWIP_NO_INTTYPES_H 0
#define LWIP_TIMEVAL_PRIVATE 0 /* newlib has struct timeval */

/* Diagnostics are compiled in only with LWIP_DEBUG, which stays undefined. */
#define LWIP_PLATFORM_DIAG(x) do { } while (0)

/* A failed lwIP assertion prints `* fault kind=assert msg=...` and resets. */
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert((x), __FILE__, __LINE__)

#endif
