/*
 * conv.c - one prompt through the application's conversation function.
 * Replies are secrets: they are wiped before they are freed.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_appl.h>

#include "internal.h"

void
pamfa_wipe_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

/*
 * Ask one question (style PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON,
 * PAM_TEXT_INFO or PAM_ERROR_MSG).  For prompts, *ret_reply receives the
 * answer (free it with pamfa_wipe_free); ret_reply may be NULL to discard
 * it.
 */
int
pamfa_prompt(const struct pamfa *a, int style, const char *text,
             char **ret_reply)
{
    const struct pam_conv *conv = NULL;
    struct pam_message msg;
    const struct pam_message *msgs[1];
    struct pam_response *resp = NULL;
    int pamret;

    pamret = pam_get_item(a->pamh, PAM_CONV, (const void **) &conv);
    if (pamret != PAM_SUCCESS || conv == NULL || conv->conv == NULL) {
        pamfa_log(a, LOG_ERR, "no conversation function");
        return PAM_CONV_ERR;
    }
    msg.msg_style = style;
    msg.msg = text;
    msgs[0] = &msg;
    pamret = conv->conv(1, msgs, &resp, conv->appdata_ptr);
    if (pamret != PAM_SUCCESS) {
        if (resp != NULL) {
            pamfa_wipe_free(resp[0].resp);
            free(resp);
        }
        pamfa_debug(a, "conversation failed: %s",
                    pam_strerror(a->pamh, pamret));
        return pamret;
    }
    if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
        if (resp == NULL || resp[0].resp == NULL) {
            free(resp);
            return PAM_CONV_ERR;
        }
        if (ret_reply != NULL)
            *ret_reply = resp[0].resp;
        else
            pamfa_wipe_free(resp[0].resp);
        free(resp);
        return PAM_SUCCESS;
    }
    if (resp != NULL) {
        pamfa_wipe_free(resp[0].resp);
        free(resp);
    }
    return PAM_SUCCESS;
}
