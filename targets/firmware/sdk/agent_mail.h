/* Bench agent SDK: the mail verbs (pop3.*, smtp.*) of docs/agent-protocol.md,
 * dispatched to a mail port the firmware implements over its own stack.
 *
 * The SDK parses and checks the arguments, keeps the SMTP settings and body,
 * digests RETR pieces (md5=, octets=, segments=, data lines) and formats every
 * reply. The port runs the client operation and ends it with exactly one of
 * the agent_pop3_* / agent_smtp_ok / agent_mail_err calls below:
 * - callback stacks (lwIP raw): start the operation and return; call the
 *   completion from the stack's callback later;
 * - blocking stacks (NetX Duo, BSD sockets): do the whole operation, call the
 *   completion, return. In threaded mode (agent.h) this runs on the worker
 *   while the UART thread keeps answering `busy`.
 * Strings handed to the port stay valid until the completion call. */
#ifndef AGENT_MAIL_H
#define AGENT_MAIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *host; /* IPv4 or IPv6 literal (checked by host_ok when set) */
    uint16_t port;
    const char *user, *pass; /* no NUL, CR or LF is guaranteed: the port checks */
    size_t user_len, pass_len;
    int apop;            /* 1: APOP when the greeting carries a timestamp */
    uint32_t timeout_ms; /* each wait for the server */
} agent_pop3_open_t;

typedef enum { AGENT_AUTH_NONE, AGENT_AUTH_PLAIN, AGENT_AUTH_LOGIN } agent_auth_t;
typedef enum { AGENT_PRIO_NORMAL, AGENT_PRIO_HIGH, AGENT_PRIO_LOW } agent_prio_t;

/* smtp.config: kept by the SDK, handed to every smtp_send. */
typedef struct {
    const char *host;
    uint16_t port;
    const char *user, *pass, *from, *domain; /* NUL-terminated, no CR/LF */
    agent_auth_t auth;
    uint32_t timeout_ms;
} agent_smtp_config_t;

typedef struct {
    const agent_smtp_config_t *cfg;
    const char *to;
    const char *subject;
    size_t subject_len;
    agent_prio_t prio;
    const uint8_t *body; /* the smtp.body buffer */
    size_t body_len;
} agent_smtp_mail_t;

typedef struct {
    /* Required: POP3 (NetX: nxd_pop3_client_create, nx_pop3_client_mail_items_get,
     * _mail_item_get, _mail_item_message_get, nx_pop3_client_quit). */
    void (*pop3_open)(const agent_pop3_open_t *o);
    void (*pop3_stat)(void);
    void (*pop3_list)(uint32_t n);
    void (*pop3_retr)(uint32_t n); /* pieces through agent_pop3_piece */
    void (*pop3_quit)(void);
    /* Required: one mail, one connection (nxd_smtp_client_create,
     * nx_smtp_mail_send, nx_smtp_client_delete). */
    void (*smtp_send)(const agent_smtp_mail_t *m);
    /* Optional (NULL: the verb is not registered and not in caps=). */
    void (*pop3_dele)(uint32_t n);
    void (*pop3_rset)(void);
    void (*pop3_noop)(void);
    void (*pop3_abort)(void); /* close without QUIT; synchronous, the SDK answers ok */
    /* Optional checks. host_ok: 1 when host is an address the stack can
     * connect to. smtp_check: NULL when the settings fit the client's line
     * limits, else the reason for a `toolong` reply. */
    int (*host_ok)(const char *host);
    const char *(*smtp_check)(const agent_smtp_config_t *c);
    /* Required: the SMTP body buffer (body_max bytes, the banner's body_max)
     * and the longest subject the client accepts. */
    uint8_t *body;
    size_t body_max;
    size_t subject_max;
} agent_mail_port_t;

/* Registers the mail verbs for port (kept by reference) as blocking verbs. */
void agent_mail_register(const agent_mail_port_t *port);

/* Completions, from the stack's callback or the worker. */
void agent_pop3_open_ok(int apop_used);                  /* ok auth=apop|user */
void agent_pop3_stat_ok(uint32_t count, uint32_t octets); /* ok count= octets= */
void agent_pop3_list_ok(uint32_t n, uint32_t octets);     /* ok n= octets= */
/* One piece of the message RETR delivers (NetX: one packet); final marks the
 * last one (NetX: final_packet), which may be empty. */
void agent_pop3_piece(const void *data, size_t n, int final);
void agent_pop3_ok(void); /* retr (ok n= octets= md5= segments=), dele, rset, noop, quit */
void agent_smtp_ok(size_t octets); /* octets: message bytes sent after 354 */
/* err code=CODE [stage=] [reply=] [msg=]: code from docs/agent-protocol.md
 * (connect, timeout, auth, proto, server, closed, nomem, toolong, state ...);
 * stage may be NULL for errors before any wire exchange. */
void agent_mail_err(const char *code, const char *stage, const char *reply, const char *msg);

#endif
