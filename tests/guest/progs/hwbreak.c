/*
 * Hardware breakpoints the guest kernel arms (DBGBVR/DBGBCR; A64:
 * DBGBVR<n>_EL1/DBGBCR<n>_EL1) on user code whose calls ESPT has already
 * chained.
 *
 * hb_call() on one page calls hb_f on another page by a direct `bl`;
 * under ESPT that jump is linked after a few calls, and hb_f's `bx lr`
 * (A64: `ret`) back to hb_ret is looked up inline (docs/espt.md,
 * invariant 13).  Each part warms the calls up (CALLS calls one at a
 * time, then CALLS in one loop), then arms a breakpoint through the
 * kernel and makes CALLS more:
 *
 *  - ptrace: a forked, traced child; its parent sets breakpoint 0 with
 *    PTRACE_SETHBPREGS (A64: PTRACE_SETREGSET NT_ARM_HW_BREAK) at hb_f,
 *    and at each SIGTRAP stop moves it to the return address hb_ret and
 *    back, so every call stops twice.  Wants CALLS stops at each and
 *    none elsewhere.
 *  - perf: perf_event_open(PERF_TYPE_BREAKPOINT, HW_BREAKPOINT_X) on
 *    hb_g, a function never called before (the control), and on hb_f
 *    after the warm-up, counting.  A32 Linux steps over a perf
 *    breakpoint with a mismatch breakpoint, which QEMU does not
 *    implement, so under QEMU each counts 1 where hardware counts CALLS
 *    (A64 Linux single-steps instead): the count is printed for the host
 *    to compare with espt=off, not judged here.
 *
 * A kernel without hardware breakpoints on this CPU fails the test.
 *
 *   hwbreak [CALLS]    (default 1000)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <elf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* The caller's page and the callee's page: see the asm at the end. */
uint32_t hb_call(uint32_t n);
uint32_t hb_call_g(uint32_t n);
extern char hb_f[], hb_g[], hb_ret[];

/*
 * ARM debug BCR as Linux's ptrace takes it: user, execute, 4 bytes, on.
 * A64's ptrace control word has the same layout: enable (bit 0),
 * privilege EL0 (bits 1-2), type execute (bits 3-4), length (bits 5-12).
 */
#define BCR_USER_X      (0xfu << 5 | 2u << 1 | 1u)
#ifdef __aarch64__
/* struct user_hwdebug_state of <asm/ptrace.h>, up to breakpoint 0 */
struct hwdebug {
    uint32_t dbg_info;          /* debug architecture << 8 | registers */
    uint32_t pad;
    struct {
        uint64_t addr;
        uint32_t ctrl;
        uint32_t pad;
    } dbg_regs[1];
};
#else
/* PTRACE_{GET,SET}HBPREGS numbers: 0 resources, then BVR0, BCR0... */
#define HBP_INFO        0
#define HBP_BVR0        1
#define HBP_BCR0        2
#endif

static uint32_t calls = 1000;

/* hb_f(x) = 3x: the sum of n calls of hb_call()'s loop. */
static uint32_t want_sum(uint32_t n)
{
    return 3 * n * (n + 1) / 2;
}

static void warm(uint32_t (*call)(uint32_t))
{
    uint32_t i;

    for (i = 0; i < calls; i++) {
        call(1);
    }
    call(calls);
}

/* The kernel's hw-breakpoint lines at boot, for the record. */
static void kernel_says(void)
{
    static char buf[1 << 17];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
    char *line, *save;

    if (n < 0) {
        printf("hwbreak: klogctl: %s\n", strerror(errno));
        return;
    }
    buf[n] = 0;
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, "hw-breakpoint") || strstr(line, "hw_breakpoint")) {
            printf("hwbreak: kernel: %s\n", line);
        }
    }
}

