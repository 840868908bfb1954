/* SMSC LAN9118 driver (QEMU's model in hw/net/lan9118.c is the reference).
 *
 * Quirks that shape this code (shared/docs/EMULATED-TARGET-NOTES.md):
 *  - The IRQ line is pending from reset (active-low, output disabled): IRQ_CFG
 *    is set to enabled, active-high, push-pull BEFORE NVIC line 13 is enabled.
 *  - MAC_CR resets promiscuous; we leave promiscuous but set pass-all-multicast
 *    (MCPAS), else IPv6 neighbour discovery and router adverts are filtered.
 *  - The RX status length includes the 4-byte CRC.
 *  - QEMU drops frames once the ~10.5 KB RX FIFO is full, so the main loop
 *    drains it promptly (the interrupt wakes it) and TCP_WND stays at 4*MSS.
 *  - The RX fast-forward command does not decrement QEMU's FIFO count, so
 *    unwanted frames are read out and discarded instead.
 * Frames go through a word-aligned bounce buffer: the FIFO ports move 32-bit
 * words, pbuf chains do not line up with them, and copies are cheap here. */
#include <string.h>

#include "lan9118.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/pbuf.h"
#include "lwip/snmp.h"
#include "mps2.h"
#include "netif/ethernet.h"

#define R(off) REG32(LAN9118_BASE + (off))
#define RX_DATA_FIFO R(0x00)
#define TX_DATA_FIFO R(0x20)
#define RX_STATUS_FIFO R(0x40)
#define TX_STATUS_FIFO R(0x48)
#define ID_REV R(0x50)
#define IRQ_CFG R(0x54)
#define INT_STS R(0x58)
#define INT_EN R(0x5C)
#define BYTE_TEST R(0x64)
#define FIFO_INT R(0x68)
#define RX_CFG R(0x6C)
#define TX_CFG R(0x70)
#define HW_CFG R(0x74)
#define RX_FIFO_INF R(0x7C)
#define TX_FIFO_INF R(0x80)
#define FREE_RUN R(0x9C)
#define MAC_CSR_CMD R(0xA4)
#define MAC_CSR_DATA R(0xA8)

#define IRQ_CFG_EN 0x100u
#define IRQ_CFG_POL_HIGH 0x10u
#define IRQ_CFG_PUSH_PULL 0x1u
#define INT_RSFL 0x8u      /* RX status FIFO level: a frame is waiting */
#define HW_CFG_SRST 0x1u
#define TX_CFG_TX_ON 0x2u
#define CSR_BUSY 0x80000000u
#define CSR_READ 0x40000000u

/* MAC CSRs (indirect) */
#define MAC_CR 1
#define MAC_ADDRH 2
#define MAC_ADDRL 3
#define MAC_CR_MCPAS 0x00080000u
#define MAC_CR_FDPX 0x00100000u
#define MAC_CR_TXEN 0x8u
#define MAC_CR_RXEN 0x4u

#define RXS_ERROR 0x8000u
#define RXS_LEN(s) (((s) >> 16) & 0x3FFFu)
#define ETH_CRC_LEN 4
#define FRAME_MAX 1518 /* without CRC; 1514 + a VLAN tag */
#define RX_BATCH 32    /* frames per poll, so the agent is not starved */

lan9118_stats_t lan9118_stats;
static uint32_t frame_buf[(FRAME_MAX + ETH_CRC_LEN + 3) / 4];
static uint16_t tx_tag;

static uint32_t mac_read(int reg)
{
    MAC_CSR_CMD = CSR_BUSY | CSR_READ | (uint32_t)reg;
    while (MAC_CSR_CMD & CSR_BUSY)
        ;
    return MAC_CSR_DATA;
}

static void mac_write(int reg, uint32_t val)
{
    MAC_CSR_DATA = val;
    MAC_CSR_CMD = CSR_BUSY | (uint32_t)reg;
    while (MAC_CSR_CMD & CSR_BUSY)
        ;
}

uint32_t lan9118_free_run(void)
{
    return FREE_RUN;
}

int lan9118_rx_pending(void)
{
    return ((RX_FIFO_INF >> 16) & 0xFFu) != 0;
}

void ETH_IRQHandler(void)
{
    /* Acknowledge only; the main loop (woken from WFI) drains the FIFO. */
    INT_STS = INT_STS;
}

