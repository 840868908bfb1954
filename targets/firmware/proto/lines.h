/* CRLF line assembly into a caller-owned bounded buffer, for server reply
 * lines that arrive split across segments in any way (byte by byte too).
 * A line is complete at CRLF; the line handed out has the CRLF stripped and a
 * NUL after it. Malformed input is reported, never truncated silently. */
#ifndef LINES_H
#define LINES_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LINES_MORE = 0, /* all input consumed, no complete line yet */
    LINES_LINE,     /* a complete line is in buf (len octets, NUL-terminated) */
    LINES_TOOLONG,  /* line longer than cap-1 octets including CRLF */
    LINES_BAD,      /* bare LF or NUL byte in the line */
} lines_rc_t;

typedef struct {
    char *buf;
    size_t cap; /* bytes in buf; the longest line is cap-1 octets incl. CRLF */
    size_t len; /* octets of the line so far, CR excluded */
    uint8_t cr; /* last byte seen was CR */
    uint8_t done; /* a line was handed out: the next feed starts a new one */
} lines_t;

void lines_init(lines_t *l, char *buf, size_t cap);
/* Consume input until a line completes (or an error). *used receives the
 * number of bytes consumed; the rest belongs to what follows the line. */
lines_rc_t lines_feed(lines_t *l, const uint8_t *in, size_t n, size_t *used);
/* Forget any partial line. */
void lines_reset(lines_t *l);
#endif
