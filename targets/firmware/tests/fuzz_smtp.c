/* Fuzz target: arbitrary server bytes into the SMTP session machine. Byte 0
 * picks the AUTH setting and the split size, byte 1 the message chunk size.
 * Invariants abort(): commands one CRLF line <= 512 octets, never CRAM-MD5,
 * chunks within the asked size, progress on every call, MAIL never after an
 * AUTH failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../proto/smtp_session.h"

int fuzz_smtp_one(const uint8_t *d, size_t n)
{
    static smtp_session_t s;
    static uint8_t chunk[1024];
    static const uint8_t body[] = "line one\r\n.dot line\r\nbare\nlf\r\n..\r\nend";
    if (n < 2) return 0;
    smtp_config_t cfg = {"joe", "secret", "joe@example.com", "device.local", (smtp_auth_t)(d[0] % 3)};
    size_t split = (size_t)(d[0] / 3) + 1;
    size_t cap = (size_t)d[1] % 1020 + 5;
    d += 2;
    n -= 2;
    if (smtp_session_init(&s, &cfg, "ann@example.org", "subj", 4, SMTP_PRIO_HIGH, body,
                          sizeof body - 1))
        abort();
    int auth_failed = 0;
    for (size_t off = 0; off < n; off += split) {
        size_t k = n - off < split ? n - off : split;
        const uint8_t *c = d + off;
        while (k) {
            size_t used = 0;
            smtp_ev_t ev = smtp_session_feed(&s, c, k, &used);
            if (used > k) abort();
            if (used == 0 && ev == SMTP_EV_NONE) abort();
            c += used;
            k -= used;
            if (ev == SMTP_EV_SEND) {
                if (s.cmd_len < 2 || s.cmd_len > 512) abort();
                if (s.cmd[s.cmd_len - 2] != '\r' || s.cmd[s.cmd_len - 1] != '\n') abort();
                for (size_t i = 0; i + 2 < s.cmd_len; i++)
                    if (s.cmd[i] == '\r' || s.cmd[i] == '\n') abort();
                if (!memcmp(s.cmd, "AUTH CRAM", 9)) abort();
                if (!memcmp(s.cmd, "MAIL", 4) && auth_failed) abort();
                if (s.res.code && !strcmp(s.res.code, "auth")) auth_failed = 1;
            } else if (ev == SMTP_EV_MESSAGE) {
                size_t got;
                while ((got = smtp_session_message_read(&s, chunk, cap)) > 0)
                    if (got > cap) abort();
            } else if (ev == SMTP_EV_DONE) {
                if (s.res.code && !s.res.stage) abort();
            }
        }
    }
    smtp_session_fail(&s, "closed", "end of input");
    if (!s.res.code && s.st != SMTP_S_DONE) abort();
    return 0;
}

#ifdef FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_smtp_one(d, n); }
#endif
