/* Dot-stuffing for SMTP DATA (RFC 5321 4.5.2) and dot-unstuffing of POP3
 * multi-line replies (RFC 1939 3), both streaming: input may be cut anywhere.
 *
 * Stuffing doubles a '.' at the start of the text and after every LF, bare LF
 * included: many servers (Postfix, Python's, the bench's emulator) end a DATA
 * line at LF, so a body holding "\n.\r\n" would otherwise end the mail early
 * and "\n.x" would lose its dot. Unstuffing (POP3) counts lines by CRLF only,
 * as the server stuffed them. */
#ifndef DOTSTUFF_H
#define DOTSTUFF_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t bol; /* at the start of a line */
    uint8_t cr;  /* last byte was CR */
    uint8_t crlf; /* the text so far ends in CRLF (or is empty) */
} dotstuff_t;

void dotstuff_init(dotstuff_t *d);
/* Copy in to out, doubling a '.' that starts a line. Stops when the input is
 * consumed or out is full; *used = bytes consumed; returns bytes written. */
size_t dotstuff_encode(dotstuff_t *d, const uint8_t *in, size_t n, size_t *used,
                       uint8_t *out, size_t cap);
#define DOTSTUFF_END_MAX 5
/* The end-of-data mark: ".\r\n", preceded by CRLF if the text did not end in
 * one. Writes at most DOTSTUFF_END_MAX bytes; returns the count. */
size_t dotstuff_end(const dotstuff_t *d, uint8_t *out);

typedef struct {
    uint8_t st;   /* decoder state, see dotstuff.c */
    uint8_t done; /* the terminating "." line was seen */
} unstuff_t;

void unstuff_init(unstuff_t *u);
/* Decode a multi-line reply body: drop the stuffed dot, stop after the
 * terminating ".CRLF" (not part of the output). The CRLF ending the last data
 * line is kept. Stops when the input is consumed, out has fewer than 2 bytes
 * free, or the end was reached (u->done). *used = bytes consumed; returns
 * bytes written. */
size_t unstuff_decode(unstuff_t *u, const uint8_t *in, size_t n, size_t *used,
                      uint8_t *out, size_t cap);
#endif
