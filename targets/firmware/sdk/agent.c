/* Bench agent SDK, core (agent.h).
 *
 * Bytes collect in rx_line until LF. A complete line that arrives while no
 * request is in flight is copied to req_line and parsed there in place, so the
 * agent_req_t handed to a verb (tag, verb, decoded values) stays valid until
 * that request's final reply. A line arriving while a request is in flight
 * only has its tag read, for the `busy` reply.
 *
 * Shared state (in_flight, seq, the job slot, out[]) is only touched under
 * lock(); rx_* belong to the thread that feeds bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "base64.h"

#define MAX_TABLES 8
#define OUT_MAX 2048

static const agent_port_t *port;

static char rx_line[AGENT_LINE_MAX];
static size_t rx_len;
static int rx_overflow; /* line grew past the limit: discard up to the LF */

static char req_line[AGENT_LINE_MAX];
static agent_req_t cur_req;
static char cur_tag[AGENT_TAG_MAX + 1];
static int in_flight;
static uint32_t seq;      /* counts dispatched requests */
static uint32_t dropped;  /* replies with no request in flight */
static agent_handler_t job; /* threaded mode: the request the worker runs next */
static uint32_t job_seq;

static struct {
    const agent_verb_t *verbs;
    size_t n;
    int blocking;
} tables[MAX_TABLES];
static size_t ntables;

static char out[OUT_MAX];

static void lock(void)
{
    if (port && port->lock)
        port->lock();
}

static void unlock(void)
{
    if (port && port->unlock)
        port->unlock();
}

static int threaded(void)
{
    return port && port->wake_worker;
}

void agent_init(const agent_port_t *p)
{
    port = p;
    rx_len = 0;
    rx_overflow = 0;
    in_flight = 0;
    job = NULL;
    ntables = 0;
    dropped = 0;
}

uint32_t agent_clock_ms(void)
{
    return port && port->clock_ms ? port->clock_ms() : 0;
}

/* ---------------------------------------------------------------- output */

static void write_raw(const char *buf, size_t n)
{
    if (port && port->uart_write)
        port->uart_write(buf, n);
}

void agent_write_line(const char *line, size_t n)
{
    lock();
    write_raw(line, n);
    unlock();
}

/* Formats "head[ fmt...]\n" into out and writes it; caller holds the lock. */
static void emit_line(const char *head, const char *fmt, va_list ap)
{
    size_t n = (size_t)snprintf(out, sizeof out, "%s", head);
    if (fmt && *fmt && n < sizeof out - 2) {
        out[n++] = ' ';
        int r = vsnprintf(out + n, sizeof out - n, fmt, ap);
        if (r > 0)
            n += (size_t)r;
        else
            n--; /* nothing formatted: no trailing space */
    }
    if (n > sizeof out - 2)
        n = sizeof out - 2; /* truncated: still one line */
    out[n++] = '\n';
    write_raw(out, n);
}

/* Takes the lock; 1 when a request is in flight (and ends it), else counts a
 * dropped reply and releases the lock. */
static int begin_final(void)
{
    lock();
    if (!in_flight) {
        dropped++;
        unlock();
        return 0;
    }
    in_flight = 0;
    return 1;
}

void agent_ok(const char *fmt, ...)
{
    char head[AGENT_TAG_MAX + 8];
    va_list ap;
    if (!begin_final())
        return; /* a late callback after the final reply */
    snprintf(head, sizeof head, "%s ok", cur_tag);
    va_start(ap, fmt);
    emit_line(head, fmt, ap);
    va_end(ap);
    unlock();
}

void agent_err(const char *code, const char *fmt, ...)
{
    char head[AGENT_TAG_MAX + 48];
    va_list ap;
    if (!begin_final())
        return;
    snprintf(head, sizeof head, "%s err code=%s", cur_tag, code);
    va_start(ap, fmt);
    emit_line(head, fmt, ap);
    va_end(ap);
    unlock();
}

void agent_data(const void *buf, size_t n)
{
    char line[AGENT_TAG_MAX + 8 + BASE64_ENCODED_LEN(AGENT_DATA_MAX) + 2];
    if (n == 0 || n > AGENT_DATA_MAX)
        return;
    lock();
    if (in_flight) {
        size_t k = (size_t)snprintf(line, sizeof line, "%s data ", cur_tag);
        k += base64_encode(buf, n, line + k);
        line[k++] = '\n';
        write_raw(line, k);
    }
    unlock();
}

