/* Bench agent SDK: the mail verbs (agent_mail.h). Argument checks, the SMTP
 * settings and body buffer, the RETR digest; the port does the networking.
 * All state here belongs to the request in flight: in threaded mode only the
 * worker touches it. */
#include <string.h>

#include "agent.h"
#include "agent_mail.h"
#include "base64.h"
#include "fill.h"
#include "md5.h"

#define HOST_MAX 64
#define CRED_MAX 255
#define TIMEOUT_MAX_MS 3600000u
#define TIMEOUT_DEFAULT_MS 10000u

static const agent_mail_port_t *mp;

/* ---------- helpers ---------- */

static void err_msg(const char *code, const char *msg)
{
    char m[AGENT_PCT_MAX];
    agent_err(code, "msg=%s", agent_pct_r(m, sizeof m, msg, strlen(msg)));
}

/* A string argument without NUL bytes, at most max octets. 0 ok, else replied. */
static int arg_text(const agent_req_t *req, const char *key, const char *def, size_t max,
                    const char **out, size_t *len)
{
    const agent_arg_t *a = agent_arg(req, key);
    if (!a) {
        if (!def) {
            err_msg("bad-arg", key);
            return -1;
        }
        *out = def;
        *len = strlen(def);
        return 0;
    }
    if (memchr(a->val, 0, a->len)) {
        err_msg("bad-arg", "NUL byte in value");
        return -1;
    }
    if (a->len > max) {
        err_msg("toolong", key);
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
        err_msg("bad-arg", key);
        return -1;
    }
    return 0;
}

static int arg_host(const agent_req_t *req, const char **host)
{
    size_t n;
    if (arg_text(req, "host", NULL, HOST_MAX, host, &n))
        return -1;
    if (mp->host_ok && !mp->host_ok(*host)) {
        err_msg("bad-arg", "host is not an IP address");
        return -1;
    }
    return 0;
}

void agent_mail_err(const char *code, const char *stage, const char *reply, const char *msg)
{
    char r[AGENT_PCT_MAX], m[AGENT_PCT_MAX];
    int has_r = reply && *reply, has_m = msg != NULL;
    if (has_r)
        agent_pct_r(r, sizeof r, reply, strlen(reply));
    if (has_m)
        agent_pct_r(m, sizeof m, msg, strlen(msg));
    agent_err(code, "%s%s%s%s%s%s", stage ? "stage=" : "", stage ? stage : "",
              has_r ? (stage ? " reply=" : "reply=") : "", has_r ? r : "",
              has_m ? (stage || has_r ? " msg=" : "msg=") : "", has_m ? m : "");
}

/* ---------- POP3 ---------- */

static struct {
    const char *verb; /* which verb awaits its completion */
    uint32_t n;
    int data_mode;
    md5_ctx_t md5;
    uint32_t octets, segments;
} pop3_req;

void agent_pop3_piece(const void *data, size_t n, int final)
{
    const uint8_t *d = data;
    (void)final;
    md5_update(&pop3_req.md5, d, n);
    pop3_req.octets += (uint32_t)n;
    pop3_req.segments++;
    if (pop3_req.data_mode)
        for (size_t off = 0; off < n; off += AGENT_DATA_MAX)
            agent_data(d + off, n - off < AGENT_DATA_MAX ? n - off : AGENT_DATA_MAX);
}

void agent_pop3_open_ok(int apop_used)
{
    agent_ok("auth=%s", apop_used ? "apop" : "user");
}

void agent_pop3_stat_ok(uint32_t count, uint32_t octets)
{
    agent_ok("count=%lu octets=%lu", (unsigned long)count, (unsigned long)octets);
}

void agent_pop3_list_ok(uint32_t n, uint32_t octets)
{
    agent_ok("n=%lu octets=%lu", (unsigned long)n, (unsigned long)octets);
}

void agent_pop3_ok(void)
{
    if (pop3_req.verb && !strcmp(pop3_req.verb, "pop3.retr")) {
        uint8_t d[16];
        char hex[33];
        md5_final(&pop3_req.md5, d);
        md5_hex(d, hex);
        agent_ok("n=%lu octets=%lu md5=%s segments=%lu", (unsigned long)pop3_req.n,
                 (unsigned long)pop3_req.octets, hex, (unsigned long)pop3_req.segments);
    } else {
        agent_ok(NULL);
    }
}

