/* LAN9118 Ethernet controller as an lwIP netif. */
#ifndef LAN9118_H
#define LAN9118_H
#include <stdint.h>
#include "lwip/netif.h"

/* netif_add() init callback: resets the chip, reads the MAC address, enables
 * RX/TX and the RX interrupt. Returns ERR_IF if no chip answers. */
err_t lan9118_netif_init(struct netif *netif);
/* Moves received frames from the RX FIFO into lwIP (call from the main loop). */
void lan9118_poll(struct netif *netif);
/* True when the RX status FIFO holds frames. */
int lan9118_rx_pending(void);
uint32_t lan9118_free_run(void);

typedef struct {
    uint32_t rx_frames, rx_dropped_nomem, rx_errors;
    uint32_t tx_frames, tx_errors;
} lan9118_stats_t;
extern lan9118_stats_t lan9118_stats;
#endif
