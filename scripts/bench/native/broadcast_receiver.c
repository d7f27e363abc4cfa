/*
 * broadcast_receiver: the client side of the broadcast benchmark figure, in C.
 *
 * Why: the Deno client spends ~9-12 us of CPU per received message at 10k clients (one read op
 * per socket per message), so on 2 cores it saturates a core before the server does and the
 * figure measures the client. This program only holds WebSocket connections and counts frames:
 * ~3-4.5 us of CPU per message at 5k-10k clients, over 90 % of it in the kernel (the recv per
 * socket and the TCP ACK it triggers), so the server saturates first. Everything else (control
 * connection, windows, flow control, CPU accounting) stays in scripts/bench/load.ts, which drives
 * it over stdin/stdout.
 *
 * Usage: broadcast_receiver --port P [--prefix b] [--in-flight 250] [--report-ms 2]
 *                           [--timeout-ms 30000]
 *
 * stdin, one command a line:
 *   open <total>  open and identify clients until <total> are held (uids <prefix>0, ...)
 *   quit          close every socket and exit 0 (EOF on stdin does the same)
 * stdout, one report a line:
 *   ready <total>     every client up to <total> is identified
 *   count <n>         text messages received after identification, all sockets, since start;
 *                     written when it changed and at least --report-ms passed since the last
 *   closed <n>        sockets ended early (close frame, EOF, reset, protocol error), since start
 *   error <message>   a bad command (the receiver keeps going), or a failed open (it then exits 1)
 *
 * Speaks RFC 6455 as a client: HTTP/1.1 upgrade with Sec-WebSocket-Accept checked, masked frames
 * out, server frames parsed as a byte stream (7/16/64-bit lengths, frames split across reads or
 * several in one read), pings answered with pongs, close answered with close. Every socket is
 * level-triggered in one epoll set and read once per wake-up.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -Werror -o broadcast_receiver broadcast_receiver.c
 * (scripts/bench/native.ts does this into bench-results/native/).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define HANDSHAKE_CAP 2048 /* bytes of the 101 response we accept */
#define OUT_CAP 256        /* pending outgoing bytes per socket: handshake, identify, pong */
#define MAX_EVENTS 1024
#define MAX_PREFIX 32
#define STDIN_TAG UINT32_MAX
#define LINE_CAP 256
#define MAX_DIAGNOSTICS 5 /* stderr lines about misbehaving sockets */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum state { CONNECTING, HANDSHAKE, IDENTIFYING, LIVE, ENDED };

/* One client connection. Frame parsing is incremental: any byte boundary is a valid split. */
struct conn {
  int fd;
  uint8_t state;
  uint8_t hdr_len;    /* header bytes of the current frame collected so far */
  uint8_t hdr_need;   /* header size (2, 4 or 10) once the second byte is known */
  uint8_t in_payload; /* the header is complete; `remaining` payload bytes follow */
  uint8_t opcode;
  uint8_t fin;
  uint8_t keep;      /* copy the payload into `kept` (control frames, the identify ack) */
  uint8_t frag;      /* a fragmented data message is in progress */
  uint8_t frag_text; /* ... and it is a text message */
  uint8_t kept_len;
  uint16_t out_len;
  uint16_t hs_len;
  uint32_t polled; /* epoll events registered now */
  uint64_t remaining;
  uint8_t hdr[10];
  uint8_t kept[125];
  char key[25]; /* Sec-WebSocket-Key sent, base64 */
  uint8_t out[OUT_CAP];
  char *hs; /* the handshake response while it is read, NULL otherwise */
};

struct options {
  uint16_t port;
  const char *prefix;
  uint32_t in_flight;
  uint32_t report_ms;
  uint32_t timeout_ms;
};

