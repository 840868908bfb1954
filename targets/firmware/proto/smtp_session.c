#include "smtp_session.h"
#include "base64.h"
#include <string.h>
#include <stdio.h>

static const char *const stage_names[] = {
    [SMTP_S_GREETING] = "greeting", [SMTP_S_EHLO] = "ehlo", [SMTP_S_HELO] = "helo",
    [SMTP_S_AUTH_PLAIN] = "auth", [SMTP_S_AUTH_PLAIN_RESP] = "auth", [SMTP_S_AUTH_LOGIN] = "auth",
    [SMTP_S_MAIL] = "mail", [SMTP_S_RCPT] = "rcpt", [SMTP_S_DATA] = "data",
    [SMTP_S_MESSAGE] = "message", [SMTP_S_QUIT] = "quit", [SMTP_S_DONE] = "done",
};

const char *smtp_stage_name(smtp_state_t st) { return stage_names[st]; }

static int bad_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == 0) return 1;
    return 0;
}

int smtp_config_check(const smtp_config_t *c)
{
    size_t u = strlen(c->user), p = strlen(c->pass);
    if (strlen(c->domain) + 7 > SMTP_CMD_MAX) return -1;  /* "EHLO " d CRLF */
    if (strlen(c->from) + 14 > SMTP_CMD_MAX) return -1;   /* "MAIL FROM:<" f ">" CRLF */
    if (c->auth != SMTP_AUTH_NONE && 2 + u + p > 381) return -1; /* base64 + CRLF <= 512 */
    return 0;
}

int smtp_session_init(smtp_session_t *s, const smtp_config_t *cfg, const char *to,
                      const char *subject, size_t subject_len, smtp_prio_t prio,
                      const uint8_t *body, size_t body_len)
{
    static const char *const prio_hdr[] = {"", "X-Priority: 1 (high)\r\n", "X-Priority: 5 (low)\r\n"};
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (bad_text(subject, subject_len) || bad_text(to, strlen(to))) return -2;
    if (smtp_config_check(cfg)) return -1;
    if (strlen(to) + 12 > SMTP_CMD_MAX) return -1;          /* "RCPT TO:<" t ">" CRLF */
    if (subject_len + 11 > SMTP_TEXT_MAX) return -1;        /* "Subject: " s CRLF */
    int n = snprintf(s->header, sizeof s->header, "From: %s\r\nTo: %s\r\nSubject: ", cfg->from, to);
    if (n < 0 || (size_t)n + subject_len + 2 + 24 + 2 >= sizeof s->header) return -1;
    memcpy(s->header + n, subject, subject_len);
    n += (int)subject_len;
    n += snprintf(s->header + n, sizeof s->header - (size_t)n, "\r\n%s\r\n", prio_hdr[prio]);
    s->header_len = (size_t)n;
    s->to = to;
    s->body = body;
    s->body_len = body_len;
    s->st = SMTP_S_GREETING;
    s->first_line = 1;
    lines_init(&s->lines, s->line, sizeof s->line);
    return 0;
}

static smtp_ev_t done(smtp_session_t *s, const char *code, const char *msg, int reply)
{
    if (!s->failed) {
        s->res.code = code;
        s->res.stage = code ? stage_names[s->st] : NULL;
        s->res.msg = msg;
        if (reply) snprintf(s->res.reply, sizeof s->res.reply, "%03d", reply % 1000);
    }
    s->st = SMTP_S_DONE;
    return SMTP_EV_DONE;
}

void smtp_session_fail(smtp_session_t *s, const char *code, const char *msg)
{
    if (s->st != SMTP_S_DONE) done(s, code, msg, 0);
}

static smtp_ev_t send_cmd(smtp_session_t *s, smtp_state_t next, const char *fmt, const char *arg)
{
    int n = snprintf(s->cmd, sizeof s->cmd, fmt, arg);
    s->cmd_len = (size_t)n; /* lengths were checked at init */
    s->st = next;
    return SMTP_EV_SEND;
}

/* A 4xx/5xx: record it, then QUIT; the session ends after QUIT's reply.
 * 421 means the server is closing the channel (RFC 5321 3.8): no QUIT. */
static smtp_ev_t fail_reply(smtp_session_t *s, const char *code, int reply)
{
    done(s, code, "server refused", reply);
    if (reply == 421) return SMTP_EV_DONE;
    s->failed = 1;
    return send_cmd(s, SMTP_S_QUIT, "QUIT\r\n", NULL);
}

static smtp_ev_t proto(smtp_session_t *s, const char *msg) { return done(s, "proto", msg, 0); }

