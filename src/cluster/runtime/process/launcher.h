/* What launcher.c and spawn-server.c, one program, call of each other. */
#ifndef BERTH_LAUNCHER_H
#define BERTH_LAUNCHER_H

/* The launcher's modes (pause, container, exec), as if run with this argv. */
int launcher_main(int argc, char **argv);

/* The spawn server ("serve"); self is this program's path: requests to run it run in the forked child, no exec. */
int spawn_server_main(const char *name, const char *self);

#endif
