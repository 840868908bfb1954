/* POP3 client on lwIP's raw API (NO_SYS): the NetX Duo POP3 client API made
 * asynchronous. Every call starts one step and returns at once; the step ends
 * in exactly one done() call (message pieces of RETR arrive before it through
 * piece(), the last one flagged final). One step at a time; the protocol is in
 * proto/pop3_session.c.
 *
 *   NetX Duo                               here
 *   nxd_pop3_client_create (connect+login) pop3_client_create
 *   nx_pop3_client_mail_items_get (STAT)   pop3_client_mail_items_get
 *   nx_pop3_client_mail_item_get (LIST n)  pop3_client_mail_item_get
 *   nx_pop3_client_mail_item_message_get   pop3_client_mail_item_message_get
 *   nx_pop3_client_mail_item_delete        pop3_client_mail_item_delete
 *   (RSET, NOOP)                           pop3_client_reset, pop3_client_noop
 *   nx_pop3_client_quit / _delete          pop3_client_quit / pop3_client_abort */
#ifndef NET_POP3_CLIENT_H
#define NET_POP3_CLIENT_H
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "../fw_limits.h"
#include "../proto/pop3_session.h"

typedef void (*pop3_client_done_fn)(void *arg, const pop3_result_t *res);
typedef void (*pop3_client_piece_fn)(void *arg, const uint8_t *data, size_t n, int final);

typedef struct {
    pop3_session_t sess;
    struct tcp_pcb *pcb;
    uint32_t timeout_ms;
    uint32_t deadline;
    uint8_t busy;      /* a step is outstanding: done() will be called */
    uint8_t connected;
    uint8_t lost;      /* the connection went away while idle */
    pop3_client_done_fn done;
    pop3_client_piece_fn piece;
    void *arg;
} pop3_client_t;

typedef enum {
    POP3_START_OK = 0,
    POP3_START_TOOLONG = -1, /* a command would exceed POP3_CLIENT_PAYLOAD */
    POP3_START_BADARG = -2,
    POP3_START_STATE = -3,   /* no session / a step is outstanding */
    POP3_START_NOMEM = -4,
    POP3_START_CONNECT = -5,
    POP3_START_CLOSED = -6,  /* the server closed the idle session */
} pop3_start_t;

/* Connect and log in (APOP when apop and the greeting has a timestamp). An
 * open session is closed first. */
pop3_start_t pop3_client_create(pop3_client_t *c, const ip_addr_t *server, uint16_t port,
                                const char *user, size_t ulen, const char *pass, size_t plen,
                                int apop, uint32_t timeout_ms, pop3_client_done_fn done,
                                pop3_client_piece_fn piece, void *arg);
pop3_start_t pop3_client_mail_items_get(pop3_client_t *c);
pop3_start_t pop3_client_mail_item_get(pop3_client_t *c, uint32_t n);
pop3_start_t pop3_client_mail_item_message_get(pop3_client_t *c, uint32_t n);
pop3_start_t pop3_client_mail_item_delete(pop3_client_t *c, uint32_t n);
pop3_start_t pop3_client_reset(pop3_client_t *c);
pop3_start_t pop3_client_noop(pop3_client_t *c);
pop3_start_t pop3_client_quit(pop3_client_t *c);
/* Close the connection without QUIT (FIN); no done() call. */
void pop3_client_abort(pop3_client_t *c);
int pop3_client_is_open(const pop3_client_t *c);
void pop3_client_poll(pop3_client_t *c);
#endif
