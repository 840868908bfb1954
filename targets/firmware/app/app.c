/* The mail application: the pop3.* and smtp.* agent verbs
 * (docs/agent-protocol.md) on top of net/pop3_client and net/smtp_client.
 * Verbs that need the network return AGENT_PENDING and are answered from the
 * clients' done callbacks. */
#include "app.h"
#include "../agent/agent.h"
#include "../limits.h"
#include "../net/pop3_client.h"
#include "../net/smtp_client.h"
#include "../proto/base64.h"
#include "../proto/fill.h"
#include "../proto/md5.h"
#include "lwip/ip_addr.h"
#include <string.h>

/* ---------- helpers ---------- */

/* A string argument without NUL bytes, at most max octets. 0 ok, else replied. */
static int arg_text(const agent_req_t *req, const char *key, const char *def, size_t max,
                    const char **out, size_t *len)
{
    const agent_arg_t *a = agent_arg(req, key);
    if (!a) {
        if (!def) {
            agent_err("bad-arg", "msg=%s", agent_pct(key, strlen(key)));
            return -1;
        }
        *out = def;
        *len = strlen(def);
        return 0;
    }
    if (memchr(a->val, 0, a->len)) {
        agent_err("bad-arg", "msg=%s", agent_pct("NUL byte in value", 17));
        return -1;
    }
    if (a->len > max) {
        agent_err("toolong", "msg=%s", agent_pct(key, strlen(key)));
        return -1;
    }
    *out = a->val;
    *len = a->len;
    return 0;
}

static int arg_num(const agent_req_t *req, const char *key, uint32_t def, uint32_t min,
                   uint32_t max, uint32_t *out)
{
    if (agent_arg_u32(req, key, def, out) || *out < min || *out > max) {
        agent_err("bad-arg", "msg=%s", agent_pct(key, strlen(key)));
        return -1;
    }
    return 0;
}

static int arg_host(const agent_req_t *req, ip_addr_t *addr)
{
    const char *h;
    size_t n;
    if (arg_text(req, "host", NULL, 64, &h, &n)) return -1;
    if (!ipaddr_aton(h, addr)) {
        agent_err("bad-arg", "msg=%s", agent_pct("host is not an IP address", 26));
        return -1;
    }
    return 0;
}

static void reply_err(const char *code, const char *stage, const char *reply, const char *msg)
{
    const char *m = msg ? agent_pct(msg, strlen(msg)) : NULL;
    agent_err(code, "stage=%s%s%s%s%s", stage, reply && *reply ? " reply=" : "",
              reply && *reply ? agent_pct(reply, strlen(reply)) : "", m ? " msg=" : "", m ? m : "");
}

/* ---------- POP3 ---------- */

static pop3_client_t pop3;
static struct {
    const char *verb; /* which verb awaits the done callback */
    uint32_t n;
    int data_mode;
    md5_ctx_t md5;
    uint32_t octets, segments;
} pop3_req;

static void pop3_piece(void *arg, const uint8_t *d, size_t n, int final)
{
    (void)arg;
    (void)final;
    md5_update(&pop3_req.md5, d, n);
    pop3_req.octets += (uint32_t)n;
    pop3_req.segments++;
    if (pop3_req.data_mode)
        for (size_t off = 0; off < n; off += AGENT_DATA_MAX)
            agent_data(d + off, n - off < AGENT_DATA_MAX ? n - off : AGENT_DATA_MAX);
}

static void pop3_done(void *arg, const pop3_result_t *r)
{
    (void)arg;
    const char *v = pop3_req.verb;
    if (r->code) {
        reply_err(r->code, r->stage, r->reply, r->msg);
    } else if (!strcmp(v, "pop3.open")) {
        agent_ok("auth=%s", r->apop ? "apop" : "user");
    } else if (!strcmp(v, "pop3.stat")) {
        agent_ok("count=%lu octets=%lu", (unsigned long)r->a, (unsigned long)r->b);
    } else if (!strcmp(v, "pop3.list")) {
        agent_ok("n=%lu octets=%lu", (unsigned long)r->a, (unsigned long)r->b);
    } else if (!strcmp(v, "pop3.retr")) {
        uint8_t d[16];
        char hex[33];
        md5_final(&pop3_req.md5, d);
        md5_hex(d, hex);
        agent_ok("n=%lu octets=%lu md5=%s segments=%lu", (unsigned long)pop3_req.n,
                 (unsigned long)pop3_req.octets, hex, (unsigned long)pop3_req.segments);
    } else {
        agent_ok("%s", "");
    }
}

