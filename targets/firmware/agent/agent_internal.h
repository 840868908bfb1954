/* Shared between the agent's own files (not part of the agent.h contract). */
#ifndef AGENT_INTERNAL_H
#define AGENT_INTERNAL_H

/* True when some registered table provides verb (used to derive caps=). */
int agent_verb_registered(const char *verb);

/* The platform's verb tables (verbs_sys.c, verbs_net.c, verbs_bulk.c). */
void verbs_sys_register(void);
void verbs_net_register(void);
void verbs_bulk_register(void);

#endif
