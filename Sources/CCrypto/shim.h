#ifndef FLEET_CCRYPTO_SHIM_H
#define FLEET_CCRYPTO_SHIM_H
// OpenSSL's libcrypto, for the history store's content digests (SHA-256). libssh2 already
// links it into fleet; this is the only function FleetStore needs.
#include <stddef.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

// The low-level SHA256_Init/Update/Final, not EVP_Digest nor the one-shot SHA256(): in
// OpenSSL 3 SHA256() is EVP_Q_digest, which fetches the algorithm from the provider on
// every call (~8,000 instructions, more than hashing a short output; most outputs are
// short). The low-level functions call the implementation directly (still SHA-NI/AVX2).
static inline void fleet_sha256(const void *data, size_t length, unsigned char out[32]) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, length);
    SHA256_Final(out, &c);
}
#endif