static smtp_ev_t send_b64(smtp_session_t *s, smtp_state_t next, const uint8_t *raw, size_t n)
{
    size_t k = base64_encode(raw, n, s->cmd);
    memcpy(s->cmd + k, "\r\n", 3);
    s->cmd_len = k + 2;
    s->st = next;
    return SMTP_EV_SEND;
}

static smtp_ev_t after_hello(smtp_session_t *s)
{
    smtp_auth_t a = s->cfg.auth;
    if (a == SMTP_AUTH_NONE)
        return send_cmd(s, SMTP_S_MAIL, "MAIL FROM:<%s>\r\n", s->cfg.from);
    if (s->adv_auth) {
        if (a == SMTP_AUTH_PLAIN && !s->adv_plain && s->adv_login) a = SMTP_AUTH_LOGIN;
        else if (a == SMTP_AUTH_LOGIN && !s->adv_login && s->adv_plain) a = SMTP_AUTH_PLAIN;
    } else {
        a = SMTP_AUTH_PLAIN; /* nothing advertised: PLAIN (NetX) */
    }
    s->use_auth = a;
    if (a == SMTP_AUTH_LOGIN) {
        s->login_step = 0;
        return send_cmd(s, SMTP_S_AUTH_LOGIN, "AUTH LOGIN\r\n", NULL);
    }
    return send_cmd(s, SMTP_S_AUTH_PLAIN, "AUTH PLAIN\r\n", NULL);
}

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'a' && x <= 'z') x = (char)(x - 32);
        if (y >= 'a' && y <= 'z') y = (char)(y - 32);
        if (x != y) return 0;
    }
    return 1;
}

/* An EHLO keyword line: note AUTH and its PLAIN / LOGIN mechanisms. */
static void ehlo_keyword(smtp_session_t *s, const char *t)
{
    if (!ieq(t, "AUTH", 4) || (t[4] != ' ' && t[4] != '=')) return;
    s->adv_auth = 1;
    t += 5;
    while (*t) {
        while (*t == ' ' || *t == '=') t++;
        size_t n = strcspn(t, " =");
        if (n == 5 && ieq(t, "PLAIN", 5)) s->adv_plain = 1;
        if (n == 5 && ieq(t, "LOGIN", 5)) s->adv_login = 1;
        t += n;
    }
}

static smtp_ev_t login_answer(smtp_session_t *s, const char *text)
{
    uint8_t prompt[64];
    const char *what = s->login_step == 0 ? s->cfg.user : s->cfg.pass;
    long n = base64_decode(text, strlen(text), prompt, sizeof prompt - 1);
    if (n > 0) {
        prompt[n] = 0;
        for (long i = 0; i < n; i++)
            if (prompt[i] >= 'A' && prompt[i] <= 'Z') prompt[i] = (uint8_t)(prompt[i] + 32);
        if (strstr((char *)prompt, "pass")) what = s->cfg.pass;
        else if (strstr((char *)prompt, "user") || strstr((char *)prompt, "name")) what = s->cfg.user;
    }
    s->login_step++;
    return send_b64(s, SMTP_S_AUTH_LOGIN, (const uint8_t *)what, strlen(what));
}

