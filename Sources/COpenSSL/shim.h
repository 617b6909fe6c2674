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
#endif
