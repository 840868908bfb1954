#include "pop3_session.h"
#include "md5.h"
#include <string.h>
#include <stdio.h>

static const char *const stage_names[] = {
    [POP3_S_GREETING] = "greeting", [POP3_S_APOP] = "apop", [POP3_S_USER] = "user",
    [POP3_S_PASS] = "pass", [POP3_S_IDLE] = "idle", [POP3_S_STAT] = "stat",
    [POP3_S_LIST] = "list", [POP3_S_RETR] = "retr", [POP3_S_RETR_DATA] = "retr",
    [POP3_S_DELE] = "dele", [POP3_S_RSET] = "rset", [POP3_S_NOOP] = "noop",
    [POP3_S_QUIT] = "quit", [POP3_S_CLOSED] = "closed",
};

const char *pop3_stage_name(pop3_state_t st) { return stage_names[st]; }
int pop3_session_idle(const pop3_session_t *s) { return s->st == POP3_S_IDLE; }

static int bad_cred(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == 0) return 1;
    return 0;
}

int pop3_session_init(pop3_session_t *s, const char *user, size_t ulen,
                      const char *pass, size_t plen, int apop, size_t max_cmd)
{
    memset(s, 0, sizeof *s);
    s->st = POP3_S_GREETING;
    if (max_cmd > POP3_CMD_MAX) max_cmd = POP3_CMD_MAX;
    if (bad_cred(user, ulen) || bad_cred(pass, plen)) return -2;
    if (ulen > POP3_CRED_MAX || plen > POP3_CRED_MAX) return -1;
    if (5 + ulen + 2 > max_cmd || 5 + plen + 2 > max_cmd) return -1;
    if (apop && 6 + ulen + 32 + 2 > max_cmd) return -1;
    memcpy(s->user, user, ulen);
    memcpy(s->pass, pass, plen);
    s->want_apop = apop ? 1 : 0;
    lines_init(&s->lines, s->line, sizeof s->line);
    return 0;
}

static void set_cmd(pop3_session_t *s, const char *verb, const char *arg)
{
    int n = arg ? snprintf(s->cmd, sizeof s->cmd, "%s %s\r\n", verb, arg)
                : snprintf(s->cmd, sizeof s->cmd, "%s\r\n", verb);
    s->cmd_len = (size_t)n; /* lengths were checked in init / are small */
}

static pop3_ev_t finish(pop3_session_t *s, pop3_state_t next, const char *code,
                        const char *msg, const char *reply, int fatal)
{
    s->res.code = code;
    s->res.stage = stage_names[s->st];
    s->res.msg = msg;
    snprintf(s->res.reply, sizeof s->res.reply, "%s", reply ? reply : "");
    s->res.fatal = (uint8_t)fatal;
    s->st = fatal ? POP3_S_CLOSED : next;
    return POP3_EV_DONE;
}

void pop3_session_fail(pop3_session_t *s, const char *code, const char *msg)
{
    if (s->st == POP3_S_CLOSED) s->res.stage = "closed";
    else s->res.stage = stage_names[s->st];
    s->res.code = code;
    s->res.msg = msg;
    s->res.reply[0] = 0;
    s->res.fatal = 1;
    s->st = POP3_S_CLOSED;
}

/* Parse one decimal u32 at *p (after optional spaces); 0 ok, -1 bad. */
static int parse_u32(const char **p, uint32_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int digits = 0;
    while (*q == ' ') q++;
    while (*q >= '0' && *q <= '9') {
        v = v * 10 + (uint64_t)(*q++ - '0');
        if (v > 0xffffffffu || ++digits > 10) return -1;
    }
    if (!digits || (*q != ' ' && *q != 0)) return -1;
    *out = (uint32_t)v;
    *p = q;
    return 0;
}

