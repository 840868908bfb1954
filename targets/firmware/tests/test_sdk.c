/* The agent SDK (sdk/) in loop mode: framing and malformed requests, busy,
 * the banner/hello/sys.info rendered from the device struct, caps from the
 * verbs registered, and the mail verbs against a callback-style mail port
 * whose completions arrive after the verb returned. */
#include "t.h"
#include <stdint.h>
#include <stdlib.h>
#include "../sdk/agent.h"
#include "../sdk/agent_device.h"
#include "../sdk/agent_mail.h"
#include "../sdk/md5.h"

static char outbuf[1 << 16];
static size_t outlen;
static uint32_t now = 4242;

static void out_write(const void *b, size_t n)
{
    if (outlen + n < sizeof outbuf) {
        memcpy(outbuf + outlen, b, n);
        outlen += n;
        outbuf[outlen] = 0;
    }
}
static uint32_t clk(void) { return now; }
static const agent_port_t port = {.uart_write = out_write, .clock_ms = clk};

/* Feed one request (LF added), return everything the agent wrote for it. */
static const char *feed(const char *line)
{
    outlen = 0;
    outbuf[0] = 0;
    agent_input(line, strlen(line));
    agent_input("\n", 1);
    return outbuf;
}

/* ---------- a callback-style mail port: remembers the call, answers later */
static char last_call[256];
static uint8_t body[64];
static agent_smtp_mail_t last_mail;
static void p_open(const agent_pop3_open_t *o)
{
    snprintf(last_call, sizeof last_call, "open %s %u %.*s %.*s %d %u", o->host, o->port,
             (int)o->user_len, o->user, (int)o->pass_len, o->pass, o->apop, o->timeout_ms);
}
static void p_stat(void) { snprintf(last_call, sizeof last_call, "stat"); }
static void p_list(uint32_t n) { snprintf(last_call, sizeof last_call, "list %u", n); }
static void p_retr(uint32_t n) { snprintf(last_call, sizeof last_call, "retr %u", n); }
static void p_quit(void) { snprintf(last_call, sizeof last_call, "quit"); }
static void p_dele(uint32_t n) { snprintf(last_call, sizeof last_call, "dele %u", n); }
static void p_abort(void) { snprintf(last_call, sizeof last_call, "abort"); }
static void s_send(const agent_smtp_mail_t *m)
{
    last_mail = *m;
    snprintf(last_call, sizeof last_call, "send %s:%u %s %s %s %d %.*s %d %zu", m->cfg->host,
             m->cfg->port, m->cfg->from, m->cfg->domain, m->to, (int)m->cfg->auth,
             (int)m->subject_len, m->subject, (int)m->prio, m->body_len);
}
static int host_ok(const char *h) { return strchr(h, '.') || strchr(h, ':'); }
static const char *s_check(const agent_smtp_config_t *c)
{
    return strlen(c->domain) > 20 ? "domain too long" : NULL;
}
static const agent_mail_port_t mail = {
    .pop3_open = p_open, .pop3_stat = p_stat, .pop3_list = p_list, .pop3_retr = p_retr,
    .pop3_quit = p_quit, .smtp_send = s_send, .pop3_dele = p_dele, .pop3_abort = p_abort,
    .host_ok = host_ok, .smtp_check = s_check, .body = body, .body_max = sizeof body,
    .subject_max = 10,
};

static uint32_t heap(void) { return 1000; }
static void pkts(uint32_t *f, uint32_t *t) { *f = 7; *t = 8; }
static const char *ip4(void) { return "10.0.2.15"; }
static const char *ip6(void) { return ""; }
static char cfg_seen[128];
static void net_info(agent_net_t *n)
{
    strcpy(n->ip, "10.0.2.15");
    strcpy(n->mask, "255.255.255.0");
    strcpy(n->gw, "10.0.2.2");
    n->mac[0] = 0x52;
    n->mac[5] = 0xab;
    n->mtu = 1500;
}
static const char *net_config(const char *ip, const char *mask, const char *gw, const char *ip6)
{
    if (!strcmp(ip, "x")) return "bad IPv4 address";
    snprintf(cfg_seen, sizeof cfg_seen, "%s %s %s %s", ip, mask, gw, ip6 ? ip6 : "-");
    return NULL;
}
static const agent_device_t dev = {
    .fw = "t/1", .board = "host", .features = "pop3,smtp,apop,auth-plain,ipv6",
    .mtu = 1500, .mss = 1460, .mss6 = 1440, .pop3_payload = 120, .smtp_payload = 1024,
    .tcp_wnd = 5840, .body_max = sizeof body, .connect_ms = 1, .reply_ms = 2, .msg_ms = 3,
    .ip = ip4, .ip6 = ip6, .heap_free = heap, .packets = pkts, .net_info = net_info,
    .net_config = net_config,
};

