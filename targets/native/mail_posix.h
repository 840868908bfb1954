/* The native board's mail port (POSIX sockets, blocking). */
#ifndef MAIL_POSIX_H
#define MAIL_POSIX_H
#include <stddef.h>
void mail_posix_register(void);
/* Bytes queued in the kernel for the client sockets (received + unsent/unacked). */
size_t mail_posix_queued(void);
#endif
