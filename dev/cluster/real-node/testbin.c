/* A tiny static test program for pods on the dev cluster's real node (dev/cluster/real-node).
 * Packed as the image 127.0.0.1:<registry port>/pontoon/testbin:<hash> by smoke-real-node.sh
 * (one file, /testbin, the entrypoint). What it does is chosen by environment variables, in this
 * order (all optional):
 *   MESSAGE         printed to stdout (default "testbin: hello")
 *   STDERR_MESSAGE  printed to stderr
 *   WRITE_FILE      path: MESSAGE is written there, read back and its size printed
 *   CONNECT         IPv4:port: opens a TCP connection, sends "ping\n", prints the first line
 *                   answered (exit code 3 if it cannot connect)
 *   ALLOC_MB        allocates and touches memory 1 MiB at a time up to this many MiB (0: without
 *                   end, i.e. until the OOM killer stops it), printing progress every 16 MiB
 *   SLEEP_MS        sleeps this long
 *   FOREVER         if set, runs until SIGTERM/SIGINT and then exits 0 (a sidecar)
 *   EXIT_CODE       the exit code (default 0)
 * With arguments (e.g. `kubectl exec POD -- /testbin echo hi`) it only prints them and exits 0:
 * exec'd processes inherit the container's environment, which could make them run forever. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop) {
  }
}

static int do_connect(const char *target) {
  char host[64];
  const char *colon = strrchr(target, ':');
  if (!colon || (size_t)(colon - target) >= sizeof host) {
    fprintf(stderr, "testbin: CONNECT must be IPv4:port, got %s\n", target);
    return 3;
  }
  memcpy(host, target, colon - target);
  host[colon - target] = 0;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    fprintf(stderr, "testbin: bad IPv4 address %s\n", host);
    return 3;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "testbin: connect %s: %s\n", target, strerror(errno));
    return 3;
  }
  if (write(fd, "ping\n", 5) != 5) {
    fprintf(stderr, "testbin: write to %s: %s\n", target, strerror(errno));
    return 3;
  }
  char buf[256];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0 || buf[n] == '\n') break;
    n++;
  }
  buf[n] = 0;
  close(fd);
  printf("testbin: connected to %s, answer: %s\n", target, buf);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1) {
    for (int i = 1; i < argc; i++) printf("%s%s", argv[i], i + 1 < argc ? " " : "\n");
    return 0;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  const char *msg = env("MESSAGE") ? env("MESSAGE") : "testbin: hello";
  printf("%s\n", msg);
  if (env("STDERR_MESSAGE")) fprintf(stderr, "%s\n", env("STDERR_MESSAGE"));

  if (env("WRITE_FILE")) {
    const char *path = env("WRITE_FILE");
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", msg) < 0 || fclose(f) != 0) {
      fprintf(stderr, "testbin: writing %s: %s\n", path, strerror(errno));
      return 4;
    }
    char buf[4096];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    if (fd >= 0) close(fd);
    printf("testbin: wrote and read back %zd bytes at %s\n", n, path);
  }

  if (env("CONNECT")) {
    int rc = do_connect(env("CONNECT"));
    if (rc) return rc;
  }

  if (env("ALLOC_MB")) {
    long limit = atol(env("ALLOC_MB"));
    for (long mb = 1; limit == 0 || mb <= limit; mb++) {
      char *p = malloc(1 << 20);
      if (!p) {
        fprintf(stderr, "testbin: malloc failed at %ld MiB\n", mb);
        return 5;
      }
      memset(p, (int)mb, 1 << 20);
      if (mb % 16 == 0) printf("testbin: allocated %ld MiB\n", mb);
    }
  }

  if (env("SLEEP_MS")) sleep_ms(atol(env("SLEEP_MS")));

  if (env("FOREVER")) {
    while (!stop) pause();
    printf("testbin: stopped by a signal\n");
    return 0;
  }
  return env("EXIT_CODE") ? atoi(env("EXIT_CODE")) : 0;
}
