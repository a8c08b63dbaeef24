// LD_PRELOAD shim for the benchmarks: binds every IPv4 socket a program
// connects to the address in BIND_SOURCE (e.g. 127.0.0.3) first, so that a
// tool without a source-address option (slowhttptest) attacks from a chosen
// loopback address. Bench-only; not part of authd.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (real == NULL) real = dlsym(RTLD_NEXT, "connect");
  const char *src = getenv("BIND_SOURCE");
  if (src != NULL && addr != NULL && addr->sa_family == AF_INET) {
    struct sockaddr_in local = {0};
    local.sin_family = AF_INET;
    if (inet_pton(AF_INET, src, &local.sin_addr) == 1) {
      (void)bind(fd, (struct sockaddr *)&local, sizeof local);
    }
  }
  return real(fd, addr, len);
}
