/* testprofile.c - a throw-away profile for unit tests (testprofile.h). */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap/basic.h"
#include "tests/unit/testprofile.h"

static fhirauth *
open_on(const char *conf, const char *name)
{
    fhirauth *h = NULL;
    char *detail = NULL;

    if (fhirauth_open_file(&h, conf, name, 0, &detail) != FHIRAUTH_OK)
        bail("cannot open a handle: %s", detail != NULL ? detail : "?");
    return h;
}

void
testprofile_open(const char *prefix, const char *extra, char *name,
                 size_t size, fhirauth **h, fhirauth **other)
{
    char dir[] = "/tmp/testprofile.XXXXXX", conf[64];
    FILE *f;
    int w;

    w = snprintf(name, size, "%s%ld", prefix, (long) getpid());
    if (w < 0 || (size_t) w >= size)
        bail("profile name too long");
    if (mkdtemp(dir) == NULL)
        bail("mkdtemp: %s", strerror(errno));
    snprintf(conf, sizeof(conf), "%s/conf", dir);
    f = fopen(conf, "w");
    if (f == NULL)
        bail("cannot write %s", conf);
    fprintf(f,
            "[profile %s]\nissuer = https://127.0.0.1:9/\nclient_id = c\n"
            "keyring = user\n%s",
            name, extra != NULL ? extra : "");
    if (fclose(f) != 0)
        bail("cannot write %s", conf);
    *h = open_on(conf, name);
    if (other != NULL)
        *other = open_on(conf, name);
    unlink(conf);
    rmdir(dir);
}