static smtp_ev_t on_reply(smtp_session_t *s, int code, const char *text)
{
    int cls = code / 100;
    int bad = cls == 4 || cls == 5;
    const char *autherr = "auth";
    switch (s->st) {
    case SMTP_S_GREETING:
        if (code == 220) return send_cmd(s, SMTP_S_EHLO, "EHLO %s\r\n", s->cfg.domain);
        break;
    case SMTP_S_EHLO:
        if (code == 250) return after_hello(s);
        if (cls == 5) { /* EHLO not understood: HELO */
            s->adv_auth = s->adv_plain = s->adv_login = 0;
            return send_cmd(s, SMTP_S_HELO, "HELO %s\r\n", s->cfg.domain);
        }
        break;
    case SMTP_S_HELO:
        if (code == 250) return after_hello(s);
        break;
    case SMTP_S_AUTH_PLAIN:
        if (code == 334) {
            uint8_t raw[384];
            size_t u = strlen(s->cfg.user), p = strlen(s->cfg.pass);
            raw[0] = 0;
            memcpy(raw + 1, s->cfg.user, u);
            raw[1 + u] = 0;
            memcpy(raw + 2 + u, s->cfg.pass, p);
            return send_b64(s, SMTP_S_AUTH_PLAIN_RESP, raw, 2 + u + p);
        }
        if (bad) return fail_reply(s, autherr, code);
        break;
    case SMTP_S_AUTH_PLAIN_RESP:
        if (code == 235) return send_cmd(s, SMTP_S_MAIL, "MAIL FROM:<%s>\r\n", s->cfg.from);
        if (bad) return fail_reply(s, autherr, code);
        break;
    case SMTP_S_AUTH_LOGIN:
        if (code == 334 && s->login_step < 2) return login_answer(s, text);
        if (code == 235 && s->login_step == 2)
            return send_cmd(s, SMTP_S_MAIL, "MAIL FROM:<%s>\r\n", s->cfg.from);
        if (bad) return fail_reply(s, autherr, code);
        break;
    case SMTP_S_MAIL:
        if (code == 250) return send_cmd(s, SMTP_S_RCPT, "RCPT TO:<%s>\r\n", s->to);
        break;
    case SMTP_S_RCPT:
        if (code == 250 || code == 251) return send_cmd(s, SMTP_S_DATA, "DATA\r\n", NULL);
        break;
    case SMTP_S_DATA:
        if (code == 354) {
            s->st = SMTP_S_MESSAGE;
            dotstuff_init(&s->ds);
            s->msg_pos = 0;
            s->msg_end_sent = 0;
            return SMTP_EV_MESSAGE;
        }
        break;
    case SMTP_S_MESSAGE:
        if (!s->msg_end_sent) /* the server spoke in the middle of the data */
            return bad ? done(s, "server", "reply during message", code)
                       : proto(s, "reply during message");
        if (code == 250) return send_cmd(s, SMTP_S_QUIT, "QUIT\r\n", NULL);
        break;
    case SMTP_S_QUIT:
        if (s->failed || code == 221) return done(s, NULL, NULL, 0);
        if (bad) return done(s, "server", "QUIT refused", code);
        break;
    case SMTP_S_DONE:
        return SMTP_EV_NONE;
    }
    if (bad) return fail_reply(s, "server", code);
    return proto(s, "unexpected reply code");
}

static int parse_code(const char *l, size_t n, char *sep)
{
    if (n < 3) return -1;
    for (int i = 0; i < 3; i++)
        if (l[i] < '0' || l[i] > '9') return -1;
    if (l[0] < '2' || l[0] > '5') return -1;
    *sep = n == 3 ? ' ' : l[3];
    if (*sep != ' ' && *sep != '-') return -1;
    return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

smtp_ev_t smtp_session_feed(smtp_session_t *s, const uint8_t *in, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        size_t u = 0;
        if (s->st == SMTP_S_DONE) { i = n; break; }
        lines_rc_t rc = lines_feed(&s->lines, in + i, n - i, &u);
        i += u;
        if (rc == LINES_MORE) break;
        *used = i;
        if (rc != LINES_LINE)
            return proto(s, rc == LINES_TOOLONG ? "reply line too long" : "bare LF or NUL in reply");
        char sep;
        int code = parse_code(s->line, s->lines.len, &sep);
        if (code < 0) return proto(s, "malformed reply line");
        if (!s->first_line && code != s->code) return proto(s, "reply code changed inside a multi-line reply");
        const char *text = s->lines.len > 4 ? s->line + 4 : "";
        if (s->st == SMTP_S_EHLO && !s->first_line) ehlo_keyword(s, text);
        s->code = code;
        if (sep == '-') {
            s->first_line = 0;
            continue;
        }
        s->first_line = 1;
        smtp_ev_t ev = on_reply(s, code, text);
        if (ev != SMTP_EV_NONE) return ev;
    }
    *used = i;
    return SMTP_EV_NONE;
}

int smtp_session_message_pending(const smtp_session_t *s)
{
    return s->st == SMTP_S_MESSAGE && !s->msg_end_sent;
}

size_t smtp_session_message_octets(const smtp_session_t *s) { return s->header_len + s->body_len; }

size_t smtp_session_message_read(smtp_session_t *s, uint8_t *out, size_t cap)
{
    size_t o = 0, total = s->header_len + s->body_len;
    if (!smtp_session_message_pending(s)) return 0;
    while (o < cap) {
        if (s->msg_pos < total) {
            const uint8_t *src;
            size_t avail, u;
            if (s->msg_pos < s->header_len) {
                src = (const uint8_t *)s->header + s->msg_pos;
                avail = s->header_len - s->msg_pos;
            } else {
                src = s->body + (s->msg_pos - s->header_len);
                avail = total - s->msg_pos;
            }
            o += dotstuff_encode(&s->ds, src, avail, &u, out + o, cap - o);
            s->msg_pos += u;
            if (!u) break;
        } else {
            if (cap - o < DOTSTUFF_END_MAX) break;
            o += dotstuff_end(&s->ds, out + o);
            s->msg_end_sent = 1;
            break;
        }
    }
    return o;
}
