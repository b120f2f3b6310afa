/* tls-sink.c - a minimal SMTP sink with STARTTLS, for bench/deliver.sh.
 * Stores nothing. One thread per connection, blocking I/O, OpenSSL defaults for the
 * server side (session cache and RFC 5077 tickets on). Prints smtp-sink -c style counters
 * ("sess=N quit=N mesg=N tls=N resumed=N", CR-separated) on stdout whenever one changes.
 * Usage: tls-sink ADDR PORT CERT KEY [DELAY_MS [TEMPFAIL_PERCENT]]
 * DELAY_MS delays every reply to the end of DATA (a slow receiver, for bench/mix.sh);
 * TEMPFAIL_PERCENT answers that share of messages (every k-th, deterministic) with 451,
 * counted as tmpf= and not as mesg=. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static SSL_CTX *ctx;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n_sess, n_quit, n_mesg, n_tls, n_resumed, n_tmpf, n_data;
static long delay_ms, tempfail_every;

static void bump(long *counter, long by) {
  pthread_mutex_lock(&mu);
  *counter += by;
  printf("sess=%ld quit=%ld mesg=%ld tls=%ld resumed=%ld tmpf=%ld\r", n_sess, n_quit, n_mesg, n_tls, n_resumed, n_tmpf);
  fflush(stdout);
  pthread_mutex_unlock(&mu);
}

struct conn {
  int fd;
  SSL *ssl;
  size_t len, off, outlen;
  char in[65536];
  char out[8192];
};

static int flush_out(struct conn *c) {
  size_t done = 0;
  while (done < c->outlen) {
    int w = c->ssl ? SSL_write(c->ssl, c->out + done, (int)(c->outlen - done))
                   : (int)send(c->fd, c->out + done, c->outlen - done, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  c->outlen = 0;
  return 0;
}

static int reply(struct conn *c, const char *s) {
  size_t n = strlen(s);
  if (c->outlen + n > sizeof c->out && flush_out(c) < 0) return -1;
  memcpy(c->out + c->outlen, s, n);
  c->outlen += n;
  return 0;
}

/* Next line (with its LF) from the input; replies are flushed before blocking. */
static char *get_line(struct conn *c, size_t *n) {
  for (;;) {
    char *start = c->in + c->off;
    char *nl = memchr(start, '\n', c->len - c->off);
    if (nl) {
      *n = (size_t)(nl - start) + 1;
      c->off += *n;
      return start;
    }
    if (c->off > 0) {
      memmove(c->in, c->in + c->off, c->len - c->off);
      c->len -= c->off;
      c->off = 0;
    }
    if (c->len == sizeof c->in) return NULL; /* line too long */
    if (c->outlen && flush_out(c) < 0) return NULL;
    int r = c->ssl ? SSL_read(c->ssl, c->in + c->len, (int)(sizeof c->in - c->len))
                   : (int)recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
    if (r <= 0) return NULL;
    c->len += (size_t)r;
  }
}

static void *serve(void *arg) {
  struct conn *c = arg;
  size_t n;
  char *l;
  int quit = 0;
  reply(c, "220 tls-sink.bench.example ESMTP tls-sink\r\n");
  while (!quit && (l = get_line(c, &n)) != NULL) {
    if (n >= 4 && (strncasecmp(l, "EHLO", 4) == 0 || strncasecmp(l, "HELO", 4) == 0)) {
      reply(c, "250-tls-sink.bench.example\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n"
               "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n");
      reply(c, c->ssl ? "250 DSN\r\n" : "250-DSN\r\n250 STARTTLS\r\n");
    } else if (n >= 8 && strncasecmp(l, "STARTTLS", 8) == 0 && !c->ssl) {
      reply(c, "220 2.0.0 Ready to start TLS\r\n");
      if (flush_out(c) < 0) break;
      c->off = c->len = 0; /* anything pipelined after STARTTLS is dropped */
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, c->fd);
      if (SSL_accept(c->ssl) != 1) break;
      bump(&n_tls, 1);
      if (SSL_session_reused(c->ssl)) bump(&n_resumed, 1);
    } else if (n >= 4 && (strncasecmp(l, "MAIL", 4) == 0 || strncasecmp(l, "RCPT", 4) == 0 ||
                          strncasecmp(l, "RSET", 4) == 0 || strncasecmp(l, "NOOP", 4) == 0)) {
      reply(c, "250 2.0.0 Ok\r\n");
    } else if (n >= 4 && strncasecmp(l, "DATA", 4) == 0) {
      reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
      while ((l = get_line(c, &n)) != NULL) {
        if ((n == 3 && memcmp(l, ".\r\n", 3) == 0) || (n == 2 && memcmp(l, ".\n", 2) == 0)) break;
      }
      if (l == NULL) break;
      if (delay_ms > 0) {
        struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
      }
      pthread_mutex_lock(&mu);
      int fail = tempfail_every > 0 && ++n_data % tempfail_every == 0;
      pthread_mutex_unlock(&mu);
      if (fail) {
        bump(&n_tmpf, 1);
        reply(c, "451 4.3.0 Try again later (tls-sink)\r\n");
      } else {
        bump(&n_mesg, 1);
        reply(c, "250 2.0.0 Ok: queued\r\n");
      }
    } else if (n >= 4 && strncasecmp(l, "QUIT", 4) == 0) {
      reply(c, "221 2.0.0 Bye\r\n");
      flush_out(c);
      quit = 1;
    } else {
      reply(c, "502 5.5.2 Error: command not recognized\r\n");
    }
  }
  if (c->ssl) {
    if (quit) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
  }
  close(c->fd);
  free(c);
  if (quit) bump(&n_quit, 1);
  bump(&n_sess, 1);
  ERR_clear_error();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr, "usage: %s ADDR PORT CERT KEY [DELAY_MS [TEMPFAIL_PERCENT]]\n", argv[0]);
    return 2;
  }
  if (argc > 5) delay_ms = atol(argv[5]);
  if (argc > 6 && atof(argv[6]) > 0) tempfail_every = (long)(100.0 / atof(argv[6]) + 0.5);
  signal(SIGPIPE, SIG_IGN);
  ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tls-sink", 8);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
      listen(s, 1024) < 0) {
    perror("tls-sink: bind/listen");
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    int fd = accept(s, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
      perror("tls-sink: accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) { close(fd); continue; }
    c->fd = fd;
    pthread_t t;
    if (pthread_create(&t, &attr, serve, c) != 0) { close(fd); free(c); }
  }
}
