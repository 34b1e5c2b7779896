/* server_side_emit through the C ABI: two servers in one process share a
 * Redis (the @socket.io/redis-adapter protocol), A in callback mode and B
 * in poll mode:
 *   - A's oxsio_server_server_side_emit reaches B as a SERVER_EVENT
 *     (name, arguments, no socket, no ack wanted), and B's reaches A's
 *     callback;
 *   - A's oxsio_server_server_side_emit_with_ack gets B's reply
 *     (oxsio_event_ack on the SERVER_EVENT), and a TIMEOUT when B leaves
 *     one unanswered;
 *   - misuse: undeclared namespace, WRONG_MODE, NULL callback.
 *
 *   cluster <redis port> [config json]
 *       prints "cluster: ok" and exits 0, or FAIL lines and exits 1; with a
 *       config (e.g. the sharded adapter on a Redis Cluster) both servers
 *       use it instead of {"redis_url": ...}
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <string.h>

#include "common.h"

#include "expect.h"

static atomic_int a_events;
static char a_last[128];
static void on_a_event(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    const char *name = NULL, *args = NULL;
    CHECK(oxsio_event_name(ev, &name, NULL));
    CHECK(oxsio_event_args_json(ev, &args, NULL));
    if (atomic_load(&a_events) == 0) snprintf(a_last, sizeof a_last, "%u %s %s", oxsio_event_get_kind(ev), name, args);
    atomic_fetch_add(&a_events, 1);
}

struct reply {
    atomic_int calls;
    oxsio_result result;
    char args[128];
    uint64_t id;
};
static void on_reply(void *user_data, const oxsio_event *ev) {
    struct reply *r = user_data;
    CHECK(oxsio_event_result(ev, &r->result));
    const char *args = NULL;
    CHECK(oxsio_event_args_json(ev, &args, NULL));
    snprintf(r->args, sizeof r->args, "%s", args);
    CHECK(oxsio_event_id(ev, &r->id));
    atomic_fetch_add(&r->calls, 1);
}

/* Polls B for up to ms: the first SERVER_EVENT named `name` (owned), or NULL. */
static oxsio_event *b_wait(oxsio_server *b, const char *name, int ms) {
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        oxsio_event *ev = NULL;
        if (oxsio_server_poll(b, &ev) != OXSIO_RESULT_OK) {
            oxsio_server_wait(b, 20);
            continue;
        }
        const char *n = NULL;
        if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_SERVER_EVENT &&
            oxsio_event_name(ev, &n, NULL) == OXSIO_RESULT_OK && strcmp(n, name) == 0)
            return ev;
        oxsio_event_free(ev);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: cluster <redis port>\n");
        return 2;
    }
    char config[512];
    if (argc > 2) {
        snprintf(config, sizeof config, "%s", argv[2]);
    } else {
        snprintf(config, sizeof config, "{\"redis_url\":\"redis://127.0.0.1:%s\"}", argv[1]);
    }
    oxsio_server *a = NULL, *b = NULL;
    CHECK(oxsio_server_new(config, OXSIO_DISPATCH_CALLBACK, &a));
    CHECK(oxsio_server_new(config, OXSIO_DISPATCH_POLL, &b));
    CHECK(oxsio_server_on_server_event(a, "/", on_a_event, NULL, NULL));
    CHECK(oxsio_server_on_server_event(b, NULL, NULL, NULL, NULL));

    /* A → B, fire and forget (again until B's subscription is up). */
    oxsio_event *ev = NULL;
    for (int i = 0; i < 50 && !ev; i++) {
        CHECK(oxsio_server_server_side_emit(a, NULL, "hello", "[1,{\"k\":\"v\"}]", NULL, 0));
        ev = b_wait(b, "hello", 200);
    }
    EXPECT(ev != NULL, "B never got A's server-side event");
    if (ev) {
        const char *args = NULL, *nsp = NULL;
        bool wants = true;
        oxsio_socket *s = NULL;
        CHECK(oxsio_event_args_json(ev, &args, NULL));
        CHECK(oxsio_event_namespace(ev, &nsp, NULL));
        CHECK(oxsio_event_wants_ack(ev, &wants));
        EXPECT(strcmp(args, "[1,{\"k\":\"v\"}]") == 0 && strcmp(nsp, "/") == 0, "args %s nsp %s", args, nsp);
        EXPECT(!wants, "a plain server-side emit wants no ack");
        EXPECT(oxsio_event_socket(ev, &s) == OXSIO_RESULT_INVALID_ARGUMENT, "a server event has no socket");
        EXPECT(oxsio_event_ack(ev, "[1]", NULL, 0) == OXSIO_RESULT_NO_ACK, "ack without a request");
        oxsio_event_free(ev);
    }

    /* B → A's callback. */
    CHECK(oxsio_server_server_side_emit(b, "/", "to-a", "[2]", NULL, 0));
    uint64_t end = now_ms() + 5000;
    while (atomic_load(&a_events) == 0 && now_ms() < end) sleep_ms(10);
    EXPECT(atomic_load(&a_events) >= 1 && strcmp(a_last, "12 to-a [2]") == 0, "A got \"%s\"", a_last);

    /* A asks, B answers. */
    static struct reply r1;
    uint64_t id = 0;
    CHECK(oxsio_server_server_side_emit_with_ack(a, NULL, "ask", "[\"q\"]", NULL, 0, 5000, on_reply, &r1, NULL, &id));
    ev = b_wait(b, "ask", 5000);
    EXPECT(ev != NULL, "B never got the question");
    if (ev) {
        bool wants = false;
        CHECK(oxsio_event_wants_ack(ev, &wants));
        EXPECT(wants, "the question wants an ack");
        CHECK(oxsio_event_ack(ev, "[{\"from\":\"b\"}]", NULL, 0));
        oxsio_event_free(ev);
    }
    end = now_ms() + 5000;
    while (atomic_load(&r1.calls) == 0 && now_ms() < end) sleep_ms(10);
    EXPECT(r1.result == OXSIO_RESULT_OK && strcmp(r1.args, "[{\"from\":\"b\"}]") == 0 && r1.id == id,
           "reply %u %s", (unsigned)r1.result, r1.args);

    /* B leaves a question unanswered: A's ack times out. */
    static struct reply r2;
    CHECK(oxsio_server_server_side_emit_with_ack(a, NULL, "ask", "[\"again\"]", NULL, 0, 500, on_reply, &r2, NULL,
                                                 NULL));
    ev = b_wait(b, "ask", 5000);
    EXPECT(ev != NULL, "B never got the second question");
    oxsio_event_free(ev);
    end = now_ms() + 5000;
    while (atomic_load(&r2.calls) == 0 && now_ms() < end) sleep_ms(10);
    EXPECT(r2.result == OXSIO_RESULT_TIMEOUT, "unanswered: %u", (unsigned)r2.result);

    /* Misuse. */
    EXPECT(oxsio_server_server_side_emit(a, "/undeclared", "x", NULL, NULL, 0) == OXSIO_RESULT_INVALID_ARGUMENT,
           "undeclared namespace");
    EXPECT(oxsio_server_on_server_event(b, "/", on_a_event, NULL, NULL) == OXSIO_RESULT_WRONG_MODE,
           "a callback on a poll-mode server");
    EXPECT(oxsio_server_on_server_event(a, "/", NULL, NULL, NULL) == OXSIO_RESULT_NULL_ARGUMENT,
           "no callback on a callback-mode server");
    EXPECT(oxsio_server_server_side_emit_with_ack(b, NULL, "x", NULL, NULL, 0, 0, on_reply, &r2, NULL, NULL) ==
               OXSIO_RESULT_WRONG_MODE,
           "an ack callback on a poll-mode server");
    EXPECT(oxsio_server_server_side_emit(NULL, NULL, "x", NULL, NULL, 0) == OXSIO_RESULT_INVALID_HANDLE, "NULL server");

    oxsio_server_free(a);
    oxsio_server_free(b);
    if (failed) {
        printf("cluster: %d failure(s)\n", failed);
        return 1;
    }
    printf("cluster: ok\n");
    return 0;
}