struct receiver {
  struct options opt;
  int ep;
  struct conn *conns;
  uint32_t cap;        /* allocated conns */
  uint32_t opened;     /* sockets started, uids 0 .. opened-1 */
  uint32_t target;     /* total the current open command asks for */
  uint32_t identified; /* sockets that got their acknowledgement */
  uint32_t in_flight;  /* started, not yet identified nor ended */
  int opening;
  uint64_t open_deadline_ms;
  uint64_t count; /* text messages after identification */
  uint64_t reported_count;
  uint32_t closed; /* sockets ended early */
  uint32_t reported_closed;
  uint64_t last_report_ms;
  uint64_t rng;
  rlim_t nofile;
  int quit;
  int open_failed;
  int diagnostics;
  char line[LINE_CAP];
  size_t line_len;
  int line_overflow;
  uint8_t buf[READ_BUF];
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes a whole line to stdout; a reader that went away ends the program. */
static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(STDOUT_FILENO, line + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(1);
    off += (int)w;
  }
}

/* xorshift64*: mask keys and handshake nonces need to vary, not to be secret, on loopback. */
static uint64_t next_random(struct receiver *rx) {
  rx->rng ^= rx->rng >> 12;
  rx->rng ^= rx->rng << 25;
  rx->rng ^= rx->rng >> 27;
  return rx->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* SHA-1, only to check Sec-WebSocket-Accept (RFC 6455 section 4.1). */
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  size_t total = ((len + 8) / 64 + 1) * 64;
  for (size_t off = 0; off < total; off += 64) {
    uint8_t block[64];
    for (size_t i = 0; i < 64; i++) {
      size_t k = off + i;
      block[i] = k < len ? msg[k] : k == len ? 0x80 : 0;
    }
    if (off + 64 == total) {
      uint64_t bits = (uint64_t)len * 8;
      for (int i = 0; i < 8; i++) block[63 - i] = (uint8_t)(bits >> (8 * i));
    }
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
      w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
             (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    }
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
}

/* Base64 of `len` bytes into `out` (4 * ceil(len / 3) + 1 bytes, NUL-terminated). */
static void base64(const uint8_t *in, size_t len, char *out) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < len) v |= in[i + 2];
    out[o++] = table[(v >> 18) & 63];
    out[o++] = table[(v >> 12) & 63];
    out[o++] = i + 1 < len ? table[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? table[v & 63] : '=';
  }
  out[o] = '\0';
}

/* A socket misbehaved: say so on stderr, a few times at most. */
static void diagnose(struct receiver *rx, const struct conn *c, const char *what) {
  if (rx->diagnostics >= MAX_DIAGNOSTICS) return;
  rx->diagnostics++;
  fprintf(stderr, "broadcast_receiver: %s%u: %s\n", rx->opt.prefix, (unsigned)(c - rx->conns),
          what);
}

/* Fails the open command in progress: the caller learns why, then the program exits. */
static void fail_open(struct receiver *rx, const char *fmt, ...) {
  if (rx->open_failed) return;
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  say("error Cannot open %u clients: %s (%u identified)", rx->target, msg, rx->identified);
  rx->open_failed = 1;
  rx->quit = 1;
}

/* Asks for writability only while bytes wait, so a live socket costs one epoll_ctl at most. */
static void set_events(struct receiver *rx, struct conn *c) {
  uint32_t want = c->out_len > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN;
  if (want == c->polled) return;
  struct epoll_event ev = {.events = want, .data.u32 = (uint32_t)(c - rx->conns)};
  epoll_ctl(rx->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->polled = want;
}

/* Ends a connection. Before identification that fails the open in progress. */
static void end_conn(struct receiver *rx, struct conn *c, const char *why) {
  if (c->state == ENDED) return;
  int was_live = c->state == LIVE;
  close(c->fd);
  c->fd = -1;
  free(c->hs);
  c->hs = NULL;
  c->state = ENDED;
  rx->closed++;
  if (!was_live) {
    rx->in_flight--;
    if (rx->opening) {
      fail_open(rx, "%s%u: %s", rx->opt.prefix, (unsigned)(c - rx->conns), why);
      return;
    }
  }
  diagnose(rx, c, why);
}

/* Writes what is pending; returns -1 when the connection ended. */
static int flush(struct receiver *rx, struct conn *c) {
  while (c->out_len > 0) {
    ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      end_conn(rx, c, strerror(errno));
      return -1;
    }
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len = (uint16_t)(c->out_len - (size_t)w);
  }
  set_events(rx, c);
  return 0;
}

