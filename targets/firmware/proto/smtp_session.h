/* SMTP client session (RFC 5321, AUTH per RFC 4954) as a pure state machine,
 * shaped after NetX Duo's SMTP client: one mail, one recipient, one session.
 *
 *   220 -> EHLO <domain> (5xx -> HELO <domain>) -> [AUTH PLAIN | AUTH LOGIN]
 *   -> MAIL FROM:<from> -> RCPT TO:<to> -> DATA -> 354 -> message -> 250
 *   -> QUIT -> 221 -> the glue closes the connection.
 *
 * AUTH: none = skip; plain/login = the configured mechanism when the EHLO
 * reply advertises it (or advertises nothing: then PLAIN, as NetX does), else
 * the other of the two that is advertised. CRAM-MD5 never. AUTH PLAIN sends no
 * initial response: it waits for 334, then sends base64("\0user\0pass").
 *
 * Any 4xx/5xx ends the mail with an error naming the stage; the session then
 * sends QUIT and ends after its reply. A reply it cannot parse ends the
 * session at once (the glue closes without QUIT). */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include "lines.h"
#include "dotstuff.h"

#define SMTP_CMD_MAX 512     /* command line incl. CRLF (RFC 5321 4.5.3.1.4) */
#define SMTP_REPLY_MAX 512   /* reply line incl. CRLF */
#define SMTP_TEXT_MAX 1000   /* text line incl. CRLF (header lines we build) */
#define SMTP_HEADER_MAX 2100

typedef enum { SMTP_AUTH_NONE, SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN } smtp_auth_t;
typedef enum { SMTP_PRIO_NORMAL, SMTP_PRIO_HIGH, SMTP_PRIO_LOW } smtp_prio_t;

typedef struct {
    const char *user, *pass, *from, *domain; /* NUL-terminated, kept by reference */
    smtp_auth_t auth;
} smtp_config_t;

typedef enum {
    SMTP_S_GREETING, SMTP_S_EHLO, SMTP_S_HELO, SMTP_S_AUTH_PLAIN, SMTP_S_AUTH_PLAIN_RESP,
    SMTP_S_AUTH_LOGIN, SMTP_S_MAIL, SMTP_S_RCPT, SMTP_S_DATA, SMTP_S_MESSAGE,
    SMTP_S_QUIT, SMTP_S_DONE,
} smtp_state_t;

typedef enum {
    SMTP_EV_NONE = 0, /* input consumed, waiting for more */
    SMTP_EV_SEND,     /* send cmd[0..cmd_len) */
    SMTP_EV_MESSAGE,  /* 354 received: stream the message (smtp_session_message_read) */
    SMTP_EV_DONE,     /* session over (res); the glue closes the connection */
} smtp_ev_t;

typedef struct {
    const char *code;  /* NULL = mail accepted and QUIT answered */
    const char *stage;
    const char *msg;
    char reply[6];     /* the server's code for server/auth errors, else "" */
} smtp_result_t;

typedef struct {
    smtp_state_t st;
    smtp_config_t cfg;
    smtp_auth_t use_auth;
    uint8_t adv_auth, adv_plain, adv_login; /* from the EHLO reply */
    uint8_t login_step;  /* AUTH LOGIN answers sent */
    uint8_t failed;      /* res holds an error; QUIT is under way */
    /* reply assembly */
    char line[SMTP_REPLY_MAX + 1];
    lines_t lines;
    int code;            /* code of the reply being assembled, 0 = none yet */
    uint8_t first_line;
    char cmd[SMTP_CMD_MAX + 1];
    size_t cmd_len;
    /* the message */
    const char *to;
    char header[SMTP_HEADER_MAX];
    size_t header_len;
    const uint8_t *body;
    size_t body_len;
    size_t msg_pos;      /* octets of header+body consumed */
    dotstuff_t ds;
    uint8_t msg_end_sent;
    smtp_result_t res;
} smtp_session_t;

/* 0 ok; -1 an argument makes a line too long; -2 CR/LF/NUL in an argument. */
int smtp_session_init(smtp_session_t *s, const smtp_config_t *cfg, const char *to,
                      const char *subject, size_t subject_len, smtp_prio_t prio,
                      const uint8_t *body, size_t body_len);
/* Check a configuration alone (smtp.config): same return values. */
int smtp_config_check(const smtp_config_t *cfg);

smtp_ev_t smtp_session_feed(smtp_session_t *s, const uint8_t *in, size_t n, size_t *used);

/* While streaming (state MESSAGE): next chunk of the dot-stuffed message, at
 * most cap (>= DOTSTUFF_END_MAX) octets; 0 once all of it, end mark included,
 * has been handed out. */
size_t smtp_session_message_read(smtp_session_t *s, uint8_t *out, size_t cap);
int smtp_session_message_pending(const smtp_session_t *s);
/* Message octets before dot-stuffing (header block + body). */
size_t smtp_session_message_octets(const smtp_session_t *s);

/* The connection failed (closed, timeout, ...): fills res unless an earlier
 * error is already recorded; the session is DONE. */
void smtp_session_fail(smtp_session_t *s, const char *code, const char *msg);
const char *smtp_stage_name(smtp_state_t st);
#endif
