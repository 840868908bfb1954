/* Network limits the firmware declares in its banner (docs/agent-protocol.md).
 * One place, so the banner and the code that must honour them cannot disagree. */
#ifndef FW_LIMITS_H
#define FW_LIMITS_H
#define FW_NAME "bench-ref"
#define FW_VERSION "0.1.0"
#define LINK_MTU 1500
#define POP3_CLIENT_PAYLOAD 120   /* NetX POP3 client packet payload (seed: 100-120) */
#define SMTP_CLIENT_PAYLOAD 1024  /* SMTP client packet payload; below the MSS on purpose */
#define SMTP_BODY_MAX (1536u * 1024u)
#define CLIENT_TIMEOUT_MS_DEFAULT 10000u
#endif