static agent_status_t v_pop3_open(const agent_req_t *req)
{
    agent_pop3_open_t o;
    uint32_t port, apop, tmo;
    if (arg_host(req, &o.host) || arg_num(req, "port", 110, 1, 65535, &port) ||
        arg_text(req, "user", NULL, CRED_MAX, &o.user, &o.user_len) ||
        arg_text(req, "pass", NULL, CRED_MAX, &o.pass, &o.pass_len) ||
        arg_num(req, "apop", 0, 0, 1, &apop) ||
        arg_num(req, "timeout_ms", TIMEOUT_DEFAULT_MS, 1, TIMEOUT_MAX_MS, &tmo))
        return AGENT_DONE;
    o.port = (uint16_t)port;
    o.apop = (int)apop;
    o.timeout_ms = tmo;
    pop3_req.verb = "pop3.open";
    mp->pop3_open(&o);
    return AGENT_PENDING;
}

/* The verbs after open: verb's stage is the text after "pop3.". */
static agent_status_t pop3_op(const agent_req_t *req)
{
    const char *stage = req->verb + 5;
    uint32_t n = 0;
    if ((!strcmp(stage, "list") || !strcmp(stage, "retr") || !strcmp(stage, "dele")) &&
        arg_num(req, "n", 0xffffffffu, 1, 0xfffffffeu, &n))
        return AGENT_DONE;
    pop3_req.verb = req->verb;
    pop3_req.n = n;
    if (!strcmp(stage, "stat")) {
        mp->pop3_stat();
    } else if (!strcmp(stage, "list")) {
        mp->pop3_list(n);
    } else if (!strcmp(stage, "retr")) {
        const char *mode = agent_arg_str(req, "mode", "digest");
        if (strcmp(mode, "digest") && strcmp(mode, "data")) {
            agent_err("bad-arg", "msg=mode");
            return AGENT_DONE;
        }
        pop3_req.data_mode = !strcmp(mode, "data");
        md5_init(&pop3_req.md5);
        pop3_req.octets = pop3_req.segments = 0;
        mp->pop3_retr(n);
    } else if (!strcmp(stage, "dele")) {
        mp->pop3_dele(n);
    } else if (!strcmp(stage, "rset")) {
        mp->pop3_rset();
    } else if (!strcmp(stage, "noop")) {
        mp->pop3_noop();
    } else {
        mp->pop3_quit();
    }
    return AGENT_PENDING;
}

static agent_status_t v_pop3_abort(const agent_req_t *req)
{
    (void)req;
    mp->pop3_abort();
    agent_ok(NULL);
    return AGENT_DONE;
}

/* ---------- SMTP ---------- */

static size_t body_len;
static struct {
    int set;
    char host[HOST_MAX + 1];
    char user[384], pass[384], from[512], domain[512];
    agent_smtp_config_t cfg;
} smtp_cfg;
static char smtp_to[512];

static int copy_arg(const agent_req_t *req, const char *key, const char *def, char *dst, size_t cap)
{
    const char *v;
    size_t n;
    if (arg_text(req, key, def, cap - 1, &v, &n))
        return -1;
    memcpy(dst, v, n);
    dst[n] = 0;
    return 0;
}

static agent_status_t v_smtp_config(const agent_req_t *req)
{
    const char *host;
    uint32_t port, tmo;
    agent_auth_t auth;
    const char *a = agent_arg_str(req, "auth", "none");
    if (!strcmp(a, "plain"))
        auth = AGENT_AUTH_PLAIN;
    else if (!strcmp(a, "login"))
        auth = AGENT_AUTH_LOGIN;
    else if (!strcmp(a, "none"))
        auth = AGENT_AUTH_NONE;
    else {
        agent_err("bad-arg", "msg=auth");
        return AGENT_DONE;
    }
    if (arg_host(req, &host) || arg_num(req, "port", 25, 1, 65535, &port) ||
        arg_num(req, "timeout_ms", TIMEOUT_DEFAULT_MS, 1, TIMEOUT_MAX_MS, &tmo))
        return AGENT_DONE;
    smtp_cfg.set = 0;
    if (copy_arg(req, "user", "", smtp_cfg.user, sizeof smtp_cfg.user) ||
        copy_arg(req, "pass", "", smtp_cfg.pass, sizeof smtp_cfg.pass) ||
        copy_arg(req, "from", NULL, smtp_cfg.from, sizeof smtp_cfg.from) ||
        copy_arg(req, "domain", NULL, smtp_cfg.domain, sizeof smtp_cfg.domain))
        return AGENT_DONE;
    if (strpbrk(smtp_cfg.from, "\r\n") || strpbrk(smtp_cfg.domain, "\r\n") ||
        strpbrk(smtp_cfg.user, "\r\n") || strpbrk(smtp_cfg.pass, "\r\n")) {
        err_msg("bad-arg", "CR or LF in an argument");
        return AGENT_DONE;
    }
    memcpy(smtp_cfg.host, host, strlen(host) + 1);
    smtp_cfg.cfg = (agent_smtp_config_t){smtp_cfg.host,  (uint16_t)port, smtp_cfg.user,
                                         smtp_cfg.pass,  smtp_cfg.from,  smtp_cfg.domain,
                                         auth,           tmo};
    const char *why = mp->smtp_check ? mp->smtp_check(&smtp_cfg.cfg) : NULL;
    if (why) {
        err_msg("toolong", why);
        return AGENT_DONE;
    }
    smtp_cfg.set = 1;
    agent_ok(NULL);
    return AGENT_DONE;
}

