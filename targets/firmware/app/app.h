/* The mail application linked on top of the platform: registers its agent verbs
 * (pop3.*, smtp.*) and runs its timers. Called from main.c. */
#ifndef APP_H
#define APP_H
void app_init(void); /* after lwIP and the netif are up, before the banner */
void app_poll(void); /* once per main-loop pass */
#endif
