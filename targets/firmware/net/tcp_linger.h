/* Closing a client connection without a reset: send our FIN at once, then
 * keep reading (and discarding) until the server's FIN, so data the server
 * still had in flight (a long reply we gave up on) does not make lwIP answer
 * with RST. A server that neither closes nor stops talking within
 * TCP_LINGER_SECONDS is reset. The PCB no longer belongs to the caller. */
#ifndef NET_TCP_LINGER_H
#define NET_TCP_LINGER_H
#include "lwip/tcp.h"
#define TCP_LINGER_SECONDS 5
/* Returns 1 if the PCB had to be aborted (a recv callback must return ERR_ABRT). */
int tcp_linger_close(struct tcp_pcb *pcb);
#endif
