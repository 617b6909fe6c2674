#ifndef CUTOVER_COPENSSL_SHIM_H
#define CUTOVER_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

/* Ed25519 by its NID (a macro) and a memory BIO's contents (a macro over BIO_ctrl). */
static inline EVP_PKEY_CTX *cutover_ed25519_keygen_ctx(void) {
    return EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
}
static inline int cutover_pkey_is_ed25519(const EVP_PKEY *key) {
    return EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}
static inline long cutover_bio_mem_data(BIO *bio, char **out) {
    return BIO_get_mem_data(bio, out);
}
#endif
