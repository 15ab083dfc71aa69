/*
 * fuzz.h - what the fuzz harnesses in tests/fuzz/ share.
 *
 * Each harness is one LLVMFuzzerTestOneInput. It is built twice: with
 * clang's libFuzzer for `make fuzz` (build/fuzz/tests/fuzz/fuzz_NAME), and
 * with gcc, ASan and UBSan around replay.c's main() for `make test`
 * (build/asan/tests/fuzz/replay_NAME), which runs every file of the
 * harness's corpus in tests/fuzz/corpus/NAME once.
 *
 * A harness checks what must hold for any input (FUZZ_CHECK); a failed
 * check aborts, which libFuzzer reports as a crash like any sanitizer error.
 */
#ifndef NS_FUZZ_H
#define NS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "core/arena.h"
#include "core/embedded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus file being replayed (replay.c sets it), for failure reports; NULL under libFuzzer. */
extern const char *fuzz_input_name;

/* Prints what broke (and the replayed file) and aborts. */
_Noreturn void fuzz_fail(const char *file, int line, const char *what);
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

/* The bytes as a C string in a (cut at the first NUL, as any C caller would see them). */
char *fuzz_cstr(struct arena *a, const uint8_t *data, size_t size);

/*
 * Cuts *data at the first `sep`: returns the part before it as a C string
 * in a, and moves *data and *size past the separator (to the end when
 * there is none).
 */
char *fuzz_take(struct arena *a, const uint8_t **data, size_t *size, uint8_t sep);

/*
 * Decodes %XX escapes in place the way the server does (src/http/server.c):
 * "%00" becomes DEL, so it is refused later rather than cutting the text.
 */
void fuzz_unescape(char *s);

/*
 * Splits a query string the way libmicrohttpd does for the server: at '&',
 * each part at its first '=' (no '=': value NULL), '+' read as a space,
 * then fuzz_unescape. Fills at most max params; *too_many says more came.
 * Strings live in a. Returns the count.
 */
size_t fuzz_query_parse(struct arena *a, const char *qs, struct param *out, size_t max,
                        bool *too_many);

/*
 * Credentials the seeded database knows (seed.c): two API keys, one
 * revoked, and two readers' session tokens and password.
 */
#define FUZZ_ADMIN_KEY "ns_0a1b2c3d_QWRtaW5LZXlGb3JGdXp6aW5nT25seS0wMTIzNDU2Nzg"
#define FUZZ_INGEST_KEY "ns_4e5f6a7b_SW5nZXN0S2V5Rm9yRnV6emluZ09ubHktMDEyMzQ1Njc"
#define FUZZ_REVOKED_KEY "ns_8c9d0e1f_UmV2b2tlZEtleUZvckZ1enppbmdPbmx5LTAxMjM0NTY"
#define FUZZ_MEMBER_SESSION "nss_TWVtYmVyU2Vzc2lvbkZvckZ1enppbmctMDEyMzQ1Njc"
#define FUZZ_TRIAL_SESSION "nss_VHJpYWxTZXNzaW9uRm9yRnV6emluZy0wMTIzNDU2Nzg"
#define FUZZ_MEMBER_EMAIL "member@fuzz.example"
#define FUZZ_PASSWORD "correct horse battery staple"
#define FUZZ_CURSOR_KEY "fuzz-world-cursor-key-0123456789" /* CURSOR_KEY_LEN bytes */

/* The seed data (tests/e2e/fixtures/readers_*.ndjson), built in by schema/embed.sh. */
extern const struct embedded_file fuzz_seed_files[];
extern const size_t fuzz_seed_files_count;

/*
 * A database seeded once with the fixtures' gazetteer and articles, the
 * keys, the readers and picks above, and an api_ctx for handlers. The
 * seeded file is kept aside; fuzz_world_reset puts the working database
 * (and the matcher) back to it after a request that may have written.
 */
struct fuzz_world {
    char dir[256];
    char pristine[300];
    char db[300];
    struct store *st;
    struct api_ctx ctx;
};

/* Makes the world (once per process: a second call returns the first). Aborts on failure. */
struct fuzz_world *fuzz_world_get(void);

/* Puts the working database and the matcher back as seeded. Aborts on failure. */
void fuzz_world_reset(struct fuzz_world *w);

#endif
