/* The few newlib system calls a bare-metal image may pull in. stdout goes to
 * the UART; there is no file system. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "platform.h"

extern char __heap_start, __stack_limit;
static char *heap_end = &__heap_start;

void *_sbrk(intptr_t incr)
{
    char *prev = heap_end;
    if (heap_end + incr > &__stack_limit) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_end += incr;
    return prev;
}

int _write(int fd, const void *buf, int n)
{
    (void)fd;
    uart_write(buf, (size_t)n);
    return n;
}

int _read(int fd, void *buf, int n) { (void)fd; (void)buf; (void)n; return 0; }
int _close(int fd) { (void)fd; return -1; }
int _lseek(int fd, int off, int whence) { (void)fd; (void)off; (void)whence; return 0; }
int _fstat(int fd, struct stat *st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int _isatty(int fd) { (void)fd; return 1; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { (void)pid; (void)sig; errno = EINVAL; return -1; }
void _exit(int code) { (void)code; platform_reset(); }
