/*
 * The guest of `ssihv bench fault`: the same bytes run under the C reference (uffd_reference.c) and under our
 * pager (shell/Bench/FaultGuestRun.cs), so the two differ only in who resolves the faults.
 *
 * 32-bit protected mode, paging off, flat segments, CPL0 (the VMM sets this up; no GDT needed because no
 * segment register is ever loaded). Layout, guest-physical:
 *   0xE0000  this code            0xE0F00  parameters: +0 pages per pass, +4 passes
 *   0xE1000  results: one u32 per touch (rdtsc cycles of the first write to the page), pass after pass
 *   0x100000 the paged region: `pages` pages, registered with userfaultfd by the VMM
 * Every pass writes each page once, in order (timed), then adds the pass counter to the page's second word,
 * so that afterwards word 1 of every page must be passes + (passes - 1) + ... + 1: a re-fault that lost the
 * evicted bytes shows as a wrong sum. Before each pass and after the last one the guest writes to port 0x10
 * (an exit the VMM timestamps: wall time per pass), then halts.
 */
    .code32
    .set PARAMS,  0xE0F00
    .set RESULTS, 0xE1000
    .set DATA,    0x100000
    .set PASS_PORT, 0x10

    .globl _start
_start:
    mov  $RESULTS, %edi
    mov  PARAMS+4, %ebx          /* passes left; also the amount added to word 1 this pass */
next_pass:
    out  %al, $PASS_PORT
    mov  $DATA, %esi
    mov  PARAMS, %ecx
touch:
    lfence
    rdtsc
    mov  %eax, %ebp
    mov  %eax, (%esi)            /* the first access to the page in this pass: a write fault */
    lfence
    rdtsc
    sub  %ebp, %eax
    mov  %eax, (%edi)
    add  %ebx, 4(%esi)
    add  $4, %edi
    add  $4096, %esi
    dec  %ecx
    jnz  touch
    dec  %ebx
    jnz  next_pass
    out  %al, $PASS_PORT
    hlt
    jmp  .
