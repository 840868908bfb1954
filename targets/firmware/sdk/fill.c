/* The fill pattern (docs/agent-protocol.md, "Fill pattern"):
 * line k is ".leading dot line %06d\r\n" when k % 16 == 5, else
 * "line %06d the quick brown fox jumps over the lazy dog\r\n". */
#include <string.h>

#include "fill.h"

/* Formats line k into buf (big enough for 70 bytes); returns its length. */
static size_t fill_line(uint32_t k, char *buf)
{
    static const char dot_head[] = ".leading dot line ";
    static const char head[] = "line ";
    static const char tail[] = " the quick brown fox jumps over the lazy dog";
    char digits[12];
    size_t nd = 0, n = 0;

    /* %06d: at least six digits, more when k needs them */
    for (uint32_t v = k; v || nd < 6; v /= 10)
        digits[nd++] = (char)('0' + v % 10);

    int dotted = (k % 16 == 5);
    const char *h = dotted ? dot_head : head;
    size_t hl = dotted ? sizeof dot_head - 1 : sizeof head - 1;
    memcpy(buf, h, hl);
    n = hl;
    while (nd)
        buf[n++] = digits[--nd];
    if (!dotted) {
        memcpy(buf + n, tail, sizeof tail - 1);
        n += sizeof tail - 1;
    }
    buf[n++] = '\r';
    buf[n++] = '\n';
    return n;
}

void fill_cursor_init(fill_cursor_t *c)
{
    c->line = 0;
    c->pos = 0;
}

void fill_next(fill_cursor_t *c, uint8_t *out, size_t n)
{
    char line[80];
    while (n) {
        size_t len = fill_line(c->line, line);
        size_t take = len - c->pos;
        if (take > n)
            take = n;
        memcpy(out, line + c->pos, take);
        out += take;
        n -= take;
        c->pos += (uint32_t)take;
        if (c->pos == len) {
            c->line++;
            c->pos = 0;
        }
    }
}

void fill_pattern(uint8_t *out, size_t n)
{
    fill_cursor_t c;
    fill_cursor_init(&c);
    fill_next(&c, out, n);
}
