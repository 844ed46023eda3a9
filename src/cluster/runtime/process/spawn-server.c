/*
 * berth-launcher serve NAME: the spawner (see spawner-process.ts, which it replaces when the launcher could
 * be built) in C. Starting a process from the Node spawner costs about two and a half milliseconds of its
 * CPU (fork(2) of a Node process, then the sockets, pipes and messages around it); from this small
 * process, a fraction of that. Same protocol with the runtime as the Node spawner, over pipes:
 *
 * Requests on stdin, each a run of NUL-terminated words:
 *   spawn ID MODE STDIN PIDNS FILE ARGC ARG... ENVC ENV...
 *     MODE "process" or "pause", STDIN "0" or "1"; the ARGs follow argv[0], which is FILE. PIDNS: empty,
 *     "new" (the child is PID 1 of a new pid namespace) or a pid (the child joins that process's pid
 *     namespace): forking straight into a pod saves the launcher a fork and a waiting parent process.
 * Replies on stdout, one line each:
 *   spawned ID PID | line ID TEXT | exit ID CODE SIGNAL [STDERR-HEX]   (CODE -1 when killed by SIGNAL)
 *
 * Mode "process": stdout and stderr (and stdin when asked) are connections to the runtime's abstract Unix
 * socket NAME, each first carrying "ID FD\n"; file descriptor 3 is the control pipe, whose first line is
 * reported ("started" / "error <why>"). Mode "pause": stdin is a pipe held here that nobody writes to (it
 * reaches end of file when this process, and so the runtime, is gone), "ready" on stdout is the line and
 * stderr comes back hex-encoded with the exit of a pause that never got ready (a ready one's output is no
 * longer read). Every child gets a session of its own (setsid).
 * This process exits when its stdin ends: the runtime closed it or died.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "launcher.h"

extern char **environ;

/* How long the control pipe may stay open after the process exited (a stray that escaped every kill holds it). */
#define CONTROL_DRAIN_MS 2000
#define STDERR_MAX 4096

enum { KIND_CONTROL, KIND_PAUSE_OUT, KIND_PAUSE_ERR };

struct child {
  long id;
  pid_t pid;
  int pause;
  int control, out, err, in; /* -1 when closed */
  char text[512];
  size_t text_length;
  int lined, exited;
  long long drain_deadline;
  /* Pause processes until they are ready: what they wrote on stderr (STDERR_MAX bytes at most). */
  char *stderr_text;
  size_t stderr_length;
};

static struct child **children;
static size_t child_count, child_capacity;
/* Children that exited with their control pipe still open: only then is a deadline to watch. */
static size_t draining;
static int epoll_fd;
static int own_pid_namespace;
static const char *self_path;
static struct sockaddr_un runtime_address;
static socklen_t runtime_address_length;

/* Replies are gathered and written once per loop turn. */
static char *out_buffer;
static size_t out_length, out_capacity;

static void reply(const char *format, ...) {
  char line[16384];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  if (out_length + (size_t)n > out_capacity) {
    out_capacity = (out_length + (size_t)n) * 2;
    out_buffer = realloc(out_buffer, out_capacity);
    if (!out_buffer) _exit(70);
  }
  memcpy(out_buffer + out_length, line, (size_t)n);
  out_length += (size_t)n;
}

static void flush_replies(void) {
  size_t done = 0;
  while (done < out_length) {
    ssize_t n = write(STDOUT_FILENO, out_buffer + done, out_length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* the runtime is gone */
    done += (size_t)n;
  }
  out_length = 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watch(int fd, size_t slot, int kind) {
  struct epoll_event event = {.events = EPOLLIN, .data.u64 = ((uint64_t)slot << 2) | (uint64_t)kind};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

static void close_fd(int *fd) {
  if (*fd >= 0) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
  }
}

static size_t add_child(struct child *c) {
  for (size_t i = 0; i < child_count; i++) {
    if (!children[i]) {
      children[i] = c;
      return i;
    }
  }
  if (child_count == child_capacity) {
    child_capacity = child_capacity ? child_capacity * 2 : 256;
    children = realloc(children, child_capacity * sizeof *children);
    if (!children) _exit(70);
  }
  children[child_count] = c;
  return child_count++;
}

static void report_line(struct child *c, const char *text) {
  if (c->lined) return;
  c->lined = 1;
  reply("line %ld %s\n", c->id, text);
}

/* A child is forgotten once it exited and nothing more can come from it. */
static void maybe_forget(size_t slot) {
  struct child *c = children[slot];
  if (c->exited && c->control < 0 && c->out < 0 && c->err < 0) {
    close_fd(&c->in);
    free(c->stderr_text);
    free(c);
    children[slot] = NULL;
  }
}

static void control_ended(struct child *c) {
  if (c->exited) draining--;
  c->text[c->text_length] = '\0';
  report_line(c, c->text_length ? c->text : "error the launcher exited before the command started");
  close_fd(&c->control);
}

static int connect_runtime(long id, int fd) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  /* Blocking: while the runtime's backlog is full (its event loop is busy in a burst) this waits for room. */
  while (connect(s, (struct sockaddr *)&runtime_address, runtime_address_length) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      usleep(2000);
      continue;
    }
    close(s);
    return -1;
  }
  char header[64];
  int n = snprintf(header, sizeof header, "%ld %d\n", id, fd);
  if (write(s, header, (size_t)n) != n) {
    close(s);
    return -1;
  }
  return s;
}

