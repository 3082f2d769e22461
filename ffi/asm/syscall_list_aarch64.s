// The syscall runner for aarch64; see syscall_list_x86_64.s for the block layout and records.
// Entered with x0 = block.
        .text
        .globl run_syscall_list
run_syscall_list:
        mov     x19, x0
        mov     x22, #0
next:
        ldr     x9, [x19]
        cmp     x22, x9
        b.hs    fell_off
        mov     x9, #96
        madd    x21, x22, x9, x19
        add     x21, x21, #32
        ldr     x23, [x21, #56]
        ldr     x24, [x19, #16]
        ldp     x0, x1, [x21, #8]
        ldp     x2, x3, [x21, #24]
        ldp     x4, x5, [x21, #40]
        tbz     x23, #8, 1f
        ldr     x0, [x24, x0, lsl #3]
1:      tbz     x23, #9, 1f
        ldr     x1, [x24, x1, lsl #3]
1:      tbz     x23, #10, 1f
        ldr     x2, [x24, x2, lsl #3]
1:      tbz     x23, #11, 1f
        ldr     x3, [x24, x3, lsl #3]
1:      tbz     x23, #12, 1f
        ldr     x4, [x24, x4, lsl #3]
1:      tbz     x23, #13, 1f
        ldr     x5, [x24, x5, lsl #3]
1:      ldr     x8, [x21]
        svc     #0
        cmn     x0, #4095
        b.hs    failed
        and     x9, x23, #3
        cmp     x9, #1
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
2:      tbz     x23, #14, 3f
        ldr     x9, [x21, #80]
        cmp     x0, x9
        b.ne    unexpected
3:      tbz     x23, #15, 4f
        ubfx    x9, x23, #16, #8
        str     x0, [x24, x9, lsl #3]
4:      ldr     w22, [x21, #72]
        b       next
failed:
        neg     x0, x0
        and     x9, x23, #3
        cmp     x9, #2
        b.eq    allowed
        cmp     x0, #64
        b.hs    report
        ldr     x9, [x21, #64]
        lsr     x9, x9, x0
        tbz     x9, #0, report
allowed:
        ldr     w22, [x21, #76]
        b       next
unexpected:
        mov     x0, #0
report:
        ldr     x9, [x19, #24]
        add     x9, x9, x22
        sub     sp, sp, #16
        stp     x9, x0, [sp]
        ldr     x0, [x19, #8]
        mov     x1, sp
        mov     x2, #16
        mov     x8, #64
        svc     #0
        mov     x0, #126
        mov     x8, #94
        svc     #0
fell_off:
        mov     x0, #127
        mov     x8, #94
        svc     #0
