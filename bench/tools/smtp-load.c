/* smtp-load.c - an SMTP load generator with STARTTLS, for bench/tls.sh and bench/mix.sh.
 *
 * One thread per session, blocking I/O, no pipelining (like Postfix's smtp-source, so that
 * the relay and Postfix see the same client). Messages are numbered 0..count-1; a session
 * takes the next number when it is free. With --rate the load is open loop: message i is
 * due at start + i/rate and its latency is measured from the moment it was due, so a
 * server that falls behind shows it in the figures instead of slowing the client down.
 * Sizes, SOS marking and recipient domains are functions of the message number and the
 * seed, so every run (and every server) gets the same sequence.
 *
 * Output (stdout): one JSON line with sent, failed, wall_s, msg_s and the percentiles of
 * eod_ms (end of DATA -> 250 reply), msg_ms (message due -> 250: includes queueing
 * behind busy sessions and, in conn mode, connect + handshake) and lag_ms (due -> first
 * byte of MAIL). Any message without a 250 counts as failed; the exit status is 1 then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host = NULL, *port = NULL, *mode = "conn", *from = "sender@bench.example";
static const char *helo = "load.bench.example", *sos_header = "X-Secmx-Policy: SOS";
static int sessions = 10, starttls = 0, resume = 0, rcpts = 1, verbose = 0;
static long count = 1000;
static double rate = 0, sos_percent = 0;
static uint64_t seed = 20261204;
static char **domains;
static int ndomains;

/* Size distribution: nbins (bytes, cumulative probability); or a log-normal body. */
static long fixed_size = 4096;
static int use_dist = 0;
static double dist_median = 0, dist_sigma = 0, dist_min = 0, dist_max = 0;
static struct bin { double cum; long bytes; } bins[64];
static int nbins;

static SSL_CTX *ctx;
static struct addrinfo *dest;
static atomic_long next_msg, n_sent, n_failed, n_conn, n_resumed;
static double *eod_ms, *msg_ms, *lag_ms;
static long *sizes;
static double t_start;
static const char *filler; /* lines of 'x', CRLF-terminated, enough for the largest size */
#define FILL_LINE 78

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static uint64_t mix64(uint64_t x) { /* splitmix64 */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
static double unit(uint64_t i, uint64_t stream) { return (mix64(seed ^ mix64(i * 4 + stream)) >> 11) * 0x1.0p-53; }

static long size_of(long i) {
  if (!use_dist) return fixed_size;
  double u = unit((uint64_t)i, 1);
  for (int b = 0; b < nbins; b++)
    if (u < bins[b].cum) return bins[b].bytes;
  if (dist_median <= 0) return fixed_size;
  /* Box-Muller from two more uniforms: the body of the distribution is log-normal. */
  double u1 = unit((uint64_t)i, 2), u2 = unit((uint64_t)i, 3);
  double z = sqrt(-2 * log(u1 > 0 ? u1 : 1e-12)) * cos(2 * M_PI * u2);
  double s = dist_median * exp(dist_sigma * z);
  if (s < dist_min) s = dist_min;
  if (s > dist_max) s = dist_max;
  return (long)s;
}

/* --size-dist SPEC: "realistic" (median 20 KiB, 5% 1 MiB, 0.5% 10 MiB), or a file or a
 * comma list of "BYTES:PROBABILITY" bins plus optionally "lognormal:MEDIAN:SIGMA:MIN:MAX"
 * for the rest. */
static void parse_dist(const char *spec) {
  char buf[4096];
  if (strcmp(spec, "realistic") == 0)
    spec = "10485760:0.005,1048576:0.05,lognormal:20480:0.9:1024:524288";
  else {
    FILE *f = fopen(spec, "r");
    if (f) {
      size_t n = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[n] = 0;
      for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == ' ') *p = ',';
      spec = buf;
    }
  }
  char *copy = strdup(spec), *save = NULL;
  double cum = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strncmp(tok, "lognormal:", 10) == 0) {
      if (sscanf(tok + 10, "%lf:%lf:%lf:%lf", &dist_median, &dist_sigma, &dist_min, &dist_max) != 4) {
        fprintf(stderr, "smtp-load: bad %s\n", tok);
        exit(2);
      }
      continue;
    }
    long b;
    double p;
    if (sscanf(tok, "%ld:%lf", &b, &p) != 2 || nbins == 64) {
      fprintf(stderr, "smtp-load: bad size bin %s\n", tok);
      exit(2);
    }
    cum += p;
    bins[nbins].cum = cum;
    bins[nbins++].bytes = b;
  }
  if (dist_median <= 0 && nbins) bins[nbins - 1].cum = 1.0;
  free(copy);
  use_dist = 1;
}

