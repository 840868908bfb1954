#include "dotstuff.h"

void dotstuff_init(dotstuff_t *d)
{
    d->bol = 1;
    d->cr = 0;
    d->crlf = 1;
}

size_t dotstuff_encode(dotstuff_t *d, const uint8_t *in, size_t n, size_t *used,
                       uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t c = in[i];
        if (d->bol && c == '.') {
            if (o + 2 > cap) break;
            out[o++] = '.';
        } else if (o + 1 > cap) {
            break;
        }
        out[o++] = c;
        i++;
        d->crlf = (uint8_t)(d->cr && c == '\n');
        d->bol = (uint8_t)(c == '\n');
        d->cr = (uint8_t)(c == '\r');
    }
    *used = i;
    return o;
}

size_t dotstuff_end(const dotstuff_t *d, uint8_t *out)
{
    size_t o = 0;
    if (!d->crlf) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    out[o++] = '.';
    out[o++] = '\r';
    out[o++] = '\n';
    return o;
}

/* decoder states */
enum { U_BOL, U_MID, U_CR, U_DOT, U_DOTCR };

void unstuff_init(unstuff_t *u)
{
    u->st = U_BOL;
    u->done = 0;
}

size_t unstuff_decode(unstuff_t *u, const uint8_t *in, size_t n, size_t *used,
                      uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n && !u->done && o + 2 <= cap) {
        uint8_t c = in[i++];
        switch (u->st) {
        case U_BOL:
            if (c == '.') { u->st = U_DOT; break; }
            /* fall through */
        case U_MID:
            if (c == '\r') u->st = U_CR;
            else { out[o++] = c; u->st = U_MID; }
            break;
        case U_CR: /* a held CR */
            if (c == '\n') { out[o++] = '\r'; out[o++] = '\n'; u->st = U_BOL; }
            else if (c == '\r') { out[o++] = '\r'; }
            else { out[o++] = '\r'; out[o++] = c; u->st = U_MID; }
            break;
        case U_DOT: /* '.' at the start of a line */
            if (c == '\r') u->st = U_DOTCR;
            else { out[o++] = c; u->st = U_MID; } /* stuffed dot dropped */
            break;
        case U_DOTCR:
            if (c == '\n') { u->done = 1; break; }
            /* ".\r" then something else: the line was "\r..." stuffed */
            if (c == '\r') { out[o++] = '\r'; u->st = U_CR; }
            else { out[o++] = '\r'; out[o++] = c; u->st = U_MID; }
            break;
        }
    }
    *used = i;
    return o;
}
