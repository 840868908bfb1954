#include "tcp_linger.h"
#include <stdint.h>

static err_t linger_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    /* the server's FIN: nothing more can arrive; lwIP finishes the close */
    tcp_poll(pcb, NULL, 0);
    if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static err_t linger_poll(void *arg, struct tcp_pcb *pcb)
{
    uintptr_t n = (uintptr_t)arg + 1; /* polls at 1 s */
    if (n >= TCP_LINGER_SECONDS) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    tcp_arg(pcb, (void *)n);
    return ERR_OK;
}

static void linger_err(void *arg, err_t err)
{
    (void)arg; /* the PCB is gone (closed or reset): nothing to release */
    (void)err;
}

int tcp_linger_close(struct tcp_pcb *pcb)
{
    tcp_sent(pcb, NULL);
    if (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT) {
        /* still connecting, or already closing: a plain close sends no RST */
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_poll(pcb, NULL, 0);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return 1;
        }
        return 0;
    }
    /* tcp_shutdown(tx only), not tcp_close: inside the recv callback of a
     * segment that carried data and the server's FIN, rcv_wnd is still one
     * short (lwIP adds the FIN back after the callback) and tcp_close would
     * take that for unread data and send RST. */
    tcp_arg(pcb, (void *)0);
    tcp_recv(pcb, linger_recv);
    tcp_err(pcb, linger_err);
    tcp_poll(pcb, linger_poll, 2);
    if (tcp_shutdown(pcb, 0, 1) != ERR_OK) {
        tcp_abort(pcb);
        return 1;
    }
    return 0;
}
