/* The reference firmware's own agent verbs, on top of the SDK (sdk/). */
#ifndef AGENT_INTERNAL_H
#define AGENT_INTERNAL_H

#include "agent_device.h"

/* verbs_sys.c: the SDK's device struct, from lwIP; verbs_bulk.c: tcp.bulk. */
void verbs_sys_register(void);
void verbs_bulk_register(void);

/* verbs_net.c: the device struct's net.info and net.config. */
void net_port_info(agent_net_t *out);
const char *net_port_config(const char *ip, const char *mask, const char *gw, const char *ip6);

#endif
