"""The seccomp filter bwrap jobs run under: Docker's default profile for a container without capabilities,
compiled to classic BPF with libseccomp (``pyseccomp``) and handed to bwrap (``--seccomp FD``).

Guaranteed: every system call not in :data:`ALLOWED` fails with ``EPERM`` (``clone3`` with ``ENOSYS``, so the
C library falls back to ``clone``), among them the kernel keyring (``add_key``, ``keyctl``, ``request_key``),
``mount``/``unshare``/``setns`` and the new mount API, ``bpf``, ``perf_event_open``, module loading,
``kexec``, ``reboot``, ``ptrace`` and ``process_vm_*``, ``io_uring``, clock and time setting, swap and
quota control; ``clone`` is refused when it asks for a new namespace and ``socket`` for ``AF_VSOCK``;
``personality`` accepts only the values Docker's profile accepts. Only the native x86-64 (or the host's)
ABI is allowed: a call through another ABI (``int 0x80``, x32) kills the thread. The filter is installed by
bwrap right before it runs the job's first command, so it holds for everything the job starts.

Stricter than Docker's profile (which allows them without capabilities): ``ptrace``, ``process_vm_readv``,
``process_vm_writev``, the ``io_uring`` calls and the 32-bit ABIs. Not guaranteed: what an allowed call can
still reach is the kernel's business (the filter narrows the attack surface, it does not remove it).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import tempfile

ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "capget", "capset", "chdir",
    "chmod", "chown", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark",
    "fchdir", "fchmod", "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex",
    "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid",
    "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresuid", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
    "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link", "linkat", "listen",
    "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "membarrier",
    "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
    "mlockall", "mmap", "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedsend", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
    "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list", "setsid", "setsockopt",
    "set_thread_area", "set_tid_address", "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice", "stat", "statfs", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
    "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimes", "vfork", "vmsplice", "wait4", "waitid", "write", "writev",
)
"""System calls allowed without conditions: Docker's default list for a container without capabilities, less
``ptrace``, ``process_vm_readv``/``process_vm_writev`` and ``io_uring_*`` (names the host ABI lacks are
skipped)."""

PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)
"""``personality`` values allowed (Docker's: Linux, ``UNAME26``, ``ADDR_NO_RANDOMIZE`` mixes and the query)."""

CLONE_NAMESPACE_FLAGS = 0x7E020000
"""CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: ``clone`` asking for any is refused."""

AF_VSOCK = 40


def _build() -> bytes:
    import pyseccomp as sc

    arch = sc.system_arch()
    filt = sc.SyscallFilter(sc.ERRNO(errno.EPERM))
    for name in ALLOWED:
        try:
            sc.resolve_syscall(arch, name)
        except ValueError:
            continue
        filt.add_rule(sc.ALLOW, name)
    filt.add_rule(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0))
    filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    filt.add_rule(sc.ALLOW, "socket", sc.Arg(0, sc.NE, AF_VSOCK))
    for value in PERSONALITIES:
        filt.add_rule(sc.ALLOW, "personality", sc.Arg(0, sc.EQ, value))
    with tempfile.TemporaryFile() as fh:
        filt.export_bpf(fh)
        fh.seek(0)
        return fh.read()


@functools.lru_cache(maxsize=1)
def filter_bpf() -> bytes:
    """The compiled filter (a classic BPF program, as ``bwrap --seccomp`` reads it); OSError or ImportError
    when libseccomp cannot be loaded."""
    return _build()


def seccomp_problem() -> str | None:
    """None when the filter can be built here, else why not."""
    try:
        filter_bpf()
    except (ImportError, OSError, ValueError, AttributeError) as exc:
        return (f"cannot build the seccomp filter ({type(exc).__name__}: {exc}); pip install pyseccomp and "
                f"apt-get install libseccomp2")
    return None


def filter_fd() -> int:
    """A fresh read-only descriptor (close-on-exec, at offset 0) holding :func:`filter_bpf`, for one bwrap
    launch: bwrap reads the program to its end."""
    memfd = os.memfd_create("codealign-seccomp", os.MFD_CLOEXEC)
    try:
        view = memoryview(filter_bpf())
        while view:
            view = view[os.write(memfd, view):]
        os.lseek(memfd, 0, os.SEEK_SET)
        # Above the numbers the launcher moves descriptors to (3: trusted channel, 4: this filter).
        return fcntl.fcntl(memfd, fcntl.F_DUPFD_CLOEXEC, 10)
    finally:
        os.close(memfd)