/* Queues one masked frame (payload <= 125 bytes) and writes it; -1 when the connection ended. */
static int send_frame(struct receiver *rx, struct conn *c, uint8_t opcode, const uint8_t *payload,
                      size_t len) {
  if (len > 125 || c->out_len + 6 + len > OUT_CAP) {
    end_conn(rx, c, "outgoing frames not taken by the server (send buffer full)");
    return -1;
  }
  uint8_t *f = c->out + c->out_len;
  uint32_t mask = (uint32_t)next_random(rx);
  f[0] = (uint8_t)(0x80 | opcode);
  f[1] = (uint8_t)(0x80 | len);
  memcpy(f + 2, &mask, 4);
  for (size_t i = 0; i < len; i++) f[6 + i] = payload[i] ^ f[2 + (i & 3)];
  c->out_len = (uint16_t)(c->out_len + 6 + len);
  return flush(rx, c);
}

static void on_text(struct receiver *rx, struct conn *c) {
  if (c->state == LIVE) {
    rx->count++;
    return;
  }
  /* IDENTIFYING: both servers acknowledge with {"event":"identified","uid":"..."} first. */
  static const char ack[] = "\"event\":\"identified\"";
  if (memmem(c->kept, c->kept_len, ack, sizeof ack - 1) == NULL) {
    end_conn(rx, c, "first text message is not the identify acknowledgement");
    return;
  }
  c->state = LIVE;
  rx->identified++;
  rx->in_flight--;
}

/* Acts on a complete frame; returns -1 when the connection ended. */
static int end_frame(struct receiver *rx, struct conn *c) {
  c->hdr_len = 0;
  c->in_payload = 0;
  switch (c->opcode) {
  case 0x8: { /* close: echo the status code, then let go of the socket */
    uint8_t code[2] = {0x03, 0xe8};
    if (c->kept_len >= 2) memcpy(code, c->kept, 2);
    send_frame(rx, c, 0x8, code, 2);
    end_conn(rx, c, "server sent a close frame");
    return -1;
  }
  case 0x9:
    return send_frame(rx, c, 0xA, c->kept, c->kept_len);
  case 0xA:
    return 0;
  default: /* data: 0x0 continuation, 0x1 text, 0x2 binary */
    if (c->opcode != 0x0) c->frag_text = c->opcode == 0x1;
    c->frag = !c->fin;
    if (c->fin && c->frag_text) on_text(rx, c);
    return c->state == ENDED ? -1 : 0;
  }
}

/* The header is complete: validates it; returns -1 when the connection ended. */
static int begin_frame(struct receiver *rx, struct conn *c) {
  uint8_t b0 = c->hdr[0];
  uint8_t len7 = c->hdr[1] & 0x7f;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
  } else if (len7 == 127) {
    len = 0;
    for (int i = 2; i < 10; i++) len = len << 8 | c->hdr[i];
    if (len >> 63) {
      end_conn(rx, c, "protocol error: 64-bit length with the top bit set");
      return -1;
    }
  }
  c->opcode = b0 & 0x0f;
  c->fin = b0 >> 7;
  c->remaining = len;
  c->kept_len = 0;
  c->in_payload = 1;
  if (c->opcode >= 0x8) {
    if (c->opcode > 0xA || !c->fin || len > 125) {
      end_conn(rx, c, "protocol error: bad control frame");
      return -1;
    }
    c->keep = 1;
  } else {
    if (c->opcode > 0x2 || (c->opcode == 0x0) != (c->frag != 0)) {
      end_conn(rx, c, "protocol error: bad data opcode or fragmentation");
      return -1;
    }
    c->keep = c->state == IDENTIFYING && c->opcode == 0x1;
  }
  if (len == 0) return end_frame(rx, c);
  return 0;
}

