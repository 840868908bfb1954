/* The mail clients' lwIP glue and agent verbs (net/, app/app.c) on the host:
 * real lwIP 2.1.3 over its loopback interface, scripted POP3/SMTP servers on
 * the raw API in the same process, a virtual millisecond clock, and a stub of
 * the agent that records replies. Checks replies, what the servers saw, the
 * payload of every client segment (POP3 <= 120, SMTP <= 1024), that the
 * clients never reset a connection on the normal path, and that PCBs, pbufs
 * and heap return to their baseline after hundreds of sessions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "../../sdk/agent.h"
#include "../../sdk/base64.h"
#include "../../app/app.h"
#include "../../sdk/fill.h"
#include "../../sdk/md5.h"
#include "../t.h"

int t_pass, t_fail;

/* ---------- platform hooks lwIP needs ---------- */
static uint32_t now_ms = 1000;
u32_t sys_now(void) { return now_ms; }
static uint32_t clock_now(void) { return now_ms; }
uint32_t lwip_port_rand(void)
{
    static uint32_t x = 2463534242u;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    return x;
}
u32_t lwip_port_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                        u16_t remote_port)
{
    (void)local_ip; (void)local_port; (void)remote_ip; (void)remote_port;
    return lwip_port_rand();
}
void lwip_port_assert(const char *msg, const char *file, int line)
{
    fprintf(stderr, "lwIP assertion: %s (%s:%d)\n", msg, file, line);
    abort();
}

/* ---------- the real agent SDK, its UART captured ---------- */
static char reply[4096];
static int got_reply;
static uint8_t *data_buf;
static size_t data_len;
static char uart_line[4096];
static size_t uart_len;

/* Lines the agent writes: "t data B64" collects payload, "t ok|err ..." is the
 * final reply (its tag stripped). */
static void uart_out(const void *buf, size_t n)
{
    const char *b = buf;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != '\n') {
            if (uart_len < sizeof uart_line - 1) uart_line[uart_len++] = b[i];
            continue;
        }
        uart_line[uart_len] = 0;
        uart_len = 0;
        if (!strncmp(uart_line, "t data ", 7)) {
            long k = base64_decode(uart_line + 7, strlen(uart_line + 7), data_buf + data_len, 1 << 20);
            CHECK(k >= 1 && k <= AGENT_DATA_MAX);
            if (k > 0) data_len += (size_t)k;
        } else if (!strncmp(uart_line, "t ", 2)) {
            CHECK(!got_reply);
            snprintf(reply, sizeof reply, "%s", uart_line + 2);
            got_reply = 1;
        }
    }
}
static uint32_t clock_now(void);
static const agent_port_t port = {.uart_write = uart_out, .clock_ms = clock_now};

static char last_req[128];
static unsigned mode;
static char fault_cmd[8];

/* ---------- the loop ---------- */
static void step(void)
{
    netif_poll_all();
    sys_check_timeouts();
    app_poll();
    now_ms++;
}
static void run_ms(uint32_t ms)
{
    uint32_t end = now_ms + ms;
    while ((int32_t)(now_ms - end) < 0) step();
}

/* Send one request "verb k=v k=v" (values without spaces; percent-encoded
 * here) through the agent and wait for its final reply; returns the reply
 * ("ok ..." / "err code=..."). */
static const char *req(const char *fmt, ...)
{
    static char line[4096];
    static char wire[3 * 4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    memcpy(last_req, line, sizeof last_req - 1);
    size_t w = (size_t)sprintf(wire, "t ");
    int in_val = 0;
    for (const char *c = line; *c; c++) {
        if (*c == ' ') in_val = 0;
        if (in_val) {
            w += strlen(agent_pct_r(wire + w, 4, c, 1));
        } else {
            wire[w++] = *c;
            if (*c == '=') in_val = 1;
        }
    }
    wire[w++] = '\n';
    reply[0] = 0;
    got_reply = 0;
    data_len = 0;
    agent_input(wire, w);
    uint32_t end = now_ms + 120000;
    while (!got_reply && (int32_t)(now_ms - end) < 0) step();
    return got_reply ? reply : "NO REPLY";
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }
#define CHECK_REPLY(r, prefix) do { const char *r_ = (r); if (starts(r_, prefix)) t_pass++; else { \
    t_fail++; printf("FAIL %s:%d: reply \"%s\", expected \"%s...\"\n", __FILE__, __LINE__, r_, prefix); } } while (0)