/* Makes the next fork land in the requested pid namespace; 0, or -1 with errno. */
static int enter_pid_namespace(const char *spec) {
  if (!*spec) return 0;
  if (!strcmp(spec, "new")) return unshare(CLONE_NEWPID);
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/pid", spec);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int result = setns(fd, CLONE_NEWPID);
  close(fd);
  return result;
}

/* Back to this process's own pid namespace for the next children (always allowed: it is our active one). */
static void leave_pid_namespace(const char *spec) {
  if (*spec && setns(own_pid_namespace, CLONE_NEWPID) != 0) _exit(71);
}

/* Every descriptor from `first` on: close_range(2) where the kernel has it (5.9), else one by one. */
static void close_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
  struct rlimit limit;
  int last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? (int)limit.rlim_cur : 65536;
  for (int fd = first; fd < last; fd++) close(fd);
}

/* The errno name, as Node reports a failed spawn ("spawn /x ENOENT"); glibc has strerrorname_np only since 2.32. */
static const char *error_name(int error) {
  switch (error) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOEXEC: return "ENOEXEC";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case ETXTBSY: return "ETXTBSY";
    default: return strerror(error);
  }
}

/* In the forked child: a session of its own, default signal handling, the given descriptors, exec. */
static void exec_child(const int *fds, int count, const char *file, char **argv, char **envp) {
  setsid();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  for (int fd = 0; fd < count; fd++) {
    if (fds[fd] < 0) continue;
    /* dup2 onto a different number clears close-on-exec. */
    if (dup2(fds[fd], fd) < 0) _exit(128);
  }
  if (chdir("/") != 0) _exit(128);
  environ = envp;
  if (!strcmp(file, self_path)) {
    /*
     * The launcher itself: it is this program, already loaded, so the child runs it without an exec (an
     * exec costs more than all the launcher does). Without an exec nothing is closed on exec: close every
     * descriptor this process holds for the runtime and the other children first.
     */
    close_from(count);
    int argc = 0;
    while (argv[argc]) argc++;
    _exit(launcher_main(argc, argv));
  }
  execvp(file, argv);
  int error = errno;
  dprintf(count > 3 ? 3 : 2, "%sspawn %s %s\n", count > 3 ? "error " : "", file, error_name(error));
  _exit(128);
}

/* A spawn that failed before its process ran: the runtime gets the reason (with errno's text) and exit 128. */
static void spawn_failed(long id, const char *what) {
  reply("line %ld error %s: %s\n", id, what, strerror(errno));
  reply("exit %ld 128 0\n", id);
}

/* A started child's record, with no descriptors yet. */
static struct child *new_child(long id, pid_t pid) {
  struct child *c = calloc(1, sizeof *c);
  if (!c) _exit(70);
  c->id = id;
  c->pid = pid;
  c->control = c->out = c->err = c->in = -1;
  return c;
}

static void spawn_process(long id, int want_stdin, const char *pid_namespace, const char *file, char **argv, char **envp) {
  int sockets[3] = {-1, -1, -1};
  int fds[4] = {-1, -1, -1, -1};
  for (int fd = want_stdin ? 0 : 1; fd < 3; fd++) {
    sockets[fd] = connect_runtime(id, fd);
    if (sockets[fd] < 0) {
      spawn_failed(id, "cannot connect the process's output");
      for (int i = 0; i < 3; i++)
        if (sockets[i] >= 0) close(sockets[i]);
      return;
    }
  }
  int control[2];
  if (pipe2(control, O_CLOEXEC) != 0) {
    spawn_failed(id, "cannot make the control pipe");
    for (int i = 0; i < 3; i++)
      if (sockets[i] >= 0) close(sockets[i]);
    return;
  }
  fds[0] = want_stdin ? sockets[0] : open("/dev/null", O_RDONLY | O_CLOEXEC);
  fds[1] = sockets[1];
  fds[2] = sockets[2];
  fds[3] = control[1];
  pid_t pid = -1;
  const char *failed = "cannot enter the pid namespace";
  if (enter_pid_namespace(pid_namespace) == 0) {
    failed = "cannot fork";
    pid = fork();
    if (pid == 0) exec_child(fds, 4, file, argv, envp);
    leave_pid_namespace(pid_namespace);
  }
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0) close(fds[i]);
  close(control[1]);
  if (pid < 0) {
    close(control[0]);
    spawn_failed(id, failed);
    return;
  }
  struct child *c = new_child(id, pid);
  c->control = control[0];
  fcntl(c->control, F_SETFL, O_NONBLOCK);
  watch(c->control, add_child(c), KIND_CONTROL);
  reply("spawned %ld %d\n", id, (int)pid);
}