static agent_status_t pop3_started(pop3_start_t r, const char *stage)
{
    switch (r) {
    case POP3_START_OK: return AGENT_PENDING;
    case POP3_START_TOOLONG: agent_err("toolong", "msg=%s", agent_pct("command above the packet payload", 32)); break;
    case POP3_START_BADARG: agent_err("bad-arg", "msg=%s", agent_pct("CR, LF or NUL in an argument", 28)); break;
    case POP3_START_STATE: agent_err("state", "msg=%s", agent_pct("no POP3 session in TRANSACTION", 30)); break;
    case POP3_START_NOMEM: reply_err("nomem", stage, NULL, "out of TCP resources"); break;
    case POP3_START_CONNECT: reply_err("connect", "connect", NULL, "connect failed"); break;
    case POP3_START_CLOSED: reply_err("closed", stage, NULL, "server closed the session"); break;
    }
    return AGENT_DONE;
}

static agent_status_t v_pop3_open(const agent_req_t *req)
{
    ip_addr_t addr;
    uint32_t port, apop, tmo;
    const char *user, *pass;
    size_t ul, pl;
    if (arg_host(req, &addr) || arg_num(req, "port", 110, 1, 65535, &port) ||
        arg_text(req, "user", NULL, 255, &user, &ul) || arg_text(req, "pass", NULL, 255, &pass, &pl) ||
        arg_num(req, "apop", 0, 0, 1, &apop) ||
        arg_num(req, "timeout_ms", CLIENT_TIMEOUT_MS_DEFAULT, 1, 3600000, &tmo))
        return AGENT_DONE;
    pop3_req.verb = "pop3.open";
    return pop3_started(pop3_client_create(&pop3, &addr, (uint16_t)port, user, ul, pass, pl,
                                           (int)apop, tmo, pop3_done, pop3_piece, NULL),
                        "connect");
}

static agent_status_t pop3_op(const agent_req_t *req, const char *verb, const char *stage)
{
    uint32_t n = 0;
    if ((!strcmp(stage, "list") || !strcmp(stage, "retr") || !strcmp(stage, "dele")) &&
        arg_num(req, "n", 0xffffffffu, 1, 0xfffffffeu, &n))
        return AGENT_DONE;
    pop3_req.verb = verb;
    pop3_req.n = n;
    pop3_start_t r;
    if (!strcmp(stage, "stat")) r = pop3_client_mail_items_get(&pop3);
    else if (!strcmp(stage, "list")) r = pop3_client_mail_item_get(&pop3, n);
    else if (!strcmp(stage, "retr")) {
        const char *mode = agent_arg_str(req, "mode", "digest");
        if (strcmp(mode, "digest") && strcmp(mode, "data")) {
            agent_err("bad-arg", "msg=mode");
            return AGENT_DONE;
        }
        pop3_req.data_mode = !strcmp(mode, "data");
        md5_init(&pop3_req.md5);
        pop3_req.octets = pop3_req.segments = 0;
        r = pop3_client_mail_item_message_get(&pop3, n);
    } else if (!strcmp(stage, "dele")) r = pop3_client_mail_item_delete(&pop3, n);
    else if (!strcmp(stage, "rset")) r = pop3_client_reset(&pop3);
    else if (!strcmp(stage, "noop")) r = pop3_client_noop(&pop3);
    else r = pop3_client_quit(&pop3);
    return pop3_started(r, stage);
}

static agent_status_t v_pop3_stat(const agent_req_t *r) { return pop3_op(r, "pop3.stat", "stat"); }
static agent_status_t v_pop3_list(const agent_req_t *r) { return pop3_op(r, "pop3.list", "list"); }
static agent_status_t v_pop3_retr(const agent_req_t *r) { return pop3_op(r, "pop3.retr", "retr"); }
static agent_status_t v_pop3_dele(const agent_req_t *r) { return pop3_op(r, "pop3.dele", "dele"); }
static agent_status_t v_pop3_rset(const agent_req_t *r) { return pop3_op(r, "pop3.rset", "rset"); }
static agent_status_t v_pop3_noop(const agent_req_t *r) { return pop3_op(r, "pop3.noop", "noop"); }
static agent_status_t v_pop3_quit(const agent_req_t *r) { return pop3_op(r, "pop3.quit", "quit"); }