/* ---------- wire checks on every segment the loopback carries ---------- */
#define POP3_PORT 11110
#define SMTP_PORT 2525
static int client_rst, wire_bad;
static size_t max_pop3_seg, max_smtp_seg;

static void inspect(struct pbuf *p, int v6)
{
    uint8_t h[60 + 20];
    size_t ihl = 40;
    if (pbuf_copy_partial(p, h, sizeof h, 0) < 40) return;
    if (!v6) {
        if (h[9] != IP_PROTO_TCP) return;
        ihl = (size_t)(h[0] & 15) * 4;
    } else if (h[6] != IP6_NEXTH_TCP) {
        return;
    }
    const uint8_t *t = h + ihl;
    unsigned sport = (unsigned)(t[0] << 8 | t[1]), dport = (unsigned)(t[2] << 8 | t[3]);
    size_t off = (size_t)(t[12] >> 4) * 4, pay = p->tot_len - ihl - off;
    if (dport != POP3_PORT && dport != SMTP_PORT) return; /* not from a mail client */
    (void)sport;
    if (t[13] & 0x04) {
        client_rst++;
        printf("  client RST to port %u during \"%s\" (mode %#x %s)\n", dport, last_req, mode, fault_cmd);
    }
    if (dport == POP3_PORT && pay > max_pop3_seg) max_pop3_seg = pay;
    if (dport == SMTP_PORT && pay > max_smtp_seg) max_smtp_seg = pay;
    if ((dport == POP3_PORT && pay > 120) || (dport == SMTP_PORT && pay > 1024)) wire_bad++;
}
/* lwIP's IP input hooks (glue/lwipopts.h): every packet, once */
int glue_ip_input_hook(struct pbuf *p, int v6)
{
    inspect(p, v6);
    return 0; /* not consumed */
}

/* ---------- scripted servers ---------- */
enum {
    M_SPLIT1 = 1 << 0, M_NOTS = 1 << 1, M_APOPFAIL = 1 << 2, M_EHLO502 = 1 << 3, M_NOAUTH = 1 << 4,
    M_RCPT550 = 1 << 5, M_AUTH535 = 1 << 6, M_STALL = 1 << 7, M_RESET = 1 << 8, M_CLOSE = 1 << 9,
    M_OVERLONG = 1 << 10, M_BADNUM = 1 << 11, M_BYEFIN = 1 << 12, /* last reply and FIN in one segment */
};
/* mode: M_* flags; fault_cmd: the command M_STALL/M_RESET/M_CLOSE/M_OVERLONG/M_BADNUM act on */
static char transcript[1 << 16];
static size_t tr_len;
static uint8_t *stored;   /* last message the SMTP server stored */
static size_t stored_len;
static int messages_stored;
static const char *TS = "<1896.697170952@dbc.mtview.ca.us>";
static uint8_t *msg2;
static size_t msg2_len;
static const char MSG1[] = "From: a@b\r\nSubject: one\r\n\r\nhello\r\n.dot line\r\n";

typedef struct {
    struct tcp_pcb *pcb;
    int smtp, in_data, dead, aborted;
    char line[8192];
    size_t len;
    uint8_t *out;
    size_t out_len, out_off;
} sconn_t;

