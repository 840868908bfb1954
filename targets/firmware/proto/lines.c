#include "lines.h"

void lines_init(lines_t *l, char *buf, size_t cap)
{
    l->buf = buf;
    l->cap = cap;
    lines_reset(l);
}

void lines_reset(lines_t *l)
{
    l->len = 0;
    l->cr = 0;
    l->done = 0;
    if (l->cap) l->buf[0] = 0;
}

lines_rc_t lines_feed(lines_t *l, const uint8_t *in, size_t n, size_t *used)
{
    size_t i = 0;
    if (l->done) lines_reset(l);
    while (i < n) {
        uint8_t c = in[i++];
        if (l->cr) {
            if (c == '\n') {
                l->buf[l->len] = 0;
                l->cr = 0;
                l->done = 1;
                *used = i;
                return LINES_LINE;
            }
            /* a CR inside the line: keep it as content */
            if (l->len + 4 > l->cap) { *used = i; return LINES_TOOLONG; }
            l->buf[l->len++] = '\r';
            l->cr = 0;
        }
        if (c == '\r') {
            l->cr = 1;
            continue;
        }
        if (c == '\n' || c == 0) { *used = i; return LINES_BAD; }
        /* room for this octet plus CRLF within cap-1, and the NUL */
        if (l->len + 4 > l->cap) { *used = i; return LINES_TOOLONG; }
        l->buf[l->len++] = (char)c;
    }
    *used = i;
    return LINES_MORE;
}
