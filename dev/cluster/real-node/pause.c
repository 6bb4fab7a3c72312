/* The pod sandbox ("pause") process of the dev cluster's real node (dev/cluster/real-node).
 * It holds the pod's namespaces, reaps zombies (it is PID 1 when the pod shares its PID
 * namespace) and exits on SIGINT/SIGTERM. Built with `gcc -static` by dev/cluster/build.sh and
 * packed as a one-file OCI image; containerd pins it as its sandbox image. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    puts("pontoon pause 1");
    return 0;
  }
  struct sigaction term = {0}, child = {0};
  term.sa_handler = on_term;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGINT, &term, NULL) < 0 || sigaction(SIGTERM, &term, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
  return 42; /* not reached */
}