static void s_pump(sconn_t *c)
{
    while (c->pcb && c->out_off < c->out_len) {
        size_t n = c->out_len - c->out_off, room = tcp_sndbuf(c->pcb);
        if (mode & M_SPLIT1) n = 1;
        if (n > room) n = room;
        if (n > 1400) n = 1400;
        if (!n || tcp_sndqueuelen(c->pcb) > TCP_SND_QUEUELEN - 4) break;
        if (tcp_write(c->pcb, c->out + c->out_off, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) break;
        c->out_off += n;
        tcp_output(c->pcb);
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
}
static void s_send(sconn_t *c, const void *d, size_t n)
{
    c->out = realloc(c->out, c->out_len + n);
    memcpy(c->out + c->out_len, d, n);
    c->out_len += n;
    s_pump(c);
}
static void s_say(sconn_t *c, const char *s) { s_send(c, s, strlen(s)); }
static void s_free(sconn_t *c)
{
    free(c->out);
    free(c);
}
static void s_drop(sconn_t *c, int rst)
{
    struct tcp_pcb *pcb = c->pcb;
    c->pcb = NULL;
    c->dead = 1;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    if (rst || tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        c->aborted = 1;
    }
}
static int is_fault(const char *cmd, unsigned m) { return (mode & m) && !strcmp(cmd, fault_cmd); }

static void pop3_line(sconn_t *c, char *l)
{
    char cmd[8] = "";
    unsigned n = 0;
    sscanf(l, "%7s %u", cmd, &n);
    if (is_fault(cmd, M_STALL)) return;
    if (is_fault(cmd, M_RESET) || is_fault(cmd, M_CLOSE)) {
        if (!strcmp(cmd, "RETR")) s_send(c, "+OK\r\n", 5), s_send(c, msg2, 3000);
        s_drop(c, (mode & M_RESET) != 0);
        return;
    }
    if (is_fault(cmd, M_OVERLONG)) {
        char big[3001];
        memset(big, 'x', sizeof big);
        memcpy(big, "+OK ", 4);
        s_send(c, big, sizeof big);
        s_say(c, "\r\n");
        return;
    }
    if (!strcmp(cmd, "USER")) s_say(c, "+OK\r\n");
    else if (!strcmp(cmd, "PASS")) s_say(c, strcmp(l + 5, "secret") ? "-ERR bad password\r\n" : "+OK in\r\n");
    else if (!strcmp(cmd, "APOP")) {
        md5_ctx_t m;
        uint8_t d[16];
        char hex[33];
        md5_init(&m);
        md5_update(&m, TS, strlen(TS));
        md5_update(&m, "secret", 6);
        md5_final(&m, d);
        md5_hex(d, hex);
        const char *sp = strrchr(l, ' ');
        s_say(c, sp && !strcmp(sp + 1, hex) && !(mode & M_APOPFAIL) ? "+OK in\r\n" : "-ERR no\r\n");
    } else if (!strcmp(cmd, "STAT")) {
        char b[64];
        snprintf(b, sizeof b, is_fault(cmd, M_BADNUM) ? "+OK two 3\r\n" : "+OK 2 %zu\r\n",
                 strlen(MSG1) + msg2_len);
        s_say(c, b);
    } else if (!strcmp(cmd, "LIST")) {
        char b[64];
        snprintf(b, sizeof b, n == 1 || n == 2 ? "+OK %u %zu\r\n" : "-ERR no such message\r\n", n,
                 n == 1 ? strlen(MSG1) : msg2_len);
        s_say(c, b);
    } else if (!strcmp(cmd, "RETR")) {
        const uint8_t *m = n == 1 ? (const uint8_t *)MSG1 : msg2;
        size_t ml = n == 1 ? strlen(MSG1) : msg2_len;
        if (n != 1 && n != 2) { s_say(c, "-ERR no such message\r\n"); return; }
        s_say(c, "+OK\r\n");
        /* stuff by CRLF lines */
        uint8_t *w = malloc(ml * 2 + 8);
        size_t o = 0;
        for (size_t i = 0; i < ml; i++) {
            if (m[i] == '.' && (i == 0 || (m[i - 1] == '\n' && i > 1 && m[i - 2] == '\r'))) w[o++] = '.';
            w[o++] = m[i];
        }
        memcpy(w + o, ".\r\n", 3);
        s_send(c, w, o + 3);
        free(w);
    } else if (!strcmp(cmd, "DELE") || !strcmp(cmd, "RSET") || !strcmp(cmd, "NOOP")) s_say(c, "+OK\r\n");
    else if (!strcmp(cmd, "QUIT")) {
        s_say(c, "+OK bye\r\n");
        if (mode & M_BYEFIN) s_drop(c, 0);
    }
    else s_say(c, "-ERR unknown\r\n");
}

static void smtp_line(sconn_t *c, char *l, size_t len)
{
    if (c->in_data) {
        if (!strcmp(l, ".")) {
            c->in_data = 0;
            messages_stored++;
            if (is_fault("END", M_STALL)) return;
            s_say(c, "250 queued\r\n");
            return;
        }
        if (is_fault("BODY", M_CLOSE) && stored_len > 20000) { s_drop(c, 0); return; }
        if (l[0] == '.') { l++; len--; }
        memcpy(stored + stored_len, l, len);
        stored_len += len;
        memcpy(stored + stored_len, "\r\n", 2);
        stored_len += 2;
        return;
    }
    char cmd[8] = "";
    sscanf(l, "%4s", cmd);
    for (char *p = cmd; *p; p++) if (*p >= 'a') *p = (char)(*p - 32);
    if (is_fault(cmd, M_STALL)) return;
    if (is_fault(cmd, M_RESET) || is_fault(cmd, M_CLOSE)) { s_drop(c, (mode & M_RESET) != 0); return; }
    if (!strcmp(cmd, "EHLO")) {
        if (mode & M_EHLO502) s_say(c, "502 not implemented\r\n");
        else s_say(c, mode & M_NOAUTH ? "250-test\r\n250 8BITMIME\r\n"
                                       : "250-test\r\n250-AUTH CRAM-MD5 PLAIN LOGIN\r\n250 8BITMIME\r\n");
    } else if (!strcmp(cmd, "HELO")) s_say(c, "250 hi\r\n");
    else if (!strcmp(cmd, "AUTH")) {
        s_say(c, strstr(l, "LOGIN") ? "334 VXNlcm5hbWU6\r\n" : "334 \r\n");
    } else if (!strcmp(cmd, "AGPV") || !strcmp(cmd, "AM9L")) { /* \0joe\0secret, joe */
        s_say(c, !strcmp(cmd, "AM9L") ? "334 UGFzc3dvcmQ6\r\n" : mode & M_AUTH535 ? "535 bad\r\n" : "235 ok\r\n");
    } else if (!strcmp(cmd, "C2VJ")) { /* secret */
        s_say(c, mode & M_AUTH535 ? "535 bad\r\n" : "235 ok\r\n");
    } else if (!strcmp(cmd, "MAIL")) s_say(c, "250 ok\r\n");
    else if (!strcmp(cmd, "RCPT")) s_say(c, mode & M_RCPT550 ? "550 no such user\r\n" : "250 ok\r\n");
    else if (!strcmp(cmd, "DATA")) {
        c->in_data = 1;
        stored_len = 0;
        s_say(c, "354 go ahead\r\n");
    } else if (!strcmp(cmd, "QUIT")) {
        s_say(c, "221 bye\r\n");
        if (mode & M_BYEFIN) s_drop(c, 0);
    }
    else s_say(c, "500 what\r\n");
}

static err_t s_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    sconn_t *c = arg;
    (void)err;
    if (!c) { if (p) { tcp_recved(pcb, p->tot_len); pbuf_free(p); } return ERR_OK; }
    if (!p) { /* client closed */
        s_drop(c, 0);
        s_free(c);
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    for (struct pbuf *q = p; q && !c->dead; q = q->next) {
        for (size_t i = 0; i < q->len && !c->dead; i++) {
            char ch = ((char *)q->payload)[i];
            if (c->len < sizeof c->line - 1) c->line[c->len++] = ch;
            if (ch == '\n' && c->len >= 2 && c->line[c->len - 2] == '\r') {
                c->line[c->len - 2] = 0;
                if (!c->in_data && tr_len + c->len < sizeof transcript - 1) {
                    memcpy(transcript + tr_len, c->line, c->len - 2);
                    tr_len += c->len - 2;
                    transcript[tr_len++] = '\n';
                    transcript[tr_len] = 0;
                }
                if (c->smtp) smtp_line(c, c->line, c->len - 2);
                else pop3_line(c, c->line);
                c->len = 0;
            }
        }
    }
    pbuf_free(p);
    if (c->dead) {
        int ab = c->aborted;
        s_free(c);
        return ab ? ERR_ABRT : ERR_OK;
    }
    return ERR_OK;
}
static err_t s_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb; (void)len;
    if (arg) s_pump(arg);
    return ERR_OK;
}
static void s_err(void *arg, err_t err)
{
    sconn_t *c = arg;
    (void)err;
    if (c) { c->pcb = NULL; s_free(c); }
}
static err_t s_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (err != ERR_OK || !pcb) return ERR_VAL;
    sconn_t *c = calloc(1, sizeof *c);
    c->pcb = pcb;
    c->smtp = arg != NULL;
    tcp_arg(pcb, c);
    tcp_recv(pcb, s_recv);
    tcp_sent(pcb, s_sent);
    tcp_err(pcb, s_err);
    tcp_nagle_disable(pcb);
    if (c->smtp) s_say(c, "220 test ESMTP\r\n");
    else {
        char g[128];
        snprintf(g, sizeof g, "+OK POP3 ready %s\r\n", mode & M_NOTS ? "" : TS);
        s_say(c, g);
    }
    return ERR_OK;
}
static void listen_on(uint16_t port, int smtp)
{
    struct tcp_pcb *l = tcp_new_ip_type(IPADDR_TYPE_ANY);
    CHECK(tcp_bind(l, IP_ANY_TYPE, port) == ERR_OK);
    l = tcp_listen(l);
    tcp_arg(l, smtp ? (void *)1 : NULL);
    tcp_accept(l, s_accept);
}

