/* POP3 client session (RFC 1939) as a pure state machine: no sockets, no
 * lwIP. The network glue feeds it the bytes the server sent and sends the
 * commands it produces; the application asks for operations (STAT, LIST n,
 * RETR n, ...) when the session is idle.
 *
 * Rules it enforces: AUTHORIZATION sends USER/PASS or APOP only; APOP only
 * with a greeting <timestamp>, -ERR to APOP falls back to USER/PASS; one
 * command outstanding at a time; each command one CRLF line of at most
 * POP3_CMD_MAX octets. Reply lines are at most 512 octets (RFC 1939 3). */
#ifndef POP3_SESSION_H
#define POP3_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include "lines.h"
#include "dotstuff.h"

#define POP3_CMD_MAX 255   /* RFC 1939: commands ≤ 255 octets incl. CRLF */
#define POP3_LINE_MAX 512  /* reply line incl. CRLF */
#define POP3_CRED_MAX 127  /* user / password octets */
#define POP3_PIECE_MAX 1460 /* largest message piece handed out at once */

typedef enum {
    POP3_S_GREETING, POP3_S_APOP, POP3_S_USER, POP3_S_PASS,
    POP3_S_IDLE,     /* TRANSACTION, nothing outstanding */
    POP3_S_STAT, POP3_S_LIST, POP3_S_RETR, POP3_S_RETR_DATA,
    POP3_S_DELE, POP3_S_RSET, POP3_S_NOOP, POP3_S_QUIT,
    POP3_S_CLOSED,   /* after QUIT's reply, or a fatal error */
} pop3_state_t;

typedef enum {
    POP3_EV_NONE = 0, /* input consumed, waiting for more */
    POP3_EV_SEND,     /* send cmd[0..cmd_len) now */
    POP3_EV_PIECE,    /* piece buffer full: take it (pop3_piece_take), not final */
    POP3_EV_DONE,     /* operation finished: see res; for RETR the remaining
                         piece (possibly empty) is the final one */
} pop3_ev_t;

typedef struct {
    const char *code;  /* NULL = success, else an agent error code */
    const char *stage; /* stage name for errors */
    const char *msg;   /* short reason (static string) */
    char reply[8];     /* "-ERR" for server errors, else "" */
    uint32_t a, b;     /* STAT: count, octets; LIST: n, octets */
    uint8_t apop;      /* login used APOP */
    uint8_t fatal;     /* the session cannot continue: close the connection */
    uint8_t retr_done; /* RETR complete: the piece left is the final one */
} pop3_result_t;

typedef struct {
    pop3_state_t st;
    char user[POP3_CRED_MAX + 1];
    char pass[POP3_CRED_MAX + 1];
    uint8_t want_apop;
    char cmd[POP3_CMD_MAX + 1];
    size_t cmd_len;
    char line[POP3_LINE_MAX + 1];
    lines_t lines;
    unstuff_t un;
    uint8_t piece[POP3_PIECE_MAX];
    size_t piece_len;
    uint32_t arg; /* item number of the command outstanding */
    pop3_result_t res;
} pop3_session_t;

/* Returns 0, or -1 if the credentials make a command longer than
 * max_cmd octets (the client's packet payload; <= POP3_CMD_MAX). */
int pop3_session_init(pop3_session_t *s, const char *user, size_t ulen,
                      const char *pass, size_t plen, int apop, size_t max_cmd);

/* Feed server bytes. Consumes up to n bytes (*used) and stops at the first
 * event; call again with the rest while *used < n or the event is not NONE. */
pop3_ev_t pop3_session_feed(pop3_session_t *s, const uint8_t *in, size_t n, size_t *used);

/* Start an operation (state must be IDLE): 0 and the command is in cmd, or -1. */
typedef enum { POP3_OP_STAT, POP3_OP_LIST, POP3_OP_RETR, POP3_OP_DELE,
               POP3_OP_RSET, POP3_OP_NOOP, POP3_OP_QUIT } pop3_op_t;
int pop3_session_start(pop3_session_t *s, pop3_op_t op, uint32_t n);

/* The connection failed under the session: fills res for the current stage. */
void pop3_session_fail(pop3_session_t *s, const char *code, const char *msg);

/* Piece data (RETR): pointer/length, then mark it taken. */
static inline void pop3_piece_take(pop3_session_t *s) { s->piece_len = 0; }

const char *pop3_stage_name(pop3_state_t st);
int pop3_session_idle(const pop3_session_t *s);
#endif
