/* UART agent: line framing, request parsing and replies (docs/agent-protocol.md).
 *
 * Bytes from the UART ring collect in rx_line until LF. A complete line that
 * arrives while no request is in flight is copied to req_line and parsed there
 * in place, so the agent_req_t handed to a verb (tag, verb, decoded values)
 * stays valid until that request's final reply. A line arriving while a request
 * is in flight only has its tag read, for the `busy` reply. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "agent_internal.h"
#include "base64.h"
#include "platform.h"

#define TAG_MAX 8
#define MAX_TABLES 8
#define OUT_MAX 2048

static char rx_line[AGENT_LINE_MAX];
static size_t rx_len;
static int rx_overflow; /* line grew past the limit: discard up to the LF */

static char req_line[AGENT_LINE_MAX];
static agent_req_t cur_req;
static char cur_tag[TAG_MAX + 1];
static int in_flight;

static const agent_verb_t *tables[MAX_TABLES];
static size_t table_len[MAX_TABLES];
static size_t ntables;

static char out[OUT_MAX];

/* ---------------------------------------------------------------- output */

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
    uart_write(out, n);
}

void agent_ok(const char *fmt, ...)
{
    char head[TAG_MAX + 8];
    va_list ap;
    if (!in_flight)
        return; /* a late callback after the final reply */
    snprintf(head, sizeof head, "%s ok", cur_tag);
    in_flight = 0;
    va_start(ap, fmt);
    emit_line(head, fmt, ap);
    va_end(ap);
}

void agent_err(const char *code, const char *fmt, ...)
{
    char head[TAG_MAX + 48];
    va_list ap;
    if (!in_flight)
        return;
    snprintf(head, sizeof head, "%s err code=%s", cur_tag, code);
    in_flight = 0;
    va_start(ap, fmt);
    emit_line(head, fmt, ap);
    va_end(ap);
}

void agent_data(const void *buf, size_t n)
{
    char line[TAG_MAX + 8 + BASE64_ENCODED_LEN(AGENT_DATA_MAX) + 2];
    if (!in_flight || n == 0 || n > AGENT_DATA_MAX)
        return;
    size_t k = (size_t)snprintf(line, sizeof line, "%s data ", cur_tag);
    k += base64_encode(buf, n, line + k);
    line[k++] = '\n';
    uart_write(line, k);
}

int agent_busy(void)
{
    return in_flight;
}

void agent_log(const char *fmt, ...)
{
    va_list ap;
    size_t n = 6;
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
    uart_write(out, n);
}

/* A reply to a line that is not the request in flight (busy, bad-request). */
static void reply_other(const char *tag, const char *rest)
{
    char line[TAG_MAX + 96];
    size_t n = (size_t)snprintf(line, sizeof line, "%s %s\n", tag ? tag : "*", rest);
    uart_write(line, n < sizeof line ? n : sizeof line - 1);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '~' || c == ':' || c == '/' || c == '@' || c == '+' ||
           c == '-';
}

const char *agent_pct(const char *src, size_t len)
{
    static char slots[4][600];
    static unsigned next;
    static const char hex[] = "0123456789ABCDEF";
    char *dst = slots[next++ & 3];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (is_unreserved(c)) {
            if (n + 1 >= sizeof slots[0])
                break;
            dst[n++] = (char)c;
        } else {
            if (n + 3 >= sizeof slots[0])
                break; /* truncate on an escape boundary */
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    dst[n] = '\0';
    return dst;
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
        if (++n > TAG_MAX)
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

/* Parses req_line (NUL-terminated, tag already validated) into cur_req.
 * Returns NULL or a short reason (already percent-safe). */
static const char *parse_request(char *line)
{
    char *save = NULL;
    char *tok = strtok_r(line, " ", &save);
    memset(&cur_req, 0, sizeof cur_req);
    cur_req.tag = tok;

    tok = strtok_r(NULL, " ", &save);
    if (!tok)
        return "missing%20verb";
    for (const char *p = tok; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.'))
            return "bad%20verb";
    cur_req.verb = tok;

    while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
        if (cur_req.nargs == AGENT_MAX_ARGS)
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
        agent_arg_t *a = &cur_req.args[cur_req.nargs++];
        a->key = tok;
        a->val = eq + 1;
        a->len = (size_t)n;
    }
    return NULL;
}

static agent_handler_t find_verb(const char *verb)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < table_len[t]; i++)
            if (strcmp(tables[t][i].verb, verb) == 0)
                return tables[t][i].fn;
    return NULL;
}

int agent_verb_registered(const char *verb)
{
    return find_verb(verb) != NULL;
}

void agent_register(const agent_verb_t *verbs, size_t n)
{
    if (ntables < MAX_TABLES) {
        tables[ntables] = verbs;
        table_len[ntables++] = n;
    }
}

static void handle_line(char *line, size_t len, int overflow)
{
    char tag[TAG_MAX + 1];

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
    if (in_flight) {
        reply_other(tag, "err code=busy");
        return;
    }

    memcpy(req_line, line, len);
    req_line[len] = '\0';
    if (memchr(req_line, '\0', len)) { /* a raw NUL cannot be a valid request */
        reply_other(tag, "err code=bad-request msg=bad%20byte");
        return;
    }
    const char *why = parse_request(req_line);
    if (why) {
        char rest[64];
        snprintf(rest, sizeof rest, "err code=bad-request msg=%s", why);
        reply_other(tag, rest);
        return;
    }

    memcpy(cur_tag, tag, tl + 1);
    in_flight = 1;
    agent_handler_t fn = find_verb(cur_req.verb);
    if (!fn) {
        agent_err("unknown-verb", NULL);
        return;
    }
    if (fn(&cur_req) == AGENT_DONE && in_flight)
        agent_err("state", "msg=%s", agent_pct("handler gave no reply", 21));
}

void agent_poll(void)
{
    uint8_t buf[64];
    size_t n;
    while ((n = uart_read(buf, sizeof buf)) > 0) {
        for (size_t i = 0; i < n; i++) {
            char c = (char)buf[i];
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
}