static void set_mode(unsigned m, const char *cmd)
{
    mode = m;
    snprintf(fault_cmd, sizeof fault_cmd, "%s", cmd ? cmd : "");
    tr_len = 0;
    transcript[0] = 0;
}

/* ---------- scenarios ---------- */
static void expect_message(const char *subject, const char *prio_hdr, size_t body_len)
{
    size_t hl;
    char head[512];
    hl = (size_t)snprintf(head, sizeof head, "From: joe@example.com\r\nTo: ann@example.org\r\nSubject: %s\r\n%s\r\n",
                          subject, prio_hdr);
    uint8_t *exp = malloc(hl + body_len + 2);
    memcpy(exp, head, hl);
    fill_pattern(exp + hl, body_len);
    size_t el = hl + body_len;
    if (body_len < 2 || exp[el - 2] != '\r' || exp[el - 1] != '\n') { exp[el++] = '\r'; exp[el++] = '\n'; }
    CHECK_MEM(stored, stored_len, exp, el);
    free(exp);
}

static void glue_smtp(void)
{
    static const char CFG[] = "smtp.config host=127.0.0.1 port=2525 user=joe pass=secret from=joe@example.com "
                              "domain=dev.local auth=%s timeout_ms=%u";
    set_mode(0, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=x"), "err code=state");
    CHECK_REPLY(req(CFG, "plain", 2000), "ok");
    CHECK_REPLY(req("smtp.body reset=1 fill=300000"), "ok octets=300000");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=Hello priority=high"), "ok octets=");
    expect_message("Hello", "X-Priority: 1 (high)\r\n", 300000);
    CHECK_STR(transcript, "EHLO dev.local\nAUTH PLAIN\nAGpvZQBzZWNyZXQ=\nMAIL FROM:<joe@example.com>\n"
                          "RCPT TO:<ann@example.org>\nDATA\nQUIT\n");
    /* body built from data= lines, cut mid-line: a CRLF is added on the wire */
    CHECK_REPLY(req("smtp.body reset=1 data=bGluZSAwMDAwMDAgdGhl"), "ok octets=15");
    CHECK_REPLY(req("smtp.body data=!!!!"), "err code=bad-arg");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=Cut"), "ok octets=");
    expect_message("Cut", "", 15);
    /* LOGIN; no AUTH advertised -> PLAIN; HELO fallback, replies split byte by byte */
    CHECK_REPLY(req(CFG, "login", 2000), "ok");
    CHECK_REPLY(req("smtp.body reset=1 fill=5000"), "ok octets=5000");
    set_mode(0, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=L"), "ok");
    CHECK(strstr(transcript, "AUTH LOGIN\nam9l\nc2VjcmV0\nMAIL") != NULL);
    set_mode(M_NOAUTH, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=L"), "ok");
    CHECK(strstr(transcript, "EHLO dev.local\nAUTH PLAIN\n") != NULL);
    set_mode(M_EHLO502 | M_SPLIT1, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=H"), "ok");
    CHECK(starts(transcript, "EHLO dev.local\nHELO dev.local\nAUTH PLAIN\n"));
    expect_message("H", "", 5000);
    CHECK_REPLY(req(CFG, "none", 2000), "ok");
    set_mode(0, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=N priority=low"), "ok");
    CHECK(starts(transcript, "EHLO dev.local\nMAIL FROM:<joe@example.com>\n"));
    expect_message("N", "X-Priority: 5 (low)\r\n", 5000);
    /* errors: stage named, QUIT sent where the session allows, next send works */
    CHECK_REPLY(req(CFG, "plain", 2000), "ok");
    set_mode(M_RCPT550, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=server stage=rcpt reply=550");
    CHECK(strstr(transcript, "RCPT TO:<ann@example.org>\nQUIT\n") != NULL);
    set_mode(M_AUTH535, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=auth stage=auth reply=535");
    CHECK(strstr(transcript, "MAIL") == NULL);
    CHECK(strstr(transcript, "CRAM") == NULL);
    set_mode(M_STALL, "END");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=timeout stage=message");
    set_mode(M_STALL, "EHLO");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=timeout stage=ehlo");
    set_mode(M_RESET, "DATA");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=closed stage=data");
    set_mode(M_CLOSE, "MAIL");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=closed stage=mail");
    CHECK_REPLY(req("smtp.body reset=1 fill=200000"), "ok");
    set_mode(M_CLOSE, "BODY");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=E"), "err code=closed stage=message");
    set_mode(0, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=again"), "ok");
    expect_message("again", "", 200000);
    set_mode(M_BYEFIN, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=byefin"), "ok");
    set_mode(M_BYEFIN | M_RCPT550, NULL);
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=byefin"), "err code=server stage=rcpt reply=550");
    set_mode(0, NULL);
    /* IPv6 */
    CHECK_REPLY(req("smtp.config host=::1 port=2525 user=joe pass=secret from=joe@example.com domain=dev.local auth=plain"), "ok");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=six"), "ok");
    expect_message("six", "", 200000);
    /* nobody listening */
    CHECK_REPLY(req("smtp.config host=127.0.0.1 port=2600 user=joe pass=secret from=joe@example.com domain=dev.local auth=plain"), "ok");
    CHECK_REPLY(req("smtp.send to=ann@example.org subject=x"), "err code=connect stage=connect");
    /* argument checks */
    CHECK_REPLY(req("smtp.config host=mail.example.org port=25 from=a domain=b"), "err code=bad-arg");
    CHECK_REPLY(req("smtp.config host=127.0.0.1 port=2525 from=a domain=b auth=cram"), "err code=bad-arg");
    CHECK_REPLY(req("smtp.body fill=99999999"), "err code=bad-arg");
    CHECK_REPLY(req("smtp.body reset=1 fill=1572864"), "ok octets=1572864");
    CHECK_REPLY(req("smtp.body fill=1"), "err code=toolong");
}

static void glue_pop3(void)
{
    static const char OPEN[] = "pop3.open host=%s port=11110 user=joe pass=%s apop=%d timeout_ms=1500";
    char hex[33];
    uint8_t d[16];
    md5_ctx_t m;
    set_mode(0, NULL);
    CHECK_REPLY(req("pop3.stat"), "err code=state");
    CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 1), "ok auth=apop");
    CHECK(starts(transcript, "APOP joe "));
    CHECK_REPLY(req("pop3.stat"), "ok count=2 octets=");
    CHECK_REPLY(req("pop3.list n=1"), "ok n=1 octets=45");
    CHECK_REPLY(req("pop3.list n=0"), "err code=bad-arg");
    CHECK_REPLY(req("pop3.list n=7"), "err code=server stage=list reply=-ERR");
    CHECK_REPLY(req("pop3.retr n=1 mode=data"), "ok n=1 octets=45 md5=");
    CHECK_MEM(data_buf, data_len, MSG1, strlen(MSG1));
    md5_init(&m);
    md5_update(&m, msg2, msg2_len);
    md5_final(&m, d);
    md5_hex(d, hex);
    char want[128];
    snprintf(want, sizeof want, "ok n=2 octets=%zu md5=%s segments=", msg2_len, hex);
    CHECK_REPLY(req("pop3.retr n=2 mode=data"), want);
    CHECK_MEM(data_buf, data_len, msg2, msg2_len);
    CHECK_REPLY(req("pop3.retr n=2"), want);
    CHECK_REPLY(req("pop3.dele n=1"), "ok");
    CHECK_REPLY(req("pop3.rset"), "ok");
    CHECK_REPLY(req("pop3.noop"), "ok");
    CHECK_REPLY(req("pop3.quit"), "ok");
    CHECK_REPLY(req("pop3.noop"), "err code=state");
    CHECK(strstr(transcript, "STAT\nLIST 1\nLIST 7\nRETR 1\nRETR 2\nRETR 2\nDELE 1\nRSET\nNOOP\nQUIT\n") != NULL);
    /* APOP refused -> USER/PASS; no timestamp -> USER/PASS; bad password */
    set_mode(M_APOPFAIL, NULL);
    CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 1), "ok auth=user");
    CHECK(strstr(transcript, "\nUSER joe\nPASS secret\n") != NULL);
    set_mode(M_NOTS, NULL);
    CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 1), "ok auth=user");
    CHECK(starts(transcript, "USER joe\nPASS secret\n"));
    set_mode(0, NULL);
    CHECK_REPLY(req(OPEN, "127.0.0.1", "wrong", 0), "err code=auth stage=pass reply=-ERR");
    CHECK_REPLY(req("pop3.stat"), "err code=state");
    CHECK_STR(transcript, "USER joe\nPASS wrong\n");
    /* faults: clear errors, then a new session works */
    const struct { unsigned m; const char *cmd, *op, *want; } f[] = {
        {M_STALL, "RETR", "pop3.retr n=2", "err code=timeout stage=retr"},
        {M_RESET, "RETR", "pop3.retr n=2", "err code=closed stage=retr"},
        {M_CLOSE, "RETR", "pop3.retr n=2", "err code=closed stage=retr"},
        {M_OVERLONG, "STAT", "pop3.stat", "err code=proto stage=stat"},
        {M_BADNUM, "STAT", "pop3.stat", "err code=proto stage=stat"},
        {M_SPLIT1, "", "pop3.retr n=1", "ok n=1 octets=45"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        set_mode(f[i].m, f[i].cmd);
        CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 1), "ok auth=apop");
        CHECK_REPLY(req("%s", f[i].op), f[i].want);
        set_mode(0, NULL);
        CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 0), "ok auth=user");
        CHECK_REPLY(req("pop3.retr n=1"), "ok n=1 octets=45");
        CHECK_REPLY(req("pop3.quit"), "ok");
    }
    set_mode(M_BYEFIN, NULL);
    CHECK_REPLY(req(OPEN, "127.0.0.1", "secret", 1), "ok auth=apop");
    CHECK_REPLY(req("pop3.quit"), "ok");
    /* IPv6; abort without QUIT */
    set_mode(0, NULL);
    CHECK_REPLY(req(OPEN, "::1", "secret", 1), "ok auth=apop");
    CHECK_REPLY(req("pop3.retr n=2"), want);
    CHECK_REPLY(req("pop3.abort"), "ok");
    CHECK(strstr(transcript, "QUIT") == NULL);
    CHECK_REPLY(req("pop3.open host=127.0.0.1 port=2600 user=joe pass=secret"), "err code=connect stage=connect");
    char lng[200];
    memset(lng, 'u', sizeof lng);
    lng[114] = 0; /* USER + 114 + CRLF = 121 > 120 */
    CHECK_REPLY(req("pop3.open host=127.0.0.1 port=11110 user=%s pass=x", lng), "err code=toolong");
}