/* Consumes bytes from the server; returns -1 when the connection ended. */
static int feed(struct receiver *rx, struct conn *c, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (c->in_payload) {
      size_t take = c->remaining < n ? (size_t)c->remaining : n;
      if (c->keep && c->kept_len < sizeof c->kept) {
        size_t room = sizeof c->kept - c->kept_len;
        size_t copy = take < room ? take : room;
        memcpy(c->kept + c->kept_len, p, copy);
        c->kept_len = (uint8_t)(c->kept_len + copy);
      }
      p += take;
      n -= take;
      c->remaining -= take;
      if (c->remaining == 0 && end_frame(rx, c) < 0) return -1;
      continue;
    }
    c->hdr[c->hdr_len++] = *p++;
    n--;
    if (c->hdr_len == 2) {
      if (c->hdr[1] & 0x80) {
        end_conn(rx, c, "protocol error: masked frame from the server");
        return -1;
      }
      if (c->hdr[0] & 0x70) {
        end_conn(rx, c, "protocol error: reserved bits set (no extension was negotiated)");
        return -1;
      }
      uint8_t len7 = c->hdr[1] & 0x7f;
      c->hdr_need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
    }
    if (c->hdr_len >= 2 && c->hdr_len == c->hdr_need && begin_frame(rx, c) < 0) return -1;
  }
  return 0;
}

/* The 101 response is complete in c->hs[0 .. head_len): NULL when acceptable, else why not. */
static const char *check_handshake(const struct conn *c, size_t head_len) {
  if (head_len < 12 || memcmp(c->hs, "HTTP/1.1 101", 12) != 0) return "server did not answer 101";
  char joined[64];
  uint8_t digest[20];
  char expected[29];
  int n = snprintf(joined, sizeof joined, "%s%s", c->key, WS_GUID);
  sha1((const uint8_t *)joined, (size_t)n, digest);
  base64(digest, 20, expected);
  static const char name[] = "\r\nsec-websocket-accept:";
  for (size_t i = 0; i + sizeof name - 1 <= head_len; i++) {
    if (strncasecmp(c->hs + i, name, sizeof name - 1) != 0) continue;
    size_t v = i + sizeof name - 1;
    while (v < head_len && c->hs[v] == ' ') v++;
    if (v + 28 < head_len && memcmp(c->hs + v, expected, 28) == 0 &&
        (c->hs[v + 28] == '\r' || c->hs[v + 28] == ' ')) {
      return NULL;
    }
    return "wrong Sec-WebSocket-Accept";
  }
  return "no Sec-WebSocket-Accept in the 101 response";
}

static void on_connected(struct receiver *rx, struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    end_conn(rx, c, strerror(err));
    return;
  }
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t r = next_random(rx);
    memcpy(nonce + i, &r, 8);
  }
  base64(nonce, 16, c->key);
  int n = snprintf((char *)c->out, OUT_CAP,
                   "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   (unsigned)rx->opt.port, c->key);
  c->out_len = (uint16_t)n;
  c->hs = malloc(HANDSHAKE_CAP);
  if (c->hs == NULL) {
    end_conn(rx, c, "out of memory");
    return;
  }
  c->hs_len = 0;
  c->state = HANDSHAKE;
  flush(rx, c);
}

