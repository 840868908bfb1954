/* Base64 (RFC 4648, standard alphabet, padded). */
#ifndef BASE64_H
#define BASE64_H
#include <stddef.h>
#include <stdint.h>

#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes BASE64_ENCODED_LEN(n) chars plus a NUL; returns the char count. */
size_t base64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes n chars (padding required, no whitespace) into out (capacity cap).
 * Returns the byte count, or -1 on a bad character, bad length or overflow. */
long base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);
#endif