#ifdef __aarch64__
/* Breakpoint 0 := @addr, @ctrl (A64 has no register-by-register call). */
static int set_bp0(pid_t pid, uintptr_t addr, uint32_t ctrl)
{
    struct hwdebug d;
    struct iovec io = { &d, sizeof(d) };

    memset(&d, 0, sizeof(d));
    d.dbg_regs[0].addr = addr;
    d.dbg_regs[0].ctrl = ctrl;
    if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_ARM_HW_BREAK, &io) < 0) {
        printf("hwbreak: PTRACE_SETREGSET NT_ARM_HW_BREAK 0x%lx 0x%x: %s\n",
               (unsigned long)addr, ctrl, strerror(errno));
        return -1;
    }
    return 0;
}

/* dbg_info of NT_ARM_HW_BREAK or NT_ARM_HW_WATCH, or -1. */
static long hw_info(pid_t pid, long note)
{
    struct hwdebug d;
    struct iovec io = { &d, sizeof(d) };

    memset(&d, 0, sizeof(d));
    if (ptrace(PTRACE_GETREGSET, pid, (void *)note, &io) < 0) {
        return -1;
    }
    return d.dbg_info;
}

static uintptr_t get_pc(pid_t pid)
{
    struct user_regs_struct regs;
    struct iovec io = { &regs, sizeof(regs) };

    memset(&regs, 0, sizeof(regs));
    ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &io);
    return regs.pc;
}
#else
static int set_hbp(pid_t pid, long num, uint32_t val)
{
    if (ptrace(PTRACE_SETHBPREGS, pid, (void *)num, &val) < 0) {
        printf("hwbreak: PTRACE_SETHBPREGS %ld = 0x%x: %s\n", num, val,
               strerror(errno));
        return -1;
    }
    return 0;
}

static uintptr_t get_pc(pid_t pid)
{
    struct user_regs regs;

    ptrace(PTRACE_GETREGS, pid, NULL, &regs);
    return regs.uregs[15];
}
#endif

static void child(void)
{
    uint32_t sum;

    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
        _exit(10);
    }
    warm(hb_call);
    raise(SIGSTOP);
    sum = hb_call(calls);
    _exit(sum == want_sum(calls) ? 0 : 11);
}

/* The ptrace part; returns 0 if every call stopped twice. */
static int ptrace_part(void)
{
    uint32_t arch, nbrp, nwrp, at_f = 0, at_ret = 0, other = 0;
    int status;
    pid_t pid = fork();

    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        child();
    }
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) ||
        WSTOPSIG(status) != SIGSTOP) {
        printf("hwbreak: FAIL child did not stop: status 0x%x\n", status);
        return 1;
    }
#ifdef __aarch64__
    {
        long brk = hw_info(pid, NT_ARM_HW_BREAK);
        long wat = hw_info(pid, NT_ARM_HW_WATCH);

        if (brk < 0 || wat < 0) {
            printf("hwbreak: FAIL PTRACE_GETREGSET NT_ARM_HW_%s: %s\n",
                   brk < 0 ? "BREAK" : "WATCH", strerror(errno));
            kill(pid, SIGKILL);
            return 1;
        }
        arch = (brk >> 8) & 0xff;
        nbrp = brk & 0xff;
        nwrp = wat & 0xff;
    }
#else
    {
        uint32_t info;

        if (ptrace(PTRACE_GETHBPREGS, pid, (void *)HBP_INFO, &info) < 0) {
            printf("hwbreak: FAIL PTRACE_GETHBPREGS: %s\n", strerror(errno));
            kill(pid, SIGKILL);
            return 1;
        }
        arch = info >> 24;
        nbrp = info & 0xff;
        nwrp = (info >> 8) & 0xff;
    }
#endif
    printf("hwbreak: debug architecture 0x%x, %u breakpoints, "
           "%u watchpoints\n", arch, nbrp, nwrp);
    if (nbrp == 0) {
        printf("hwbreak: FAIL the kernel offers no hardware breakpoints "
               "on this CPU\n");
        kill(pid, SIGKILL);
        return 1;
    }
