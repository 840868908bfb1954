/* lwIP 2.1.3 configuration for the bench reference firmware.
 * NO_SYS, raw API only, IPv4 + IPv6, static addresses. The TCP figures here are
 * what the boot banner declares (agent/verbs_sys.c reads them), so change them
 * here and nowhere else. */
#ifndef LWIPOPTS_H
#define LWIPOPTS_H

#include "fw_limits.h"

/* ---- system ---- */
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0 /* lwIP runs only from the main loop, never from ISRs */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0
#define LWIP_TIMERS 1
#define LWIP_RAND() lwip_port_rand()
#define LWIP_HOOK_FILENAME "lwip_hooks.h" /* random TCP ISN */
#define LWIP_PROVIDE_ERRNO 0 /* newlib provides errno.h */
/* Note: LWIP_DEBUG must stay undefined (lwIP tests it with #ifdef). */

/* ---- memory ---- */
#define MEM_ALIGNMENT 4
#define MEM_SIZE (96 * 1024) /* heap for PBUF_RAM: tcp_write copies, headers */
#define MEMP_NUM_PBUF 32
#define MEMP_NUM_UDP_PCB 4
#define MEMP_NUM_TCP_PCB 8
#define MEMP_NUM_TCP_PCB_LISTEN 2
#define MEMP_NUM_TCP_SEG 128 /* >= TCP_SND_QUEUELEN for a few connections */
#define MEMP_NUM_REASSDATA 4
#define MEMP_NUM_FRAG_PBUF 8
#define MEMP_NUM_ARP_QUEUE 8
#define MEMP_NUM_ND6_QUEUE 8
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
#define PBUF_POOL_SIZE 32
#define PBUF_POOL_BUFSIZE 1536 /* one frame per pool pbuf */

/* ---- link / IP ---- */
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define ETH_PAD_SIZE 0
#define ARP_TABLE_SIZE 8
#define ARP_QUEUEING 1
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_ICMP 1
#define LWIP_ICMP6 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
/* IPv6: a static fec0::15 set PREFERRED at once, plus the link-local address.
 * SLAAC is off so the source address for fec0::/64 peers is always fec0::15. */
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_NUM_ADDRESSES 3
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 1
#define LWIP_ND6_NUM_NEIGHBORS 8
#define LWIP_ND6_NUM_DESTINATIONS 8

/* ---- TCP ---- */
#define LWIP_TCP 1
#define TCP_MSS 1460
/* QEMU's LAN9118 drops frames once its ~10.5 KB RX FIFO is full: keep the
 * window at 4*MSS (measured: no retransmits host->guest at this size). */
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (8 * TCP_MSS)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF) / TCP_MSS)
#define TCP_SNDLOWAT (TCP_SND_BUF / 2)
#define TCP_QUEUE_OOSEQ 1
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_CALCULATE_EFF_SEND_MSS 1 /* SYN MSS = min(TCP_MSS, MTU - headers) */
#define LWIP_TCP_KEEPALIVE 0
#define TCP_LISTEN_BACKLOG 0

/* ---- netif ---- */
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_SINGLE_NETIF 1
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0

/* ---- checksums: all in software (the LAN9118 model does none) ---- */
#define LWIP_CHECKSUM_ON_COPY 1

/* ---- statistics: sys.info reads the pool and PCB counts ---- */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define MEM_STATS 1
#define MEMP_STATS 1
#define LINK_STATS 1
#define IP_STATS 0
#define IPFRAG_STATS 0
#define ICMP_STATS 0
#define UDP_STATS 0
#define TCP_STATS 1
#define SYS_STATS 0
#define IP6_STATS 0
#define ICMP6_STATS 0
#define IP6_FRAG_STATS 0
#define MLD6_STATS 0
#define ND6_STATS 0

#ifndef __ASSEMBLER__
#include <stdint.h>
uint32_t lwip_port_rand(void);
#endif

#endif