static int pcbs_in_use(void)
{
    int n = 0;
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) n++;
    return n;
}

static void test_soak(void)
{
    /* hundreds of sessions, then wait out TIME_WAIT: everything back to baseline */
    run_ms(300000);
    int pcb0 = pcbs_in_use();
    mem_size_t heap0 = lwip_stats.mem.used;
    u16_t seg0 = lwip_stats.memp[MEMP_TCP_SEG]->used, pb0 = lwip_stats.memp[MEMP_PBUF]->used;
    u16_t pool0 = lwip_stats.memp[MEMP_PBUF_POOL]->used;
    set_mode(0, NULL);
    CHECK_REPLY(req("smtp.config host=127.0.0.1 port=2525 user=joe pass=secret from=joe@example.com domain=dev.local auth=login"), "ok");
    CHECK_REPLY(req("smtp.body reset=1 fill=20000"), "ok");
    int ok = 0;
    for (int i = 0; i < 150; i++) {
        set_mode(i % 10 == 3 ? M_RCPT550 : i % 10 == 7 ? M_RESET : 0, i % 10 == 7 ? "DATA" : NULL);
        ok += starts(req("smtp.send to=ann@example.org subject=s%d", i), "ok");
        set_mode(i % 10 == 5 ? M_OVERLONG : 0, "STAT");
        ok += starts(req("pop3.open host=%s port=11110 user=joe pass=secret apop=1", i & 1 ? "::1" : "127.0.0.1"), "ok");
        req("pop3.stat");
        ok += starts(req("pop3.retr n=2"), "ok");
        req("%s", i % 3 ? "pop3.quit" : "pop3.abort");
    }
    CHECK(ok == 150 - 15 - 15 + 150 + 150 - 15);
    run_ms(300000); /* TIME_WAIT, FIN_WAIT_2 and linger timers run out */
    CHECK(pcbs_in_use() == pcb0);
    CHECK(tcp_tw_pcbs == NULL);
    CHECK(lwip_stats.memp[MEMP_TCP_SEG]->used == seg0);
    CHECK(lwip_stats.memp[MEMP_PBUF]->used == pb0);
    CHECK(lwip_stats.memp[MEMP_PBUF_POOL]->used == pool0);
    CHECK(lwip_stats.mem.used == heap0);
    if (lwip_stats.mem.used != heap0) printf("  heap %u -> %u\n", (unsigned)heap0, (unsigned)lwip_stats.mem.used);
    CHECK(lwip_stats.memp[MEMP_TCP_PCB]->err == 0);
}

int main(void)
{
    data_buf = malloc(1 << 20);
    stored = malloc(2u << 20);
    msg2 = malloc(200000);
    for (int k = 0; msg2_len < 150000; k++)
        msg2_len += (size_t)sprintf((char *)msg2 + msg2_len, "%sline %d of message two\r\n", k % 7 ? "" : ".", k);
    lwip_init();
    listen_on(POP3_PORT, 0);
    listen_on(SMTP_PORT, 1);
    agent_init(&port);
    app_init();

    glue_smtp();
    glue_pop3();
    test_soak();

    CHECK(wire_bad == 0);
    CHECK(client_rst == 0);
    CHECK(agent_dropped_replies() == 0);
    printf("client segments: largest POP3 payload %zu, largest SMTP payload %zu, client RSTs %d\n",
           max_pop3_seg, max_smtp_seg, client_rst);
    printf("%d passed, %d failed\n", t_pass, t_fail);
    free(data_buf);
    free(stored);
    free(msg2);
    return t_fail ? 1 : 0;
}