static agent_status_t v_silent(const agent_req_t *r) { (void)r; return AGENT_DONE; }
static agent_status_t v_echo(const agent_req_t *r)
{
    const agent_arg_t *a = agent_arg(r, "v");
    uint32_t n;
    if (agent_arg_u32(r, "n", 7, &n)) { agent_err("bad-arg", "msg=n"); return AGENT_DONE; }
    agent_ok("n=%u len=%zu v=%s", n, a ? a->len : 0, a ? agent_pct(a->val, a->len) : "");
    return AGENT_DONE;
}
static const agent_verb_t extra[] = {{"t.silent", v_silent}, {"t.echo", v_echo}};

static void sdk_framing(void)
{
    char lng[700];
    CHECK_STR(feed("1 t.echo v=a%20b%00c n=42"), "1 ok n=42 len=5 v=a%20b%00c\n");
    CHECK_STR(feed("1 t.echo v=%2c\r"), "1 ok n=7 len=1 v=%2C\n"); /* CR dropped, lower hex */
    CHECK_STR(feed("1 t.echo n=x"), "1 err code=bad-arg msg=n\n");
    CHECK_STR(feed("1 t.echo n=4294967296"), "1 err code=bad-arg msg=n\n");
    CHECK_STR(feed(""), "");
    CHECK_STR(feed("toolongtag hello"), "* err code=bad-request msg=bad%20tag\n");
    CHECK_STR(feed("a-b hello"), "* err code=bad-request msg=bad%20tag\n");
    CHECK_STR(feed("2"), "2 err code=bad-request msg=missing%20verb\n");
    CHECK_STR(feed("2 Hello"), "2 err code=bad-request msg=bad%20verb\n");
    CHECK_STR(feed("2 t.echo v"), "2 err code=bad-request msg=bad%20argument\n");
    CHECK_STR(feed("2 t.echo V=1"), "2 err code=bad-request msg=bad%20key\n");
    CHECK_STR(feed("2 t.echo v=a=b"), "2 err code=bad-request msg=bad%20encoding\n");
    CHECK_STR(feed("2 t.echo v=%4"), "2 err code=bad-request msg=bad%20encoding\n");
    CHECK_STR(feed("2 t.echo a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1 a=1"),
              "2 err code=bad-request msg=too%20many%20arguments\n");
    CHECK_STR(feed("3 no.such"), "3 err code=unknown-verb\n");
    CHECK_STR(feed("3 t.silent"), "3 err code=state msg=handler%20gave%20no%20reply\n");
    outlen = 0;
    agent_input("4 t.echo\0x\n", 11);
    CHECK_STR(outbuf, "4 err code=bad-request msg=bad%20byte\n");
    /* 511 bytes + LF is the limit; one more is refused, tag still read */
    memset(lng, 'a', sizeof lng);
    memcpy(lng, "5 t.echo v=", 11);
    lng[511] = 0;
    CHECK(!strncmp(feed(lng), "5 ok n=7 len=500 ", 17));
    lng[511] = 'a';
    lng[512] = 0;
    CHECK_STR(feed(lng), "5 err code=bad-request msg=line%20too%20long\n");
    /* split anywhere */
    outlen = 0;
    agent_input("6 t.ec", 6);
    agent_input("ho n=1\n7 t.echo n=2\n", 20);
    CHECK_STR(outbuf, "6 ok n=1 len=0 v=\n7 ok n=2 len=0 v=\n");
    /* replies with nothing in flight are dropped and counted */
    uint32_t d = agent_dropped_replies();
    agent_ok("x=1");
    CHECK(agent_dropped_replies() == d + 1);
    outlen = 0;
    agent_log("a\nb %d", 5);
    CHECK_STR(outbuf, "* log a b 5\n");
    char p[8];
    CHECK_STR(agent_pct_r(p, sizeof p, "a b,c", 5), "a%20b"); /* cut on an escape boundary */
}