int agent_busy(void)
{
    lock();
    int b = in_flight;
    unlock();
    return b;
}

uint32_t agent_dropped_replies(void)
{
    lock();
    uint32_t d = dropped;
    unlock();
    return d;
}

void agent_log(const char *fmt, ...)
{
    va_list ap;
    size_t n = 6;
    lock();
    memcpy(out, "* log ", 6);
    va_start(ap, fmt);
    int r = vsnprintf(out + n, sizeof out - n - 1, fmt, ap);
    va_end(ap);
    if (r > 0)
        n += (size_t)r < sizeof out - n - 1 ? (size_t)r : sizeof out - n - 2;
    for (size_t i = 6; i < n; i++) /* keep it one line */
        if ((unsigned char)out[i] < 0x20)
            out[i] = ' ';
    out[n++] = '\n';
    write_raw(out, n);
    unlock();
}

/* A reply to a line that is not the request in flight (busy, bad-request). */
static void reply_other(const char *tag, const char *rest)
{
    char line[AGENT_TAG_MAX + 96];
    size_t n = (size_t)snprintf(line, sizeof line, "%s %s\n", tag ? tag : "*", rest);
    agent_write_line(line, n < sizeof line ? n : sizeof line - 1);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '~' || c == ':' || c == '/' || c == '@' || c == '+' ||
           c == '-';
}

