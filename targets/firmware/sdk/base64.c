/* Base64 (RFC 4648 section 4): standard alphabet, '=' padding required. */
#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = (i + 4 == n);
        int pad = 0;
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            int s;
            if (c == '=') {
                /* Padding only in the last quantum, only in positions 2-3,
                 * and nothing but padding after it. */
                if (!last || j < 2)
                    return -1;
                pad++;
                s = 0;
            } else {
                if (pad)
                    return -1;
                s = sextet(c);
                if (s < 0)
                    return -1;
            }
            v = (v << 6) | (uint32_t)s;
        }
        size_t k = 3u - (size_t)pad;
        if (o + k > cap)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (k > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (k > 2)
            out[o++] = (uint8_t)v;
    }
    return (long)o;
}
