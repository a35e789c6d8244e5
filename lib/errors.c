/* errors.c - messages for fhirauth_rc and
 * the library's version. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>

#include "fhirauth.h"
#include "handle.h"

/* A switch without default: so the compiler flags a code without a message. */
const char *
fhirauth_strerror(fhirauth_rc rc)
{
    switch (rc) {
    case FHIRAUTH_OK:
        return "success";
    case FHIRAUTH_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case FHIRAUTH_ERR_CONFIG:
        return "configuration error";
    case FHIRAUTH_ERR_LOGIN_NEEDED:
        return "no session: log in first";
    case FHIRAUTH_ERR_DENIED:
        return "the authorization server refused the request";
    case FHIRAUTH_ERR_UNREACHABLE:
        return "the authorization server could not be reached";
    case FHIRAUTH_ERR_TLS:
        return "TLS or certificate error";
    case FHIRAUTH_ERR_PROTOCOL:
        return "unexpected answer from the server";
    case FHIRAUTH_ERR_KEYRING:
        return "kernel keyring error";
    case FHIRAUTH_ERR_QUOTA:
        return "kernel keyring quota exceeded";
    case FHIRAUTH_ERR_LOCK:
        return "could not take the refresh lock";
    case FHIRAUTH_ERR_NOMEM:
        return "out of memory";
    case FHIRAUTH_ERR_MODULE:
        return "the network module could not be loaded";
    case FHIRAUTH_ERR_UNSUPPORTED:
        return "the server does not offer this";
    case FHIRAUTH_ERR_CANCELLED:
        return "login cancelled";
    case FHIRAUTH_ERR_DPOP_BOUND:
        return "the token is DPoP-bound: it needs a DPoP proof per request";
    case FHIRAUTH_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

const char *
fhirauth_version(void)
{
    return PACKAGE_VERSION;
}
