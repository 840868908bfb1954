/* SMTP session machine: EHLO (split replies, HELO fallback), AUTH choices,
 * the mail sequence, the message on the wire, error stages, malformed input. */
#include "t.h"
#include <stdint.h>
#include <stdlib.h>
#include "../proto/smtp_session.h"
#include "../sdk/fill.h"

typedef struct {
    char sent[8192];
    size_t sent_len;
    uint8_t *wire;  /* DATA section as sent */
    size_t wire_len, max_chunk;
    int done, messages;
    size_t cap;     /* chunk size the glue asks for */
} drv_t;

static smtp_session_t S;
static drv_t D;
static uint8_t WIRE[3u << 20];

static void feed(const void *in, size_t n, size_t split)
{
    const uint8_t *p = in;
    for (size_t off = 0; off < n; off += split) {
        size_t k = n - off < split ? n - off : split;
        const uint8_t *c = p + off;
        while (k) {
            size_t used;
            smtp_ev_t ev = smtp_session_feed(&S, c, k, &used);
            c += used;
            k -= used;
            if (ev == SMTP_EV_SEND) {
                CHECK(S.cmd_len <= 512 && S.cmd[S.cmd_len - 1] == '\n' && S.cmd[S.cmd_len - 2] == '\r');
                memcpy(D.sent + D.sent_len, S.cmd, S.cmd_len);
                D.sent_len += S.cmd_len;
                D.sent[D.sent_len] = 0;
            } else if (ev == SMTP_EV_MESSAGE) {
                size_t got;
                D.messages++;
                while ((got = smtp_session_message_read(&S, D.wire + D.wire_len, D.cap)) > 0) {
                    if (got > D.max_chunk) D.max_chunk = got;
                    D.wire_len += got;
                }
                CHECK(!smtp_session_message_pending(&S));
            } else if (ev == SMTP_EV_DONE) {
                D.done++;
            }
        }
    }
}
#define SAY(s) feed(s, strlen(s), 1000)

static smtp_config_t cfg(smtp_auth_t a)
{
    return (smtp_config_t){"joe", "secret", "joe@example.com", "device.local", a};
}

static void begin(smtp_auth_t a, const char *body, size_t blen)
{
    smtp_config_t c = cfg(a);
    memset(&D, 0, sizeof D);
    D.wire = WIRE;
    D.cap = 1024;
    CHECK(smtp_session_init(&S, &c, "ann@example.org", "Hello", 5, SMTP_PRIO_NORMAL,
                            (const uint8_t *)body, blen) == 0);
}

static const char EHLO_AUTH[] = "250-mail.example.org greets you\r\n250-PIPELINING\r\n"
                                "250-AUTH LOGIN PLAIN CRAM-MD5\r\n250 8BITMIME\r\n";

