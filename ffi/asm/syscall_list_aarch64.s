// Runs a list of system calls, then exits; the child side of clone() for ocibox.
// Entered with x0 = block: u64 count, u64 status fd, then `count` entries of 8 u64:
// nr, a0..a5, mode. Mode 0: a failure stops here; 1: a fork point (in the parent, report
// the child's pid and exit 0); 2: failures are ignored.
// Records written to the status fd are two u64: (~0, pid) for a fork, (index, errno) for a failure.
// No JS and no libc runs here: the process is a copy of a multithreaded runtime.
        .text
        .globl run_syscall_list
run_syscall_list:
        mov     x19, x0
        ldr     x20, [x19]
        add     x21, x19, #16
        mov     x22, #0
1:
        cmp     x22, x20
        b.hs    4f
        ldr     x8, [x21]
        ldp     x0, x1, [x21, #8]
        ldp     x2, x3, [x21, #24]
        ldp     x4, x5, [x21, #40]
        svc     #0
        ldr     x23, [x21, #56]
        cmn     x0, #4095
        b.hs    3f
        cmp     x23, #1
        b.ne    2f
        cbz     x0, 2f
        sub     sp, sp, #16
        mov     x9, #-1
        stp     x9, x0, [sp]
        ldr     x0, [x19, #8]
        mov     x1, sp
        mov     x2, #16
        mov     x8, #64
        svc     #0
        mov     x0, #0
        mov     x8, #94
        svc     #0
2:
        add     x21, x21, #64
        add     x22, x22, #1
        b       1b
3:
        cmp     x23, #2
        b.eq    2b
        neg     x0, x0
        sub     sp, sp, #16
        stp     x22, x0, [sp]
        ldr     x0, [x19, #8]
        mov     x1, sp
        mov     x2, #16
        mov     x8, #64
        svc     #0
        mov     x0, #126
        mov     x8, #94
        svc     #0
4:
        mov     x0, #127
        mov     x8, #94
        svc     #0
