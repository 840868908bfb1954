/* SMTP client glue for lwIP 2.1.3 raw API.
 *
 * Why not lwIP's own src/apps/smtp/smtp.c: it cannot be made to behave as the
 * acceptance catalogue requires without rewriting most of it. It has no
 * EHLO->HELO fallback; it sends AUTH PLAIN with an initial response instead
 * of waiting for 334; it picks AUTH only from what EHLO advertised (no "no AUTH
 * advertised -> PLAIN" rule); it does not dot-stuff the body; it writes the
 * body in tcp_sndbuf-sized pieces that tcp_write coalesces into whatever
 * segment size it likes (no per-write payload bound); its results carry no
 * stage; its server and credentials are process-wide globals. So the protocol
 * lives in proto/smtp_session.c (host-tested, fuzzed) and this file only moves
 * bytes.
 *
 * Wire discipline: Nagle off; every tcp_write is followed by tcp_output and a
 * new write is made only when pcb->unsent is empty, so each write leaves as
 * its own segment (tcp_write would otherwise append to the last unsent
 * segment); a write is never above SMTP_CLIENT_PAYLOAD nor the MSS. */
#include "smtp_client.h"
#include "lwip/sys.h"
#include "tcp_linger.h"
#include <string.h>

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);

static void arm(smtp_client_t *c) { c->deadline = sys_now() + c->timeout_ms; }

/* Hand the PCB to tcp_linger_close (FIN, then drain until the server's FIN).
 * Returns 1 if the PCB was aborted (the caller in a callback returns ERR_ABRT). */
static int drop_pcb(smtp_client_t *c)
{
    struct tcp_pcb *pcb = c->pcb;
    if (!pcb) return 0;
    c->pcb = NULL;
    return tcp_linger_close(pcb);
}

/* End of the mail: close, then report. */
static int finish(smtp_client_t *c)
{
    int aborted = drop_pcb(c);
    if (c->active) {
        c->active = 0;
        c->chunk_len = 0;
        c->done(c->arg, &c->sess.res, smtp_session_message_octets(&c->sess));
    }
    return aborted;
}

static int fail(smtp_client_t *c, const char *code, const char *msg)
{
    if (!c->connected && c->sess.st == SMTP_S_GREETING) {
        smtp_session_fail(&c->sess, code, msg);
        c->sess.res.stage = "connect";
    } else {
        smtp_session_fail(&c->sess, code, msg);
    }
    return finish(c);
}

/* Move message bytes into TCP, one segment-sized write at a time. */
static int pump(smtp_client_t *c)
{
    struct tcp_pcb *pcb = c->pcb;
    while (pcb && pcb->unsent == NULL) {
        if (c->chunk_len == 0) {
            size_t cap = SMTP_CLIENT_PAYLOAD;
            if (tcp_mss(pcb) < cap) cap = tcp_mss(pcb);
            if (tcp_sndbuf(pcb) < cap) cap = tcp_sndbuf(pcb);
            if (cap < DOTSTUFF_END_MAX || tcp_sndqueuelen(pcb) + 2 > TCP_SND_QUEUELEN)
                return 0; /* wait for ACKs (sent callback) */
            c->chunk_len = smtp_session_message_read(&c->sess, c->chunk, cap);
            if (c->chunk_len == 0) return 0; /* all handed over; wait for 250 */
        }
        err_t e = tcp_write(pcb, c->chunk, (u16_t)c->chunk_len, TCP_WRITE_FLAG_COPY);
        if (e == ERR_MEM) return 0; /* retried from sent/poll */
        if (e != ERR_OK) return fail(c, "nomem", "tcp_write failed");
        c->chunk_len = 0;
        tcp_output(pcb);
        arm(c);
    }
    return 0;
}

static int send_cmd(smtp_client_t *c)
{
    err_t e = tcp_write(c->pcb, c->sess.cmd, (u16_t)c->sess.cmd_len, TCP_WRITE_FLAG_COPY);
    if (e != ERR_OK) return fail(c, "nomem", "tcp_write failed");
    tcp_output(c->pcb);
    arm(c);
    return 0;
}

/* Feed bytes to the session and act on its events. Returns 1 if the PCB was
 * aborted; stops early if the session ended (c->pcb == NULL). */