static void sdk_device(void)
{
    static const char ident[] =
        "proto=1 fw=t/1 board=host caps=pop3%2Csmtp%2Capop%2Cauth-plain%2Cipv6%2Cpop3.dele%2C"
        "pop3.abort%2Cnet.config mtu=1500 mss=1460 mss6=1440 pop3_payload=120 smtp_payload=1024 tcp_wnd=5840 "
        "body_max=64 connect_ms=1 reply_ms=2 msg_ms=3 ip=10.0.2.15";
    char want[600];
    outlen = 0;
    agent_boot_banner();
    snprintf(want, sizeof want, "* boot %s\n", ident);
    CHECK_STR(outbuf, want);
    snprintf(want, sizeof want, "8 ok %s\n", ident);
    CHECK_STR(feed("8 hello"), want);
    CHECK_STR(feed("8 sys.info"),
              "8 ok uptime_ms=4242 heap_free=1000 pool_free=7 pool_total=8 pcb_free=0 pcb_total=0\n");
    CHECK_STR(feed("8 net.info"), "8 ok ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2 ip6= "
                                  "mac=52:00:00:00:00:ab mtu=1500\n");
    CHECK_STR(feed("8 net.config ip=10.0.0.9 mask=255.0.0.0"),
              "8 err code=bad-arg msg=ip%2C%20mask%20and%20gw%20are%20required\n");
    CHECK_STR(feed("8 net.config ip=x mask=255.0.0.0 gw=10.0.0.1"),
              "8 err code=bad-arg msg=bad%20IPv4%20address\n");
    CHECK_STR(feed("8 net.config ip=10.0.0.9 mask=255.0.0.0 gw=10.0.0.1 ip6=fec0::9"), "8 ok\n");
    CHECK_STR(cfg_seen, "10.0.0.9 255.0.0.0 10.0.0.1 fec0::9");
}

static void sdk_pop3(void)
{
    CHECK_STR(feed("9 pop3.open host=mailhost port=110 user=u pass=p"),
              "9 err code=bad-arg msg=host%20is%20not%20an%20IP%20address\n");
    CHECK_STR(feed("9 pop3.open host=10.0.2.2 user=u"), "9 err code=bad-arg msg=pass\n");
    CHECK_STR(feed("9 pop3.open host=10.0.2.2 user=u%00 pass=p"),
              "9 err code=bad-arg msg=NUL%20byte%20in%20value\n");
    CHECK_STR(feed("9 pop3.open host=10.0.2.2 user=u pass=p apop=2"), "9 err code=bad-arg msg=apop\n");
    CHECK_STR(feed("9 pop3.open host=fec0::2 port=11110 user=u pass=p%20q apop=1 timeout_ms=500"), "");
    CHECK_STR(last_call, "open fec0::2 11110 u p q 1 500");
    CHECK_STR(feed("10 hello"), "10 err code=busy\n"); /* still pending */
    outlen = 0;
    agent_pop3_open_ok(1);
    CHECK_STR(outbuf, "9 ok auth=apop\n");
    feed("11 pop3.stat");
    CHECK_STR(last_call, "stat");
    outlen = 0;
    agent_pop3_stat_ok(2, 320);
    CHECK_STR(outbuf, "11 ok count=2 octets=320\n");
    CHECK_STR(feed("12 pop3.list"), "12 err code=bad-arg msg=n\n");
    CHECK_STR(feed("12 pop3.list n=0"), "12 err code=bad-arg msg=n\n");
    feed("12 pop3.list n=3");
    CHECK_STR(last_call, "list 3");
    outlen = 0;
    agent_mail_err("server", "list", "-ERR", "no such message");
    CHECK_STR(outbuf, "12 err code=server stage=list reply=-ERR msg=no%20such%20message\n");
    CHECK_STR(feed("13 pop3.retr n=1 mode=raw"), "13 err code=bad-arg msg=mode\n");
    feed("13 pop3.retr n=1 mode=data");
    CHECK_STR(last_call, "retr 1");
    outlen = 0;
    agent_pop3_piece("hello ", 6, 0);
    agent_pop3_piece("world\r\n", 7, 0);
    agent_pop3_piece("", 0, 1);
    agent_pop3_ok();
    md5_ctx_t m;
    uint8_t d[16];
    char hex[33], want[200];
    md5_init(&m);
    md5_update(&m, "hello world\r\n", 13);
    md5_final(&m, d);
    md5_hex(d, hex);
    snprintf(want, sizeof want, "13 data aGVsbG8g\n13 data d29ybGQNCg==\n"
             "13 ok n=1 octets=13 md5=%s segments=3\n", hex);
    CHECK_STR(outbuf, want);
    /* digest mode: no data lines; a big piece is cut into 256-byte lines in data mode */
    feed("14 pop3.retr n=2");
    outlen = 0;
    agent_pop3_piece("x", 1, 1);
    agent_pop3_ok();
    CHECK(!strncmp(outbuf, "14 ok n=2 octets=1 md5=", 23));
    feed("15 pop3.retr n=2 mode=data");
    static char big[600];
    memset(big, 'z', sizeof big);
    outlen = 0;
    agent_pop3_piece(big, sizeof big, 1);
    agent_pop3_ok();
    int lines = 0;
    for (const char *c = outbuf; (c = strstr(c, "15 data ")); c++) lines++;
    CHECK(lines == 3);
    feed("16 pop3.dele n=2");
    CHECK_STR(last_call, "dele 2");
    outlen = 0;
    agent_pop3_ok();
    CHECK_STR(outbuf, "16 ok\n");
    CHECK_STR(feed("17 pop3.rset"), "17 err code=unknown-verb\n"); /* not in this port */
    CHECK_STR(feed("17 pop3.abort"), "17 ok\n");
    CHECK_STR(last_call, "abort");
    feed("18 pop3.quit");
    outlen = 0;
    agent_mail_err("toolong", NULL, NULL, "command above the packet payload");
    CHECK_STR(outbuf, "18 err code=toolong msg=command%20above%20the%20packet%20payload\n");
    feed("19 pop3.quit");
    outlen = 0;
    agent_mail_err("busy", NULL, NULL, NULL);
    CHECK_STR(outbuf, "19 err code=busy\n");
}