char *agent_pct_r(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    if (cap == 0)
        return dst;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (is_unreserved(c)) {
            if (n + 1 >= cap)
                break;
            dst[n++] = (char)c;
        } else {
            if (n + 3 >= cap)
                break; /* truncate on an escape boundary */
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    dst[n] = '\0';
    return dst;
}

const char *agent_pct(const char *src, size_t len)
{
    static char slots[4][AGENT_PCT_MAX];
    static unsigned next;
    return agent_pct_r(slots[next++ & 3], sizeof slots[0], src, len);
}

/* ---------------------------------------------------------------- arguments */

const agent_arg_t *agent_arg(const agent_req_t *req, const char *key)
{
    for (int i = 0; i < req->nargs; i++)
        if (strcmp(req->args[i].key, key) == 0)
            return &req->args[i];
    return NULL;
}

const char *agent_arg_str(const agent_req_t *req, const char *key, const char *def)
{
    const agent_arg_t *a = agent_arg(req, key);
    return a ? a->val : def;
}

int agent_arg_u32(const agent_req_t *req, const char *key, uint32_t def, uint32_t *out_val)
{
    const agent_arg_t *a = agent_arg(req, key);
    if (!a) {
        *out_val = def;
        return 0;
    }
    if (a->len == 0 || a->len > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->val[i] < '0' || a->val[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(a->val[i] - '0');
    }
    if (v > 0xFFFFFFFFu)
        return -1;
    *out_val = (uint32_t)v;
    return 0;
}

/* ---------------------------------------------------------------- parsing */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of a valid tag at the start of line (terminated by space or end),
 * or 0. */
static size_t tag_len(const char *line, size_t len)
{
    size_t n = 0;
    while (n < len && line[n] != ' ') {
        char c = line[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;
        if (++n > AGENT_TAG_MAX)
            return 0;
    }
    return n;
}

/* Percent-decodes s in place (NUL-terminated on return). Returns the decoded
 * length or -1 on a reserved byte or a bad escape. */
static long pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
            if (hi < 0 || lo < 0)
                return -1;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else if (is_unreserved((unsigned char)*r)) {
            *w++ = *r;
        } else {
            return -1;
        }
    }
    *w = '\0';
    return (long)(w - s);
}

/* Next space-separated token of *p (C99 has no strtok_r). */
static char *next_token(char **p)
{
    char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return NULL;
    char *e = strchr(s, ' ');
    if (e) {
        *e = '\0';
        *p = e + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

/* Parses line (NUL-terminated, tag already validated) into req. Returns NULL
 * or a short reason (already percent-safe). */
static const char *parse_request(char *line, agent_req_t *req)
{
    char *rest = line;
    char *tok = next_token(&rest);
    memset(req, 0, sizeof *req);
    req->tag = tok;

    tok = next_token(&rest);
    if (!tok)
        return "missing%20verb";
    for (const char *p = tok; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.'))
            return "bad%20verb";
    req->verb = tok;

    while ((tok = next_token(&rest)) != NULL) {
        if (req->nargs == AGENT_MAX_ARGS)
            return "too%20many%20arguments";
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return "bad%20argument";
        *eq = '\0';
        for (const char *p = tok; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                return "bad%20key";
        long n = pct_decode(eq + 1);
        if (n < 0)
            return "bad%20encoding";
        agent_arg_t *a = &req->args[req->nargs++];
        a->key = tok;
        a->val = eq + 1;
        a->len = (size_t)n;
    }
    return NULL;
}

static agent_handler_t find_verb(const char *verb, int *blocking)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++)
            if (strcmp(tables[t].verbs[i].verb, verb) == 0) {
                if (blocking)
                    *blocking = tables[t].blocking;
                return tables[t].verbs[i].fn;
            }
    return NULL;
}

int agent_verb_registered(const char *verb)
{
    return find_verb(verb, NULL) != NULL;
}

static void add_table(const agent_verb_t *verbs, size_t n, int blocking)
{
    if (ntables < MAX_TABLES) {
        tables[ntables].verbs = verbs;
        tables[ntables].n = n;
        tables[ntables++].blocking = blocking;
    }
}

void agent_register(const agent_verb_t *verbs, size_t n)
{
    add_table(verbs, n, 0);
}

void agent_register_blocking(const agent_verb_t *verbs, size_t n)
{
    add_table(verbs, n, 1);
}

/* Runs a handler for request number s; a handler that returns AGENT_DONE
 * without a reply gets one. */
static void run(agent_handler_t fn, uint32_t s)
{
    if (fn(&cur_req) != AGENT_DONE)
        return;
    lock();
    int silent = in_flight && seq == s;
    unlock();
    if (silent)
        agent_err("state", "msg=handler%%20gave%%20no%%20reply");
}

void agent_work(void)
{
    lock();
    agent_handler_t fn = job;
    uint32_t s = job_seq;
    job = NULL;
    unlock();
    if (fn)
        run(fn, s);
}

static void handle_line(char *line, size_t len, int overflow)
{
    char tag[AGENT_TAG_MAX + 1];

    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0 && !overflow)
        return; /* blank line: nothing to answer */

    size_t tl = tag_len(line, len);
    if (tl == 0) {
        reply_other(NULL, overflow ? "err code=bad-request msg=line%20too%20long"
                                   : "err code=bad-request msg=bad%20tag");
        return;
    }
    memcpy(tag, line, tl);
    tag[tl] = '\0';
    if (overflow) {
        reply_other(tag, "err code=bad-request msg=line%20too%20long");
        return;
    }
    lock();
    if (in_flight) {
        unlock();
        reply_other(tag, "err code=busy");
        return;
    }
    /* No request in flight: nobody else reads req_line/cur_req until in_flight
     * is set again below. */
    unlock();
    if (memchr(line, '\0', len)) { /* a raw NUL cannot be a valid request */
        reply_other(tag, "err code=bad-request msg=bad%20byte");
        return;
    }
    memcpy(req_line, line, len);
    req_line[len] = '\0';
    const char *why = parse_request(req_line, &cur_req);
    if (why) {
        char rest[64];
        snprintf(rest, sizeof rest, "err code=bad-request msg=%s", why);
        reply_other(tag, rest);
        return;
    }

    int blocking = 0;
    agent_handler_t fn = find_verb(cur_req.verb, &blocking);
    lock();
    memcpy(cur_tag, tag, tl + 1);
    in_flight = 1;
    uint32_t s = ++seq;
    if (fn && blocking && threaded()) {
        job = fn;
        job_seq = s;
        unlock();
        port->wake_worker();
        return;
    }
    unlock();
    if (!fn) {
        agent_err("unknown-verb", NULL);
        return;
    }
    run(fn, s);
}

void agent_input(const void *bytes, size_t n)
{
    const char *b = bytes;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c == '\n') {
            handle_line(rx_line, rx_len, rx_overflow);
            rx_len = 0;
            rx_overflow = 0;
        } else if (rx_len < AGENT_LINE_MAX - 1) {
            rx_line[rx_len++] = c; /* 511 bytes + LF = 512, the limit */
        } else {
            rx_overflow = 1; /* keep the head: the tag is still readable */
        }
    }
}

void agent_poll(void)
{
    uint8_t buf[64];
    size_t n;
    if (!port || !port->uart_read)
        return;
    while ((n = port->uart_read(buf, sizeof buf)) > 0)
        agent_input(buf, n);
}
