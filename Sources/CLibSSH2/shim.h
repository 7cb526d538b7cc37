#ifndef FLEET_CLIBSSH2_SHIM_H
#define FLEET_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
// libssh2's convenience API is C macros, which Swift cannot call: re-export the ones
// FleetSSH uses as static inline functions here.

static inline LIBSSH2_SESSION *fleet_session_init(void) {
    return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

// A session's socket reads, through libssh2's recv callback (perf: fewer recv(2) calls).
// libssh2 1.10 reads the server's banner ONE BYTE per recv() (~40 calls per login), and
// asks again after every EAGAIN while it looks for packets on both channel streams. Here,
// small reads are served from a 1 KiB buffer filled by one recv(), and once recv() said
// EAGAIN the socket counts as empty until the event loop sees it readable again
// (`drained` is cleared by fleet_recv_rearm): poll(2) is level-triggered, so data that
// arrived meanwhile wakes the loop at once. libssh2 only waits for input after a recv
// EAGAIN, which this callback returns only with its buffer empty, so no buffered byte is
// ever left waiting for a poll wake-up.
// recv(2) and errno under other names: including <sys/socket.h>/<errno.h> here would move
// their declarations into this module and hide them from Swift's Glibc (SOCK_STREAM …).
extern ssize_t fleet_sys_recv(int fd, void *buf, size_t len, int flags) __asm__("recv");
extern int *fleet_errno_location(void) __asm__("__errno_location");
enum { FLEET_ENOENT = 2, FLEET_EAGAIN = 11 };  // Linux values; EWOULDBLOCK == EAGAIN there
typedef struct {
    unsigned char buf[1024];
    size_t start, end;
    int drained;
    // Bytes recv() returned so far: with the bytes still queued in the socket, what the
    // server has sent (keepalive answers included), for the silence check.
    unsigned long long received;
} fleet_recv_state;

static inline ssize_t fleet_recv_cb(libssh2_socket_t fd, void *buffer, size_t length, int flags, void **abstract) {
    fleet_recv_state *st = (fleet_recv_state *)*abstract;
    if (st->end > st->start) {
        size_t n = st->end - st->start;
        if (n > length) n = length;
        memcpy(buffer, st->buf + st->start, n);
        st->start += n;
        if (st->start == st->end) st->start = st->end = 0;
        return (ssize_t)n;
    }
    if (st->drained) return -FLEET_EAGAIN;
    int small = length < sizeof(st->buf);
    ssize_t r = fleet_sys_recv(fd, small ? (void *)st->buf : buffer, small ? sizeof(st->buf) : length, flags);
    if (r < 0) {
        // As libssh2's own _libssh2_recv: negative errno, EWOULDBLOCK/ENOENT as EAGAIN.
        int e = *fleet_errno_location();
        if (e == FLEET_EAGAIN || e == FLEET_ENOENT) { st->drained = 1; return -FLEET_EAGAIN; }
        return -e;
    }
    if (r > 0) st->received += (unsigned long long)r;
    if (!small || r == 0) return r;
    size_t n = (size_t)r < length ? (size_t)r : length;
    memcpy(buffer, st->buf, n);
    st->start = n;
    st->end = (size_t)r;
    if (st->start == st->end) st->start = st->end = 0;
    return (ssize_t)n;
}

static inline LIBSSH2_SESSION *fleet_session_init_buffered(fleet_recv_state *st) {
    memset(st, 0, sizeof(*st));
    LIBSSH2_SESSION *s = libssh2_session_init_ex(NULL, NULL, NULL, st);
    if (s) libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, (void *)fleet_recv_cb);
    return s;
}
static inline void fleet_recv_rearm(fleet_recv_state *st) { st->drained = 0; }
// Bytes the server has sent on this socket: read by libssh2 so far plus still queued in the
// kernel (FIONREAD; ioctl is variadic, so Swift cannot call it). -1 on error.
#include <sys/ioctl.h>
static inline long long fleet_bytes_from_server(int fd, const fleet_recv_state *st) {
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0) return -1;
    return (long long)st->received + queued;
}
static inline int fleet_session_disconnect(LIBSSH2_SESSION *s, const char *why) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, why, "");
}
static inline LIBSSH2_CHANNEL *fleet_channel_open_session(LIBSSH2_SESSION *s) {
    return libssh2_channel_open_ex(s, "session", sizeof("session") - 1,
                                   LIBSSH2_CHANNEL_WINDOW_DEFAULT, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}
static inline int fleet_channel_exec(LIBSSH2_CHANNEL *c, const char *command) {
    return libssh2_channel_process_startup(c, "exec", sizeof("exec") - 1, command, (unsigned int)strlen(command));
}
// Exit status versus none. libssh2 1.10 (up to 1.11.1) keeps a channel's exit status in
// the channel struct, starts it at 0 and has no call that says whether an `exit-status`
// message arrived, so "exited 0" and "closed without a status" read the same (upstream added
// libssh2_channel_has_exit_status() after 1.11.1, for this reason). fleet writes a marker no
// OpenSSH sends (INT_MIN; exit codes are 0..255) into that slot right after the channel
// opens; libssh2 overwrites it only when an exit-status message arrives. The slot is found
// by writing the marker where the released layouts put it and reading it back through
// libssh2's own getter; a place that does not read back is restored at once (the loop
// thread owns the channel and nothing runs in between). Returns 1 when the marker is set.
#include <limits.h>
#include <stddef.h>
struct fleet_channel_head_1_10 { void *next, *prev, *head; unsigned char *type; unsigned type_len; int exit_status; };
struct fleet_channel_head_1_11_1 { void *next, *prev, *head; unsigned char *type; size_t type_len; int exit_status; };
enum { FLEET_NO_EXIT_STATUS = INT_MIN };
static inline int fleet_channel_mark_no_exit_status(LIBSSH2_CHANNEL *c) {
    const size_t places[2] = { offsetof(struct fleet_channel_head_1_10, exit_status),
                               offsetof(struct fleet_channel_head_1_11_1, exit_status) };
    for (int i = 0; i < 2; i++) {
        int *slot = (int *)((char *)c + places[i]);
        int saved = *slot;
        if (saved != 0) continue;  // a fresh channel's status is 0; anything else is not the slot
        *slot = FLEET_NO_EXIT_STATUS;
        if (libssh2_channel_get_exit_status(c) == FLEET_NO_EXIT_STATUS) return 1;
        *slot = saved;
    }
    return 0;
}
static inline ssize_t fleet_channel_read(LIBSSH2_CHANNEL *c, int stream, char *buf, size_t len) {
    return libssh2_channel_read_ex(c, stream, buf, len);
}
static inline ssize_t fleet_channel_write(LIBSSH2_CHANNEL *c, const char *buf, size_t len) {
    return libssh2_channel_write_ex(c, 0, buf, len);
}
static inline int fleet_userauth_publickey_fromfile(LIBSSH2_SESSION *s, const char *user,
                                                    const char *privkey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, (unsigned int)strlen(user), NULL, privkey, passphrase);
}
static inline int fleet_userauth_publickey_frommemory(LIBSSH2_SESSION *s, const char *user,
                                                      const char *privkey, size_t privlen, const char *passphrase) {
    return libssh2_userauth_publickey_frommemory(s, user, strlen(user), NULL, 0, privkey, privlen, passphrase);
}
static inline LIBSSH2_KNOWNHOSTS *fleet_knownhost_init(LIBSSH2_SESSION *s) { return libssh2_knownhost_init(s); }
static inline int fleet_knownhost_readfile(LIBSSH2_KNOWNHOSTS *kh, const char *path) {
    return libssh2_knownhost_readfile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}
