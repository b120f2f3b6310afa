/* hsloop.c - TLS handshakes in a loop against one server, for bench/handshake.sh.
 *
 * Usage: hsloop HOST PORT SECONDS [-starttls] [-reuse] [-tls1_2|-tls1_3] [-sigalgs LIST]
 *
 * Each round: connect; with -starttls read the 220, EHLO, read the 250 lines, STARTTLS,
 * read the 220; the TLS handshake; then one line each way inside TLS ("QUIT" -> 221 from
 * the relay; s_server -rev echoes it reversed), which also takes in a TLS 1.3 ticket;
 * close. -reuse offers the session (ticket) of the round before, so every round after
 * the first is a resumption if the server agrees. Prints one line:
 *   rounds=N resumed=M seconds=S rate=R
 * and exits 1 when a round fails (with the reason on stderr). Blocking sockets, one
 * connection at a time: the server's CPU per handshake is what the script divides by.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "hsloop: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* Reads SMTP reply lines until the last one ("NNN "); returns its code. */
static int reply(int fd) {
  char line[1024];
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r != 1) die("connection closed in a reply");
    if (n < sizeof line - 1) line[n++] = c;
    if (c == '\n') {
      line[n] = 0;
      if (n >= 4 && line[3] == ' ') return atoi(line);
      n = 0;
    }
  }
}

static void say(int fd, const char *text) {
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) die("write failed");
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: hsloop HOST PORT SECONDS [-starttls] [-reuse] [-tls1_2|-tls1_3] "
                    "[-sigalgs LIST]\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double seconds = atof(argv[3]);
  int starttls = 0, reuse = 0, version = 0;
  const char *sigalgs = NULL;
  for (int i = 4; i < argc; i++) {
    if (!strcmp(argv[i], "-starttls")) starttls = 1;
    else if (!strcmp(argv[i], "-reuse")) reuse = 1;
    else if (!strcmp(argv[i], "-tls1_2")) version = TLS1_2_VERSION;
    else if (!strcmp(argv[i], "-tls1_3")) version = TLS1_3_VERSION;
    else if (!strcmp(argv[i], "-sigalgs") && i + 1 < argc) sigalgs = argv[++i];
    else { fprintf(stderr, "hsloop: unknown argument %s\n", argv[i]); return 2; }
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new");
  if (version) {
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
  }
  if (sigalgs && SSL_CTX_set1_sigalgs_list(ctx, sigalgs) != 1) die("bad -sigalgs");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);

  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("HOST must be an IPv4 address");

  SSL_SESSION *saved = NULL;
  long rounds = 0, resumed = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("connect failed");
    if (starttls) {
      if (reply(fd) != 220) die("no 220 greeting");
      say(fd, "EHLO bench.test\r\n");
      if (reply(fd) != 250) die("EHLO refused");
      say(fd, "STARTTLS\r\n");
      if (reply(fd) != 220) die("STARTTLS refused");
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (reuse && saved) SSL_set_session(ssl, saved);
    if (SSL_connect(ssl) != 1) die("handshake failed");
    if (SSL_session_reused(ssl)) resumed++;
    const char *q = "QUIT\r\n";
    if (SSL_write(ssl, q, (int)strlen(q)) <= 0) die("SSL_write failed");
    char buf[512];
    if (SSL_read(ssl, buf, sizeof buf) <= 0) die("no reply inside TLS");
    if (reuse) {
      SSL_SESSION *s = SSL_get1_session(ssl);
      if (s && SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(saved);
        saved = s;
      } else {
        SSL_SESSION_free(s);
      }
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    rounds++;
  }
  double took = now() - start;
  printf("rounds=%ld resumed=%ld seconds=%.3f rate=%.1f\n", rounds, resumed, took,
         rounds / took);
  SSL_SESSION_free(saved);
  SSL_CTX_free(ctx);
  return 0;
}
