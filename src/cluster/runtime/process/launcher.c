/*
 * berth-launcher: the process runtime's launch chains (launch-scripts.ts) in one small program, so that
 * starting a pod or a container costs a fork of its spawn server instead of five or six program execs
 * (each util-linux program exec costs a millisecond and a half or more of CPU; a burst of a thousand pods
 * spends whole seconds on them).
 *
 * Why a separate executable: Node cannot call setns(2), unshare(2), mount(2), chroot(2) or setgroups(2),
 * and a native addon would have to be built against the headers of the exact Node that runs Berth. A
 * program the runtime starts is the honest boundary: the runtime compiles it on first use with the host's
 * C compiler (launcher.ts) and falls back to the shell chains when it cannot.
 *
 * Modes (every argument is a separate word; no shell, no quoting):
 *
 *   pause HOSTNAME
 *     A pod's pause process, started by the spawn server as PID 1 of a new pid namespace: new uts and ipc
 *     namespaces, the hostname, "ready" on stdout, then it reaps orphans until its stdin reaches end of
 *     file (the runtime is gone) or SIGTERM comes. (No mount namespace: nothing runs in the pause's own;
 *     every container makes its own, with a /proc of the pod.)
 *
 *   container OPTIONS -- COMMAND...
 *     --pod PID           join the uts and ipc namespaces of the pod's pause process (the spawn server
 *                         already forked this process into its pid namespace)
 *     --root DIR          where the container's root is mounted: any existing directory (the mount is
 *                         private to the container's namespace, so every container can use the same one)
 *     --upper DIR --work DIR   the writable layer's directories (made here; two inodes on disk per container)
 *     --layer-tmpfs DIR   instead: a tmpfs mounted on DIR (any existing directory) holds upper and work
 *     --cgroup DIR        join that cgroup (repeatable)
 *     --bind SRC DST      bind SRC at DST in the container; --bind-ro read-only (repeatable)
 *     --wd DIR --uid N --gid N --groups LIST (comma separated, may be empty)
 *     A mount namespace of its own, copied from the host's, whose root is an overlay of the host root with
 *     /dev, /sys and the host's other top-level mounts bound in, a /proc of the pod and every volume at its
 *     path; then chroot, the working directory, the user, exec.
 *
 *   serve NAME
 *     The spawner: starts every process of the runtime (spawn-server.c).
 *
 *   exec OPTIONS -- COMMAND...
 *     --target PID        the container's main process: its namespaces (the pid one entered by the spawn
 *                         server), root and working directory
 *     --cgroup DIR, --uid, --gid, --groups as above
 *
 * Protocol with the runtime (as the shell chains): file descriptor 3 is a pipe; a launch that fails writes
 * "error <why>" to it and exits with 128, one that succeeds writes "started" and closes it just before
 * exec'ing the command.
 *
 * Pid namespaces take effect for children only, so the spawn server forks each of these straight into the
 * right one (spawn-server.c); no launcher forks again or stays behind as a waiting parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "launcher.h"

#define CONTROL_FD 3
#define MAX_LIST 256

extern char **environ;

static void fail(const char *format, ...) {
  char message[2048];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  dprintf(CONTROL_FD, "error %s\n", message);
  /* Also on stderr, for a launcher run by hand or a pause process (no control pipe). */
  if (fcntl(CONTROL_FD, F_GETFD) < 0) fprintf(stderr, "berth-launcher: %s\n", message);
  _exit(128);
}

/* mkdir -p; true when the directory exists afterwards. */
static int make_directories(const char *path, mode_t mode) {
  char buffer[PATH_MAX];
  struct stat st;
  if (stat(path, &st) == 0) return S_ISDIR(st.st_mode);
  if (snprintf(buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer) return 0;
  for (char *p = buffer + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buffer, mode) != 0 && errno != EEXIST) return 0;
    *p = '/';
  }
  return (mkdir(buffer, mode) == 0 || errno == EEXIST) && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void join_cgroup(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) fail("cannot join cgroup %s", dir);
  close(fd);
}

