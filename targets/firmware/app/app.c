/* The mail port of the reference firmware: the SDK's mail verbs
 * (sdk/agent_mail.h) on net/pop3_client and net/smtp_client, lwIP's raw API.
 * Callback style: each port call starts one client step and returns; the
 * clients' done callbacks end it with the SDK's completion calls. */
#include "app.h"
#include "../fw_limits.h"
#include "../net/pop3_client.h"
#include "../net/smtp_client.h"
#include "../proto/agent_bridge.h"
#include "../sdk/agent_mail.h"
#include "lwip/ip_addr.h"
#include <string.h>

/* ---------- POP3 ---------- */

static pop3_client_t pop3;
static enum { OP_OPEN, OP_STAT, OP_LIST, OP_OTHER } pop3_op;

static void pop3_piece(void *arg, const uint8_t *d, size_t n, int final)
{
    (void)arg;
    agent_pop3_piece(d, n, final);
}

static void pop3_done(void *arg, const pop3_result_t *r)
{
    (void)arg;
    if (r->code) agent_mail_err(r->code, r->stage, r->reply, r->msg);
    else if (pop3_op == OP_OPEN) agent_pop3_open_ok(r->apop);
    else if (pop3_op == OP_STAT) agent_pop3_stat_ok(r->a, r->b);
    else if (pop3_op == OP_LIST) agent_pop3_list_ok(r->a, r->b);
    else agent_pop3_ok();
}

/* A step that could not start is answered at once. */
static void pop3_started(pop3_start_t r, const char *stage)
{
    switch (r) {
    case POP3_START_OK: break;
    case POP3_START_TOOLONG: agent_mail_err("toolong", NULL, NULL, "command above the packet payload"); break;
    case POP3_START_BADARG: agent_mail_err("bad-arg", NULL, NULL, "CR, LF or NUL in an argument"); break;
    case POP3_START_STATE: agent_mail_err("state", NULL, NULL, "no POP3 session in TRANSACTION"); break;
    case POP3_START_NOMEM: agent_mail_err("nomem", stage, NULL, "out of TCP resources"); break;
    case POP3_START_CONNECT: agent_mail_err("connect", "connect", NULL, "connect failed"); break;
    case POP3_START_CLOSED: agent_mail_err("closed", stage, NULL, "server closed the session"); break;
    }
}

static void p_open(const agent_pop3_open_t *o)
{
    ip_addr_t addr;
    ipaddr_aton(o->host, &addr); /* checked by host_ok */
    pop3_op = OP_OPEN;
    pop3_started(pop3_client_create(&pop3, &addr, o->port, o->user, o->user_len, o->pass,
                                    o->pass_len, o->apop, o->timeout_ms, pop3_done, pop3_piece,
                                    NULL),
                 "connect");
}

static void p_stat(void) { pop3_op = OP_STAT; pop3_started(pop3_client_mail_items_get(&pop3), "stat"); }
static void p_list(uint32_t n) { pop3_op = OP_LIST; pop3_started(pop3_client_mail_item_get(&pop3, n), "list"); }
static void p_retr(uint32_t n) { pop3_op = OP_OTHER; pop3_started(pop3_client_mail_item_message_get(&pop3, n), "retr"); }
static void p_dele(uint32_t n) { pop3_op = OP_OTHER; pop3_started(pop3_client_mail_item_delete(&pop3, n), "dele"); }
static void p_rset(void) { pop3_op = OP_OTHER; pop3_started(pop3_client_reset(&pop3), "rset"); }
static void p_noop(void) { pop3_op = OP_OTHER; pop3_started(pop3_client_noop(&pop3), "noop"); }
static void p_quit(void) { pop3_op = OP_OTHER; pop3_started(pop3_client_quit(&pop3), "quit"); }
static void p_abort(void) { pop3_client_abort(&pop3); }

/* ---------- SMTP ---------- */

static smtp_client_t smtp;
static uint8_t smtp_body[SMTP_BODY_MAX];
static ip_addr_t smtp_addr;
static smtp_config_t smtp_cfg;

static void smtp_done(void *arg, const smtp_result_t *r, size_t octets)
{
    (void)arg;
    if (r->code) agent_mail_err(r->code, r->stage, r->reply, r->msg);
    else agent_smtp_ok(octets);
}

static void s_send(const agent_smtp_mail_t *m)
{
    const agent_smtp_config_t *c = m->cfg;
    ipaddr_aton(c->host, &smtp_addr);
    smtp_cfg = smtp_config_of(c);
    switch (smtp_client_mail_send(&smtp, &smtp_addr, c->port, c->timeout_ms, &smtp_cfg, m->to,
                                  m->subject, m->subject_len, smtp_prio_of(m->prio), m->body,
                                  m->body_len, smtp_done, NULL)) {
    case SMTP_START_OK: break;
    case SMTP_START_TOOLONG: agent_mail_err("toolong", NULL, NULL, "a line would exceed its limit"); break;
    case SMTP_START_BADARG: agent_mail_err("bad-arg", NULL, NULL, "CR, LF or NUL in an argument"); break;
    case SMTP_START_BUSY: agent_mail_err("busy", NULL, NULL, NULL); break;
    case SMTP_START_NOMEM: agent_mail_err("nomem", "connect", NULL, "no TCP PCB"); break;
    case SMTP_START_CONNECT: agent_mail_err("connect", "connect", NULL, "connect failed"); break;
    }
}

static int host_ok(const char *host)
{
    ip_addr_t a;
    return ipaddr_aton(host, &a);
}

/* ---------- registration ---------- */

static const agent_mail_port_t mail_port = {
    .pop3_open = p_open, .pop3_stat = p_stat, .pop3_list = p_list, .pop3_retr = p_retr,
    .pop3_quit = p_quit, .smtp_send = s_send, .pop3_dele = p_dele, .pop3_rset = p_rset,
    .pop3_noop = p_noop, .pop3_abort = p_abort, .host_ok = host_ok, .smtp_check = smtp_agent_check,
    .body = smtp_body, .body_max = SMTP_BODY_MAX, .subject_max = SMTP_TEXT_MAX,
};

void app_init(void)
{
    agent_mail_register(&mail_port);
}

void app_poll(void)
{
    pop3_client_poll(&pop3);
    smtp_client_poll(&smtp);
}
