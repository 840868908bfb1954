/* The native board's mail port: the project's POP3 and SMTP session machines
 * (proto/) over blocking POSIX sockets, in the style a NetX Duo port uses.
 * Every call runs on the SDK's worker thread, does the whole step and ends it
 * with one completion. */
#include "mail_posix.h"

#include <linux/sockios.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>

#include "agent_bridge.h"
#include "agent_mail.h"
#include "fw_limits.h"
#include "pop3_session.h"
#include "smtp_session.h"
#include "sock.h"

/* The client sockets, for sys.info from the UART thread. */
static atomic_int open_fds[2] = {-1, -1};

size_t mail_posix_queued(void)
{
    size_t q = 0;
    for (int i = 0; i < 2; i++) {
        int fd = atomic_load(&open_fds[i]), in = 0, out = 0;
        if (fd >= 0 && ioctl(fd, SIOCINQ, &in) == 0 && ioctl(fd, SIOCOUTQ, &out) == 0)
            q += (size_t)in + (size_t)out;
    }
    return q;
}

/* ---------- POP3 ---------- */

static pop3_session_t pop3;
static int pop3_fd = -1;
static uint32_t pop3_timeout;
static enum { OP_OPEN, OP_STAT, OP_LIST, OP_OTHER } pop3_op;

static void pop3_drop(void)
{
    atomic_store(&open_fds[0], -1);
    if (pop3_fd >= 0)
        sock_close(pop3_fd);
    pop3_fd = -1;
}

/* Ends the step: FIN if the session is over, the completion, then the drain. */
static void pop3_report(void)
{
    const pop3_result_t *r = &pop3.res;
    int closing = pop3.st == POP3_S_CLOSED && pop3_fd >= 0;
    if (closing)
        sock_fin(pop3_fd);
    if (r->code)
        agent_mail_err(r->code, r->stage, r->reply, r->msg);
    else if (pop3_op == OP_OPEN)
        agent_pop3_open_ok(r->apop);
    else if (pop3_op == OP_STAT)
        agent_pop3_stat_ok(r->a, r->b);
    else if (pop3_op == OP_LIST)
        agent_pop3_list_ok(r->a, r->b);
    else
        agent_pop3_ok();
    if (closing) {
        atomic_store(&open_fds[0], -1);
        sock_drain_close(pop3_fd);
        pop3_fd = -1;
    }
}

static void pop3_fail(const char *code, const char *msg)
{
    pop3_session_fail(&pop3, code, msg);
    pop3_report();
}

static void deliver(int final)
{
    agent_pop3_piece(pop3.piece, pop3.piece_len, final);
    pop3_piece_take(&pop3);
}

/* Reads and feeds until the step is done; one piece per received buffer. */
static void pop3_run(void)
{
    uint8_t buf[2048];
    for (;;) {
        long n = sock_recv(pop3_fd, buf, sizeof buf, pop3_timeout);
        if (n == -2)
            return pop3_fail("timeout", "no answer from the server");
        if (n == 0)
            return pop3_fail("closed", "server closed the connection");
        if (n < 0)
            return pop3_fail("closed", "connection reset");
        const uint8_t *d = buf;
        size_t left = (size_t)n;
        int done = 0;
        while (left && !done) {
            size_t used = 0;
            pop3_ev_t ev = pop3_session_feed(&pop3, d, left, &used);
            d += used;
            left -= used;
            if (ev == POP3_EV_SEND) {
                if (sock_send(pop3_fd, pop3.cmd, pop3.cmd_len, pop3_timeout))
                    return pop3_fail("closed", "send failed");
            } else if (ev == POP3_EV_PIECE) {
                deliver(0);
            } else if (ev == POP3_EV_DONE) {
                if (pop3.res.retr_done)
                    deliver(1);
                done = 1;
            }
        }
        if (done)
            return pop3_report();
        if (pop3.st == POP3_S_RETR_DATA && pop3.piece_len)
            deliver(0);
    }
}

static void p_open(const agent_pop3_open_t *o)
{
    pop3_drop();
    pop3_op = OP_OPEN;
    int r = pop3_session_init(&pop3, o->user, o->user_len, o->pass, o->pass_len, o->apop,
                              POP3_CLIENT_PAYLOAD);
    if (r == -2)
        return agent_mail_err("bad-arg", NULL, NULL, "CR, LF or NUL in an argument");
    if (r)
        return agent_mail_err("toolong", NULL, NULL, "command above the packet payload");
    pop3_timeout = o->timeout_ms;
    pop3_fd = sock_connect(o->host, o->port, o->timeout_ms);
    atomic_store(&open_fds[0], pop3_fd);
    if (pop3_fd < 0) {
        pop3.st = POP3_S_CLOSED;
        return agent_mail_err("connect", "connect", NULL, "connect failed");
    }
    pop3_run();
}