static int open_namespace(pid_t pid, const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: %s", path, strerror(errno));
  return fd;
}

static void enter(int fd, int type, const char *what) {
  if (setns(fd, type) != 0) fail("cannot enter the %s namespace: %s", what, strerror(errno));
  close(fd);
}

struct user {
  int set;
  long uid; /* -1: stays root */
  long gid;
  gid_t groups[MAX_LIST];
  size_t group_count;
};

/* The user the command runs as (setpriv --reuid --regid --groups/--clear-groups): leaving uid 0 drops every capability. */
static void become(const struct user *user) {
  if (!user->set) return;
  if (setgroups(user->group_count, user->groups) != 0) fail("cannot set supplementary groups: %s", strerror(errno));
  if (setresgid(user->gid, user->gid, user->gid) != 0) fail("cannot set group %ld: %s", user->gid, strerror(errno));
  if (user->uid >= 0 && setresuid(user->uid, user->uid, user->uid) != 0) fail("cannot set user %ld: %s", user->uid, strerror(errno));
}

/* The program the command names, searched on the command's PATH like a shell would (command -v). */
static const char *resolve_command(const char *name, char *buffer, size_t size) {
  if (strchr(name, '/')) return access(name, X_OK) == 0 ? name : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchrnul(path, ':');
    int length = (int)(end - path);
    struct stat st;
    snprintf(buffer, size, "%.*s%s%s", length, path, length > 0 ? "/" : "", name);
    if (stat(buffer, &st) == 0 && S_ISREG(st.st_mode) && access(buffer, X_OK) == 0) return buffer;
    path = *end ? end + 1 : end;
  }
  return NULL;
}

/* The end of every launch: the command must exist, then "started", then the user, then exec. */
static void run_command(char **command, const struct user *user) {
  char buffer[PATH_MAX];
  const char *program = resolve_command(command[0], buffer, sizeof buffer);
  if (!program) fail("exec: \"%s\": executable file not found in $PATH", command[0]);
  /* The user's rights are checked after the switch, by execve itself, as setpriv would. */
  become(user);
  if (write(CONTROL_FD, "started\n", 8) != 8) _exit(128);
  close(CONTROL_FD);
  execve(program, command, environ);
  int error = errno;
  fprintf(stderr, "berth-launcher: cannot run \"%s\": %s\n", command[0], strerror(error));
  _exit(error == ENOENT ? 127 : 126);
}

static long parse_number(const char *text, const char *what) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || *end || end == text || value < 0) fail("invalid %s \"%s\"", what, text);
  return value;
}

static void parse_groups(struct user *user, const char *list) {
  user->set = 1;
  user->group_count = 0;
  for (const char *p = list; *p;) {
    if (user->group_count == MAX_LIST) fail("too many supplementary groups");
    char *end;
    user->groups[user->group_count++] = (gid_t)strtoul(p, &end, 10);
    if (end == p) fail("invalid group list \"%s\"", list);
    p = *end == ',' ? end + 1 : end;
  }
}

struct bind {
  const char *source;
  const char *target;
  int readonly;
};

struct options {
  pid_t pod, target;
  const char *root, *upper, *work, *layer_tmpfs;
  const char *cgroups[MAX_LIST];
  size_t cgroup_count;
  struct bind binds[MAX_LIST];
  size_t bind_count;
  const char *wd;
  struct user user;
  char **command;
};

