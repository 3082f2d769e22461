# Runs a list of system calls, then exits; the child side of clone() for ocibox.
# Entered with rdi = block: u64 count, u64 status fd, then `count` entries of 8 u64:
# nr, a0..a5, mode. Mode 0: a failure stops here; 1: a fork point (in the parent, report
# the child's pid and exit 0); 2: failures are ignored.
# Records written to the status fd are two u64: (~0, pid) for a fork, (index, errno) for a failure.
# No JS and no libc runs here: the process is a copy of a multithreaded runtime.
        .intel_syntax noprefix
        .text
        .globl run_syscall_list
run_syscall_list:
        mov     r12, rdi
        mov     r13, [r12]
        lea     r14, [r12 + 16]
        xor     r15, r15
1:
        cmp     r15, r13
        jae     4f
        mov     rax, [r14]
        mov     rdi, [r14 + 8]
        mov     rsi, [r14 + 16]
        mov     rdx, [r14 + 24]
        mov     r10, [r14 + 32]
        mov     r8, [r14 + 40]
        mov     r9, [r14 + 48]
        syscall
        mov     rbx, [r14 + 56]
        cmp     rax, -4095
        jae     3f
        cmp     rbx, 1
        jne     2f
        test    rax, rax
        jz      2f
        push    rax
        push    -1
        mov     rdi, [r12 + 8]
        mov     rsi, rsp
        mov     edx, 16
        mov     eax, 1
        syscall
        xor     edi, edi
        mov     eax, 231
        syscall
2:
        add     r14, 64
        inc     r15
        jmp     1b
3:
        cmp     rbx, 2
        je      2b
        neg     rax
        push    rax
        push    r15
        mov     rdi, [r12 + 8]
        mov     rsi, rsp
        mov     edx, 16
        mov     eax, 1
        syscall
        mov     edi, 126
        mov     eax, 231
        syscall
4:
        mov     edi, 127
        mov     eax, 231
        syscall
