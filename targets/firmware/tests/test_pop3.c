/* POP3 session machine: logins (USER/PASS, APOP, fallbacks), transaction
 * commands, RETR however the reply is split, -ERR and malformed replies. */
#include "t.h"
#include <stdint.h>
#include <stdlib.h>
#include "../proto/pop3_session.h"
#include "../sdk/md5.h"

typedef struct {
    char sent[2048];
    size_t sent_len;
    uint8_t data[70000];
    size_t data_len;
    int pieces, finals, done;
    size_t max_piece;
    pop3_result_t res;
} drv_t;

static void take(pop3_session_t *s, drv_t *d, int final)
{
    memcpy(d->data + d->data_len, s->piece, s->piece_len);
    d->data_len += s->piece_len;
    if (s->piece_len > d->max_piece) d->max_piece = s->piece_len;
    d->pieces++;
    d->finals += final;
    pop3_piece_take(s);
}

/* Feed in chunks of `split` bytes, acting like net/pop3_client.c. */
static void feed(pop3_session_t *s, drv_t *d, const void *in, size_t n, size_t split)
{
    const uint8_t *p = in;
    for (size_t off = 0; off < n; off += split) {
        size_t k = n - off < split ? n - off : split;
        const uint8_t *c = p + off;
        while (k) {
            size_t used;
            pop3_ev_t ev = pop3_session_feed(s, c, k, &used);
            c += used;
            k -= used;
            if (ev == POP3_EV_SEND) {
                CHECK(s->cmd_len >= 2 && s->cmd[s->cmd_len - 2] == '\r' && s->cmd[s->cmd_len - 1] == '\n');
                CHECK(s->cmd_len <= 120);
                memcpy(d->sent + d->sent_len, s->cmd, s->cmd_len);
                d->sent_len += s->cmd_len;
                d->sent[d->sent_len] = 0;
            } else if (ev == POP3_EV_PIECE) {
                take(s, d, 0);
            } else if (ev == POP3_EV_DONE) {
                if (s->res.retr_done) take(s, d, 1);
                d->res = s->res;
                d->done++;
            }
        }
        if (s->st == POP3_S_RETR_DATA && s->piece_len) take(s, d, 0);
    }
}

static void start(pop3_session_t *s, drv_t *d, pop3_op_t op, uint32_t n)
{
    CHECK(pop3_session_start(s, op, n) == 0);
    memcpy(d->sent + d->sent_len, s->cmd, s->cmd_len);
    d->sent_len += s->cmd_len;
    d->sent[d->sent_len] = 0;
    d->done = 0;
}

static pop3_session_t S;
static drv_t D;

static void login(const char *user, const char *pass, int apop, const char *greeting)
{
    memset(&D, 0, sizeof D);
    CHECK(pop3_session_init(&S, user, strlen(user), pass, strlen(pass), apop, 120) == 0);
    feed(&S, &D, greeting, strlen(greeting), 1000);
}

#define SAY(str) feed(&S, &D, str, strlen(str), 1000)

