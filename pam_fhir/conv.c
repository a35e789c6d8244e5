/*
 * conv.c - prompts through the application's conversation function: one
 * message, or information text and a prompt in one call (the device
 * prompt with its QR code).  Replies are secrets: they are wiped before
 * they are freed.
 */
#include "autoconf.h"

#include <stdbool.h>
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

/* The longest message text (without its NUL) that every host takes:
 * Linux-PAM's PAM_MAX_MSG_SIZE counts the NUL. */
#define MSG_MAX (PAM_MAX_MSG_SIZE - 1)

/* Does a UTF-8 character start at p? */
static bool
char_start(const char *p)
{
    return ((unsigned char) *p & 0xc0) != 0x80;
}

/*
 * Cut text into PAM_TEXT_INFO messages of at most MSG_MAX bytes, at line
 * ends where possible (the newline at a cut is dropped: hosts end every
 * message with one), else at a character boundary.  The pieces are
 * copied into *store (freed by the caller), their starts put into
 * texts[*n...].  Returns false when more than max messages are needed.
 */
static bool
split_info(const char *text, char **store, const char **texts, int *n, int max)
{
    size_t len = strlen(text), off = 0;
    char *out, *w;

    /* Drop one trailing newline: the host adds its own. */
    if (len > 0 && text[len - 1] == '\n')
        len--;
    out = malloc(len + PAM_MAX_NUM_MSG + 1);
    if (out == NULL)
        return false;
    *store = out;
    w = out;
    while (off < len) {
        size_t take = len - off, next;

        if (take > MSG_MAX) {
            size_t i;

            take = 0;
            for (i = MSG_MAX; i > 0; i--) {
                if (text[off + i] == '\n') {
                    take = i;
                    break;
                }
            }
            if (take == 0) {
                take = MSG_MAX;
                while (take > 0 && !char_start(text + off + take))
                    take--;
                if (take == 0)
                    return false;
            }
        }
        next = off + take;
        if (next < len && text[next] == '\n')
            next++;
        if (*n >= max)
            return false;
        memcpy(w, text + off, take);
        w[take] = '\0';
        texts[(*n)++] = w;
        w += take + 1;
        off = next;
    }
    return true;
}

/*
 * Show info (may be NULL or long: cut into PAM_TEXT_INFO messages of at
 * most PAM_MAX_MSG_SIZE bytes) and ask prompt (PAM_PROMPT_ECHO_OFF) in a
 * single conversation call, as sshd shows information text only together
 * with the next prompt.  A prompt longer than one message keeps its last
 * line as the prompt and sends the lines before it as information.
 * *ret_reply as pamfa_prompt (ret_reply may be NULL).
 */
int
pamfa_prompt_info(const struct pamfa *a, const char *info, const char *prompt,
                  char **ret_reply)
{
    const struct pam_conv *conv = NULL;
    struct pam_message msg[PAM_MAX_NUM_MSG];
    const struct pam_message *msgs[PAM_MAX_NUM_MSG];
    const char *texts[PAM_MAX_NUM_MSG];
    struct pam_response *resp = NULL;
    char *store1 = NULL, *store2 = NULL;
    const char *last;
    int n = 0, i, pamret;

    pamret = pam_get_item(a->pamh, PAM_CONV, (const void **) &conv);
    if (pamret != PAM_SUCCESS || conv == NULL || conv->conv == NULL) {
        pamfa_log(a, LOG_ERR, "no conversation function");
        return PAM_CONV_ERR;
    }
    if (info != NULL && info[0] != '\0'
        && !split_info(info, &store1, texts, &n, PAM_MAX_NUM_MSG - 1)) {
        pamret = PAM_BUF_ERR;
        goto out;
    }
    last = prompt;
    if (strlen(prompt) > MSG_MAX) {
        const char *nl = strrchr(prompt, '\n');
        char *head;

        if (nl == NULL || strlen(nl + 1) > MSG_MAX) {
            pamret = PAM_BUF_ERR;
            goto out;
        }
        head = strndup(prompt, (size_t) (nl - prompt));
        if (head == NULL) {
            pamret = PAM_BUF_ERR;
            goto out;
        }
        if (!split_info(head, &store2, texts, &n, PAM_MAX_NUM_MSG - 1)) {
            pamfa_wipe_free(head);
            pamret = PAM_BUF_ERR;
            goto out;
        }
        pamfa_wipe_free(head);
        last = nl + 1;
    }
    /* Contiguous messages and an array of pointers to them: right for
     * both readings of the pam_message argument (Linux and Solaris). */
    for (i = 0; i < n; i++) {
        msg[i].msg_style = PAM_TEXT_INFO;
        msg[i].msg = texts[i];
    }
    msg[n].msg_style = PAM_PROMPT_ECHO_OFF;
    msg[n].msg = last;
    n++;
    for (i = 0; i < n; i++)
        msgs[i] = &msg[i];
    pamret = conv->conv(n, msgs, &resp, conv->appdata_ptr);
    if (pamret == PAM_SUCCESS && (resp == NULL || resp[n - 1].resp == NULL))
        pamret = PAM_CONV_ERR;
    if (pamret != PAM_SUCCESS)
        pamfa_debug(a, "conversation failed: %s",
                    pam_strerror(a->pamh, pamret));
    if (resp != NULL) {
        for (i = 0; i < n; i++) {
            if (i == n - 1 && pamret == PAM_SUCCESS && ret_reply != NULL)
                *ret_reply = resp[i].resp;
            else
                pamfa_wipe_free(resp[i].resp);
        }
        free(resp);
    }
out:
    if (store1 != NULL)
        free(store1);
    if (store2 != NULL)
        free(store2);
    return pamret;
}
