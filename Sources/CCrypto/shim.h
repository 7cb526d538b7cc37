#ifndef FLEET_CCRYPTO_SHIM_H
#define FLEET_CCRYPTO_SHIM_H
// OpenSSL's libcrypto, for the history store's content digests (SHA-256). libssh2 already
// links it into fleet; this is the only function FleetStore needs.
#include <stddef.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

// The low-level one-shot SHA256(), not EVP_Digest: no provider lookup per call (OpenSSL 3's
// EVP fetch costs more than hashing a short output), and it still uses SHA-NI/AVX2.
static inline void fleet_sha256(const void *data, size_t length, unsigned char out[32]) {
    SHA256((const unsigned char *)data, length, out);
}
#endif