static agent_status_t v_smtp_body(const agent_req_t *req)
{
    uint32_t reset, fill;
    const agent_arg_t *data = agent_arg(req, "data");
    size_t max = mp->body_max;
    if (arg_num(req, "reset", 0, 0, 1, &reset) ||
        arg_num(req, "fill", 0, 0, (uint32_t)max, &fill))
        return AGENT_DONE;
    size_t len = reset ? 0 : body_len;
    if (data && data->len) {
        size_t pad = (data->len >= 1 && data->val[data->len - 1] == '=') +
                     (data->len >= 2 && data->val[data->len - 2] == '=');
        size_t need = data->len % 4 ? 0 : data->len / 4 * 3 - pad;
        if (need > max - len) {
            err_msg("toolong", "body buffer full");
            return AGENT_DONE;
        }
        long n = base64_decode(data->val, data->len, mp->body + len, max - len);
        if (n < 0) {
            err_msg("bad-arg", "data is not base64");
            return AGENT_DONE;
        }
        len += (size_t)n;
    }
    if (fill > max - len) {
        err_msg("toolong", "body buffer full");
        return AGENT_DONE;
    }
    fill_pattern(mp->body + len, fill);
    body_len = len + fill;
    agent_ok("octets=%lu", (unsigned long)body_len);
    return AGENT_DONE;
}

void agent_smtp_ok(size_t octets)
{
    agent_ok("octets=%lu", (unsigned long)octets);
}

static agent_status_t v_smtp_send(const agent_req_t *req)
{
    static agent_smtp_mail_t m;
    const char *prio_s = agent_arg_str(req, "priority", "normal");
    if (!strcmp(prio_s, "normal"))
        m.prio = AGENT_PRIO_NORMAL;
    else if (!strcmp(prio_s, "high"))
        m.prio = AGENT_PRIO_HIGH;
    else if (!strcmp(prio_s, "low"))
        m.prio = AGENT_PRIO_LOW;
    else {
        agent_err("bad-arg", "msg=priority");
        return AGENT_DONE;
    }
    if (!smtp_cfg.set) {
        err_msg("state", "smtp.config first");
        return AGENT_DONE;
    }
    if (copy_arg(req, "to", NULL, smtp_to, sizeof smtp_to) ||
        arg_text(req, "subject", "", mp->subject_max, &m.subject, &m.subject_len))
        return AGENT_DONE;
    m.cfg = &smtp_cfg.cfg;
    m.to = smtp_to;
    m.body = mp->body;
    m.body_len = body_len;
    mp->smtp_send(&m);
    return AGENT_PENDING;
}

/* ---------- registration ---------- */

void agent_mail_register(const agent_mail_port_t *p)
{
    static agent_verb_t verbs[12];
    size_t n = 0;
    mp = p;
    body_len = 0;
    smtp_cfg.set = 0;
    verbs[n++] = (agent_verb_t){"pop3.open", v_pop3_open};
    verbs[n++] = (agent_verb_t){"pop3.stat", pop3_op};
    verbs[n++] = (agent_verb_t){"pop3.list", pop3_op};
    verbs[n++] = (agent_verb_t){"pop3.retr", pop3_op};
    if (p->pop3_dele)
        verbs[n++] = (agent_verb_t){"pop3.dele", pop3_op};
    if (p->pop3_rset)
        verbs[n++] = (agent_verb_t){"pop3.rset", pop3_op};
    if (p->pop3_noop)
        verbs[n++] = (agent_verb_t){"pop3.noop", pop3_op};
    verbs[n++] = (agent_verb_t){"pop3.quit", pop3_op};
    if (p->pop3_abort)
        verbs[n++] = (agent_verb_t){"pop3.abort", v_pop3_abort};
    verbs[n++] = (agent_verb_t){"smtp.config", v_smtp_config};
    verbs[n++] = (agent_verb_t){"smtp.body", v_smtp_body};
    verbs[n++] = (agent_verb_t){"smtp.send", v_smtp_send};
    agent_register_blocking(verbs, n);
}