static err_t lan9118_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    uint16_t len = p->tot_len;
    if (len > FRAME_MAX) {
        lan9118_stats.tx_errors++;
        return ERR_ARG;
    }
    /* TX_FIFO_INF[15:0]: free bytes in the data FIFO (command words included). */
    while ((TX_FIFO_INF & 0xFFFFu) < (uint32_t)len + 8u)
        ;
    pbuf_copy_partial(p, frame_buf, len, 0);

    tx_tag++;
    TX_DATA_FIFO = (1u << 13) | (1u << 12) | len; /* command A: first+last segment */
    TX_DATA_FIFO = ((uint32_t)tx_tag << 16) | len; /* command B: tag, frame length */
    for (uint32_t i = 0, n = (len + 3u) / 4u; i < n; i++)
        TX_DATA_FIFO = frame_buf[i];

    /* Drop TX status words; errors are not reported by QEMU anyway. */
    while ((TX_FIFO_INF >> 16) & 0xFFu)
        (void)TX_STATUS_FIFO;
    lan9118_stats.tx_frames++;
    LINK_STATS_INC(link.xmit);
    return ERR_OK;
}

void lan9118_poll(struct netif *netif)
{
    for (int batch = 0; batch < RX_BATCH && lan9118_rx_pending(); batch++) {
        uint32_t status = RX_STATUS_FIFO;
        uint32_t len = RXS_LEN(status);
        uint32_t words = (len + 3u) / 4u;
        int ok = !(status & RXS_ERROR) && len >= 14 + ETH_CRC_LEN &&
                 len <= FRAME_MAX + ETH_CRC_LEN;

        if (!ok) {
            while (words--)
                (void)RX_DATA_FIFO;
            lan9118_stats.rx_errors++;
            LINK_STATS_INC(link.err);
            continue;
        }
        for (uint32_t i = 0; i < words; i++)
            frame_buf[i] = RX_DATA_FIFO;
        len -= ETH_CRC_LEN;

        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
        if (p == NULL) {
            lan9118_stats.rx_dropped_nomem++;
            LINK_STATS_INC(link.memerr);
            continue;
        }
        pbuf_take(p, frame_buf, (u16_t)len);
        lan9118_stats.rx_frames++;
        LINK_STATS_INC(link.recv);
        if (netif->input(p, netif) != ERR_OK)
            pbuf_free(p);
    }
}

err_t lan9118_netif_init(struct netif *netif)
{
    if (BYTE_TEST != 0x87654321u)
        return ERR_IF;

    nvic_disable(LAN9118_IRQ);
    HW_CFG = HW_CFG_SRST;
    while (HW_CFG & HW_CFG_SRST)
        ;

    /* Quirk 1: make the line sane before the NVIC sees it. */
    IRQ_CFG = IRQ_CFG_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_PUSH_PULL;
    INT_EN = 0;
    INT_STS = 0xFFFFFFFFu;
    FIFO_INT = 0x48000000u; /* reset default: RSFL as soon as one status word waits */
    RX_CFG = 0;             /* no offset, no end padding */
    TX_CFG = TX_CFG_TX_ON;

    /* The MAC address QEMU loaded from its emulated EEPROM (-nic ...,mac=). */
    uint32_t lo = mac_read(MAC_ADDRL), hi = mac_read(MAC_ADDRH);
    netif->hwaddr_len = ETH_HWADDR_LEN;
    for (int i = 0; i < 4; i++)
        netif->hwaddr[i] = (u8_t)(lo >> (8 * i));
    netif->hwaddr[4] = (u8_t)hi;
    netif->hwaddr[5] = (u8_t)(hi >> 8);

    /* Quirk 2: exact unicast + broadcast + all multicast (not promiscuous). */
    mac_write(MAC_CR, MAC_CR_MCPAS | MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN);

    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->mtu = 1500;
#if LWIP_IPV6 && LWIP_ND6_ALLOW_RA_UPDATES
    netif->mtu6 = 1500;
#endif
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
                   NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    netif->linkoutput = lan9118_linkoutput;
#if LWIP_IPV4
    netif->output = etharp_output;
#endif
#if LWIP_IPV6
    netif->output_ip6 = ethip6_output;
#endif
    (void)ID_REV;

    INT_STS = 0xFFFFFFFFu;
    INT_EN = INT_RSFL;
    nvic_clear_pending(LAN9118_IRQ);
    nvic_enable(LAN9118_IRQ);
    return ERR_OK;
}
