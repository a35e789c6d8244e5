/* login_device.c - fhirauth_login_device(): the RFC 8628 polling loop over
 * the network module's device_start / device_poll, as the grant step of
 * fa_login_run(). */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "token.h"
#include "util.h"

/* RFC 8628 §3.5: slow_down adds 5 seconds to the interval for good. */
#define SLOW_DOWN_STEP 5
/* Never poll faster than this, whatever the server says. */
#define MIN_INTERVAL 1
/* Backing off after transient failures stops growing here. */
#define MAX_BACKOFF 60

/* Sleep whole seconds, resuming after signals. */
static void
wait_seconds(long s)
{
    struct timespec ts = { s, 0 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A device login's callback and its argument. */
struct device_login {
    fhirauth_device_cb cb;
    void *arg;
};

static fhirauth_rc
device_ready(fhirauth *h, const struct fa_net_ops *ops, void *varg)
{
    (void) varg;
    if (ops->device_start == NULL || ops->device_poll == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_UNSUPPORTED,
                       "this build cannot do "
                       "the device flow");
    return FHIRAUTH_OK;
}

/* Start a device authorization, show the code, and poll until the user
 * approves it, denies it, cancels, or the code expires. */
static fhirauth_rc
device_grant(fhirauth *h, const struct fa_net_ops *ops,
             const struct fa_net_ctx *ctx, const struct fa_endpoints *ep,
             void *varg, struct fa_grant_result *out)
{
    const struct device_login *a = varg;
    fhirauth_device_cb cb = a->cb;
    void *arg = a->arg;
    struct fa_device_auth dev;
    fhirauth_device_info info;
    char oerr[64];
    char last[FA_DETAIL_MAX];
    long interval, left;
    time_t deadline;
    fhirauth_rc rc;

    if (ep->device_authorization_endpoint == NULL)
        return fa_fail(&h->err, FHIRAUTH_ERR_UNSUPPORTED,
                       "the server offers no "
                       "device authorization endpoint");
    memset(&dev, 0, sizeof(dev));
    rc = ops->device_start(ctx, ep, &dev, &h->err);
    if (rc != FHIRAUTH_OK)
        goto out;
    info.verification_uri = dev.verification_uri;
    info.verification_uri_complete = dev.verification_uri_complete;
    info.user_code = dev.user_code;
    info.expires_in = dev.expires_in;
    if (cb(FHIRAUTH_DEVICE_SHOW, &info, arg) != 0) {
        rc = fa_fail(&h->err, FHIRAUTH_ERR_CANCELLED, "login cancelled");
        goto out;
    }
    interval = dev.interval > MIN_INTERVAL ? dev.interval : MIN_INTERVAL;
    deadline = time(NULL) + dev.expires_in;
    last[0] = '\0';
    for (;;) {
        /* No sleeping past the code's end (a long interval or backoff). */
        left = (long) (deadline - time(NULL));
        wait_seconds(interval < left ? interval : (left > 0 ? left : 0));
        if (time(NULL) >= deadline) {
            /* Still failing to reach the server: say that, not "denied". */
            if (last[0] != '\0')
                rc = fa_fail(&h->err, FHIRAUTH_ERR_UNREACHABLE,
                             "the code expired "
                             "while the server could not be reached: %s",
                             last);
            else
                rc = fa_fail(&h->err, FHIRAUTH_ERR_DENIED,
                             "the code expired "
                             "before it was approved");
            goto out;
        }
        if (cb(FHIRAUTH_DEVICE_WAIT, &info, arg) != 0) {
            rc = fa_fail(&h->err, FHIRAUTH_ERR_CANCELLED, "login cancelled");
            goto out;
        }
        oerr[0] = '\0';
        fa_token_response_free(&out->resp);
        rc = ops->device_poll(ctx, ep, &dev, &out->resp, oerr, sizeof(oerr),
                              &h->err);
        if (rc == FHIRAUTH_OK)
            break;
        /* RFC 8628 §3.5: after a connection timeout poll less often and
         * retry; the same for refused connections, 5xx and 429, all of
         * which may pass while the user is still approving. */
        if (rc == FHIRAUTH_ERR_UNREACHABLE) {
            fa_strlcpy(last, h->err.msg, sizeof(last));
            interval = interval * 2 < MAX_BACKOFF ? interval * 2 : MAX_BACKOFF;
            continue;
        }
        last[0] = '\0';
        if (strcmp(oerr, "authorization_pending") == 0)
            continue;
        if (strcmp(oerr, "slow_down") == 0) {
            interval += SLOW_DOWN_STEP;
            continue;
        }
        /* access_denied, expired_token, and every other error end it. */
        if (rc == FHIRAUTH_ERR_LOGIN_NEEDED)
            rc = FHIRAUTH_ERR_DENIED;
        goto out;
    }
    fa_err_clear(&h->err);
out:
    fa_device_auth_free(&dev);
    return rc;
}

fhirauth_rc
fhirauth_login_device(fhirauth *h, fhirauth_device_cb cb, void *arg)
{
    static const struct fa_grant_step step = { device_ready, device_grant };
    struct device_login a;

    if (h == NULL || cb == NULL)
        return FHIRAUTH_ERR_INVALID_ARGUMENT;
    a.cb = cb;
    a.arg = arg;
    return fa_login_run(h, &step, &a);
}