static agent_status_t v_pop3_abort(const agent_req_t *req)
{
    (void)req;
    pop3_client_abort(&pop3);
    agent_ok("%s", "");
    return AGENT_DONE;
}

/* ---------- SMTP ---------- */

static smtp_client_t smtp;
static uint8_t smtp_body[SMTP_BODY_MAX];
static size_t smtp_body_len;
static struct {
    int set;
    ip_addr_t addr;
    uint16_t port;
    uint32_t timeout_ms;
    char user[384], pass[384], from[512], domain[512];
    smtp_config_t cfg;
} smtp_cfg;
static char smtp_to[512];

static int copy_arg(const agent_req_t *req, const char *key, const char *def, char *dst, size_t cap)
{
    const char *v;
    size_t n;
    if (arg_text(req, key, def, cap - 1, &v, &n)) return -1;
    memcpy(dst, v, n);
    dst[n] = 0;
    return 0;
}

static agent_status_t v_smtp_config(const agent_req_t *req)
{
    ip_addr_t addr;
    uint32_t port, tmo;
    smtp_auth_t auth;
    const char *a = agent_arg_str(req, "auth", "none");
    if (!strcmp(a, "plain")) auth = SMTP_AUTH_PLAIN;
    else if (!strcmp(a, "login")) auth = SMTP_AUTH_LOGIN;
    else if (!strcmp(a, "none")) auth = SMTP_AUTH_NONE;
    else {
        agent_err("bad-arg", "msg=auth");
        return AGENT_DONE;
    }
    if (arg_host(req, &addr) || arg_num(req, "port", 25, 1, 65535, &port) ||
        arg_num(req, "timeout_ms", CLIENT_TIMEOUT_MS_DEFAULT, 1, 3600000, &tmo))
        return AGENT_DONE;
    smtp_cfg.set = 0;
    if (copy_arg(req, "user", "", smtp_cfg.user, sizeof smtp_cfg.user) ||
        copy_arg(req, "pass", "", smtp_cfg.pass, sizeof smtp_cfg.pass) ||
        copy_arg(req, "from", NULL, smtp_cfg.from, sizeof smtp_cfg.from) ||
        copy_arg(req, "domain", NULL, smtp_cfg.domain, sizeof smtp_cfg.domain))
        return AGENT_DONE;
    smtp_cfg.cfg = (smtp_config_t){smtp_cfg.user, smtp_cfg.pass, smtp_cfg.from, smtp_cfg.domain, auth};
    if (strpbrk(smtp_cfg.from, "\r\n") || strpbrk(smtp_cfg.domain, "\r\n") ||
        strpbrk(smtp_cfg.user, "\r\n") || strpbrk(smtp_cfg.pass, "\r\n")) {
        agent_err("bad-arg", "msg=%s", agent_pct("CR or LF in an argument", 23));
        return AGENT_DONE;
    }
    if (smtp_config_check(&smtp_cfg.cfg)) {
        agent_err("toolong", "msg=%s", agent_pct("a command line would exceed 512 octets", 38));
        return AGENT_DONE;
    }
    smtp_cfg.addr = addr;
    smtp_cfg.port = (uint16_t)port;
    smtp_cfg.timeout_ms = tmo;
    smtp_cfg.set = 1;
    agent_ok("%s", "");
    return AGENT_DONE;
}