static void test_logins(void)
{
    /* USER/PASS */
    login("mrose", "mvan99", 0, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    CHECK_STR(D.sent, "USER mrose\r\n");
    SAY("+OK mrose is valid\r\n");
    CHECK_STR(D.sent, "USER mrose\r\nPASS mvan99\r\n");
    CHECK(!D.done);
    SAY("+OK mrose is logged in\r\n");
    CHECK(D.done == 1 && !D.res.code && !D.res.apop && pop3_session_idle(&S));

    /* APOP, RFC 1939's example */
    login("mrose", "tanstaaf", 1, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    CHECK_STR(D.sent, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    SAY("+OK maildrop has 1 message\r\n");
    CHECK(D.done == 1 && !D.res.code && D.res.apop);

    /* APOP refused: USER/PASS */
    login("mrose", "tanstaaf", 1, "+OK <1.2@x>\r\n");
    SAY("-ERR permission denied\r\n");
    CHECK(!D.done);
    SAY("+OK\r\n+OK\r\n");
    CHECK_STR(D.sent + strlen("APOP mrose ") + 34, "USER mrose\r\nPASS tanstaaf\r\n");
    CHECK(D.done == 1 && !D.res.code && !D.res.apop);

    /* APOP wanted, no timestamp: USER/PASS, never APOP */
    login("u", "p", 1, "+OK no stamp here\r\n");
    CHECK_STR(D.sent, "USER u\r\n");
    login("u", "p", 1, "+OK broken <> stamp\r\n");
    CHECK_STR(D.sent, "USER u\r\n");
    login("u", "p", 1, "+OK broken <abc stamp\r\n");
    CHECK_STR(D.sent, "USER u\r\n");

    /* credentials refused: auth error, nothing more sent */
    login("u", "bad", 0, "+OK\r\n");
    SAY("+OK\r\n-ERR invalid password\r\n");
    CHECK(D.done == 1);
    CHECK_STR(D.res.code, "auth");
    CHECK_STR(D.res.stage, "pass");
    CHECK_STR(D.res.reply, "-ERR");
    CHECK(D.res.fatal && S.st == POP3_S_CLOSED);
    CHECK(pop3_session_start(&S, POP3_OP_STAT, 0) == -1);
    login("nobody", "x", 0, "+OK\r\n");
    SAY("-ERR no such user\r\n");
    CHECK_STR(D.res.code, "auth");
    CHECK_STR(D.res.stage, "user");
    CHECK_STR(D.sent, "USER nobody\r\n");

    /* APOP refused, then USER/PASS refused too */
    login("u", "p", 1, "+OK <a@b>\r\n");
    SAY("-ERR\r\n-ERR\r\n");
    CHECK_STR(D.res.code, "auth");

    /* greeting -ERR */
    login("u", "p", 0, "-ERR go away\r\n");
    CHECK_STR(D.res.code, "server");
    CHECK_STR(D.res.stage, "greeting");

    /* no transaction command before login completes */
    login("u", "p", 0, "+OK\r\n");
    CHECK(pop3_session_start(&S, POP3_OP_STAT, 0) == -1);

    /* payload limit: USER is the longest command */
    char user[200];
    memset(user, 'u', sizeof user);
    CHECK(pop3_session_init(&S, user, 113, "p", 1, 0, 120) == 0);  /* USER + 113 + CRLF = 120 */
    CHECK(pop3_session_init(&S, user, 114, "p", 1, 0, 120) == -1);
    CHECK(pop3_session_init(&S, user, 80, "p", 1, 1, 120) == 0);   /* APOP u digest = 120 */
    CHECK(pop3_session_init(&S, user, 81, "p", 1, 1, 120) == -1);
    CHECK(pop3_session_init(&S, "a\r\nb", 4, "p", 1, 0, 120) == -2);
    CHECK(pop3_session_init(&S, "a", 1, "p\0", 2, 0, 120) == -2);
}

static const char MSG1_WIRE[] =
    "+OK 120 octets\r\n"
    "From: a@b\r\n"
    "\r\n"
    "..leading dot\r\n"
    "...two dots\r\n"
    ".\r"  /* not the end: a stuffed line beginning with CR */
    "x\r\n"
    "last line\r\n"
    ".\r\n";
static const char MSG1[] = "From: a@b\r\n\r\n.leading dot\r\n..two dots\r\n\rx\r\nlast line\r\n";

static void test_transaction(void)
{
    login("u", "p", 0, "+OK\r\n");
    SAY("+OK\r\n+OK\r\n");
    D.sent_len = 0;

    start(&S, &D, POP3_OP_STAT, 0);
    CHECK_STR(D.sent, "STAT\r\n");
    SAY("+OK 2 320\r\n");
    CHECK(D.done == 1 && !D.res.code && D.res.a == 2 && D.res.b == 320);

    start(&S, &D, POP3_OP_LIST, 2);
    SAY("+OK 2 200\r\n");
    CHECK(D.done == 1 && !D.res.code && D.res.a == 2 && D.res.b == 200);

    /* non-numeric / overflowing counts: a clear error, session usable */
    start(&S, &D, POP3_OP_STAT, 0);
    SAY("+OK two 320\r\n");
    CHECK_STR(D.res.code, "proto");
    CHECK(pop3_session_idle(&S));
    start(&S, &D, POP3_OP_STAT, 0);
    SAY("+OK 4294967296 1\r\n");
    CHECK_STR(D.res.code, "proto");
    start(&S, &D, POP3_OP_STAT, 0);
    SAY("+OK 4294967295 7x\r\n");
    CHECK_STR(D.res.code, "proto");
    start(&S, &D, POP3_OP_STAT, 0);
    SAY("+OK\r\n");
    CHECK_STR(D.res.code, "proto");
    start(&S, &D, POP3_OP_LIST, 3);
    SAY("+OK 4 100\r\n");
    CHECK_STR(D.res.code, "proto");

    /* -ERR to a transaction command: server error with its stage, still usable */
    static const struct { pop3_op_t op; const char *stage; } e[] = {
        {POP3_OP_STAT, "stat"}, {POP3_OP_LIST, "list"}, {POP3_OP_RETR, "retr"},
        {POP3_OP_DELE, "dele"}, {POP3_OP_RSET, "rset"}, {POP3_OP_NOOP, "noop"},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        start(&S, &D, e[i].op, 9);
        SAY("-ERR no such message\r\n");
        CHECK(D.done == 1);
        CHECK_STR(D.res.code, "server");
        CHECK_STR(D.res.reply, "-ERR");
        CHECK_STR(D.res.stage, e[i].stage);
        CHECK(pop3_session_idle(&S));
    }

    /* DELE, RSET, NOOP */
    D.sent_len = 0;
    start(&S, &D, POP3_OP_DELE, 1);
    SAY("+OK message 1 deleted\r\n");
    CHECK(D.done == 1 && !D.res.code);
    start(&S, &D, POP3_OP_RSET, 0);
    SAY("+OK\r\n");
    start(&S, &D, POP3_OP_NOOP, 0);
    SAY("+OK\r\n");
    CHECK(D.done == 1 && !D.res.code);
    CHECK_STR(D.sent, "DELE 1\r\nRSET\r\nNOOP\r\n");

    /* one command at a time */
    start(&S, &D, POP3_OP_NOOP, 0);
    CHECK(pop3_session_start(&S, POP3_OP_STAT, 0) == -1);
    SAY("+OK\r\n");

    /* RETR, split every possible way */
    for (size_t split = 1; split <= sizeof MSG1_WIRE; split++) {
        D.data_len = 0;
        D.pieces = D.finals = 0;
        start(&S, &D, POP3_OP_RETR, 1);
        feed(&S, &D, MSG1_WIRE, strlen(MSG1_WIRE), split);
        CHECK(D.done == 1 && !D.res.code);
        CHECK_MEM(D.data, D.data_len, MSG1, strlen(MSG1));
        if (D.data_len != strlen(MSG1)) printf("  split %zu\n", split);
        CHECK(D.finals == 1 && D.pieces >= 1);
        CHECK(pop3_session_idle(&S));
    }

    /* a big message: pieces bounded by the piece buffer, bytes exact */
    static char big[65000], wire[70000];
    size_t bl = 0, wl;
    for (int k = 0; bl < 60000; k++) bl += (size_t)sprintf(big + bl, "%sline %d\r\n", k % 7 ? "" : ".", k);
    wl = (size_t)sprintf(wire, "+OK\r\n");
    for (size_t i = 0; i < bl; i++) {
        if (big[i] == '.' && (i == 0 || big[i - 1] == '\n')) wire[wl++] = '.';
        wire[wl++] = big[i];
    }
    wl += (size_t)sprintf(wire + wl, ".\r\n");
    static const size_t splits[] = {1, 2, 536, 1460, 4000, 70000};
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
        D.data_len = 0;
        D.pieces = D.finals = 0;
        D.max_piece = 0;
        start(&S, &D, POP3_OP_RETR, 2);
        feed(&S, &D, wire, wl, splits[i]);
        CHECK(D.done == 1 && !D.res.code && D.finals == 1);
        CHECK_MEM(D.data, D.data_len, big, bl);
        CHECK(D.max_piece <= POP3_PIECE_MAX);
        CHECK(D.pieces >= (int)(bl / POP3_PIECE_MAX));
    }

    /* bytes with nothing outstanding are dropped, the session stays in step */
    SAY("junk\r\n");
    start(&S, &D, POP3_OP_NOOP, 0);
    SAY("+OK\r\n");
    CHECK(D.done == 1 && !D.res.code);

    /* QUIT */
    start(&S, &D, POP3_OP_QUIT, 0);
    SAY("+OK bye\r\n");
    CHECK(D.done == 1 && !D.res.code && S.st == POP3_S_CLOSED);
}

static void test_malformed(void)
{
    char line[700];
    /* over-long reply line: proto error, session over */
    login("u", "p", 0, "+OK\r\n");
    memset(line, 'x', sizeof line);
    memcpy(line, "+OK ", 4);
    feed(&S, &D, line, sizeof line, 7);
    CHECK_STR(D.res.code, "proto");
    CHECK(D.res.fatal);
    /* the 512-octet line is fine */
    login("u", "p", 0, "+OK\r\n");
    memcpy(line + 510, "\r\n", 2);
    feed(&S, &D, line, 512, 512);
    CHECK_STR(D.sent, "USER u\r\nPASS p\r\n");
    CHECK(!D.res.code);
    /* bare LF */
    login("u", "p", 0, "+OK hello\n");
    CHECK_STR(D.res.code, "proto");
    /* neither +OK nor -ERR */
    login("u", "p", 0, "HELLO\r\n");
    CHECK_STR(D.res.code, "proto");
    CHECK_STR(D.res.stage, "greeting");
    login("u", "p", 0, "+OKAY\r\n");
    CHECK_STR(D.res.code, "proto");
    /* connection lost mid-RETR */
    login("u", "p", 0, "+OK\r\n");
    SAY("+OK\r\n+OK\r\n");
    start(&S, &D, POP3_OP_RETR, 1);
    SAY("+OK\r\npartial");
    pop3_session_fail(&S, "closed", "reset");
    CHECK_STR(S.res.code, "closed");
    CHECK_STR(S.res.stage, "retr");
    CHECK(S.st == POP3_S_CLOSED);
    /* missing CRLF on the terminator: no completion (the glue times out) */
    login("u", "p", 0, "+OK\r\n");
    SAY("+OK\r\n+OK\r\n");
    start(&S, &D, POP3_OP_RETR, 1);
    SAY("+OK\r\nbody\r\n.");
    CHECK(D.done == 0);
}

void test_pop3(void)
{
    test_logins();
    test_transaction();
    test_malformed();
}
