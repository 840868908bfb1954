/* The fill pattern of docs/agent-protocol.md ("Fill pattern"). */
#ifndef FILL_H
#define FILL_H
#include <stddef.h>
#include <stdint.h>
/* Writes the first n bytes of the pattern into out. */
void fill_pattern(uint8_t *out, size_t n);

/* Streaming form, for output larger than one buffer (tcp.bulk): a cursor that
 * remembers where the pattern left off. fill_pattern(out, n) is the same as
 * fill_cursor_init + fill_next(n). */
typedef struct {
    uint32_t line; /* current line k */
    uint32_t pos;  /* bytes of line k already produced */
} fill_cursor_t;
void fill_cursor_init(fill_cursor_t *c);
void fill_next(fill_cursor_t *c, uint8_t *out, size_t n);
#endif
