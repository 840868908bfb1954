/* Fuzz target: arbitrary server bytes into the POP3 session machine, split
 * and driven as the glue does. Byte 0 picks APOP and the split size, byte 1
 * the order of transaction commands. Invariants abort(): each command one
 * CRLF line within the payload, progress on every call, pieces bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../proto/pop3_session.h"

static void check_cmd(const pop3_session_t *s)
{
    if (s->cmd_len < 2 || s->cmd_len > 120) abort();
    if (s->cmd[s->cmd_len - 2] != '\r' || s->cmd[s->cmd_len - 1] != '\n') abort();
    for (size_t i = 0; i + 2 < s->cmd_len; i++)
        if (s->cmd[i] == '\r' || s->cmd[i] == '\n') abort();
}

int fuzz_pop3_one(const uint8_t *d, size_t n)
{
    static pop3_session_t s;
    if (n < 2) return 0;
    int apop = d[0] & 1;
    size_t split = (size_t)(d[0] >> 1) + 1;
    uint8_t order = d[1];
    d += 2;
    n -= 2;
    if (pop3_session_init(&s, "user", 4, "pass", 4, apop, 120)) abort();
    int waiting = 1, step = 0;
    for (size_t off = 0; off < n; off += split) {
        size_t k = n - off < split ? n - off : split;
        const uint8_t *c = d + off;
        while (k) {
            size_t used = 0;
            pop3_ev_t ev = pop3_session_feed(&s, c, k, &used);
            if (used > k) abort();
            if (used == 0 && ev == POP3_EV_NONE) abort(); /* no progress */
            c += used;
            k -= used;
            if (ev == POP3_EV_SEND) {
                if (!waiting) abort();
                check_cmd(&s);
            } else if (ev == POP3_EV_PIECE) {
                if (s.piece_len > POP3_PIECE_MAX) abort();
                pop3_piece_take(&s);
            } else if (ev == POP3_EV_DONE) {
                if (s.piece_len > POP3_PIECE_MAX) abort();
                pop3_piece_take(&s);
                waiting = 0;
                if (s.res.code && !s.res.stage) abort();
                if (pop3_session_idle(&s)) {
                    pop3_op_t op = (pop3_op_t)((order + step++) % 7);
                    if (pop3_session_start(&s, op, (uint32_t)step)) abort();
                    check_cmd(&s);
                    waiting = 1;
                }
            }
        }
        pop3_piece_take(&s);
    }
    pop3_session_fail(&s, "closed", "end of input");
    return 0;
}

#ifdef FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_pop3_one(d, n); }
#endif