struct conn {
  int fd;
  SSL *ssl;
  SSL_SESSION *sess;
  size_t len, off;
  char in[8192];
  char last[512]; /* last reply line, for the error message */
};

static int wr(struct conn *c, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    int w = c->ssl ? SSL_write(c->ssl, s, n > (1 << 30) ? (1 << 30) : (int)n)
                   : (int)send(c->fd, s, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    s += w;
    n -= (size_t)w;
  }
  return 0;
}
static int wrs(struct conn *c, const char *s) { return wr(c, s, strlen(s)); }

/* Reads one (possibly multi-line) reply; returns its code or -1. */
static int reply(struct conn *c) {
  for (;;) {
    char *start = c->in + c->off, *nl = memchr(start, '\n', c->len - c->off);
    if (nl) {
      size_t n = (size_t)(nl - start) + 1;
      c->off += n;
      size_t k = n < sizeof c->last - 1 ? n : sizeof c->last - 1;
      memcpy(c->last, start, k);
      c->last[k] = 0;
      if (n >= 4 && start[3] == '-') continue;
      if (n < 4) return -1;
      return atoi(start);
    }
    if (c->off > 0) {
      memmove(c->in, c->in + c->off, c->len - c->off);
      c->len -= c->off;
      c->off = 0;
    }
    if (c->len == sizeof c->in) return -1;
    int r = c->ssl ? SSL_read(c->ssl, c->in + c->len, (int)(sizeof c->in - c->len))
                   : (int)recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
    if (r <= 0) return -1;
    c->len += (size_t)r;
  }
}
static int cmd(struct conn *c, const char *s, int want) {
  if (s && wrs(c, s) < 0) return -1;
  int code = reply(c);
  if (code != want && verbose) fprintf(stderr, "smtp-load: %s -> %s", s ? s : "greeting", c->last);
  return code == want ? 0 : -1;
}

static void drop(struct conn *c) {
  if (c->ssl) {
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->len = c->off = 0;
}

static int open_session(struct conn *c) {
  c->fd = socket(dest->ai_family, SOCK_STREAM, 0);
  int one = 1;
  if (c->fd < 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, dest->ai_addr, dest->ai_addrlen) < 0) goto fail;
  char ehlo[300];
  snprintf(ehlo, sizeof ehlo, "EHLO %s\r\n", helo);
  if (cmd(c, NULL, 220) < 0 || cmd(c, ehlo, 250) < 0) goto fail;
  if (starttls) {
    if (cmd(c, "STARTTLS\r\n", 220) < 0) goto fail;
    c->len = c->off = 0;
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, host);
    if (resume && c->sess) SSL_set_session(c->ssl, c->sess);
    if (SSL_connect(c->ssl) != 1) {
      if (verbose) ERR_print_errors_fp(stderr);
      goto fail;
    }
    if (SSL_session_reused(c->ssl)) atomic_fetch_add(&n_resumed, 1);
    if (cmd(c, ehlo, 250) < 0) goto fail;
    if (resume) { /* TLS 1.3 tickets arrive after the handshake: take the latest one */
      SSL_SESSION *s = SSL_get1_session(c->ssl);
      if (s) {
        if (c->sess) SSL_SESSION_free(c->sess);
        c->sess = s;
      }
    }
  }
  atomic_fetch_add(&n_conn, 1);
  return 0;
fail:
  ERR_clear_error();
  drop(c);
  return -1;
}