static void test_happy(void)
{
    /* AUTH PLAIN, EHLO reply split byte by byte */
    begin(SMTP_AUTH_PLAIN, "Hi.\r\n", 5);
    SAY("220 mail.example.org ESMTP\r\n");
    CHECK_STR(D.sent, "EHLO device.local\r\n");
    feed(EHLO_AUTH, strlen(EHLO_AUTH), 1);
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH PLAIN\r\n");
    SAY("334 \r\n");
    CHECK_STR(D.sent + 31, "AGpvZQBzZWNyZXQ=\r\n");
    SAY("235 2.7.0 ok\r\n");
    SAY("250 ok\r\n250 ok\r\n354 go ahead\r\n");
    CHECK(D.messages == 1);
    const char *msg = "From: joe@example.com\r\nTo: ann@example.org\r\nSubject: Hello\r\n\r\nHi.\r\n.\r\n";
    CHECK_MEM(D.wire, D.wire_len, msg, strlen(msg));
    CHECK(smtp_session_message_octets(&S) == strlen(msg) - 3);
    SAY("250 queued\r\n");
    SAY("221 bye\r\n");
    CHECK(D.done == 1 && !S.res.code);
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH PLAIN\r\nAGpvZQBzZWNyZXQ=\r\n"
                      "MAIL FROM:<joe@example.com>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\nQUIT\r\n");

    /* AUTH LOGIN: answers the prompts in base64 */
    begin(SMTP_AUTH_LOGIN, "", 0);
    SAY("220 x\r\n");
    SAY(EHLO_AUTH);
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH LOGIN\r\n");
    SAY("334 VXNlcm5hbWU6\r\n");
    SAY("334 UGFzc3dvcmQ6\r\n");
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH LOGIN\r\nam9l\r\nc2VjcmV0\r\n");
    SAY("235 ok\r\n");
    CHECK_STR(D.sent + strlen(D.sent) - 29, "MAIL FROM:<joe@example.com>\r\n");
    /* LOGIN prompts in the other order are honoured */
    begin(SMTP_AUTH_LOGIN, "", 0);
    SAY("220 x\r\n");
    SAY(EHLO_AUTH);
    SAY("334 UGFzc3dvcmQ6\r\n");
    CHECK_STR(D.sent + strlen(D.sent) - 10, "c2VjcmV0\r\n");

    /* no AUTH advertised: PLAIN whether configured plain or login */
    begin(SMTP_AUTH_LOGIN, "", 0);
    SAY("220 x\r\n250-x\r\n250 SIZE 1000\r\n");
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH PLAIN\r\n");
    /* none: straight to MAIL even if AUTH is advertised */
    begin(SMTP_AUTH_NONE, "", 0);
    SAY("220 x\r\n");
    SAY(EHLO_AUTH);
    CHECK_STR(D.sent, "EHLO device.local\r\nMAIL FROM:<joe@example.com>\r\n");
    /* only LOGIN advertised, PLAIN configured: LOGIN; never CRAM-MD5 */
    begin(SMTP_AUTH_PLAIN, "", 0);
    SAY("220 x\r\n250-x\r\n250 AUTH=LOGIN CRAM-MD5\r\n");
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH LOGIN\r\n");
    begin(SMTP_AUTH_PLAIN, "", 0);
    SAY("220 x\r\n250-x\r\n250 AUTH CRAM-MD5\r\n");
    CHECK_STR(D.sent, "EHLO device.local\r\nAUTH PLAIN\r\n");

    /* EHLO refused: HELO */
    static const char *const refusals[] = {"500 what?\r\n", "502 not implemented\r\n"};
    for (int i = 0; i < 2; i++) {
        begin(SMTP_AUTH_NONE, "", 0);
        SAY("220 x\r\n");
        SAY(refusals[i]);
        CHECK_STR(D.sent, "EHLO device.local\r\nHELO device.local\r\n");
        SAY("250 hi\r\n");
        CHECK_STR(D.sent + 38, "MAIL FROM:<joe@example.com>\r\n");
    }

    /* priority header, body with dots, no final CRLF */
    smtp_config_t c = cfg(SMTP_AUTH_NONE);
    memset(&D, 0, sizeof D);
    D.wire = WIRE;
    D.cap = 5;
    const char *body = ".a\r\nb\n.c\r\n..";
    CHECK(smtp_session_init(&S, &c, "t@x", "S", 1, SMTP_PRIO_HIGH, (const uint8_t *)body, strlen(body)) == 0);
    SAY("220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    const char *w = "From: joe@example.com\r\nTo: t@x\r\nSubject: S\r\nX-Priority: 1 (high)\r\n\r\n"
                    "..a\r\nb\n..c\r\n...\r\n.\r\n";
    CHECK_MEM(D.wire, D.wire_len, w, strlen(w));
    CHECK(D.max_chunk <= 5);
    CHECK(smtp_session_init(&S, &c, "t@x", "S", 1, SMTP_PRIO_LOW, (const uint8_t *)"", 0) == 0);
    CHECK(strstr(S.header, "X-Priority: 5 (low)\r\n\r\n") != NULL);
}

