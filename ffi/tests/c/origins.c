/* `allowed_origins`, `allow_eio3` and `per_message_deflate_threshold` through the C
 * config: bad values are refused, and a server with a list answers other
 * origins with HTTP 400 and agrees on permessage-deflate (checked by the
 * Rust test over raw HTTP while this serves).
 *
 *   origins        prints "listening <port>", serves until a line on
 *                  stdin, then prints "origins: ok" and exits 0
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "common.h"

int main(void) {
    oxsio_server *bad = NULL;
    if (oxsio_server_new("{\"allowed_origins\":\"http://a.example\"}", OXSIO_DISPATCH_POLL, &bad) !=
        OXSIO_RESULT_INVALID_CONFIG) {
        printf("FAIL: a string instead of a list is accepted\n");
        return 1;
    }
    if (oxsio_server_new("{\"max_json_depth\":\"deep\"}", OXSIO_DISPATCH_POLL, &bad) !=
        OXSIO_RESULT_INVALID_CONFIG) {
        printf("FAIL: a max_json_depth that is not a number is accepted\n");
        return 1;
    }
    if (oxsio_server_new("{\"allow_eio3\":1}", OXSIO_DISPATCH_POLL, &bad) != OXSIO_RESULT_INVALID_CONFIG) {
        printf("FAIL: an allow_eio3 that is not a bool is accepted\n");
        return 1;
    }
    if (oxsio_server_new("{\"per_message_deflate_threshold\":true}", OXSIO_DISPATCH_POLL, &bad) !=
        OXSIO_RESULT_INVALID_CONFIG) {
        printf("FAIL: a per_message_deflate_threshold that is not a number is accepted\n");
        return 1;
    }
    oxsio_server *server = NULL;
    CHECK(oxsio_server_new("{\"allowed_origins\":[\"http://ok.example\"],\"max_json_depth\":300,"
                           "\"http_compression_threshold\":-1,\"per_message_deflate_threshold\":1024,"
                           "\"allow_eio3\":true}",
                           OXSIO_DISPATCH_POLL, &server));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    printf("listening %u\n", (unsigned)port);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    CHECK(oxsio_server_free(server));
    printf("origins: ok\n");
    return 0;
}
