/* fuzz_git_credential.c - git's credential request as git-credential-fhir
 * reads it (read_request, then request_url).  Both are static in the
 * helper, which stays one file: this target compiles
 * helper/git-credential-fhir.c into itself with its main renamed, and
 * hands the input over through a memfd, as git would through a pipe.
 * Its refusals go to stderr (run with -close_fd_mask=2 for quiet). */
#include "autoconf.h"

#define main fa_git_credential_main
#include "../../helper/git-credential-fhir.c"
#undef main

#include <sys/mman.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    struct request rq;
    bool oom;
    char *url;

    if (fd < 0) {
        fd = memfd_create("fuzz-git-credential", MFD_CLOEXEC);
        if (fd < 0)
            abort();
    }
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0
        || write_all(fd, (const char *) data, size) != 0
        || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    if (read_request(fd, &rq) == 0) {
        url = request_url(&rq, &oom);
        free(url);
    }
    free(rq.buf);
    return 0;
}
