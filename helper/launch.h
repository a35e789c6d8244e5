/* launch.h - the browser's way to the authorization URL without the URL
 * in any process's argv (launch.c). */
#ifndef FHIR_TOKEN_LAUNCH_H
#define FHIR_TOKEN_LAUNCH_H

#include <stddef.h>

/*
 * Write a page that redirects to url (HTML-escaped; a meta refresh and a
 * link) into a new file of mode 0600 in the user's runtime directory
 * ($XDG_RUNTIME_DIR when it is a private directory of the user's, else
 * /tmp/pam_fhir-UID, mode 0700, the user's); its path in path.  Until
 * launch_page_remove, SIGINT, SIGTERM and SIGHUP remove it too.  0, or -1
 * with a message in err and nothing left behind.
 */
int launch_page_write(const char *url, char *path, size_t pathlen, char *err,
                      size_t errlen);

/* Remove the page (path as launch_page_write gave it; "" is nothing). */
void launch_page_remove(const char *path);

#endif