static void spawn_pause(long id, const char *pid_namespace, const char *file, char **argv, char **envp) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    spawn_failed(id, "cannot make pipes");
    return;
  }
  int fds[3] = {in[0], out[1], err[1]};
  pid_t pid = -1;
  if (enter_pid_namespace(pid_namespace) == 0) {
    pid = fork();
    if (pid == 0) exec_child(fds, 3, file, argv, envp);
    leave_pid_namespace(pid_namespace);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    spawn_failed(id, "cannot start the pause process");
    return;
  }
  struct child *c = new_child(id, pid);
  c->pause = 1;
  c->stderr_text = malloc(STDERR_MAX);
  c->in = in[1];
  c->out = out[0];
  c->err = err[0];
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  fcntl(c->err, F_SETFL, O_NONBLOCK);
  size_t slot = add_child(c);
  watch(c->out, slot, KIND_PAUSE_OUT);
  watch(c->err, slot, KIND_PAUSE_ERR);
  reply("spawned %ld %d\n", id, (int)pid);
}

/* Reads what a pause process wrote; returns 0 at end of file (or error). */
static int read_pause(struct child *c, int kind) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(kind == KIND_PAUSE_OUT ? c->out : c->err, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    if (n <= 0) return 0;
    if (kind == KIND_PAUSE_OUT) {
      size_t keep = (size_t)n < sizeof c->text - 1 - c->text_length ? (size_t)n : sizeof c->text - 1 - c->text_length;
      memcpy(c->text + c->text_length, buffer, keep);
      c->text_length += keep;
      c->text[c->text_length] = '\0';
      if (strstr(c->text, "ready")) {
        /* Nothing more is read from a ready pause (its stderr only matters when it never got ready): its
           pipes are closed, so this process holds one descriptor per pod, not three, and each fork copies
           (and the child closes) a third of them. */
        report_line(c, "ready");
        close_fd(&c->out);
        close_fd(&c->err);
        free(c->stderr_text);
        c->stderr_text = NULL;
        c->stderr_length = 0;
        return 1;
      }
    } else {
      size_t keep = (size_t)n < STDERR_MAX - c->stderr_length ? (size_t)n : STDERR_MAX - c->stderr_length;
      if (!c->stderr_text) continue;
      memcpy(c->stderr_text + c->stderr_length, buffer, keep);
      c->stderr_length += keep;
    }
  }
}

static void pause_exited(struct child *c, int status) {
  /* What it wrote before it died is complete once its pipes are drained. */
  if (c->out >= 0) read_pause(c, KIND_PAUSE_OUT);
  if (c->err >= 0) read_pause(c, KIND_PAUSE_ERR);
  close_fd(&c->out);
  close_fd(&c->err);
  close_fd(&c->in);
  report_line(c, "error the pause process exited before it was ready");
  char hex[2 * STDERR_MAX + 1];
  for (size_t i = 0; c->stderr_text && i < c->stderr_length; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)c->stderr_text[i]);
  hex[2 * c->stderr_length] = '\0';
  reply("exit %ld %d %d %s\n", c->id, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0, hex);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < child_count; i++) {
      struct child *c = children[i];
      if (!c || c->pid != pid || c->exited) continue;
      c->exited = 1;
      if (c->pause) {
        pause_exited(c, status);
      } else {
        reply("exit %ld %d %d\n", c->id, WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        if (c->control >= 0) {
          c->drain_deadline = now_ms() + CONTROL_DRAIN_MS;
          draining++;
        }
      }
      maybe_forget(i);
      break;
    }
  }
}

/* Requests arrive in pieces: parse every complete one in the buffer, keep the rest. */
static char *in_buffer;
static size_t in_length, in_capacity;

static const char *word(size_t *at) {
  const char *start = in_buffer + *at;
  char *end = memchr(start, '\0', in_length - *at);
  if (!end) return NULL;
  *at = (size_t)(end - in_buffer) + 1;
  return start;
}