static void test_big(void)
{
    /* 1.5 MB of fill pattern through 1024-octet chunks */
    size_t n = 1536u * 1024u;
    uint8_t *body = malloc(n);
    fill_pattern(body, n);
    begin(SMTP_AUTH_NONE, (const char *)body, n);
    SAY("220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    CHECK(D.max_chunk <= 1024);
    /* unstuff what went on the wire and compare */
    size_t hl = S.header_len, o = 0;
    uint8_t *back = malloc(D.wire_len);
    int bol = 1;
    for (size_t i = hl; i < D.wire_len; i++) {
        if (bol && D.wire[i] == '.') {
            if (D.wire[i + 1] == '\r' && i + 3 == D.wire_len) break;
            i++;
        }
        back[o++] = D.wire[i];
        bol = D.wire[i] == '\n' && i > 0 && D.wire[i - 1] == '\r';
    }
    CHECK((o == n || (o == n + 2 && back[n] == '\r' && back[n + 1] == '\n')) && !memcmp(back, body, n));
    if (o != n && o != n + 2) printf("  o=%zu n=%zu wire=%zu hl=%zu\n", o, n, D.wire_len, hl);
    CHECK(D.wire_len > n + hl + n / 56 / 16 - 10);
    free(back);
    free(body);
}

static void expect_err(const char *code, const char *stage, const char *reply)
{
    CHECK_STR(S.res.code, code);
    CHECK_STR(S.res.stage, stage);
    CHECK_STR(S.res.reply, reply);
}

static void test_errors(void)
{
    /* RCPT refused: error names the stage; QUIT; done after its reply */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n250 x\r\n250 ok\r\n550 no such user\r\n");
    CHECK_STR(D.sent + strlen(D.sent) - 6, "QUIT\r\n");
    CHECK(!D.done);
    SAY("221 bye\r\n");
    CHECK(D.done == 1);
    expect_err("server", "rcpt", "550");
    CHECK(strstr(D.sent, "DATA") == NULL);

    /* AUTH refused: auth error, no MAIL */
    begin(SMTP_AUTH_PLAIN, "x", 1);
    SAY("220 x\r\n");
    SAY(EHLO_AUTH);
    SAY("334 \r\n535 5.7.8 bad credentials\r\n221 bye\r\n");
    CHECK(D.done == 1);
    expect_err("auth", "auth", "535");
    CHECK(strstr(D.sent, "MAIL") == NULL);
    begin(SMTP_AUTH_PLAIN, "x", 1);
    SAY("220 x\r\n");
    SAY(EHLO_AUTH);
    SAY("504 unrecognized\r\n221 bye\r\n");
    expect_err("auth", "auth", "504");

    /* every stage */
    static const struct { const char *script, *stage, *reply; } st[] = {
        {"554 no service\r\n", "greeting", "554"},
        {"220 x\r\n502 no\r\n501 bad\r\n", "helo", "501"},
        {"220 x\r\n250 x\r\n451 later\r\n", "mail", "451"},
        {"220 x\r\n250 x\r\n250 ok\r\n450 later\r\n", "rcpt", "450"},
        {"220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n554 no data\r\n", "data", "554"},
        {"220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n552 too big\r\n", "message", "552"},
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        begin(SMTP_AUTH_NONE, "x", 1);
        SAY(st[i].script);
        CHECK(!D.done);
        CHECK_STR(D.sent + strlen(D.sent) - 6, "QUIT\r\n");
        SAY("221 bye\r\n");
        CHECK(D.done == 1);
        expect_err("server", st[i].stage, st[i].reply);
    }
    /* 421: the server is closing; no QUIT */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n421 busy\r\n");
    CHECK(D.done == 1);
    expect_err("server", "ehlo", "421");
    CHECK_STR(D.sent, "EHLO device.local\r\n");
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("421 not now\r\n");
    CHECK(D.done == 1 && D.sent_len == 0);
    expect_err("server", "greeting", "421");
    /* QUIT refused after the mail was accepted */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n500 eh\r\n");
    expect_err("server", "quit", "500");
    /* the connection drops: the glue reports it at the current stage */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n250 x\r\n");
    smtp_session_fail(&S, "closed", "reset");
    expect_err("closed", "mail", "");
    /* dropped while QUITting after an error: the first error stays */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n250 x\r\n550 no\r\n");
    smtp_session_fail(&S, "closed", "reset");
    expect_err("server", "mail", "550");
}

static void test_malformed(void)
{
    static const struct { const char *script, *stage; } m[] = {
        {"hello\r\n", "greeting"},
        {"22\r\n", "greeting"},
        {"220x\r\n", "greeting"},
        {"999 what\r\n", "greeting"},
        {"120 wait\r\n", "greeting"},
        {"220 x\r\n250-a\r\n251 b\r\n", "ehlo"},   /* code changes mid-reply */
        {"220 x\r\n250-a\n250 b\r\n", "ehlo"},     /* bare LF */
        {"220 x\r\n354 what\r\n", "ehlo"},         /* wrong positive code */
        {"220 x\r\n250 x\r\n250 ok\r\n250 ok\r\n250 no 354\r\n", "data"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        begin(SMTP_AUTH_NONE, "x", 1);
        SAY(m[i].script);
        CHECK(D.done == 1);
        expect_err("proto", m[i].stage, "");
    }
    /* an over-long reply line */
    static char longl[2000];
    memset(longl, 'a', sizeof longl);
    memcpy(longl, "220 ", 4);
    begin(SMTP_AUTH_NONE, "x", 1);
    feed(longl, sizeof longl, 3);
    CHECK(D.done == 1);
    expect_err("proto", "greeting", "");
    /* a long multi-line EHLO reply is fine, each line within 512 */
    begin(SMTP_AUTH_NONE, "x", 1);
    SAY("220 x\r\n");
    for (int i = 0; i < 200; i++) SAY("250-SOMETHING-LONG-ENOUGH-TO-MATTER abcdefghijklmnopqrstuvwxyz\r\n");
    SAY("250 last\r\n");
    CHECK(!D.done);
    CHECK_STR(D.sent + strlen(D.sent) - 29, "MAIL FROM:<joe@example.com>\r\n");
    /* argument checks */
    smtp_config_t c = cfg(SMTP_AUTH_NONE);
    char lng[1200];
    memset(lng, 'a', sizeof lng);
    lng[500] = 0; /* RCPT TO:<500> CRLF = 512 */
    CHECK(smtp_session_init(&S, &c, lng, "s", 1, SMTP_PRIO_NORMAL, NULL, 0) == 0);
    lng[500] = 'a';
    lng[501] = 0;
    CHECK(smtp_session_init(&S, &c, lng, "s", 1, SMTP_PRIO_NORMAL, NULL, 0) == -1);
    CHECK(smtp_session_init(&S, &c, "a\r\nb", "s", 1, SMTP_PRIO_NORMAL, NULL, 0) == -2);
    CHECK(smtp_session_init(&S, &c, "a", "s\r\n.", 4, SMTP_PRIO_NORMAL, NULL, 0) == -2);
    memset(lng, 'a', sizeof lng);
    CHECK(smtp_session_init(&S, &c, "a", lng, 989, SMTP_PRIO_NORMAL, NULL, 0) == 0);
    CHECK(smtp_session_init(&S, &c, "a", lng, 990, SMTP_PRIO_NORMAL, NULL, 0) == -1);
    smtp_config_t big = c;
    big.auth = SMTP_AUTH_PLAIN;
    lng[379] = 0;
    big.user = lng; /* 2 + 379 + strlen("secret") > 381 */
    CHECK(smtp_config_check(&big) == -1);
    big.auth = SMTP_AUTH_NONE;
    CHECK(smtp_config_check(&big) == 0);
}

void test_smtp(void)
{
    test_happy();
    test_big();
    test_errors();
    test_malformed();
}
