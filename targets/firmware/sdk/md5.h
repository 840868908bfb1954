/* MD5 message digest (RFC 1321). Pure C, no dependencies; used for the POP3
 * APOP digest and the digest of retrieved messages. */
#ifndef MD5_H
#define MD5_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[4];
    uint64_t bytes;      /* total length so far */
    uint8_t block[64];   /* partial block */
} md5_ctx_t;

void md5_init(md5_ctx_t *c);
void md5_update(md5_ctx_t *c, const void *data, size_t n);
void md5_final(md5_ctx_t *c, uint8_t digest[16]);
/* digest as 32 lower-case hex chars plus NUL */
void md5_hex(const uint8_t digest[16], char out[33]);
#endif
