/* For ports of the agent SDK that use these session machines (the lwIP
 * firmware's app/app.c, targets/native): the SDK's SMTP settings as the
 * session's configuration, and the smtp.config line-length check. */
#ifndef PROTO_AGENT_BRIDGE_H
#define PROTO_AGENT_BRIDGE_H
#include "agent_mail.h"
#include "smtp_session.h"

static inline smtp_config_t smtp_config_of(const agent_smtp_config_t *c)
{
    static const smtp_auth_t auth[] = {SMTP_AUTH_NONE, SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN};
    smtp_config_t cfg = {c->user, c->pass, c->from, c->domain, auth[c->auth]};
    return cfg;
}

static inline smtp_prio_t smtp_prio_of(agent_prio_t p)
{
    static const smtp_prio_t prio[] = {SMTP_PRIO_NORMAL, SMTP_PRIO_HIGH, SMTP_PRIO_LOW};
    return prio[p];
}

/* agent_mail_port_t.smtp_check */
static inline const char *smtp_agent_check(const agent_smtp_config_t *c)
{
    smtp_config_t cfg = smtp_config_of(c);
    return smtp_config_check(&cfg) ? "a command line would exceed 512 octets" : NULL;
}
#endif