static agent_status_t v_smtp_body(const agent_req_t *req)
{
    uint32_t reset, fill;
    const agent_arg_t *data = agent_arg(req, "data");
    if (arg_num(req, "reset", 0, 0, 1, &reset) || arg_num(req, "fill", 0, 0, SMTP_BODY_MAX, &fill))
        return AGENT_DONE;
    if (smtp.active) {
        agent_err("busy", "msg=%s", agent_pct("a mail is being sent", 20));
        return AGENT_DONE;
    }
    size_t len = reset ? 0 : smtp_body_len;
    if (data && data->len) {
        size_t pad = (data->len >= 1 && data->val[data->len - 1] == '=') +
                     (data->len >= 2 && data->val[data->len - 2] == '=');
        size_t need = data->len % 4 ? 0 : data->len / 4 * 3 - pad;
        if (need > SMTP_BODY_MAX - len) {
            agent_err("toolong", "msg=%s", agent_pct("body buffer full", 16));
            return AGENT_DONE;
        }
        long n = base64_decode(data->val, data->len, smtp_body + len, SMTP_BODY_MAX - len);
        if (n < 0) {
            agent_err("bad-arg", "msg=%s", agent_pct("data is not base64", 18));
            return AGENT_DONE;
        }
        len += (size_t)n;
    }
    if (fill > SMTP_BODY_MAX - len) {
        agent_err("toolong", "msg=%s", agent_pct("body buffer full", 16));
        return AGENT_DONE;
    }
    fill_pattern(smtp_body + len, fill);
    smtp_body_len = len + fill;
    agent_ok("octets=%lu", (unsigned long)smtp_body_len);
    return AGENT_DONE;
}

static void smtp_done(void *arg, const smtp_result_t *r, size_t octets)
{
    (void)arg;
    if (r->code) reply_err(r->code, r->stage, r->reply, r->msg);
    else agent_ok("octets=%lu", (unsigned long)octets);
}

static agent_status_t v_smtp_send(const agent_req_t *req)
{
    const char *subject, *prio_s = agent_arg_str(req, "priority", "normal");
    size_t sl;
    smtp_prio_t prio;
    if (!strcmp(prio_s, "normal")) prio = SMTP_PRIO_NORMAL;
    else if (!strcmp(prio_s, "high")) prio = SMTP_PRIO_HIGH;
    else if (!strcmp(prio_s, "low")) prio = SMTP_PRIO_LOW;
    else {
        agent_err("bad-arg", "msg=priority");
        return AGENT_DONE;
    }
    if (!smtp_cfg.set) {
        agent_err("state", "msg=%s", agent_pct("smtp.config first", 17));
        return AGENT_DONE;
    }
    if (copy_arg(req, "to", NULL, smtp_to, sizeof smtp_to) ||
        arg_text(req, "subject", "", SMTP_TEXT_MAX, &subject, &sl))
        return AGENT_DONE;
    switch (smtp_client_mail_send(&smtp, &smtp_cfg.addr, smtp_cfg.port, smtp_cfg.timeout_ms,
                                  &smtp_cfg.cfg, smtp_to, subject, sl, prio, smtp_body,
                                  smtp_body_len, smtp_done, NULL)) {
    case SMTP_START_OK: return AGENT_PENDING;
    case SMTP_START_TOOLONG: agent_err("toolong", "msg=%s", agent_pct("a line would exceed its limit", 29)); break;
    case SMTP_START_BADARG: agent_err("bad-arg", "msg=%s", agent_pct("CR, LF or NUL in an argument", 28)); break;
    case SMTP_START_BUSY: agent_err("busy", "%s", ""); break;
    case SMTP_START_NOMEM: reply_err("nomem", "connect", NULL, "no TCP PCB"); break;
    case SMTP_START_CONNECT: reply_err("connect", "connect", NULL, "connect failed"); break;
    }
    return AGENT_DONE;
}

/* ---------- registration ---------- */

static const agent_verb_t verbs[] = {
    {"pop3.open", v_pop3_open}, {"pop3.stat", v_pop3_stat}, {"pop3.list", v_pop3_list},
    {"pop3.retr", v_pop3_retr}, {"pop3.dele", v_pop3_dele}, {"pop3.rset", v_pop3_rset},
    {"pop3.noop", v_pop3_noop}, {"pop3.quit", v_pop3_quit}, {"pop3.abort", v_pop3_abort},
    {"smtp.config", v_smtp_config}, {"smtp.body", v_smtp_body}, {"smtp.send", v_smtp_send},
};

void app_init(void)
{
    agent_register(verbs, sizeof verbs / sizeof verbs[0]);
}

void app_poll(void)
{
    pop3_client_poll(&pop3);
    smtp_client_poll(&smtp);
}