static int send_message(struct conn *c, long i, double due) {
  char buf[1024];
  int n;
  lag_ms[i] = (now() - due) * 1e3;
  snprintf(buf, sizeof buf, "MAIL FROM:<%s>\r\n", from);
  if (cmd(c, buf, 250) < 0) return -1;
  const char *dom = domains[i % ndomains];
  for (int r = 0; r < rcpts; r++) {
    snprintf(buf, sizeof buf, "RCPT TO:<rcpt%d@%s>\r\n", r, dom);
    if (cmd(c, buf, 250) < 0) return -1;
  }
  if (cmd(c, "DATA\r\n", 354) < 0) return -1;
  int sos = sos_percent > 0 && unit((uint64_t)i, 0) * 100 < sos_percent;
  n = snprintf(buf, sizeof buf,
               "From: <%s>\r\nTo: <rcpt0@%s>\r\nSubject: load %ld\r\n"
               "Message-ID: <%ld.%llu@load.bench.example>\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\n"
               "%s%s\r\n",
               from, dom, i, i, (unsigned long long)seed, sos ? sos_header : "", sos ? "\r\n" : "");
  if (wr(c, buf, (size_t)n) < 0) return -1;
  long lines = sizes[i] / FILL_LINE;
  if (lines > 0 && wr(c, filler, (size_t)lines * FILL_LINE) < 0) return -1;
  if (wrs(c, ".\r\n") < 0) return -1;
  double t = now();
  int code = reply(c);
  if (code != 250) {
    if (verbose) fprintf(stderr, "smtp-load: message %ld: end of DATA -> %s", i, code < 0 ? "(connection lost)\n" : c->last);
    return code < 0 ? -1 : -2;
  }
  double done = now();
  eod_ms[i] = (done - t) * 1e3;
  msg_ms[i] = (done - due) * 1e3;
  return 0;
}

