/* The agent SDK's threaded mode, built with -fsanitize=thread: a worker thread
 * runs a blocking mail port (as a NetX Duo or BSD-socket port would), the test
 * thread keeps feeding UART lines and must get `busy` while the worker blocks,
 * the worker's data lines, logs from both threads and final replies must come
 * out as whole lines, and every request gets exactly one final reply. */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent.h"
#include "agent_device.h"
#include "agent_mail.h"

int t_pass, t_fail;
#include "t.h"

/* ---------- the port: pthread mutex, a semaphore, a captured UART */
static pthread_mutex_t agent_mx = PTHREAD_MUTEX_INITIALIZER;
static sem_t work_sem;
static pthread_mutex_t out_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cv = PTHREAD_COND_INITIALIZER;
static char out[1 << 20];
static size_t out_len;

static void p_lock(void) { pthread_mutex_lock(&agent_mx); }
static void p_unlock(void) { pthread_mutex_unlock(&agent_mx); }
static void p_wake(void) { sem_post(&work_sem); }
static void p_write(const void *b, size_t n)
{
    pthread_mutex_lock(&out_mx);
    if (out_len + n < sizeof out) {
        memcpy(out + out_len, b, n);
        out_len += n;
        out[out_len] = 0;
    }
    pthread_cond_broadcast(&out_cv);
    pthread_mutex_unlock(&out_mx);
}
static uint32_t p_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
static const agent_port_t port = {.uart_write = p_write, .clock_ms = p_clock, .lock = p_lock,
                                  .unlock = p_unlock, .wake_worker = p_wake};

/* Waits (up to 5 s) until the captured output contains s; 1 when it does. */
static int wait_for(const char *s)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&out_mx);
    int found;
    while (!(found = strstr(out, s) != NULL))
        if (pthread_cond_timedwait(&out_cv, &out_mx, &dl))
            break;
    pthread_mutex_unlock(&out_mx);
    return found;
}

static size_t count(const char *s)
{
    size_t n = 0;
    pthread_mutex_lock(&out_mx);
    for (const char *c = out; (c = strstr(c, s)); c++) n++;
    pthread_mutex_unlock(&out_mx);
    return n;
}

static void send_line(const char *l) { agent_input(l, strlen(l)); }

/* ---------- a blocking mail port: each call does the whole step */
static pthread_mutex_t gate_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open = 1, in_call;
static uint8_t body[4096];

/* A blocking wait for the "server", as nx_pop3_* would do. */
static void server_wait(void)
{
    pthread_mutex_lock(&gate_mx);
    in_call = 1;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mx);
    in_call = 0;
    pthread_mutex_unlock(&gate_mx);
}
static void set_gate(int open)
{
    pthread_mutex_lock(&gate_mx);
    gate_open = open;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mx);
}
static void wait_in_call(void)
{
    pthread_mutex_lock(&gate_mx);
    while (!in_call) pthread_cond_wait(&gate_cv, &gate_mx);
    pthread_mutex_unlock(&gate_mx);
}

static void m_open(const agent_pop3_open_t *o) { server_wait(); agent_pop3_open_ok(o->apop); }
static void m_stat(void) { server_wait(); agent_pop3_stat_ok(3, 300); }
static void m_list(uint32_t n) { server_wait(); agent_pop3_list_ok(n, 100); }
static void m_retr(uint32_t n)
{
    char piece[300];
    memset(piece, 'a' + (int)(n % 26), sizeof piece);
    for (int i = 0; i < 4; i++) {
        server_wait();
        agent_pop3_piece(piece, sizeof piece, 0);
        agent_log("worker piece %d", i); /* logs from the worker, mid-request */
    }
    agent_pop3_piece("", 0, 1);
    agent_pop3_ok();
}
static void m_quit(void) { server_wait(); agent_pop3_ok(); }
static void m_send(const agent_smtp_mail_t *m) { server_wait(); agent_smtp_ok(m->body_len); }
static const agent_mail_port_t mail = {
    .pop3_open = m_open, .pop3_stat = m_stat, .pop3_list = m_list, .pop3_retr = m_retr,
    .pop3_quit = m_quit, .smtp_send = m_send, .body = body, .body_max = sizeof body,
    .subject_max = 100,
};
static const char *ip4(void) { return "10.0.2.15"; }
static const agent_device_t dev = {.fw = "t/1", .board = "host", .features = "pop3,smtp", .ip = ip4};

static volatile int stop; /* only written before the final sem_post */
static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        sem_wait(&work_sem);
        if (stop) return NULL;
        agent_work();
    }
}

int main(void)
{
    pthread_t w;
    char l[128], want[128];
    sem_init(&work_sem, 0, 0);
    agent_init(&port);
    agent_device_register(&dev);
    agent_mail_register(&mail);
    pthread_create(&w, NULL, worker, NULL);

    /* the worker blocks inside RETR: the UART thread answers busy meanwhile */
    set_gate(0);
    send_line("1 pop3.open host=10.0.2.2 user=u pass=p apop=1\n");
    wait_in_call();
    send_line("2 hello\n3 sys.info\n4 pop3.stat\n");
    CHECK(wait_for("2 err code=busy\n3 err code=busy\n4 err code=busy\n"));
    CHECK(agent_busy());
    set_gate(1);
    CHECK(wait_for("1 ok auth=apop\n"));
    set_gate(0);
    send_line("5 pop3.retr n=1 mode=data\n");
    wait_in_call();
    for (int i = 0; i < 100; i++) { /* busy replies and logs race the worker's data lines */
        if (i == 50)
            set_gate(1);
        if (i < 50) {
            snprintf(l, sizeof l, "b%d hello\n", i);
            send_line(l);
        }
        agent_log("uart thread %d", i);
    }
    CHECK(wait_for("5 ok n=1 octets=1200 md5="));
    CHECK(count("5 data ") == 8); /* 4 pieces of 300 bytes: 256 + 44 each */
    CHECK(count("* log worker piece") == 4);
    CHECK(count("* log uart thread") == 100);
    CHECK(count(" err code=busy\n") == 53);

    /* many requests back to back: exactly one final reply each, in order */
    for (int i = 0; i < 200; i++) {
        const char *verb = i % 4 == 0 ? "pop3.stat" : i % 4 == 1 ? "pop3.list n=2"
                         : i % 4 == 2 ? "smtp.body reset=1 fill=100" : "hello";
        snprintf(l, sizeof l, "r%d %s\nx%d sys.info\n", i, verb, i);
        send_line(l);
        snprintf(want, sizeof want, "r%d ok", i);
        CHECK(wait_for(want));
    }
    CHECK(count(" err code=state") == 0);
    CHECK(agent_dropped_replies() == 0);
    send_line("z1 smtp.config host=10.0.2.2 from=a@b domain=d\nz2 smtp.send to=c@d\n");
    CHECK(wait_for("z2 ok octets=100\n") || wait_for("z2 err code=busy\n"));
    /* every line whole: a log, or TAG ok|err|data */
    pthread_mutex_lock(&out_mx);
    int bad = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        const char *sp = strchr(line, ' ');
        if (strncmp(line, "* log ", 6) &&
            !(sp && sp > line && sp - line <= 8 &&
              (!strncmp(sp, " ok", 3) || !strncmp(sp, " err code=", 10) || !strncmp(sp, " data ", 6))))
            bad++, printf("bad line: %s\n", line);
        *nl = '\n';
    }
    pthread_mutex_unlock(&out_mx);
    CHECK(bad == 0);
    stop = 1;
    sem_post(&work_sem);
    pthread_join(w, NULL);
    printf("threads: %d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}
