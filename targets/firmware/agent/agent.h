/* UART agent: line framing, request parsing and replies (docs/agent-protocol.md).
 *
 * One request is in flight at a time. A verb handler either answers at once
 * (calls agent_ok/agent_err and returns AGENT_DONE) or starts network work and
 * returns AGENT_PENDING; the module then answers later, from its lwIP callbacks
 * or its poll function, with agent_ok/agent_err (plus agent_data before them).
 * Until the final reply, further requests get `err code=busy`.
 */
#ifndef AGENT_H
#define AGENT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_LINE_MAX 512
#define AGENT_MAX_ARGS 16
#define AGENT_DATA_MAX 256 /* payload bytes per data line */

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
typedef agent_status_t (*agent_handler_t)(const agent_req_t *req);

typedef struct {
    const char *verb;
    agent_handler_t fn;
} agent_verb_t;

/* Register a table of verbs (kept by reference; call before agent_poll). */
void agent_register(const agent_verb_t *verbs, size_t n);

/* Argument access. agent_arg returns NULL when absent. */
const agent_arg_t *agent_arg(const agent_req_t *req, const char *key);
const char *agent_arg_str(const agent_req_t *req, const char *key, const char *def);
/* 0 ok (or absent: *out = def), -1 present but not a decimal u32. */
int agent_arg_u32(const agent_req_t *req, const char *key, uint32_t def, uint32_t *out);

/* Final replies to the request in flight. fmt builds the KEY=VALUE part;
 * values that may hold reserved bytes must go through agent_pct(). */
void agent_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void agent_err(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A data line (n <= AGENT_DATA_MAX) for the request in flight. */
void agent_data(const void *buf, size_t n);
/* True while a request awaits its final reply. */
int agent_busy(void);

/* Unsolicited lines. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void agent_boot_banner(void);

/* Percent-encode src into a static rotating buffer (4 slots of 600 bytes) for
 * use in a reply format argument. */
const char *agent_pct(const char *src, size_t len);

/* Feed received UART bytes / run once per main-loop pass. */
void agent_poll(void);

#endif