static int parse_request(size_t *consumed) {
  size_t at = 0;
  const char *type = word(&at), *id = type ? word(&at) : NULL, *mode = id ? word(&at) : NULL, *want_stdin = mode ? word(&at) : NULL;
  const char *pid_namespace = want_stdin ? word(&at) : NULL;
  const char *file = pid_namespace ? word(&at) : NULL, *argc_text = file ? word(&at) : NULL;
  if (!argc_text) return 0;
  long argc = strtol(argc_text, NULL, 10);
  /* argv[0] is the program, as child_process.spawn makes it. */
  char **argv = calloc((size_t)argc + 2, sizeof *argv);
  argv[0] = (char *)file;
  for (long i = 1; i <= argc; i++) {
    const char *w = word(&at);
    if (!w) {
      free(argv);
      return 0;
    }
    argv[i] = (char *)w;
  }
  const char *envc_text = word(&at);
  if (!envc_text) {
    free(argv);
    return 0;
  }
  long envc = strtol(envc_text, NULL, 10);
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  for (long i = 0; i < envc; i++) {
    const char *w = word(&at);
    if (!w) {
      free(argv);
      free(envp);
      return 0;
    }
    envp[i] = (char *)w;
  }
  if (!strcmp(type, "spawn")) {
    if (!strcmp(mode, "pause")) spawn_pause(strtol(id, NULL, 10), pid_namespace, file, argv, envp);
    else spawn_process(strtol(id, NULL, 10), !strcmp(want_stdin, "1"), pid_namespace, file, argv, envp);
  }
  free(argv);
  free(envp);
  *consumed = at;
  return 1;
}

static void read_requests(void) {
  if (in_capacity - in_length < 65536) {
    in_capacity = in_capacity ? in_capacity * 2 : 262144;
    in_buffer = realloc(in_buffer, in_capacity);
    if (!in_buffer) _exit(70);
  }
  ssize_t n = read(STDIN_FILENO, in_buffer + in_length, in_capacity - in_length);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    flush_replies();
    _exit(0); /* the runtime closed us or is gone: the pods' stdin pipes close with us */
  }
  in_length += (size_t)n;
  size_t consumed;
  while (in_length > 0 && parse_request(&consumed)) {
    memmove(in_buffer, in_buffer + consumed, in_length - consumed);
    in_length -= consumed;
  }
}

static void read_control(struct child *c) {
  char buffer[512];
  ssize_t n = read(c->control, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    control_ended(c);
    return;
  }
  if (c->lined) return;
  size_t keep = (size_t)n < sizeof c->text - 1 - c->text_length ? (size_t)n : sizeof c->text - 1 - c->text_length;
  memcpy(c->text + c->text_length, buffer, keep);
  c->text_length += keep;
  c->text[c->text_length] = '\0';
  char *newline = strchr(c->text, '\n');
  if (newline) {
    *newline = '\0';
    report_line(c, c->text);
  }
}

int spawn_server_main(const char *name, const char *self) {
  self_path = self;
  /* As many descriptors as allowed: every pod keeps three pipes open here. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  signal(SIGPIPE, SIG_IGN);
  own_pid_namespace = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  runtime_address.sun_family = AF_UNIX;
  size_t name_length = strlen(name);
  if (name_length + 1 > sizeof runtime_address.sun_path) return 2;
  /* An abstract socket: a leading NUL, then the name. */
  memcpy(runtime_address.sun_path + 1, name, name_length);
  runtime_address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_length);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, NULL);
  int sfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (sfd < 0 || epoll_fd < 0) return 1;
  struct epoll_event event = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &event);
  event.data.u64 = UINT64_MAX - 1;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, sfd, &event);

  struct epoll_event events[256];
  for (;;) {
    /* The next control pipe to give up on, if any. */
    long long next = -1, now = draining ? now_ms() : 0;
    for (size_t i = 0; draining && i < child_count; i++) {
      struct child *c = children[i];
      if (!c || !c->exited || c->control < 0) continue;
      if (c->drain_deadline <= now) {
        control_ended(c);
        maybe_forget(i);
      } else if (next < 0 || c->drain_deadline < next) {
        next = c->drain_deadline;
      }
    }
    flush_replies();
    int n = epoll_wait(epoll_fd, events, 256, next < 0 ? -1 : (int)(next - now));
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; i++) {
      uint64_t data = events[i].data.u64;
      if (data == UINT64_MAX) {
        read_requests();
      } else if (data == UINT64_MAX - 1) {
        struct signalfd_siginfo info;
        while (read(sfd, &info, sizeof info) == sizeof info) {
        }
        reap();
      } else {
        size_t slot = (size_t)(data >> 2);
        int kind = (int)(data & 3);
        struct child *c = slot < child_count ? children[slot] : NULL;
        if (!c) continue;
        if (kind == KIND_CONTROL && c->control >= 0) read_control(c);
        else if (kind != KIND_CONTROL && (kind == KIND_PAUSE_OUT ? c->out : c->err) >= 0 && !read_pause(c, kind)) {
          close_fd(kind == KIND_PAUSE_OUT ? &c->out : &c->err);
        }
        maybe_forget(slot);
      }
    }
  }
}