#ifdef __aarch64__
    if (set_bp0(pid, (uintptr_t)hb_f, BCR_USER_X) < 0) {
#else
    if (set_hbp(pid, HBP_BVR0, (uint32_t)hb_f) < 0 ||
        set_hbp(pid, HBP_BCR0, BCR_USER_X) < 0) {
#endif
        kill(pid, SIGKILL);
        return 1;
    }
    ptrace(PTRACE_CONT, pid, NULL, NULL);
    for (;;) {
        uintptr_t pc, next;

        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        if (!WIFSTOPPED(status)) {
            break;
        }
        if (WSTOPSIG(status) != SIGTRAP) {
            ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status));
            continue;
        }
        pc = get_pc(pid);
        if (pc == (uintptr_t)hb_f) {
            at_f++;
            next = (uintptr_t)hb_ret;
        } else if (pc == (uintptr_t)hb_ret) {
            at_ret++;
            next = (uintptr_t)hb_f;
        } else {
            /* Not ours: stop counting on it, take the breakpoint away. */
            if (other++ < 5) {
                printf("hwbreak: stop at 0x%lx\n", (unsigned long)pc);
            }
            next = 0;
        }
#ifdef __aarch64__
        if (next ? set_bp0(pid, next, BCR_USER_X)
                 : set_bp0(pid, (uintptr_t)hb_f, BCR_USER_X & ~1u)) {
#else
        if (next ? set_hbp(pid, HBP_BVR0, next)
                 : set_hbp(pid, HBP_BCR0, BCR_USER_X & ~1u)) {
#endif
            kill(pid, SIGKILL);
            return 1;
        }
        ptrace(PTRACE_CONT, pid, NULL, NULL);
    }
    printf("hwbreak: ptrace: %u calls, stops at f %u, at return %u, "
           "elsewhere %u, child %s %d\n", calls, at_f, at_ret, other,
           WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child ended with status 0x%x", status);
    CHECK(at_f == calls && at_ret == calls && other == 0,
          "stops at f %u, at return %u, elsewhere %u; want %u, %u, 0",
          at_f, at_ret, other, calls, calls);
    return 0;
}

/* Count executions of @addr by perf over @n calls through @call. */
static void perf_part(const char *name, char *addr,
                      uint32_t (*call)(uint32_t), uint32_t want)
{
    struct perf_event_attr a;
    uint64_t count = 0;
    uint32_t sum;
    int fd;

    memset(&a, 0, sizeof(a));
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof(a);
    a.bp_type = HW_BREAKPOINT_X;
    a.bp_addr = (uintptr_t)addr;
    a.bp_len = HW_BREAKPOINT_LEN_4;     /* sizeof(long) on A32; A64 wants 4 */
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0) {
        printf("hwbreak: perf %s: FAIL perf_event_open: %s\n", name,
               strerror(errno));
        failures++;
        return;
    }
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    sum = call(calls);
    ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    if (read(fd, &count, sizeof(count)) != sizeof(count)) {
        printf("hwbreak: perf %s: FAIL read: %s\n", name, strerror(errno));
        failures++;
    }
    close(fd);
    printf("hwbreak: perf %s: %u calls, count %llu\n", name, calls,
           (unsigned long long)count);
    CHECK(sum == want, "%s: sum %u, want %u", name, sum, want);
}

