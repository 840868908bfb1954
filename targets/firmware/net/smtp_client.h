/* SMTP client on lwIP's raw API (NO_SYS): NetX Duo's nx_smtp_mail_send made
 * asynchronous. Each mail opens a new TCP connection (IPv4 or IPv6 by the form
 * of the server address), runs the session of proto/smtp_session.h, closes the
 * connection with FIN whatever the outcome, then calls done(). */
#ifndef NET_SMTP_CLIENT_H
#define NET_SMTP_CLIENT_H
#include "lwip/ip_addr.h"
#include "lwip/tcp.h"
#include "../fw_limits.h"
#include "../proto/smtp_session.h"

typedef void (*smtp_client_done_fn)(void *arg, const smtp_result_t *res, size_t octets);

typedef struct {
    smtp_session_t sess;
    struct tcp_pcb *pcb;
    uint32_t timeout_ms;
    uint32_t deadline;   /* sys_now() value at which the current wait fails */
    uint8_t active;      /* a mail is under way */
    uint8_t connected;
    smtp_client_done_fn done;
    void *arg;
    uint8_t chunk[SMTP_CLIENT_PAYLOAD]; /* message bytes not yet accepted by tcp_write */
    size_t chunk_len;
} smtp_client_t;

typedef enum {
    SMTP_START_OK = 0,
    SMTP_START_TOOLONG = -1, /* an argument makes a line too long */
    SMTP_START_BADARG = -2,  /* CR/LF/NUL in an argument */
    SMTP_START_BUSY = -3,
    SMTP_START_NOMEM = -4,
    SMTP_START_CONNECT = -5, /* tcp_connect refused at once (no route ...) */
} smtp_start_t;

/* Start one mail. body must stay valid until done() is called. */
smtp_start_t smtp_client_mail_send(smtp_client_t *c, const ip_addr_t *server, uint16_t port,
                                   uint32_t timeout_ms, const smtp_config_t *cfg,
                                   const char *to, const char *subject, size_t subject_len,
                                   smtp_prio_t prio, const uint8_t *body, size_t body_len,
                                   smtp_client_done_fn done, void *arg);

/* Call from the main loop: enforces the per-wait timeout. */
void smtp_client_poll(smtp_client_t *c);
#endif
