/*  xinf_gateway_tls: the gateway's certificate and private key for HTTPS
    (--tls-cert, --tls-key), read and checked before the daemon starts.

    libmicrohttpd serves TLS with GnuTLS, which it links. The files are
    checked here with GnuTLS itself so that a problem is said plainly: a
    file that is missing, unreadable, not a regular file or over 1 MiB, a
    PEM that does not parse, or a key that does not belong to the
    certificate. The key's bytes are wiped when freed.
*/
#include "xinf_gateway_private.h"
#include <gnutls/gnutls.h>
#include <sys/stat.h>

#define TLS_FILE_MAX  (1 << 20)

//  The whole file as a string; NULL with the reason in 'error'.
static char *
s_read (const char *flag, const char *path, char *error, size_t error_size)
{
    struct stat info;
    FILE *file = fopen (path, "rb");
    if (!file || fstat (fileno (file), &info) || !S_ISREG (info.st_mode) || info.st_size <= 0
    ||  info.st_size > TLS_FILE_MAX) {
        const char *why = !file ? strerror (errno) : !S_ISREG (info.st_mode) ? "not a regular file"
                        : "empty or over 1 MiB";
        snprintf (error, error_size, "cannot read %s %s: %s", flag, path, why);
        if (file)
            fclose (file);
        return NULL;
    }
    char *text = calloc (1, (size_t) info.st_size + 1);
    assert (text);
    size_t size = fread (text, 1, (size_t) info.st_size, file);
    fclose (file);
    if (size != (size_t) info.st_size) {
        snprintf (error, error_size, "cannot read %s %s: short read", flag, path);
        free (text);
        return NULL;
    }
    return text;
}

int
xinf_gw_tls_load (const char *cert_path, const char *key_path, char **cert, char **key, char *error, size_t error_size)
{
    *cert = *key = NULL;
    if (!cert_path || !key_path) {
        snprintf (error, error_size, "--tls-cert and --tls-key go together (HTTPS needs both)");
        return -1;
    }
    if (MHD_is_feature_supported (MHD_FEATURE_TLS) != MHD_YES) {
        snprintf (error, error_size, "this libmicrohttpd was built without TLS: --tls-cert cannot be used");
        return -1;
    }
    if (!(*cert = s_read ("--tls-cert", cert_path, error, error_size))
    ||  !(*key = s_read ("--tls-key", key_path, error, error_size))) {
        xinf_gw_tls_free (cert, key);
        return -1;
    }
    gnutls_certificate_credentials_t credentials;
    int rc = gnutls_certificate_allocate_credentials (&credentials);
    if (rc == GNUTLS_E_SUCCESS) {
        gnutls_datum_t cert_data = { (unsigned char *) *cert, (unsigned int) strlen (*cert) };
        gnutls_datum_t key_data = { (unsigned char *) *key, (unsigned int) strlen (*key) };
        rc = gnutls_certificate_set_x509_key_mem (credentials, &cert_data, &key_data, GNUTLS_X509_FMT_PEM);
        gnutls_certificate_free_credentials (credentials);
    }
    if (rc < 0) {
        if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
            snprintf (error, error_size, "the private key in --tls-key %s does not belong to the certificate in "
                      "--tls-cert %s", key_path, cert_path);
        else
            snprintf (error, error_size, "cannot use --tls-cert %s with --tls-key %s (PEM files): %s", cert_path,
                      key_path, gnutls_strerror (rc));
        xinf_gw_tls_free (cert, key);
        return -1;
    }
    return 0;
}

void
xinf_gw_tls_free (char **cert, char **key)
{
    if (*key)
        explicit_bzero (*key, strlen (*key));
    free (*cert);
    free (*key);
    *cert = *key = NULL;
}