static void p_step(pop3_op_t op, uint32_t n, int kind)
{
    pop3_op = kind;
    if (pop3_fd < 0 || pop3_session_start(&pop3, op, n))
        return agent_mail_err("state", NULL, NULL, "no POP3 session in TRANSACTION");
    const char *stage = pop3_stage_name(pop3.st);
    if (sock_peer_gone(pop3_fd)) { /* the server closed the idle session */
        pop3_drop();
        pop3.st = POP3_S_CLOSED;
        return agent_mail_err("closed", stage, NULL, "server closed the session");
    }
    if (sock_send(pop3_fd, pop3.cmd, pop3.cmd_len, pop3_timeout)) {
        pop3_drop();
        pop3.st = POP3_S_CLOSED;
        return agent_mail_err("nomem", NULL, NULL, "send failed");
    }
    pop3_run();
}

static void p_stat(void) { p_step(POP3_OP_STAT, 0, OP_STAT); }
static void p_list(uint32_t n) { p_step(POP3_OP_LIST, n, OP_LIST); }
static void p_retr(uint32_t n) { p_step(POP3_OP_RETR, n, OP_OTHER); }
static void p_dele(uint32_t n) { p_step(POP3_OP_DELE, n, OP_OTHER); }
static void p_rset(void) { p_step(POP3_OP_RSET, 0, OP_OTHER); }
static void p_noop(void) { p_step(POP3_OP_NOOP, 0, OP_OTHER); }
static void p_quit(void) { p_step(POP3_OP_QUIT, 0, OP_OTHER); }
static void p_abort(void)
{
    pop3_drop();
    pop3.st = POP3_S_CLOSED;
}

/* ---------- SMTP ---------- */

static uint8_t body[SMTP_BODY_MAX];
static smtp_session_t smtp;

/* Streams the dot-stuffed message, one write of at most the payload per
 * segment. 0, or -2 timeout (the server stopped reading), -1 error. */
static int stream_message(int fd, uint32_t timeout)
{
    uint8_t chunk[SMTP_CLIENT_PAYLOAD];
    size_t n;
    while ((n = smtp_session_message_read(&smtp, chunk, sizeof chunk)) > 0) {
        int r = sock_send(fd, chunk, n, timeout);
        if (r)
            return r;
    }
    return 0;
}

static void s_send(const agent_smtp_mail_t *m)
{
    const agent_smtp_config_t *c = m->cfg;
    smtp_config_t cfg = smtp_config_of(c);
    int r = smtp_session_init(&smtp, &cfg, m->to, m->subject, m->subject_len, smtp_prio_of(m->prio),
                              m->body, m->body_len);
    if (r == -2)
        return agent_mail_err("bad-arg", NULL, NULL, "CR, LF or NUL in an argument");
    if (r)
        return agent_mail_err("toolong", NULL, NULL, "a line would exceed its limit");
    int fd = sock_connect(c->host, c->port, c->timeout_ms);
    if (fd < 0)
        return agent_mail_err("connect", "connect", NULL, "connect failed");
    atomic_store(&open_fds[1], fd);
    uint8_t buf[2048];
    int reset = 0;
    while (smtp.st != SMTP_S_DONE) {
        long n = sock_recv(fd, buf, sizeof buf, c->timeout_ms);
        if (n <= 0) {
            smtp_session_fail(&smtp, n == -2 ? "timeout" : "closed",
                              n == -2 ? "no answer from the server" : "server closed the connection");
            break;
        }
        const uint8_t *d = buf;
        size_t left = (size_t)n;
        while (left && smtp.st != SMTP_S_DONE) {
            size_t used = 0;
            smtp_ev_t ev = smtp_session_feed(&smtp, d, left, &used);
            d += used;
            left -= used;
            if (ev == SMTP_EV_SEND && sock_send(fd, smtp.cmd, smtp.cmd_len, c->timeout_ms)) {
                smtp_session_fail(&smtp, "closed", "send failed");
            } else if (ev == SMTP_EV_MESSAGE) {
                int s = stream_message(fd, c->timeout_ms);
                if (s) {
                    /* the server stopped reading: data still queued, reset */
                    reset = s == -2;
                    smtp_session_fail(&smtp, s == -2 ? "timeout" : "closed",
                                      s == -2 ? "message not acknowledged" : "send failed");
                }
            }
        }
    }
    if (reset) {
        atomic_store(&open_fds[1], -1);
        sock_reset(fd);
    } else {
        sock_fin(fd);
    }
    if (smtp.res.code)
        agent_mail_err(smtp.res.code, smtp.res.stage, smtp.res.reply, smtp.res.msg);
    else
        agent_smtp_ok(smtp_session_message_octets(&smtp));
    if (!reset) {
        atomic_store(&open_fds[1], -1);
        sock_drain_close(fd);
    }
}

static const agent_mail_port_t mail_port = {
    .pop3_open = p_open, .pop3_stat = p_stat, .pop3_list = p_list, .pop3_retr = p_retr,
    .pop3_quit = p_quit, .smtp_send = s_send, .pop3_dele = p_dele, .pop3_rset = p_rset,
    .pop3_noop = p_noop, .pop3_abort = p_abort, .host_ok = sock_host_ok,
    .smtp_check = smtp_agent_check, .body = body, .body_max = SMTP_BODY_MAX,
    .subject_max = SMTP_TEXT_MAX,
};

void mail_posix_register(void)
{
    agent_mail_register(&mail_port);
}