static void on_handshake_bytes(struct receiver *rx, struct conn *c) {
  ssize_t r = read(c->fd, c->hs + c->hs_len, HANDSHAKE_CAP - c->hs_len);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) {
    end_conn(rx, c, r == 0 ? "connection closed during the handshake" : strerror(errno));
    return;
  }
  c->hs_len = (uint16_t)(c->hs_len + (size_t)r);
  char *end = memmem(c->hs, c->hs_len, "\r\n\r\n", 4);
  if (end == NULL) {
    if (c->hs_len == HANDSHAKE_CAP) end_conn(rx, c, "handshake response too long");
    return;
  }
  size_t head_len = (size_t)(end - c->hs) + 2;
  const char *bad = check_handshake(c, head_len);
  if (bad != NULL) {
    end_conn(rx, c, bad);
    return;
  }
  /* Frames may follow the response in the same read; keep them for the parser. */
  size_t rest = c->hs_len - (head_len + 2);
  uint8_t tail[HANDSHAKE_CAP];
  memcpy(tail, c->hs + head_len + 2, rest);
  free(c->hs);
  c->hs = NULL;
  c->state = IDENTIFYING;
  char uid[96];
  int n = snprintf(uid, sizeof uid, "{\"uid\":\"%s%u\"}", rx->opt.prefix,
                   (unsigned)(c - rx->conns));
  if (send_frame(rx, c, 0x1, (const uint8_t *)uid, (size_t)n) < 0) return;
  if (rest > 0) feed(rx, c, tail, rest);
}

static void on_socket(struct receiver *rx, struct conn *c, uint32_t events) {
  if (c->state == CONNECTING) {
    on_connected(rx, c);
    return;
  }
  if ((events & EPOLLOUT) && c->out_len > 0 && flush(rx, c) < 0) return;
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  if (c->state == HANDSHAKE) {
    on_handshake_bytes(rx, c);
    return;
  }
  ssize_t r = read(c->fd, rx->buf, READ_BUF);
  if (r > 0) {
    feed(rx, c, rx->buf, (size_t)r);
  } else if (r == 0) {
    end_conn(rx, c, "server closed the connection without a close frame");
  } else if (errno != EAGAIN && errno != EINTR) {
    end_conn(rx, c, strerror(errno));
  }
}

static void start_connect(struct receiver *rx) {
  struct conn *c = &rx->conns[rx->opened];
  memset(c, 0, sizeof *c);
  c->state = CONNECTING;
  rx->opened++;
  rx->in_flight++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->state = ENDED;
    rx->in_flight--;
    fail_open(rx, "socket(): %s", strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(rx->opt.port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    end_conn(rx, c, strerror(errno));
    return;
  }
  /* Connected or in progress: either way the socket turns writable. */
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - rx->conns)};
  c->polled = EPOLLOUT;
  if (epoll_ctl(rx->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) end_conn(rx, c, strerror(errno));
}

static void command_open(struct receiver *rx, const char *arg) {
  char *end;
  unsigned long total = strtoul(arg, &end, 10);
  if (*arg == '\0' || *end != '\0' || total > UINT32_MAX - 1) {
    say("error Cannot open: total must be a number: current value is %s", arg);
    return;
  }
  if (rx->opening) {
    say("error Cannot open: an open command is in progress");
    return;
  }
  if (total < rx->opened) {
    say("error Cannot open: total must be >= the %u clients held: current value is %lu",
        rx->opened, total);
    return;
  }
  /* stdin, stdout, stderr, the epoll descriptor and a little slack. */
  if (total + 8 > rx->nofile) {
    say("error Cannot open: %lu clients need more descriptors than RLIMIT_NOFILE %llu", total,
        (unsigned long long)rx->nofile);
    return;
  }
  if (total > rx->cap) {
    struct conn *grown = realloc(rx->conns, total * sizeof *grown);
    if (grown == NULL) {
      say("error Cannot open: out of memory for %lu clients", total);
      return;
    }
    rx->conns = grown;
    rx->cap = (uint32_t)total;
  }
  rx->target = (uint32_t)total;
  rx->opening = 1;
  rx->open_deadline_ms = now_ms() + rx->opt.timeout_ms;
}

