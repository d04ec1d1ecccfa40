#include "port_io.h"

#define OPERAND_SIZE_PREFIX 0x66
#define IN_AL_IMM8 0xE4
#define IN_EAX_IMM8 0xE5
#define OUT_IMM8_AL 0xE6
#define OUT_IMM8_EAX 0xE7
#define IN_AL_DX 0xEC
#define IN_EAX_DX 0xED
#define OUT_DX_AL 0xEE
#define OUT_DX_EAX 0xEF

static u32 port_in(u16 port, u32 bytes)
{
    u32 value;
    if (bytes == 1) {
        u8 v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
        value = v;
    } else if (bytes == 2) {
        u16 v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "d"(port));
        value = v;
    } else {
        __asm__ volatile("inl %1, %0" : "=a"(value) : "d"(port));
    }
    return value;
}

static void port_out(u16 port, u32 bytes, u32 value)
{
    if (bytes == 1)
        __asm__ volatile("outb %b0, %1" : : "a"(value), "d"(port));
    else if (bytes == 2)
        __asm__ volatile("outw %w0, %1" : : "a"(value), "d"(port));
    else
        __asm__ volatile("outl %0, %1" : : "a"(value), "d"(port));
}

bool port_io_emulate_user_instruction(struct exception_frame *frame)
{
    /* The probe's own code, identity-mapped: reading the instruction bytes cannot fault. */
    const u8 *code = (const u8 *)(usize)frame->rip;
    u32 length = 0;
    bool operand_16bit = code[0] == OPERAND_SIZE_PREFIX;
    if (operand_16bit)
        length++;
    u8 opcode = code[length++];
    u16 port;
    switch (opcode) {
    case IN_AL_IMM8: case IN_EAX_IMM8: case OUT_IMM8_AL: case OUT_IMM8_EAX:
        port = code[length++];
        break;
    case IN_AL_DX: case IN_EAX_DX: case OUT_DX_AL: case OUT_DX_EAX:
        port = (u16)frame->rdx;
        break;
    default:
        return false;
    }
    bool byte_sized = opcode == IN_AL_IMM8 || opcode == OUT_IMM8_AL || opcode == IN_AL_DX || opcode == OUT_DX_AL;
    u32 bytes = byte_sized ? 1 : operand_16bit ? 2 : 4;
    bool is_in = opcode == IN_AL_IMM8 || opcode == IN_EAX_IMM8 || opcode == IN_AL_DX || opcode == IN_EAX_DX;
    if (is_in) {
        u32 value = port_in(port, bytes);
        /* Architectural register writes: 8/16-bit keep the rest of RAX, 32-bit zero-extends. */
        if (bytes == 1)
            frame->rax = (frame->rax & ~0xFFULL) | value;
        else if (bytes == 2)
            frame->rax = (frame->rax & ~0xFFFFULL) | value;
        else
            frame->rax = value;
    } else {
        port_out(port, bytes, (u32)frame->rax);
    }
    frame->rip += length;
    return true;
}
