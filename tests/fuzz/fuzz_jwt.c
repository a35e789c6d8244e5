/* fuzz_jwt.c - id_token verification and JWKS documents (lib/net/jwt.c), with
 * the entry point tests/unit/jwt-t.c has under -DFA_JWT_FUZZ: the first
 * byte even, a token against the test's fixed JWKS (its keys are made
 * fresh each run); odd, "JWKS\nTOKEN".  A token accepted without a
 * signature from the test's keys aborts. */
#define FA_JWT_FUZZ 1
#include "../unit/jwt-t.c"
