/* POP3 client glue for lwIP 2.1.3 raw API. Commands are single writes of at
 * most POP3_CLIENT_PAYLOAD octets (checked when the session is created), sent
 * only after the previous reply completed, Nagle off, tcp_output at once.
 * Received pbufs are always tcp_recved and freed; the PCB is closed (FIN) on
 * every path that ends the session. */
#include "pop3_client.h"
#include "lwip/sys.h"
#include "tcp_linger.h"
#include <string.h>

static void arm(pop3_client_t *c) { c->deadline = sys_now() + c->timeout_ms; }

static int drop_pcb(pop3_client_t *c)
{
    struct tcp_pcb *pcb = c->pcb;
    if (!pcb) return 0;
    c->pcb = NULL;
    return tcp_linger_close(pcb);
}

/* The step ended: close if the session is over, then report. */
static int step_done(pop3_client_t *c)
{
    int aborted = 0;
    if (c->sess.st == POP3_S_CLOSED) aborted = drop_pcb(c);
    if (c->busy) {
        c->busy = 0;
        c->done(c->arg, &c->sess.res);
    }
    return aborted;
}

static int fail(pop3_client_t *c, const char *code, const char *msg)
{
    pop3_state_t st = c->sess.st;
    pop3_session_fail(&c->sess, code, msg);
    if (!c->connected && st == POP3_S_GREETING) c->sess.res.stage = "connect";
    if (!c->busy) c->lost = 1;
    return step_done(c);
}

static int send_cmd(pop3_client_t *c)
{
    err_t e = tcp_write(c->pcb, c->sess.cmd, (u16_t)c->sess.cmd_len, TCP_WRITE_FLAG_COPY);
    if (e != ERR_OK) return fail(c, "nomem", "tcp_write failed");
    tcp_output(c->pcb);
    arm(c);
    return 0;
}

static void deliver(pop3_client_t *c, int final)
{
    if (c->piece) c->piece(c->arg, c->sess.piece, c->sess.piece_len, final);
    pop3_piece_take(&c->sess);
}

static int feed(pop3_client_t *c, const uint8_t *d, size_t n)
{
    while (n && c->pcb) {
        size_t used = 0;
        pop3_ev_t ev = pop3_session_feed(&c->sess, d, n, &used);
        d += used;
        n -= used;
        switch (ev) {
        case POP3_EV_SEND:
            if (send_cmd(c)) return 1;
            break;
        case POP3_EV_PIECE:
            deliver(c, 0);
            break;
        case POP3_EV_DONE:
            if (c->sess.res.retr_done) deliver(c, 1);
            if (step_done(c)) return 1;
            break;
        case POP3_EV_NONE:
            break;
        }
    }
    /* one piece per received buffer, as NetX hands out packets */
    if (c->pcb && c->sess.st == POP3_S_RETR_DATA && c->sess.piece_len) deliver(c, 0);
    return 0;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    pop3_client_t *c = arg;
    (void)err;
    if (!c || c->pcb != pcb) {
        if (p) { tcp_recved(pcb, p->tot_len); pbuf_free(p); }
        return ERR_OK;
    }
    if (!p) return fail(c, "closed", "server closed the connection") ? ERR_ABRT : ERR_OK;
    int aborted = 0;
    tcp_recved(pcb, p->tot_len);
    if (c->busy) arm(c);
    for (struct pbuf *q = p; q && c->pcb && !aborted; q = q->next)
        aborted = feed(c, q->payload, q->len);
    pbuf_free(p);
    return aborted ? ERR_ABRT : ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    pop3_client_t *c = arg;
    if (!c) return;
    c->pcb = NULL;
    if (!c->connected) fail(c, "connect", err == ERR_RST ? "connection refused" : "connect failed");
    else fail(c, "closed", err == ERR_RST ? "connection reset" : "connection aborted");
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    pop3_client_t *c = arg;
    (void)pcb;
    if (!c) return ERR_OK;
    if (err != ERR_OK) return fail(c, "connect", "connect failed") ? ERR_ABRT : ERR_OK;
    c->connected = 1;
    arm(c);
    return ERR_OK;
}

void pop3_client_abort(pop3_client_t *c)
{
    drop_pcb(c);
    c->busy = 0;
    c->connected = 0;
    c->lost = 0;
    c->sess.st = POP3_S_CLOSED;
}

int pop3_client_is_open(const pop3_client_t *c) { return c->pcb != NULL; }

pop3_start_t pop3_client_create(pop3_client_t *c, const ip_addr_t *server, uint16_t port,
                                const char *user, size_t ulen, const char *pass, size_t plen,
                                int apop, uint32_t timeout_ms, pop3_client_done_fn done,
                                pop3_client_piece_fn piece, void *arg)
{
    if (c->busy) return POP3_START_STATE;
    pop3_client_abort(c);
    int r = pop3_session_init(&c->sess, user, ulen, pass, plen, apop, POP3_CLIENT_PAYLOAD);
    if (r == -2) return POP3_START_BADARG;
    if (r) return POP3_START_TOOLONG;
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(server));
    if (!pcb) return POP3_START_NOMEM;
    c->pcb = pcb;
    c->timeout_ms = timeout_ms;
    c->done = done;
    c->piece = piece;
    c->arg = arg;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb);
    if (tcp_connect(pcb, server, port, on_connected) != ERR_OK) {
        drop_pcb(c);
        return POP3_START_CONNECT;
    }
    c->busy = 1;
    arm(c);
    return POP3_START_OK;
}

static pop3_start_t start(pop3_client_t *c, pop3_op_t op, uint32_t n)
{
    if (c->busy) return POP3_START_STATE;
    if (c->lost) return POP3_START_CLOSED;
    if (!c->pcb || pop3_session_start(&c->sess, op, n)) return POP3_START_STATE;
    if (tcp_write(c->pcb, c->sess.cmd, (u16_t)c->sess.cmd_len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        pop3_client_abort(c); /* the stream would be out of step: end the session */
        return POP3_START_NOMEM;
    }
    tcp_output(c->pcb);
    c->busy = 1;
    arm(c);
    return POP3_START_OK;
}

pop3_start_t pop3_client_mail_items_get(pop3_client_t *c) { return start(c, POP3_OP_STAT, 0); }
pop3_start_t pop3_client_mail_item_get(pop3_client_t *c, uint32_t n) { return start(c, POP3_OP_LIST, n); }
pop3_start_t pop3_client_mail_item_message_get(pop3_client_t *c, uint32_t n) { return start(c, POP3_OP_RETR, n); }
pop3_start_t pop3_client_mail_item_delete(pop3_client_t *c, uint32_t n) { return start(c, POP3_OP_DELE, n); }
pop3_start_t pop3_client_reset(pop3_client_t *c) { return start(c, POP3_OP_RSET, 0); }
pop3_start_t pop3_client_noop(pop3_client_t *c) { return start(c, POP3_OP_NOOP, 0); }
pop3_start_t pop3_client_quit(pop3_client_t *c) { return start(c, POP3_OP_QUIT, 0); }

void pop3_client_poll(pop3_client_t *c)
{
    if (c->busy && (int32_t)(sys_now() - c->deadline) >= 0)
        fail(c, "timeout", "no answer from the server");
}
