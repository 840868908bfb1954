/* The reference firmware's own agent verbs, on top of the SDK (sdk/). */
#ifndef AGENT_INTERNAL_H
#define AGENT_INTERNAL_H

/* verbs_sys.c (the SDK's device struct, from lwIP), verbs_net.c, verbs_bulk.c. */
void verbs_sys_register(void);
void verbs_net_register(void);
void verbs_bulk_register(void);

#endif