static void *session(void *arg) {
  (void)arg;
  struct conn c = {.fd = -1};
  int reuse = strcmp(mode, "reuse") == 0;
  for (;;) {
    long i = atomic_fetch_add(&next_msg, 1);
    if (i >= count) break;
    double due = rate > 0 ? t_start + i / rate : now();
    if (rate > 0) {
      double d = due - now();
      if (d > 0) {
        struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - (time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    if (c.fd < 0 && open_session(&c) < 0) {
      atomic_fetch_add(&n_failed, 1);
      continue;
    }
    int r = send_message(&c, i, due);
    if (r == 0) atomic_fetch_add(&n_sent, 1);
    else atomic_fetch_add(&n_failed, 1);
    if (r == -1) { drop(&c); continue; }
    if (r == -2 && cmd(&c, "RSET\r\n", 250) < 0) { drop(&c); continue; }
    if (!reuse) {
      cmd(&c, "QUIT\r\n", 221);
      if (c.ssl) SSL_shutdown(c.ssl);
      drop(&c);
    }
  }
  if (c.fd >= 0) {
    cmd(&c, "QUIT\r\n", 221);
    if (c.ssl) SSL_shutdown(c.ssl);
    drop(&c);
  }
  if (c.sess) SSL_SESSION_free(c.sess);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
/* Percentiles over the messages that got their 250 (NaN marks the others). */
static void pct(const char *name, double *v, long n, int last) {
  double *s = malloc(sizeof *s * (size_t)(n ? n : 1));
  long k = 0;
  for (long i = 0; i < n; i++)
    if (!isnan(v[i])) s[k++] = v[i];
  qsort(s, (size_t)k, sizeof *s, cmp);
#define P(q) (k ? s[(long)((k - 1) * (q) + 0.5)] : 0)
  printf("\"%s_p50\":%.3f,\"%s_p90\":%.3f,\"%s_p99\":%.3f,\"%s_max\":%.3f%s", name, P(0.5), name, P(0.9), name,
         P(0.99), name, k ? s[k - 1] : 0, last ? "" : ",");
  free(s);
}

static void usage(void) {
  fprintf(stderr,
          "usage: smtp-load [options] HOST:PORT\n"
          "  --sessions N      concurrent connections (10)\n"
          "  --count N         messages (1000)\n"
          "  --mode conn|reuse one message per connection, or all of a session's over one (conn)\n"
          "  --starttls        STARTTLS after EHLO (certificate not verified)\n"
          "  --resume          offer the session's last TLS session on reconnect\n"
          "  --size BYTES      body size (4096)\n"
          "  --size-dist SPEC  'realistic', a file or a list of BYTES:P and lognormal:MEDIAN:SIGMA:MIN:MAX\n"
          "  --seed N          seed of sizes and SOS choice (20261204)\n"
          "  --rate R          open loop: message i is due at start + i/R\n"
          "  --sos-percent P   P%% of messages carry --sos-header (X-Secmx-Policy: SOS)\n"
          "  --sos-header H    the header line that makes a message SOS\n"
          "  --rcpt-domains L  comma list; message i goes to domain i mod n (bench-dest.example)\n"
          "  --rcpts N         recipients per message (1)\n"
          "  --from ADDR, --helo NAME, --verbose\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *doms = "bench-dest.example";
  for (int a = 1; a < argc; a++) {
    const char *o = argv[a];
#define ARG() (a + 1 < argc ? argv[++a] : (usage(), ""))
    if (!strcmp(o, "--sessions")) sessions = atoi(ARG());
    else if (!strcmp(o, "--count")) count = atol(ARG());
    else if (!strcmp(o, "--mode")) mode = ARG();
    else if (!strcmp(o, "--starttls")) starttls = 1;
    else if (!strcmp(o, "--resume")) resume = 1;
    else if (!strcmp(o, "--size")) fixed_size = atol(ARG());
    else if (!strcmp(o, "--size-dist")) parse_dist(ARG());
    else if (!strcmp(o, "--seed")) seed = strtoull(ARG(), NULL, 10);
    else if (!strcmp(o, "--rate")) rate = atof(ARG());
    else if (!strcmp(o, "--sos-percent")) sos_percent = atof(ARG());
    else if (!strcmp(o, "--sos-header")) sos_header = ARG();
    else if (!strcmp(o, "--rcpt-domains")) doms = ARG();
    else if (!strcmp(o, "--rcpts")) rcpts = atoi(ARG());
    else if (!strcmp(o, "--from")) from = ARG();
    else if (!strcmp(o, "--helo")) helo = ARG();
    else if (!strcmp(o, "--verbose")) verbose = 1;
    else if (o[0] == '-') usage();
    else {
      char *hp = strdup(o), *colon = strrchr(hp, ':');
      if (!colon) usage();
      *colon = 0;
      host = hp;
      port = colon + 1;
    }
  }
  if (!host || sessions < 1 || count < 1 || rcpts < 1 || (strcmp(mode, "conn") && strcmp(mode, "reuse"))) usage();
  char *dcopy = strdup(doms), *save = NULL;
  domains = calloc(64, sizeof *domains);
  for (char *t = strtok_r(dcopy, ",", &save); t && ndomains < 64; t = strtok_r(NULL, ",", &save)) domains[ndomains++] = t;
  signal(SIGPIPE, SIG_IGN);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  if (getaddrinfo(host, port, &hints, &dest) != 0) {
    fprintf(stderr, "smtp-load: cannot resolve %s:%s\n", host, port);
    return 2;
  }
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);

  sizes = malloc(sizeof *sizes * (size_t)count);
  eod_ms = malloc(sizeof *eod_ms * (size_t)count);
  msg_ms = malloc(sizeof *msg_ms * (size_t)count);
  lag_ms = malloc(sizeof *lag_ms * (size_t)count);
  long maxsize = 0;
  double bytes = 0;
  for (long i = 0; i < count; i++) {
    sizes[i] = size_of(i);
    if (sizes[i] > maxsize) maxsize = sizes[i];
    bytes += (double)sizes[i];
    eod_ms[i] = msg_ms[i] = lag_ms[i] = NAN;
  }
  long lines = maxsize / FILL_LINE + 1;
  char *f = malloc((size_t)lines * FILL_LINE);
  for (long l = 0; l < lines; l++) {
    memset(f + l * FILL_LINE, 'x', FILL_LINE - 2);
    memcpy(f + l * FILL_LINE + FILL_LINE - 2, "\r\n", 2);
  }
  filler = f;

  pthread_t *th = calloc((size_t)sessions, sizeof *th);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  t_start = now() + 0.01;
  for (int s = 0; s < sessions; s++) pthread_create(&th[s], &attr, session, NULL);
  for (int s = 0; s < sessions; s++) pthread_join(th[s], NULL);
  double wall = now() - t_start;
  long sent = atomic_load(&n_sent), failed = atomic_load(&n_failed);
  printf("{\"host\":\"%s:%s\",\"mode\":\"%s\",\"starttls\":%d,\"sessions\":%d,\"count\":%ld,\"rate\":%.1f,"
         "\"sent\":%ld,\"failed\":%ld,\"connections\":%ld,\"resumed\":%ld,\"wall_s\":%.3f,\"msg_s\":%.1f,"
         "\"mean_size\":%.0f,",
         host, port, mode, starttls, sessions, count, rate, sent, failed, atomic_load(&n_conn),
         atomic_load(&n_resumed), wall, sent / wall, bytes / (double)count);
  pct("eod_ms", eod_ms, count, 0);
  pct("msg_ms", msg_ms, count, 0);
  pct("lag_ms", lag_ms, count, 1);
  printf("}\n");
  return failed ? 1 : 0;
}