static inline int fleet_hostkey_type_to_knownhost(int t) {
    switch (t) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}
static inline int fleet_knownhost_plain_raw(void) {
    return LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
}
static inline int fleet_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
// epoll for the SSH event loops (Glibc's Swift module does not export <sys/epoll.h>);
// struct epoll_event is packed, so Swift only sees fds and flags.
#include <sys/epoll.h>
static inline int fleet_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
/// op: 0 add, 1 modify, 2 delete. Returns epoll_ctl's result (errno untouched).
static inline int fleet_epoll_set(int ep, int op, int fd, int in, int out) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0);
    e.data.fd = fd;
    return epoll_ctl(ep, op == 0 ? EPOLL_CTL_ADD : op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &e);
}
/// Ready fds into `fds` (at most `max`, capped at 256); returns epoll_wait's result.
static inline int fleet_epoll_wait(int ep, int *fds, int max, int timeout_ms) {
    struct epoll_event ev[256];
    if (max > 256) max = 256;
    int n = epoll_wait(ep, ev, max, timeout_ms);
    for (int i = 0; i < n; i++) fds[i] = ev[i].data.fd;
    return n;
}
static inline int fleet_block_inbound(void) { return LIBSSH2_SESSION_BLOCK_INBOUND; }
static inline int fleet_block_outbound(void) { return LIBSSH2_SESSION_BLOCK_OUTBOUND; }
// Fingerprints are SHA-256 (libssh2 links libcrypto already: no new dependency).
static inline int fleet_sha256(const unsigned char *data, size_t len, unsigned char out[32]) {
    unsigned int outlen = 32;
    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL);
}
// Ed25519 user keys signed in-process with one EVP_PKEY per key file: libssh2 1.10's
// publickey_fromfile re-reads and re-parses the key (trying OpenSSL's PEM decoders first)
// for every session, which costs about 0.5 ms of CPU per login under OpenSSL 3.
static inline EVP_PKEY *fleet_ed25519_key(const unsigned char *seed32) {
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed32, 32);
}
static inline void fleet_pkey_free(EVP_PKEY *k) { EVP_PKEY_free(k); }
static inline int fleet_ed25519_sign_cb(LIBSSH2_SESSION *session, unsigned char **sig, size_t *sig_len,
                                        const unsigned char *data, size_t data_len, void **abstract) {
    (void)session;
    EVP_PKEY *pkey = (EVP_PKEY *)*abstract;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 64;
    // libssh2's default allocator is malloc; it frees the signature with free().
    unsigned char *out = malloc(64);
    int ok = ctx && out && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1
        && EVP_DigestSign(ctx, out, &len, data, data_len) == 1 && len == 64;
    EVP_MD_CTX_free(ctx);
    if (!ok) { free(out); return -1; }
    *sig = out;   // raw signature: libssh2 wraps it as string "ssh-ed25519" + string sig
    *sig_len = len;
    return 0;
}
static inline int fleet_userauth_ed25519(LIBSSH2_SESSION *s, const char *user, const unsigned char *pub, size_t publen,
                                         void **abstract) {
    return libssh2_userauth_publickey(s, user, pub, publen, fleet_ed25519_sign_cb, abstract);
}
// known_hosts `|1|` entries: the HMAC key (the salt) is fixed per entry, so fleet keeps the
// SHA-1 states after the inner and outer pads and finishes each lookup with two short SHA-1
// runs, instead of a full OpenSSL 3 HMAC() (algorithm fetch included) per entry per login.
// The low-level SHA-1 API is deprecated in OpenSSL 3 but is the cheap one here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>
typedef struct { SHA_CTX inner, outer; } fleet_hmac_sha1_state;
static inline void fleet_hmac_sha1_prepare(fleet_hmac_sha1_state *st, const unsigned char *key, size_t keylen) {
    unsigned char k[64] = {0}, pad[64];
    if (keylen > 64) SHA1(key, keylen, k); else memcpy(k, key, keylen);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    SHA1_Init(&st->inner); SHA1_Update(&st->inner, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    SHA1_Init(&st->outer); SHA1_Update(&st->outer, pad, 64);
}
static inline void fleet_hmac_sha1_finish(const fleet_hmac_sha1_state *st, const unsigned char *data, size_t len,
                                          unsigned char out[20]) {
    unsigned char ih[20];
    SHA_CTX c = st->inner;
    SHA1_Update(&c, data, len); SHA1_Final(ih, &c);
    c = st->outer;
    SHA1_Update(&c, ih, 20); SHA1_Final(out, &c);
}
#pragma GCC diagnostic pop
#endif