static int feed(smtp_client_t *c, const uint8_t *d, size_t n)
{
    while (n && c->pcb) {
        size_t used = 0;
        smtp_ev_t ev = smtp_session_feed(&c->sess, d, n, &used);
        d += used;
        n -= used;
        switch (ev) {
        case SMTP_EV_SEND:
            /* after an error, QUIT to a server that already closed its side
             * would only draw its RST: close instead */
            if (c->sess.failed && c->pcb->state != ESTABLISHED) return finish(c);
            if (send_cmd(c)) return 1;
            break;
        case SMTP_EV_MESSAGE:
            c->chunk_len = 0;
            if (pump(c)) return 1;
            break;
        case SMTP_EV_DONE:
            return finish(c);
        case SMTP_EV_NONE:
            break;
        }
    }
    return 0;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    smtp_client_t *c = arg;
    (void)err;
    if (!c || c->pcb != pcb) { /* stale: should not happen, be safe */
        if (p) { tcp_recved(pcb, p->tot_len); pbuf_free(p); }
        return ERR_OK;
    }
    if (!p) return fail(c, "closed", "server closed the connection") ? ERR_ABRT : ERR_OK;
    int aborted = 0;
    tcp_recved(pcb, p->tot_len);
    arm(c);
    for (struct pbuf *q = p; q && c->pcb && !aborted; q = q->next)
        aborted = feed(c, q->payload, q->len);
    pbuf_free(p);
    return aborted ? ERR_ABRT : ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    smtp_client_t *c = arg;
    (void)pcb;
    (void)len;
    if (!c || !c->pcb) return ERR_OK;
    if (len) arm(c); /* the server is taking data: that wait is over */
    if (smtp_session_message_pending(&c->sess) || c->chunk_len)
        return pump(c) ? ERR_ABRT : ERR_OK;
    return ERR_OK;
}

/* Backup for a write that failed for lack of memory; does not extend the wait. */
static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    smtp_client_t *c = arg;
    if (!c || !c->pcb || c->pcb != pcb) return ERR_OK;
    if (smtp_session_message_pending(&c->sess) || c->chunk_len)
        return pump(c) ? ERR_ABRT : ERR_OK;
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    smtp_client_t *c = arg;
    if (!c) return;
    c->pcb = NULL; /* already freed by lwIP */
    if (!c->connected) fail(c, "connect", err == ERR_RST ? "connection refused" : "connect failed");
    else fail(c, "closed", err == ERR_RST ? "connection reset" : "connection aborted");
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    smtp_client_t *c = arg;
    (void)pcb;
    if (!c) return ERR_OK;
    if (err != ERR_OK) return fail(c, "connect", "connect failed") ? ERR_ABRT : ERR_OK;
    c->connected = 1;
    arm(c); /* wait for the greeting */
    return ERR_OK;
}

smtp_start_t smtp_client_mail_send(smtp_client_t *c, const ip_addr_t *server, uint16_t port,
                                   uint32_t timeout_ms, const smtp_config_t *cfg,
                                   const char *to, const char *subject, size_t subject_len,
                                   smtp_prio_t prio, const uint8_t *body, size_t body_len,
                                   smtp_client_done_fn done, void *arg)
{
    if (c->active) return SMTP_START_BUSY;
    int r = smtp_session_init(&c->sess, cfg, to, subject, subject_len, prio, body, body_len);
    if (r == -2) return SMTP_START_BADARG;
    if (r) return SMTP_START_TOOLONG;
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(server));
    if (!pcb) return SMTP_START_NOMEM;
    c->pcb = pcb;
    c->timeout_ms = timeout_ms;
    c->done = done;
    c->arg = arg;
    c->chunk_len = 0;
    c->connected = 0;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, 2);
    tcp_nagle_disable(pcb);
    if (tcp_connect(pcb, server, port, on_connected) != ERR_OK) {
        drop_pcb(c);
        return SMTP_START_CONNECT;
    }
    c->active = 1;
    arm(c);
    return SMTP_START_OK;
}

void smtp_client_poll(smtp_client_t *c)
{
    if (!c->active || (int32_t)(sys_now() - c->deadline) < 0) return;
    /* A server that stopped reading leaves message data queued: a FIN would
     * wait behind it for minutes of retransmissions, holding the PCB and its
     * buffers. Reset that connection; any other timeout closes with FIN. */
    if (c->pcb && (c->pcb->unsent || c->pcb->unacked)) {
        struct tcp_pcb *pcb = c->pcb;
        c->pcb = NULL;
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_sent(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_poll(pcb, NULL, 0);
        tcp_abort(pcb);
    }
    fail(c, "timeout", "no answer from the server");
}
