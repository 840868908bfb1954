/* Bench agent SDK, core: the UART line protocol of docs/agent-protocol.md
 * (framing, requests, replies, data lines, logs) and the verb registry.
 *
 * One request is in flight at a time. A verb handler either answers at once
 * (agent_ok/agent_err, returns AGENT_DONE) or starts work and returns
 * AGENT_PENDING; the final reply then comes later, from a stack callback or a
 * worker thread. Until that final reply, further requests get `err code=busy`.
 *
 * Two ways to run it (sdk/README.md):
 * - loop mode (callback stacks such as lwIP raw): one thread, the port's main
 *   loop calls agent_poll() (or agent_input()); port->lock/unlock/wake_worker
 *   stay NULL.
 * - threaded mode (blocking stacks such as NetX Duo or BSD sockets): the port
 *   sets lock, unlock and wake_worker. Verbs registered with
 *   agent_register_blocking() then run on a worker thread that the port
 *   creates and that calls agent_work() each time wake_worker() signals it.
 *   The UART thread keeps reading and answers `busy`. agent_ok, agent_err,
 *   agent_data and agent_log may be called from either thread.
 */
#ifndef AGENT_H
#define AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_LINE_MAX 512 /* request line, LF included */
#define AGENT_MAX_ARGS 16
#define AGENT_DATA_MAX 256 /* payload bytes per data line */
#define AGENT_TAG_MAX 8
#define AGENT_PCT_MAX 600  /* agent_pct output, NUL included */

#if defined(__GNUC__)
#define AGENT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AGENT_PRINTF(f, a)
#endif

/* What the SDK needs from the port: UART bytes out, a millisecond clock, and
 * for threaded mode a lock and a way to wake the worker. */
typedef struct {
    /* Required. Write n bytes to the UART; may block until they are queued. */
    void (*uart_write)(const void *buf, size_t n);
    /* Optional (agent_poll only): copy up to cap received bytes into buf and
     * return how many; 0 when none. Must not block. */
    size_t (*uart_read)(void *buf, size_t cap);
    /* Required. Milliseconds since boot, wrapping at 2^32 (sys.info uptime_ms). */
    uint32_t (*clock_ms)(void);
    /* Threaded mode: all three set, or all NULL. lock/unlock: a non-recursive
     * mutex (the SDK never calls out to the port while holding it, except
     * uart_write). wake_worker: post a counting semaphore the worker waits on. */
    void (*lock)(void);
    void (*unlock)(void);
    void (*wake_worker)(void);
} agent_port_t;

typedef struct {
    const char *key;
    const char *val; /* percent-decoded, NUL-terminated (may hold NULs: use len) */
    size_t len;
} agent_arg_t;

typedef struct {
    const char *tag;
    const char *verb;
    int nargs;
    agent_arg_t args[AGENT_MAX_ARGS];
} agent_req_t;

typedef enum { AGENT_DONE = 0, AGENT_PENDING = 1 } agent_status_t;
/* req stays valid until the request's final reply, not after it. */
typedef agent_status_t (*agent_handler_t)(const agent_req_t *req);

typedef struct {
    const char *verb;
    agent_handler_t fn;
} agent_verb_t;

/* Start (or restart) the agent: forgets the registered verbs and any request. */
void agent_init(const agent_port_t *port);

/* Register a table of verbs (kept by reference). agent_register: the handler
 * runs on the thread that feeds the UART bytes. agent_register_blocking: in
 * threaded mode the handler runs on the worker (agent_work); in loop mode it
 * runs inline like the others. */
void agent_register(const agent_verb_t *verbs, size_t n);
void agent_register_blocking(const agent_verb_t *verbs, size_t n);
/* True when some registered table provides verb. */
int agent_verb_registered(const char *verb);

/* Feed received UART bytes (any split). agent_poll: the same, reading them
 * through port->uart_read until it returns 0. Call from one thread only. */
void agent_input(const void *bytes, size_t n);
void agent_poll(void);

/* Threaded mode, on the worker thread after each wake_worker(): runs the
 * queued blocking request, if any, to its end. */
void agent_work(void);

/* Argument access. agent_arg returns NULL when absent. */
const agent_arg_t *agent_arg(const agent_req_t *req, const char *key);
const char *agent_arg_str(const agent_req_t *req, const char *key, const char *def);
/* 0 ok (or absent: *out = def), -1 present but not a decimal u32. */
int agent_arg_u32(const agent_req_t *req, const char *key, uint32_t def, uint32_t *out);

/* Final replies to the request in flight (ignored, and counted, when none is).
 * fmt builds the KEY=VALUE part; values that may hold reserved bytes go through
 * agent_pct/agent_pct_r. */
void agent_ok(const char *fmt, ...) AGENT_PRINTF(1, 2);
void agent_err(const char *code, const char *fmt, ...) AGENT_PRINTF(2, 3);
/* A data line (1 <= n <= AGENT_DATA_MAX) for the request in flight. */
void agent_data(const void *buf, size_t n);
/* True while a request awaits its final reply. */
int agent_busy(void);
/* Replies that arrived with no request in flight: a port bug when not 0. */
uint32_t agent_dropped_replies(void);

/* An unsolicited `* log TEXT` line (control bytes become spaces). */
void agent_log(const char *fmt, ...) AGENT_PRINTF(1, 2);

/* Percent-encode src (cut on an escape boundary to fit). agent_pct_r writes
 * into dst (cap bytes, NUL included) and returns dst. agent_pct uses a static
 * ring of 4 buffers of AGENT_PCT_MAX: only for the code answering the request
 * in flight (one thread at a time); elsewhere use agent_pct_r. */
char *agent_pct_r(char *dst, size_t cap, const char *src, size_t len);
const char *agent_pct(const char *src, size_t len);

/* The port's uptime clock, for verbs that report times. */
uint32_t agent_clock_ms(void);
/* Write one whole line (LF included) to the UART, serialised with replies. */
void agent_write_line(const char *line, size_t n);

#endif
