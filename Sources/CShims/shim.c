// Implementation of shim.h. Each function is here because Swift cannot express it: a macro, a
// variadic call, a GNU-only call, a raw syscall, or the fork child (no Swift between fork and exec).
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int sv_wifexited(int status) { return WIFEXITED(status); }
int sv_wexitstatus(int status) { return WEXITSTATUS(status); }
int sv_wifsignaled(int status) { return WIFSIGNALED(status); }
int sv_wtermsig(int status) { return WTERMSIG(status); }

pid_t sv_peek_exited(void) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0) return -1;
    return info.si_pid;
}

void sv_reset_signal_dispositions(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, NULL);  // fails harmlessly for the signals glibc reserves
    }
}

int sv_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int sv_pipe_cloexec(int fds[2], int nonblocking_read) {
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    if (nonblocking_read) sv_set_nonblocking(fds[0], 1);
    return 0;
}

int sv_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

long long sv_peer_uid(int socket) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -1;
    return (long long)cred.uid;
}

int sv_socketpair_cloexec(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

int sv_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

int sv_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

static int fill_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof address->sun_path) { errno = ENAMETOOLONG; return -1; }
    memcpy(address->sun_path, path, length + 1);
    return 0;
}

int sv_listen_unix(const char *path, int backlog) {
    struct sockaddr_un address;
    if (fill_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, backlog) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int sv_connect_unix(const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&address, sizeof address);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int sv_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return sigprocmask(SIG_BLOCK, &set, NULL);
}

int sv_signalfd(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int sv_unblock_all_signals(void) {
    sigset_t empty;
    sigemptyset(&empty);
    return sigprocmask(SIG_SETMASK, &empty, NULL);
}

int sv_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int sv_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
int sv_close_range_from(int first) {
    // Up to the soft limit only: a descriptor above it cannot have been inherited by a normal
    // program, and tools that wrap svd (valgrind) keep their own descriptors there.
    struct rlimit limit;
    unsigned last = ~0U;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur > 0) {
        last = (unsigned)(limit.rlim_cur - 1);
    }
    return (int)syscall(SYS_close_range, (unsigned)first, last, 0);
}

int64_t sv_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t sv_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int sv_timerfd_arm_abs(int fd, int64_t deadline_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (deadline_ns > 0) {
        spec.it_value.tv_sec = deadline_ns / 1000000000LL;
        spec.it_value.tv_nsec = deadline_ns % 1000000000LL;
    }
    return timerfd_settime(fd, deadline_ns > 0 ? TFD_TIMER_ABSTIME : 0, &spec, NULL);
}

int sv_flock_exclusive_nb(int fd) { return flock(fd, LOCK_EX | LOCK_NB); }

int sv_open_append(const char *path) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, 0600);
}

/// openat(2) takes a variadic mode argument: Swift cannot call it.
int sv_openat_append(int dirfd, const char *name) {
    return openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, 0600);
}

long sv_clock_ticks(void) { return sysconf(_SC_CLK_TCK); }
long sv_page_size(void) { return sysconf(_SC_PAGESIZE); }
pid_t sv_getsid(pid_t pid) { return getsid(pid); }

int sv_daemonize(void) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        close(report[1]);
        char buffer[512];
        ssize_t total = 0, n;
        while (total < (ssize_t)sizeof buffer - 1) {
            n = read(report[0], buffer + total, sizeof buffer - 1 - total);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            total += n;
        }
        if (total > 0 && (buffer[0] == 'R' || buffer[0] == 'L')) _exit(0);
        if (total > 0) {
            ssize_t ignored = write(2, buffer, (size_t)total);
            (void)ignored;
        } else {
            static const char message[] = "svd: the daemon exited before it was ready (see svd.log)\n";
            ssize_t ignored = write(2, message, sizeof message - 1);
            (void)ignored;
        }
        _exit(1);
    }
    close(report[0]);
    setsid();
    return report[1];
}

int sv_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

#include <sys/mman.h>
extern char **environ;

int sv_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
int sv_fexecve(int fd, char *const *argv) { return fexecve(fd, argv, environ); }

int sv_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int sv_timerfd_arm_realtime(int fd, int64_t deadline_ns) {
    struct itimerspec spec = {0};
    spec.it_value.tv_sec = deadline_ns / 1000000000;
    spec.it_value.tv_nsec = deadline_ns % 1000000000;
    int flags = deadline_ns > 0 ? (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) : 0;
    return timerfd_settime(fd, flags, &spec, NULL);
}
