/* The fill pattern of docs/agent-protocol.md ("Fill pattern"). */
#ifndef FILL_H
#define FILL_H
#include <stddef.h>
#include <stdint.h>
/* Writes the first n bytes of the pattern into out. */
void fill_pattern(uint8_t *out, size_t n);
#endif
