/* Host build of the firmware's lwIP configuration for the glue tests: the
 * same TCP figures, plus the loopback interface (127.0.0.1, ::1) so the mail
 * clients and the test's scripted servers talk inside one process. */
#ifndef GLUE_LWIPOPTS_H
#define GLUE_LWIPOPTS_H
#include "../../port/lwipopts.h"
#undef LWIP_SINGLE_NETIF
#define LWIP_SINGLE_NETIF 0
#undef LWIP_HAVE_LOOPIF
#define LWIP_HAVE_LOOPIF 1
#undef LWIP_NETIF_LOOPBACK
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#undef MEM_ALIGNMENT
#define MEM_ALIGNMENT 8 /* 64-bit host */
#define IPV6_FRAG_COPYHEADER 1 /* 64-bit pointers do not fit the fragment header */
#undef MEMP_NUM_TCP_PCB_LISTEN
#define MEMP_NUM_TCP_PCB_LISTEN 4
#undef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB 16 /* client and server ends share the pool here */
/* every IP packet the loopback delivers passes here: the test's wire checks */
struct pbuf;
struct netif;
int glue_ip_input_hook(struct pbuf *p, int v6);
#define LWIP_HOOK_IP4_INPUT(p, inp) glue_ip_input_hook((p), 0)
#define LWIP_HOOK_IP6_INPUT(p, inp) glue_ip_input_hook((p), 1)
#endif
