# The syscall runner: performs a prepared program of system calls, then exits. It is the child
# side of clone() for ocibox (a copy of a multithreaded runtime, where no JS and no libc may
# run) and, wrapped in a tiny static ELF, the whole container init.
#
# Entered with rdi = block: u64 count, u64 status fd, u64 slots address, u64 index base, then
# `count` entries of 12 u64 (layout in ffi/runner_program.ts):
#   0 nr, 1-6 a0..a5, 7 control, 8 allowed-errno mask, 9 next (u32 on success, u32 on an
#   allowed failure), 10 expected result, 11 unused.
# control: bits 0-1 mode (0 strict, 1 fork point, 2 every failure allowed); bit 8+j: argument
# j names a slot whose value is passed; bit 14: the result must equal `expected`; bit 15: save
# the result in slot (bits 16-23).
# Records written to the status fd are two u64: (~0, pid) from the parent of a fork point,
# which then exits 0; (index base + index, errno) for a failure (errno 0: unexpected result),
# then exit 126. Running past the last entry exits 127.
        .intel_syntax noprefix
        .text
        .globl run_syscall_list
run_syscall_list:
        mov     r12, rdi
        xor     r15, r15
next:
        cmp     r15, [r12]
        jae     fell_off
        imul    r14, r15, 96
        lea     r14, [r12 + r14 + 32]
        mov     rbx, [r14 + 56]
        mov     rbp, [r12 + 16]
        mov     rdi, [r14 + 8]
        bt      rbx, 8
        jnc     1f
        mov     rdi, [rbp + rdi*8]
1:      mov     rsi, [r14 + 16]
        bt      rbx, 9
        jnc     1f
        mov     rsi, [rbp + rsi*8]
1:      mov     rdx, [r14 + 24]
        bt      rbx, 10
        jnc     1f
        mov     rdx, [rbp + rdx*8]
1:      mov     r10, [r14 + 32]
        bt      rbx, 11
        jnc     1f
        mov     r10, [rbp + r10*8]
1:      mov     r8, [r14 + 40]
        bt      rbx, 12
        jnc     1f
        mov     r8, [rbp + r8*8]
1:      mov     r9, [r14 + 48]
        bt      rbx, 13
        jnc     1f
        mov     r9, [rbp + r9*8]
1:      mov     rax, [r14]
        syscall
        cmp     rax, -4095
        jae     failed
        mov     edx, ebx
        and     edx, 3
        cmp     edx, 1
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
2:      bt      rbx, 14
        jnc     3f
        cmp     rax, [r14 + 80]
        jne     unexpected
3:      bt      rbx, 15
        jnc     4f
        mov     rdx, rbx
        shr     rdx, 16
        and     edx, 255
        mov     [rbp + rdx*8], rax
4:      mov     r15d, [r14 + 72]
        jmp     next
failed:
        neg     rax
        mov     edx, ebx
        and     edx, 3
        cmp     edx, 2
        je      allowed
        cmp     rax, 64
        jae     report
        mov     rdx, [r14 + 64]
        bt      rdx, rax
        jnc     report
allowed:
        mov     r15d, [r14 + 76]
        jmp     next
unexpected:
        xor     eax, eax
report:
        push    rax
        mov     rdx, [r12 + 24]
        add     rdx, r15
        push    rdx
        mov     rdi, [r12 + 8]
        mov     rsi, rsp
        mov     edx, 16
        mov     eax, 1
        syscall
        mov     edi, 126
        mov     eax, 231
        syscall
fell_off:
        mov     edi, 127
        mov     eax, 231
        syscall