static void sdk_smtp(void)
{
    CHECK_STR(feed("20 smtp.send to=a@b"), "20 err code=state msg=smtp.config%20first\n");
    CHECK_STR(feed("20 smtp.config host=10.0.2.2 from=a@b domain=d auth=cram"), "20 err code=bad-arg msg=auth\n");
    CHECK_STR(feed("20 smtp.config host=10.0.2.2 from=a@b"), "20 err code=bad-arg msg=domain\n");
    CHECK_STR(feed("20 smtp.config host=10.0.2.2 from=a%0Db domain=d"),
              "20 err code=bad-arg msg=CR%20or%20LF%20in%20an%20argument\n");
    CHECK_STR(feed("20 smtp.config host=10.0.2.2 from=a@b domain=ddddddddddddddddddddddddd"),
              "20 err code=toolong msg=domain%20too%20long\n");
    CHECK_STR(feed("21 smtp.config host=10.0.2.2 port=2525 user=u pass=p from=a@b domain=dev auth=login"),
              "21 ok\n");
    CHECK_STR(feed("22 smtp.body reset=1 data=aGVsbG8%3D"), "22 ok octets=5\n");
    CHECK_STR(feed("22 smtp.body fill=10"), "22 ok octets=15\n");
    CHECK(!memcmp(body, "helloline 0000", 14));
    CHECK_STR(feed("22 smtp.body data=!!!!"), "22 err code=bad-request msg=bad%20encoding\n");
    CHECK_STR(feed("22 smtp.body data=%21%21%21%21"), "22 err code=bad-arg msg=data%20is%20not%20base64\n");
    CHECK_STR(feed("22 smtp.body fill=50"), "22 err code=toolong msg=body%20buffer%20full\n");
    CHECK_STR(feed("22 smtp.body fill=65"), "22 err code=bad-arg msg=fill\n");
    CHECK_STR(feed("22 smtp.body fill=49"), "22 ok octets=64\n");
    CHECK_STR(feed("23 smtp.send to=x@y subject=01234567890"), "23 err code=toolong msg=subject\n");
    CHECK_STR(feed("23 smtp.send to=x@y subject=hi priority=urgent"), "23 err code=bad-arg msg=priority\n");
    CHECK_STR(feed("23 smtp.send to=x@y subject=hi priority=high"), "");
    CHECK_STR(last_call, "send 10.0.2.2:2525 a@b dev x@y 2 hi 1 64");
    CHECK(last_mail.body == body);
    CHECK_STR(feed("24 smtp.body reset=1"), "24 err code=busy\n");
    outlen = 0;
    agent_smtp_ok(99);
    CHECK_STR(outbuf, "23 ok octets=99\n");
    feed("25 smtp.send to=x@y");
    outlen = 0;
    agent_mail_err("server", "rcpt", "550", NULL);
    CHECK_STR(outbuf, "25 err code=server stage=rcpt reply=550\n");
}

void test_sdk(void)
{
    agent_init(&port);
    agent_device_register(&dev);
    agent_register(extra, sizeof extra / sizeof extra[0]);
    agent_mail_register(&mail);
    sdk_framing();
    sdk_device();
    sdk_pop3();
    sdk_smtp();
    CHECK(!agent_busy());
}