/* The APOP timestamp: "<...>" in the greeting, brackets included. */
static int find_timestamp(const char *line, const char **ts, size_t *len)
{
    const char *lt = strchr(line, '<');
    if (!lt) return 0;
    const char *gt = strchr(lt + 1, '>');
    if (!gt || gt == lt + 1) return 0;
    for (const char *c = lt + 1; c < gt; c++)
        if (*c == ' ' || *c == '<' || (unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
            return 0;
    *ts = lt;
    *len = (size_t)(gt - lt + 1);
    return 1;
}

static pop3_ev_t on_line(pop3_session_t *s)
{
    const char *l = s->line;
    size_t n = s->lines.len;
    int ok = n >= 3 && !memcmp(l, "+OK", 3) && (n == 3 || l[3] == ' ');
    int err = n >= 4 && !memcmp(l, "-ERR", 4) && (n == 4 || l[4] == ' ');
    if (!ok && !err) return finish(s, POP3_S_CLOSED, "proto", "bad status line", NULL, 1);

    switch (s->st) {
    case POP3_S_GREETING: {
        const char *ts;
        size_t tlen;
        if (err) return finish(s, POP3_S_CLOSED, "server", "greeting refused", "-ERR", 1);
        if (s->want_apop && find_timestamp(l, &ts, &tlen)) {
            md5_ctx_t c;
            uint8_t d[16];
            char arg[POP3_CRED_MAX + 40];
            md5_init(&c);
            md5_update(&c, ts, tlen);
            md5_update(&c, s->pass, strlen(s->pass));
            md5_final(&c, d);
            size_t ul = strlen(s->user);
            memcpy(arg, s->user, ul);
            arg[ul] = ' ';
            md5_hex(d, arg + ul + 1);
            set_cmd(s, "APOP", arg);
            s->st = POP3_S_APOP;
        } else {
            set_cmd(s, "USER", s->user);
            s->st = POP3_S_USER;
        }
        return POP3_EV_SEND;
    }
    case POP3_S_APOP:
        if (ok) {
            s->res.apop = 1;
            return finish(s, POP3_S_IDLE, NULL, NULL, NULL, 0);
        }
        set_cmd(s, "USER", s->user); /* NetX: APOP refused -> USER/PASS */
        s->st = POP3_S_USER;
        return POP3_EV_SEND;
    case POP3_S_USER:
        if (err) return finish(s, POP3_S_CLOSED, "auth", "USER refused", "-ERR", 1);
        set_cmd(s, "PASS", s->pass);
        s->st = POP3_S_PASS;
        return POP3_EV_SEND;
    case POP3_S_PASS:
        if (err) return finish(s, POP3_S_CLOSED, "auth", "PASS refused", "-ERR", 1);
        s->res.apop = 0;
        return finish(s, POP3_S_IDLE, NULL, NULL, NULL, 0);
    case POP3_S_STAT:
    case POP3_S_LIST: {
        const char *p = l + 3;
        uint32_t a, b;
        if (err) return finish(s, POP3_S_IDLE, "server", NULL, "-ERR", 0);
        if (parse_u32(&p, &a) || parse_u32(&p, &b))
            return finish(s, POP3_S_IDLE, "proto", "bad number in reply", NULL, 0);
        if (s->st == POP3_S_LIST && a != s->arg)
            return finish(s, POP3_S_IDLE, "proto", "LIST answered another item", NULL, 0);
        s->res.a = a;
        s->res.b = b;
        return finish(s, POP3_S_IDLE, NULL, NULL, NULL, 0);
    }
    case POP3_S_RETR:
        if (err) return finish(s, POP3_S_IDLE, "server", NULL, "-ERR", 0);
        unstuff_init(&s->un);
        s->piece_len = 0;
        s->st = POP3_S_RETR_DATA;
        return POP3_EV_NONE;
    case POP3_S_DELE:
    case POP3_S_RSET:
    case POP3_S_NOOP:
        return finish(s, POP3_S_IDLE, err ? "server" : NULL, NULL, err ? "-ERR" : NULL, 0);
    case POP3_S_QUIT:
        /* either way the session ends here and the connection is closed */
        return finish(s, POP3_S_CLOSED, err ? "server" : NULL, NULL, err ? "-ERR" : NULL, 0);
    default:
        return POP3_EV_NONE;
    }
}

pop3_ev_t pop3_session_feed(pop3_session_t *s, const uint8_t *in, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        size_t u = 0;
        if (s->st == POP3_S_RETR_DATA) {
            size_t w = unstuff_decode(&s->un, in + i, n - i, &u, s->piece + s->piece_len,
                                      sizeof s->piece - s->piece_len);
            i += u;
            s->piece_len += w;
            if (s->un.done) {
                *used = i;
                s->res.retr_done = 1;
                return finish(s, POP3_S_IDLE, NULL, NULL, NULL, 0);
            }
            if (sizeof s->piece - s->piece_len < 2) {
                *used = i;
                return POP3_EV_PIECE;
            }
            continue;
        }
        if (s->st == POP3_S_IDLE || s->st == POP3_S_CLOSED) {
            i = n; /* nothing outstanding: unsolicited bytes are dropped */
            break;
        }
        lines_rc_t rc = lines_feed(&s->lines, in + i, n - i, &u);
        i += u;
        if (rc == LINES_MORE) break;
        if (rc != LINES_LINE) {
            *used = i;
            return finish(s, POP3_S_CLOSED, "proto",
                          rc == LINES_TOOLONG ? "reply line too long" : "bare LF or NUL in reply",
                          NULL, 1);
        }
        pop3_ev_t ev = on_line(s);
        if (ev != POP3_EV_NONE) {
            *used = i;
            return ev;
        }
    }
    *used = i;
    return POP3_EV_NONE;
}

int pop3_session_start(pop3_session_t *s, pop3_op_t op, uint32_t n)
{
    char num[12];
    if (s->st != POP3_S_IDLE) return -1;
    memset(&s->res, 0, sizeof s->res);
    s->arg = n;
    snprintf(num, sizeof num, "%lu", (unsigned long)n);
    lines_reset(&s->lines);
    switch (op) {
    case POP3_OP_STAT: set_cmd(s, "STAT", NULL); s->st = POP3_S_STAT; break;
    case POP3_OP_LIST: set_cmd(s, "LIST", num); s->st = POP3_S_LIST; break;
    case POP3_OP_RETR: set_cmd(s, "RETR", num); s->st = POP3_S_RETR; break;
    case POP3_OP_DELE: set_cmd(s, "DELE", num); s->st = POP3_S_DELE; break;
    case POP3_OP_RSET: set_cmd(s, "RSET", NULL); s->st = POP3_S_RSET; break;
    case POP3_OP_NOOP: set_cmd(s, "NOOP", NULL); s->st = POP3_S_NOOP; break;
    case POP3_OP_QUIT: set_cmd(s, "QUIT", NULL); s->st = POP3_S_QUIT; break;
    default: return -1;
    }
    return 0;
}