static void on_line(struct receiver *rx, char *line) {
  size_t len = strlen(line);
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = '\0';
  if (strcmp(line, "quit") == 0) {
    rx->quit = 1;
  } else if (strncmp(line, "open ", 5) == 0) {
    command_open(rx, line + 5);
  } else if (len > 0) {
    say("error Cannot run command: unknown command: current value is %.64s", line);
  }
}

static void on_stdin(struct receiver *rx) {
  char chunk[LINE_CAP];
  ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) {
    rx->quit = 1;
    return;
  }
  for (ssize_t i = 0; i < r; i++) {
    if (chunk[i] != '\n') {
      if (rx->line_len < LINE_CAP - 1) rx->line[rx->line_len++] = chunk[i];
      else rx->line_overflow = 1;
      continue;
    }
    rx->line[rx->line_len] = '\0';
    if (rx->line_overflow) say("error Cannot run command: line over %d bytes", LINE_CAP - 1);
    else on_line(rx, rx->line);
    rx->line_len = 0;
    rx->line_overflow = 0;
  }
}

/* Opens more sockets while fewer than --in-flight are unidentified, and finishes the command. */
static void drive_open(struct receiver *rx, uint64_t now) {
  if (!rx->opening || rx->open_failed) return;
  while (rx->opened < rx->target && rx->in_flight < rx->opt.in_flight && !rx->open_failed) {
    start_connect(rx);
  }
  if (rx->open_failed) return;
  if (rx->identified == rx->target) {
    rx->opening = 0;
    say("ready %u", rx->target);
  } else if (now >= rx->open_deadline_ms) {
    fail_open(rx, "timed out after %u ms (%u not started, %u unidentified)", rx->opt.timeout_ms,
              rx->target - rx->opened, rx->in_flight);
  }
}

/* Writes the counts that changed, at most once per --report-ms unless `force`. */
static void report(struct receiver *rx, uint64_t now, int force) {
  int changed = rx->count != rx->reported_count || rx->closed != rx->reported_closed;
  if (!changed || (!force && now - rx->last_report_ms < rx->opt.report_ms)) return;
  if (rx->closed != rx->reported_closed) {
    say("closed %u", rx->closed);
    rx->reported_closed = rx->closed;
  }
  if (rx->count != rx->reported_count) {
    say("count %llu", (unsigned long long)rx->count);
    rx->reported_count = rx->count;
  }
  rx->last_report_ms = now;
}

static int wait_timeout(const struct receiver *rx, uint64_t now) {
  int timeout = 1000;
  if (rx->count != rx->reported_count || rx->closed != rx->reported_closed) {
    uint64_t due = rx->last_report_ms + rx->opt.report_ms;
    timeout = due > now ? (int)(due - now) : 0;
  }
  if (rx->opening && rx->open_deadline_ms > now && rx->open_deadline_ms - now < (uint64_t)timeout) {
    timeout = (int)(rx->open_deadline_ms - now);
  }
  return timeout;
}