static void parse_options(char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->user.uid = -1;
  o->wd = "/";
  for (; *argv; argv++) {
    const char *a = argv[0];
#define VALUE() (argv[1] ? *++argv : (fail("%s needs a value", a), ""))
    if (!strcmp(a, "--")) {
      o->command = argv + 1;
      break;
    } else if (!strcmp(a, "--pod")) o->pod = (pid_t)parse_number(VALUE(), "pid");
    else if (!strcmp(a, "--target")) o->target = (pid_t)parse_number(VALUE(), "pid");
    else if (!strcmp(a, "--root")) o->root = VALUE();
    else if (!strcmp(a, "--upper")) o->upper = VALUE();
    else if (!strcmp(a, "--work")) o->work = VALUE();
    else if (!strcmp(a, "--layer-tmpfs")) o->layer_tmpfs = VALUE();
    else if (!strcmp(a, "--cgroup")) {
      if (o->cgroup_count == MAX_LIST) fail("too many cgroups");
      o->cgroups[o->cgroup_count++] = VALUE();
    } else if (!strcmp(a, "--bind") || !strcmp(a, "--bind-ro")) {
      if (o->bind_count == MAX_LIST) fail("too many volumes");
      struct bind *b = &o->binds[o->bind_count++];
      b->readonly = !strcmp(a, "--bind-ro");
      b->source = VALUE();
      b->target = VALUE();
    } else if (!strcmp(a, "--wd")) o->wd = VALUE();
    else if (!strcmp(a, "--uid")) {
      o->user.set = 1;
      o->user.uid = parse_number(VALUE(), "uid");
    } else if (!strcmp(a, "--gid")) {
      o->user.set = 1;
      o->user.gid = parse_number(VALUE(), "gid");
    } else if (!strcmp(a, "--groups")) parse_groups(&o->user, VALUE());
    else fail("unknown option %s", a);
#undef VALUE
  }
  if (!o->command || !o->command[0]) fail("no command");
}

/* ---------------------------------------------------------------------------------------------- pause */

static int pause_main(const char *hostname) {
  if (getpid() != 1) fail("the pause process must be PID 1 of a new pid namespace (the spawn server starts it so)");
  /* Forked from the spawn server without an exec: a name of its own in ps and top. */
  prctl(PR_SET_NAME, "berth-pause");
  if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) != 0) fail("cannot create the pod's namespaces: %s", strerror(errno));
  /* Best effort: a hostname the kernel rejects (too long) leaves the host's name in place. */
  if (sethostname(hostname, strlen(hostname)) != 0) {
    /* keep the host's */
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGCHLD);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, NULL);
  int sfd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (sfd < 0) fail("signalfd: %s", strerror(errno));
  if (write(STDOUT_FILENO, "ready\n", 6) != 6) _exit(1);
  /*
   * The pod dies with the runtime: stdin is a pipe from the runtime that nobody writes to, so it reaches
   * end of file exactly when the runtime process is gone (even killed); then PID 1 leaves, which makes the
   * kernel kill everything in the pod. Meanwhile every child, orphans included, is reaped here.
   */
  struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (fds[0].revents) {
      char buffer[256];
      ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) _exit(0);
    }
    if (fds[1].revents) {
      struct signalfd_siginfo info;
      if (read(sfd, &info, sizeof info) == sizeof info && info.ssi_signo != SIGCHLD) _exit(0);
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------------- container */

/* Top-level mount points other than /, /proc, /sys and /dev, which the overlay root would otherwise hide. */
static size_t host_submounts(char ***out) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail("cannot read /proc/self/mountinfo: %s", strerror(errno));
  char **points = NULL;
  size_t count = 0, capacity = 0;
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, f) > 0) {
    /* Field 5 is the mount point; the kernel writes odd characters as octal escapes (\040 for space). */
    char *field = line;
    for (int i = 0; i < 4 && field; i++) {
      field = strchr(field, ' ');
      if (field) field++;
    }
    if (!field) continue;
    char *point = malloc(strlen(field) + 1);
    if (!point) fail("out of memory");
    size_t n = 0;
    for (char *p = field; *p && *p != ' ' && *p != '\n'; p++) {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
        point[n++] = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
        p += 3;
      } else {
        point[n++] = *p;
      }
    }
    point[n] = '\0';
    int skip = !strcmp(point, "/");
    for (const char *const *top = (const char *const[]){"/proc", "/sys", "/dev", NULL}; *top && !skip; top++) {
      size_t l = strlen(*top);
      skip = !strncmp(point, *top, l) && (point[l] == '\0' || point[l] == '/');
    }
    if (skip) {
      free(point);
      continue;
    }
    if (count == capacity) {
      capacity = capacity ? 2 * capacity : 32;
      points = realloc(points, capacity * sizeof *points);
      if (!points) fail("out of memory");
    }
    points[count++] = point;
  }
  free(line);
  fclose(f);
  /* Nested mounts (and mounts over the same point) come along with their parent's recursive bind. */
  size_t kept = 0;
  for (size_t i = 0; i < count; i++) {
    int covered = 0;
    for (size_t j = 0; j < count && !covered; j++) {
      size_t l = strlen(points[j]);
      if (j != i && !strncmp(points[i], points[j], l) && (points[i][l] == '/' || (points[i][l] == '\0' && j < i))) covered = 1;
    }
    if (covered) free(points[i]);
    else points[kept++] = points[i];
  }
  *out = points;
  return kept;
}

