#ifndef CUTOVER_COPENSSL_SHIM_H
#define CUTOVER_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

/* Key types by their NIDs (macros), a memory BIO's contents (a macro over BIO_ctrl), and a
   private-key read that never asks for a passphrase. */
static inline EVP_PKEY_CTX *cutover_ed25519_keygen_ctx(void) {
    return EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
}
static inline int cutover_pkey_is_ed25519(const EVP_PKEY *key) {
    return EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}
/* Ed25519 keys from their 32 raw bytes (an OpenSSH key file or agent holds them raw). */
static inline EVP_PKEY *cutover_ed25519_public_raw(const unsigned char *raw) {
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
}
static inline EVP_PKEY *cutover_ed25519_private_raw(const unsigned char *seed) {
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}
static inline int cutover_pkey_is_rsa(const EVP_PKEY *key) {
    return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
}
/* A passphrase callback that refuses: an encrypted key fails instead of prompting on the terminal. */
static inline int cutover_no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}
static inline EVP_PKEY *cutover_read_private_key(BIO *bio) {
    return PEM_read_bio_PrivateKey(bio, NULL, cutover_no_passphrase, NULL);
}
static inline long cutover_bio_mem_data(BIO *bio, char **out) {
    return BIO_get_mem_data(bio, out);
}

/* SHA-256 whose state between 64-byte blocks can be saved and taken up again (a copy resumed
   after a crash goes on hashing where it stopped). The low-level API is deprecated in OpenSSL 3
   but kept; EVP has no way to export a state. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
static inline void cutover_sha256_init(SHA256_CTX *c) { SHA256_Init(c); }
static inline void cutover_sha256_update(SHA256_CTX *c, const void *p, size_t n) { SHA256_Update(c, p, n); }
static inline void cutover_sha256_final(SHA256_CTX *c, unsigned char *out) { SHA256_Final(out, c); }
/* The chaining words and the byte count, only between blocks (num == 0): 0 when it is mid-block. */
static inline int cutover_sha256_export(const SHA256_CTX *c, unsigned int h[8], unsigned long long *bytes) {
    if (c->num != 0) return 0;
    for (int i = 0; i < 8; i++) h[i] = c->h[i];
    *bytes = (((unsigned long long)c->Nh << 32) | c->Nl) >> 3;
    return 1;
}
static inline void cutover_sha256_import(SHA256_CTX *c, const unsigned int h[8], unsigned long long bytes) {
    SHA256_Init(c);
    for (int i = 0; i < 8; i++) c->h[i] = h[i];
    unsigned long long bits = bytes << 3;
    c->Nl = (unsigned int)(bits & 0xffffffffu);
    c->Nh = (unsigned int)(bits >> 32);
    c->num = 0;
}
static inline const EVP_MD *cutover_md5(void) { return EVP_md5(); }

/* CRC32C (Castagnoli), what Cloud Storage reports for every object: the SSE 4.2 instruction
   where the processor has it (about 20 times MD5's speed), else bit by bit (slow). */
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static inline uint32_t cutover_crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
        n--;
    }
    return c32;
}
#endif
/* Bit by bit: slow, but with no table to share between threads. */
static inline uint32_t cutover_crc32c_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    while (n-- > 0) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc;
}
/* Updates `crc` (start with 0) with n bytes. */
static inline uint32_t cutover_crc32c(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return ~cutover_crc32c_sse42(c, p, n);
#endif
    return ~cutover_crc32c_bitwise(c, p, n);
}
#pragma clang diagnostic pop
#endif