/* Says goodbye with a close frame where the socket takes it, then closes every descriptor. */
static void close_all(struct receiver *rx) {
  static const uint8_t normal[2] = {0x03, 0xe8};
  for (uint32_t i = 0; i < rx->opened; i++) {
    struct conn *c = &rx->conns[i];
    if (c->state == ENDED) continue;
    if (c->state == LIVE && c->out_len == 0) {
      uint8_t f[8] = {0x88, 0x82};
      uint32_t mask = (uint32_t)next_random(rx);
      memcpy(f + 2, &mask, 4);
      f[6] = normal[0] ^ f[2];
      f[7] = normal[1] ^ f[3];
      (void)send(c->fd, f, sizeof f, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close(c->fd);
    free(c->hs);
    c->state = ENDED;
  }
}

static unsigned long parse_number(const char *name, const char *value, unsigned long max) {
  char *end;
  unsigned long n = value == NULL ? 0 : strtoul(value, &end, 10);
  if (value == NULL || *value == '\0' || *end != '\0' || n == 0 || n > max) {
    fprintf(stderr, "Cannot start: %s must be 1-%lu: current value is %s\n", name, max,
            value == NULL ? "(missing)" : value);
    exit(2);
  }
  return n;
}

static void parse_options(int argc, char **argv, struct options *opt) {
  *opt = (struct options){.prefix = "b", .in_flight = 250, .report_ms = 2, .timeout_ms = 30000};
  for (int i = 1; i < argc; i++) {
    const char *name = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(name, "--port") == 0) {
      opt->port = (uint16_t)parse_number(name, value, 65535);
    } else if (strcmp(name, "--prefix") == 0) {
      if (value == NULL || strlen(value) > MAX_PREFIX || strpbrk(value, "\"\\") != NULL) {
        fprintf(stderr, "Cannot start: --prefix must be 0-%d bytes without quotes: current "
                        "value is %s\n", MAX_PREFIX, value == NULL ? "(missing)" : value);
        exit(2);
      }
      opt->prefix = value;
    } else if (strcmp(name, "--in-flight") == 0) {
      opt->in_flight = (uint32_t)parse_number(name, value, 100000);
    } else if (strcmp(name, "--report-ms") == 0) {
      opt->report_ms = (uint32_t)parse_number(name, value, 10000);
    } else if (strcmp(name, "--timeout-ms") == 0) {
      opt->timeout_ms = (uint32_t)parse_number(name, value, 3600000);
    } else {
      fprintf(stderr, "Cannot start: unknown option: current value is %s\n", name);
      exit(2);
    }
    i++;
  }
  if (opt->port == 0) {
    fprintf(stderr, "Cannot start: --port is required\n");
    exit(2);
  }
}

int main(int argc, char **argv) {
  static struct receiver rx;
  parse_options(argc, argv, &rx.opt);
  signal(SIGPIPE, SIG_IGN);

  /* One descriptor per client: take every descriptor the hard limit allows. */
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  rx.nofile = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 1024;

  if (getrandom(&rx.rng, sizeof rx.rng, 0) != (ssize_t)sizeof rx.rng) rx.rng = (uint64_t)now_ms();
  rx.rng |= 1; /* xorshift must not start at 0 */

  rx.ep = epoll_create1(EPOLL_CLOEXEC);
  if (rx.ep < 0) {
    fprintf(stderr, "Cannot start: epoll_create1: %s\n", strerror(errno));
    return 1;
  }
  struct epoll_event in = {.events = EPOLLIN, .data.u32 = STDIN_TAG};
  if (epoll_ctl(rx.ep, EPOLL_CTL_ADD, STDIN_FILENO, &in) < 0) {
    fprintf(stderr, "Cannot start: stdin cannot be polled: %s\n", strerror(errno));
    return 1;
  }

  static struct epoll_event events[MAX_EVENTS];
  uint64_t now = now_ms();
  while (!rx.quit) {
    int n = epoll_wait(rx.ep, events, MAX_EVENTS, wait_timeout(&rx, now));
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "broadcast_receiver: epoll_wait: %s\n", strerror(errno));
      break;
    }
    for (int i = 0; i < n && !rx.quit; i++) {
      uint32_t tag = events[i].data.u32;
      if (tag == STDIN_TAG) {
        on_stdin(&rx);
      } else if (rx.conns[tag].state != ENDED) {
        on_socket(&rx, &rx.conns[tag], events[i].events);
      }
    }
    now = now_ms();
    drive_open(&rx, now);
    report(&rx, now, 0);
  }
  report(&rx, now, 1);
  close_all(&rx);
  free(rx.conns);
  close(rx.ep);
  return rx.open_failed ? 1 : 0;
}
