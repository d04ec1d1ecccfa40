/* Polled 16550 on COM1. Port I/O works at CPL0 and, thanks to IOPL=3, at CPL3. */
#include "serial.h"

#define COM1 0x3F8
#define UART_THR (COM1 + 0)
#define UART_IER (COM1 + 1)
#define UART_DLL (COM1 + 0)
#define UART_DLM (COM1 + 1)
#define UART_FCR (COM1 + 2)
#define UART_LCR (COM1 + 3)
#define UART_LSR (COM1 + 5)
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define LSR_THR_EMPTY 0x20
/* Bounds the THR-empty poll so that a UART model whose LSR never reports ready (or a missing one)
 * costs a little time per character instead of hanging the probe. */
#define THR_EMPTY_MAX_POLLS 100000
#define CONSOLE_LOCK_MAX_SPINS 10000000

static volatile u32 console_lock_word;

void serial_init(void)
{
    outb(UART_IER, 0);              /* polled: no UART interrupts */
    outb(UART_LCR, LCR_DLAB);
    outb(UART_DLL, 1);              /* 115200 baud */
    outb(UART_DLM, 0);
    outb(UART_LCR, LCR_8N1);
    outb(UART_FCR, 0x07);           /* enable and clear FIFOs */
}

void serial_write_char(char c)
{
    for (u32 polls = 0; polls < THR_EMPTY_MAX_POLLS; polls++)
        if (inb(UART_LSR) & LSR_THR_EMPTY)
            break;
    outb(UART_THR, (u8)c);
}

static u32 exchange(volatile u32 *word, u32 value)
{
    __asm__ volatile("xchg %0, %1" : "+r"(value), "+m"(*word) : : "memory");
    return value;
}

void console_lock(void)
{
    while (exchange(&console_lock_word, 1) != 0)
        while (console_lock_word != 0)
            cpu_relax();
}

bool console_try_lock_bounded(void)
{
    for (u32 spins = 0; spins < CONSOLE_LOCK_MAX_SPINS; spins++) {
        if (console_lock_word == 0 && exchange(&console_lock_word, 1) == 0)
            return true;
        cpu_relax();
    }
    return false;
}

void console_unlock(void)
{
    __asm__ volatile("" ::: "memory");
    console_lock_word = 0;
}
