/* Binary game state in C, callback mode: each peer sends its position as a
 * raw binary frame (no JSON) 50 times a second; the server relays it to
 * the others in the room; callbacks, on a library thread, decode theirs.
 *
 *   binary_state <url> <name> <room> [frames_to_receive]
 *
 * Exits 0 once `frames_to_receive` (default 5) frames from peers arrived
 * (after 500 ms more, so the peers get theirs), 1 after 20 s without them.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "common.h"

/* The wire format of one state frame: little-endian, 12 bytes. */
typedef struct {
    uint32_t seq;
    float x, y;
} state;

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void encode(const state *s, uint8_t out[12]) {
    uint32_t x, y;
    memcpy(&x, &s->x, 4);
    memcpy(&y, &s->y, 4);
    put_u32(out, s->seq);
    put_u32(out + 4, x);
    put_u32(out + 8, y);
}
static state decode(const uint8_t in[12]) {
    state s;
    uint32_t x = get_u32(in + 4), y = get_u32(in + 8);
    s.seq = get_u32(in);
    memcpy(&s.x, &x, 4);
    memcpy(&s.y, &y, 4);
    return s;
}

typedef struct {
    const char *room;
    oxsio_client *client;
    atomic_int joined;
    atomic_int received;
    atomic_int failed;
} game;

static void on_joined(void *user_data, const oxsio_event *ev) {
    game *g = user_data;
    oxsio_result r = OXSIO_RESULT_OK;
    oxsio_event_result(ev, &r);
    if (r != OXSIO_RESULT_OK) {
        atomic_store(&g->failed, 1);
        return;
    }
    atomic_store(&g->joined, 1);
}

static void on_connect(void *user_data, const oxsio_event *ev) {
    (void)ev;
    game *g = user_data;
    char qroom[160], args[200];
    json_quote(qroom, sizeof qroom, g->room, strlen(g->room));
    snprintf(args, sizeof args, "[%s]", qroom);
    /* Inside a callback: never block; the reply comes to on_joined. */
    CHECK(oxsio_client_emit_with_ack(g->client, "join", args, NULL, 0, 5000, on_joined, g, NULL,
                                     NULL));
}

static void on_state(void *user_data, const oxsio_event *ev) {
    game *g = user_data;
    const uint8_t *data;
    size_t len;
    /* Borrowed view into the received frame: no copy, no JSON. */
    if (oxsio_event_arg_binary(ev, 0, &data, &len) != OXSIO_RESULT_OK || len != 12) return;
    state s = decode(data);
    int n = atomic_fetch_add(&g->received, 1) + 1;
    if (n <= 3) {
        printf("peer state #%u at (%.1f, %.1f)\n", s.seq, (double)s.x, (double)s.y);
        fflush(stdout);
    }
}

static void on_ready(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    /* The server asks for an acknowledgement: answer from the callback. */
    oxsio_event_ack(ev, "[\"ready\"]", NULL, 0);
}

static void on_connect_error(void *user_data, const oxsio_event *ev) {
    game *g = user_data;
    const char *msg = "";
    oxsio_event_message(ev, &msg, NULL);
    fprintf(stderr, "connect_error: %s\n", msg);
    atomic_store(&g->failed, 1);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: binary_state <url> <name> <room> [frames_to_receive]\n");
        return 2;
    }
    int want = argc > 4 ? atoi(argv[4]) : 5;
    game g;
    memset(&g, 0, sizeof g);
    g.room = argv[3];

    char qname[160], config[256];
    json_quote(qname, sizeof qname, argv[2], strlen(argv[2]));
    snprintf(config, sizeof config, "{\"auth\":{\"name\":%s},\"transports\":[\"websocket\"]}",
             qname);
    /* Create, register callbacks, then open: no event can be missed. */
    CHECK(oxsio_client_new(argv[1], config, OXSIO_DISPATCH_CALLBACK, &g.client));
    CHECK(oxsio_client_on(g.client, "connect", on_connect, &g, NULL));
    CHECK(oxsio_client_on(g.client, "connect_error", on_connect_error, &g, NULL));
    CHECK(oxsio_client_on(g.client, "state", on_state, &g, NULL));
    CHECK(oxsio_client_on(g.client, "ready?", on_ready, NULL, NULL));
    CHECK(oxsio_client_open(g.client));

    state me = {0, 0.0f, 0.0f};
    uint64_t deadline = now_ms() + 20000, linger = 0;
    while (now_ms() < deadline && !atomic_load(&g.failed)) {
        /* Once satisfied, keep playing 500 ms so the peers get their frames too. */
        if (atomic_load(&g.received) >= want && linger == 0) linger = now_ms() + 500;
        if (linger && now_ms() >= linger) break;
        if (atomic_load(&g.joined)) {
            uint8_t frame[12];
            me.seq++;
            me.x += 1.5f;
            me.y -= 0.5f;
            encode(&me, frame);
            /* Volatile: a congested or offline frame is dropped, the next one replaces it. */
            oxsio_client_emit_binary(g.client, "state", frame, sizeof frame, OXSIO_EMIT_VOLATILE);
        }
        sleep_ms(20);
    }
    int got = atomic_load(&g.received);
    /* Freeing stops every callback; no callback runs after this returns. */
    CHECK(oxsio_client_free(g.client));
    printf("%s: sent %u frames, received %d\n", got >= want ? "done" : "FAILED", me.seq, got);
    return got >= want ? 0 : 1;
}