static void in_root(char *out, const char *root, const char *path) {
  if (snprintf(out, PATH_MAX, "%s%s%s", root, path[0] == '/' ? "" : "/", path) >= PATH_MAX) fail("path too long: %s", path);
}

static void bind_volume(const struct bind *b, const char *root) {
  char target[PATH_MAX];
  struct stat st;
  in_root(target, root, b->target);
  if (stat(b->source, &st) != 0) fail("cannot mount volume at %s from %s: %s", b->target, b->source, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    if (!make_directories(target, 0755)) fail("cannot mount volume at %s from %s: cannot create the mount point", b->target, b->source);
  } else {
    /* A file (a single configMap key, a socket) needs a file to be bound onto. */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", target);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = '\0';
    int fd = -1;
    if (!make_directories(parent, 0755) || (fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) {
      fail("cannot mount volume at %s from %s: cannot create the mount point", b->target, b->source);
    }
    close(fd);
  }
  if (mount(b->source, target, NULL, MS_BIND, NULL) != 0) fail("cannot mount volume at %s from %s: %s", b->target, b->source, strerror(errno));
  if (b->readonly && mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
    fail("cannot mount volume at %s from %s read-only: %s", b->target, b->source, strerror(errno));
  }
}

/* In the pod's pid namespace: the container's mount namespace and root. */
static void container_child(const struct options *o) {
  for (size_t i = 0; i < o->cgroup_count; i++) join_cgroup(o->cgroups[i]);
  /* Not the pod's mount namespace: the container's own is copied from the host's as it is now, so volumes
     the kubelet mounted after the sandbox started (tmpfs emptyDirs, claims) are visible. */
  if (unshare(CLONE_NEWNS) != 0) fail("cannot create the container's mount namespace: %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("cannot make the container's mounts private: %s", strerror(errno));
  char **submounts;
  size_t submount_count = host_submounts(&submounts);

  const char *root = o->root;
  char upper[PATH_MAX], work[PATH_MAX], data[3 * PATH_MAX + 64], target[PATH_MAX];
  if (o->layer_tmpfs) {
    if (mount("berth-layer", o->layer_tmpfs, "tmpfs", 0, "mode=0755") != 0) fail("cannot mount the container's writable layer: %s", strerror(errno));
    snprintf(upper, sizeof upper, "%s/upper", o->layer_tmpfs);
    snprintf(work, sizeof work, "%s/work", o->layer_tmpfs);
  } else {
    snprintf(upper, sizeof upper, "%s", o->upper);
    snprintf(work, sizeof work, "%s", o->work);
  }
  if (mkdir(upper, 0755) != 0 || mkdir(work, 0755) != 0) fail("cannot prepare the container's writable layer: %s", strerror(errno));
  snprintf(data, sizeof data, "lowerdir=/,upperdir=%s,workdir=%s", upper, work);
  if (mount("berth-rootfs", root, "overlay", 0, data) != 0) fail("cannot mount the container's root: %s", strerror(errno));
  const char *rbinds[] = {"/dev", "/sys"};
  for (size_t i = 0; i < 2; i++) {
    in_root(target, root, rbinds[i]);
    if (mount(rbinds[i], target, NULL, MS_BIND | MS_REC, NULL) != 0) fail("cannot bind %s into the container: %s", rbinds[i], strerror(errno));
  }
  in_root(target, root, "/proc");
  if (mount("proc", target, "proc", 0, NULL) != 0) fail("cannot mount the container's /proc: %s", strerror(errno));
  for (size_t i = 0; i < submount_count; i++) {
    in_root(target, root, submounts[i]);
    if (!make_directories(target, 0755) || mount(submounts[i], target, NULL, MS_BIND | MS_REC, NULL) != 0) {
      fail("cannot bind %s into the container: %s", submounts[i], strerror(errno));
    }
    /* When the root's (or the layer's tmpfs's) mount point lies on this mount (a tmpfs /tmp), the recursive
       bind copied the container's own mounts into themselves: detach those copies. */
    const char *points[] = {root, o->layer_tmpfs};
    size_t l = strlen(submounts[i]);
    for (size_t j = 0; j < 2; j++) {
      if (points[j] && strlen(points[j]) > l && !strncmp(points[j], submounts[i], l) && points[j][l] == '/') {
        char copy[PATH_MAX];
        in_root(copy, root, points[j]);
        umount2(copy, MNT_DETACH);
      }
    }
  }
  /* Directories first, then files: a file may be mounted inside a directory volume. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < o->bind_count; i++) {
      struct stat st;
      int directory = stat(o->binds[i].source, &st) != 0 || S_ISDIR(st.st_mode);
      if (directory == (pass == 0)) bind_volume(&o->binds[i], root);
    }
  }
  if (chdir(root) != 0 || chroot(".") != 0) fail("cannot enter the container's root: %s", strerror(errno));
  if (!make_directories(o->wd, 0755) || chdir(o->wd) != 0) fail("cannot enter working directory \"%s\"", o->wd);
  run_command(o->command, &o->user);
}

static int container_main(char **argv) {
  struct options o;
  parse_options(argv, &o);
  if (!o.pod || !o.root || !(o.layer_tmpfs || (o.upper && o.work))) fail("container needs --pod, --root and --upper and --work or --layer-tmpfs");
  enter(open_namespace(o.pod, "ns/ipc"), CLONE_NEWIPC, "pod's ipc");
  enter(open_namespace(o.pod, "ns/uts"), CLONE_NEWUTS, "pod's uts");
  container_child(&o);
  return 128;
}

/* ---------------------------------------------------------------------------------------------- exec */

static int exec_main(char **argv) {
  struct options o;
  parse_options(argv, &o);
  if (!o.target) fail("exec needs --target");
  int mnt = open_namespace(o.target, "ns/mnt"), root = open_namespace(o.target, "root"), cwd = open_namespace(o.target, "cwd");
  enter(open_namespace(o.target, "ns/ipc"), CLONE_NEWIPC, "container's ipc");
  enter(open_namespace(o.target, "ns/uts"), CLONE_NEWUTS, "container's uts");
  /* The cgroups by their host paths, before leaving the host's mount namespace. */
  for (size_t i = 0; i < o.cgroup_count; i++) join_cgroup(o.cgroups[i]);
  enter(mnt, CLONE_NEWNS, "container's mount");
  /* The main process's root and working directory, opened before the switch, as nsenter --root --wd. */
  if (fchdir(root) != 0 || chroot(".") != 0 || fchdir(cwd) != 0) fail("cannot enter the container's root: %s", strerror(errno));
  close(root);
  close(cwd);
  run_command(o.command, &o.user);
  return 128;
}

int launcher_main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "pause")) return pause_main(argv[2]);
  if (argc >= 2 && !strcmp(argv[1], "container")) return container_main(argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "exec")) return exec_main(argv + 2);
  fprintf(stderr, "usage: berth-launcher pause HOSTNAME | container OPTIONS -- COMMAND... | exec OPTIONS -- COMMAND...\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "serve")) return spawn_server_main(argv[2], argv[0]);
  return launcher_main(argc, argv);
}
