/* The emitter through the C ABI: a process that is not a server publishes
 * to the servers of a cluster on the classic Redis adapter (the test runs
 * an oxsio node and a Node.js node, with clients, and checks what they get).
 * Waits for a line on stdin between steps so the test can observe each one.
 *
 *   emitter <redis port>    prints "step <n>" before waiting, "emitter: ok" at the end
 *
 * Steps: 1 emit to room1 ("chat", "from C", 1); 2 binary to room2;
 * 3 room1 except room2; 4 namespace /news; 5 serverSideEmit "relay";
 * 6 socketsJoin room7 for room1, then emit to room7; 7 socketsLeave room7,
 * then emit to room7; 8 disconnectSockets(close) of room2.
 * Also checks misuse: reserved event, OXSIO_TARGET_LOCAL, bad config,
 * wrong handle type, NULL free.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

static void step(int n) {
    char line[16];
    printf("step %d\n", n);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: emitter <redis port>\n");
        return 2;
    }
    char config[128];
    snprintf(config, sizeof config, "{\"url\": \"redis://127.0.0.1:%s\", \"timeout_ms\": 2000}", argv[1]);
    oxsio_emitter *e = NULL;
    CHECK(oxsio_emitter_new(config, &e));

    const char *room1[] = {"room1"};
    const char *room2[] = {"room2"};
    const char *room7[] = {"room7"};
    oxsio_target to1 = {0};
    to1.rooms = room1;
    to1.room_count = 1;
    CHECK(oxsio_emitter_emit(e, &to1, "chat", "[\"from C\", 1]", NULL, 0));
    step(1);

    oxsio_target to2 = {0};
    to2.rooms = room2;
    to2.room_count = 1;
    const uint8_t bytes[] = {1, 2, 3};
    oxsio_buf buf = {bytes, sizeof bytes};
    CHECK(oxsio_emitter_emit(e, &to2, "bin", "[{\"_placeholder\": true, \"num\": 0}]", &buf, 1));
    step(2);

    oxsio_target ex = to1;
    ex.except_rooms = room2;
    ex.except_count = 1;
    CHECK(oxsio_emitter_emit(e, &ex, "ex", NULL, NULL, 0));
    step(3);

    oxsio_target news = {0};
    news.nsp = "/news";
    CHECK(oxsio_emitter_emit(e, &news, "headline", "[\"h\"]", NULL, 0));
    step(4);

    CHECK(oxsio_emitter_server_side_emit(e, NULL, "relay", "[\"x\"]", NULL, 0));
    step(5);

    oxsio_target to7 = {0};
    to7.rooms = room7;
    to7.room_count = 1;
    CHECK(oxsio_emitter_sockets_join(e, &to1, "room7"));
    sleep_ms(200);
    CHECK(oxsio_emitter_emit(e, &to7, "r7", NULL, NULL, 0));
    step(6);

    CHECK(oxsio_emitter_sockets_leave(e, &to1, "room7"));
    sleep_ms(200);
    CHECK(oxsio_emitter_emit(e, &to7, "r7", NULL, NULL, 0));
    step(7);

    CHECK(oxsio_emitter_disconnect_sockets(e, &to2, true));
    step(8);

    /* Misuse is an error code, never a crash. */
    int failed = 0;
    if (oxsio_emitter_emit(e, NULL, "disconnect", NULL, NULL, 0) != OXSIO_RESULT_RESERVED_EVENT) failed++;
    oxsio_target local = {0};
    local.flags = OXSIO_TARGET_LOCAL;
    if (oxsio_emitter_emit(e, &local, "x", NULL, NULL, 0) != OXSIO_RESULT_INVALID_ARGUMENT) failed++;
    oxsio_emitter *bad = NULL;
    if (oxsio_emitter_new("{\"url\": \"redis://x\", \"nodes\": []}", &bad) != OXSIO_RESULT_INVALID_CONFIG) failed++;
    if (oxsio_emitter_new("{\"urls\": 1}", &bad) != OXSIO_RESULT_INVALID_CONFIG) failed++;
    if (bad != NULL) failed++;
    oxsio_server *srv = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &srv));
    if (oxsio_emitter_emit((const oxsio_emitter *)srv, NULL, "x", NULL, NULL, 0) != OXSIO_RESULT_WRONG_HANDLE_TYPE) failed++;
    if (oxsio_emitter_free((oxsio_emitter *)srv) != OXSIO_RESULT_WRONG_HANDLE_TYPE) failed++;
    CHECK(oxsio_server_free(srv));
    CHECK(oxsio_emitter_free(NULL));
    CHECK(oxsio_emitter_free(e));
    if (oxsio_emitter_emit(e, NULL, "x", NULL, NULL, 0) != OXSIO_RESULT_INVALID_HANDLE) failed++;
    if (failed) {
        printf("FAIL: %d misuse checks\n", failed);
        return 1;
    }
    printf("emitter: ok\n");
    return 0;
}