int main(int argc, char **argv)
{
    check_prefix = "hwbreak";
    if (argc > 1) {
        calls = strtoul(argv[1], NULL, 0);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    kernel_says();
    if (ptrace_part()) {
        return 1;
    }
    /* The control: hb_g never ran, so no jump to it is linked yet. */
    perf_part("cold g", hb_g, hb_call_g, 5 * calls);
    warm(hb_call);
    perf_part("warm f", hb_f, hb_call, want_sum(calls));
    printf("hwbreak: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}

/*
 * The callers on one page, hb_f and hb_g on the next.  A32: ARM code (the
 * C code around is Thumb): .type makes the linker switch modes on calls.
 */
#ifdef __aarch64__
asm(
"   .section .text.hwbreak, \"ax\"\n"
"   .balign 4096\n"
/* uint32_t hb_call(uint32_t n): hb_f(n) + hb_f(n - 1) + ... + hb_f(1) */
"   .global hb_call\n"
"   .type   hb_call, %function\n"
"hb_call:\n"
"   stp     x29, x30, [sp, #-32]!\n"
"   mov     x29, sp\n"
"   stp     x19, x20, [sp, #16]\n"
"   mov     w19, w0\n"
"   mov     w20, #0\n"
"1: mov     w0, w19\n"
"   bl      hb_f\n"
"   .global hb_ret\n"
"hb_ret:\n"
"   add     w20, w20, w0\n"
"   subs    w19, w19, #1\n"
"   b.ne    1b\n"
"   mov     w0, w20\n"
"   ldp     x19, x20, [sp, #16]\n"
"   ldp     x29, x30, [sp], #32\n"
"   ret\n"
"   .size   hb_call, . - hb_call\n"
/* uint32_t hb_call_g(uint32_t n): n calls of hb_g, 5 each */
"   .global hb_call_g\n"
"   .type   hb_call_g, %function\n"
"hb_call_g:\n"
"   stp     x29, x30, [sp, #-32]!\n"
"   mov     x29, sp\n"
"   stp     x19, x20, [sp, #16]\n"
"   mov     w19, w0\n"
"   mov     w20, #0\n"
"1: bl      hb_g\n"
"   add     w20, w20, w0\n"
"   subs    w19, w19, #1\n"
"   b.ne    1b\n"
"   mov     w0, w20\n"
"   ldp     x19, x20, [sp, #16]\n"
"   ldp     x29, x30, [sp], #32\n"
"   ret\n"
"   .size   hb_call_g, . - hb_call_g\n"
"   .balign 4096\n"
"   .global hb_f\n"
"   .type   hb_f, %function\n"
"hb_f:\n"
"   add     w0, w0, w0, lsl #1\n"
"   ret\n"
"   .size   hb_f, . - hb_f\n"
"   .global hb_g\n"
"   .type   hb_g, %function\n"
"hb_g:\n"
"   mov     w0, #5\n"
"   ret\n"
"   .size   hb_g, . - hb_g\n"
"   .balign 4096\n"
"   .text\n"
);
#else
asm(
"   .section .text.hwbreak, \"ax\"\n"
"   .arm\n"
"   .balign 4096\n"
/* uint32_t hb_call(uint32_t n): hb_f(n) + hb_f(n - 1) + ... + hb_f(1) */
"   .global hb_call\n"
"   .type   hb_call, %function\n"
"hb_call:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: mov     r0, r4\n"
"   bl      hb_f\n"
"   .global hb_ret\n"
"hb_ret:\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
"   .size   hb_call, . - hb_call\n"
/* uint32_t hb_call_g(uint32_t n): n calls of hb_g, 5 each */
"   .global hb_call_g\n"
"   .type   hb_call_g, %function\n"
"hb_call_g:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: bl      hb_g\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
"   .size   hb_call_g, . - hb_call_g\n"
"   .balign 4096\n"
"   .global hb_f\n"
"   .type   hb_f, %function\n"
"hb_f:\n"
"   add     r0, r0, r0, lsl #1\n"
"   bx      lr\n"
"   .size   hb_f, . - hb_f\n"
"   .global hb_g\n"
"   .type   hb_g, %function\n"
"hb_g:\n"
"   mov     r0, #5\n"
"   bx      lr\n"
"   .size   hb_g, . - hb_g\n"
"   .balign 4096\n"
"   .text\n"
);
#endif
