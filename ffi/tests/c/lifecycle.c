/* Lifecycle through the C ABI, one process hosting both sides (poll mode):
 * the bounded queue's overflow policy, a server going away and coming back
 * (DISCONNECT, RECONNECT_ATTEMPT, RECONNECT, CONNECT), an ack timing out
 * (an ACK event with OXSIO_RESULT_TIMEOUT), a server-side disconnect.
 *
 *   lifecycle        prints "lifecycle: ok" and exits 0
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include "expect.h"

/* Drains the server queue, returning the last CONNECTION's socket. */
static oxsio_socket *drain_server(oxsio_server *s, unsigned ms) {
    oxsio_socket *last = NULL;
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        oxsio_server_wait(s, 20);
        oxsio_event *ev;
        while (oxsio_server_poll(s, &ev) == OXSIO_RESULT_OK) {
            if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_CONNECTION) oxsio_event_socket(ev, &last);
            oxsio_event_free(ev);
        }
        if (last) break;
    }
    return last;
}

/* Polls the client until an event of `kind` arrives (5 s at most). */
static oxsio_event *next_of(oxsio_client *c, oxsio_event_kind kind) {
    const char *scale = getenv("OXSIO_TIMEOUT_SCALE");
    uint64_t end = now_ms() + 15000 * (uint64_t)(scale && atoi(scale) > 0 ? atoi(scale) : 1);
    while (now_ms() < end) {
        oxsio_client_wait(c, 20);
        oxsio_event *ev;
        while (oxsio_client_poll(c, &ev) == OXSIO_RESULT_OK) {
            if (oxsio_event_get_kind(ev) == kind) return ev;
            oxsio_event_free(ev);
        }
    }
    return NULL;
}

static oxsio_server *start(const char *address, uint16_t *port) {
    oxsio_server *s = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &s));
    /* The previous server on this port closes in the background: retry. */
    for (int i = 0; i < 100; i++) {
        if (oxsio_server_listen(s, address, port) == OXSIO_RESULT_OK) return s;
        sleep_ms(20);
    }
    printf("FAIL: cannot listen on %s: %s\n", address, oxsio_last_error_message());
    exit(1);
}

int main(void) {
    uint16_t port = 0;
    oxsio_server *server = start("127.0.0.1:0", &port);
    char url[64], address[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    snprintf(address, sizeof address, "127.0.0.1:%u", (unsigned)port);

    oxsio_client *client = NULL;
    CHECK(oxsio_client_connect(url,
                               "{\"transports\":[\"websocket\"],\"event_queue_capacity\":4,"
                               "\"reconnection_delay_ms\":100,\"reconnection_delay_max_ms\":200,"
                               "\"randomization_factor\":0}",
                               OXSIO_DISPATCH_POLL, &client));
    oxsio_event *ev = next_of(client, OXSIO_EVENT_KIND_CONNECT);
    EXPECT(ev != NULL, "no CONNECT");
    oxsio_event_free(ev);
    oxsio_socket *sock = drain_server(server, 5000);
    EXPECT(sock != NULL, "no CONNECTION");

    /* socket.data: {} at first, set from JSON, refused when not JSON. */
    char data[64];
    size_t data_len = 0;
    CHECK(oxsio_socket_data_json(sock, data, sizeof data, &data_len));
    EXPECT(strcmp(data, "{}") == 0 && data_len == 2, "initial data %s", data);
    CHECK(oxsio_socket_set_data_json(sock, "{\"score\":7,\"name\":\"ada\"}"));
    CHECK(oxsio_socket_data_json(sock, data, sizeof data, &data_len));
    EXPECT(strcmp(data, "{\"score\":7,\"name\":\"ada\"}") == 0, "data %s", data);
    EXPECT(oxsio_socket_data_json(sock, data, 4, &data_len) == OXSIO_RESULT_BUFFER_TOO_SMALL &&
               data_len == strlen("{\"score\":7,\"name\":\"ada\"}"),
           "a small buffer");
    EXPECT(oxsio_socket_set_data_json(sock, "{oops") == OXSIO_RESULT_INVALID_JSON, "bad JSON");
    EXPECT(oxsio_socket_set_data_json(sock, NULL) == OXSIO_RESULT_NULL_ARGUMENT, "NULL JSON");

    /* Overflow: 20 messages into a queue of 4 that nobody drains. */
    for (int i = 0; i < 20; i++) CHECK(oxsio_socket_emit(sock, "tick", "[1]", NULL, 0));
    uint64_t dropped = 0;
    for (int i = 0; i < 100 && dropped < 16; i++) {
        sleep_ms(20);
        CHECK(oxsio_client_dropped_events(client, &dropped));
    }
    EXPECT(dropped == 16, "dropped %llu, expected 16", (unsigned long long)dropped);
    int queued = 0;
    while (oxsio_client_poll(client, &ev) == OXSIO_RESULT_OK) {
        queued++;
        oxsio_event_free(ev);
    }
    EXPECT(queued == 4, "%d events queued, expected 4", queued);

    /* An ack the server never answers: an ACK event with TIMEOUT. */
    uint64_t id = 0, got = 0;
    CHECK(oxsio_client_emit_with_ack(client, "nobody-answers", NULL, NULL, 0, 100, NULL, NULL, NULL,
                                     &id));
    ev = next_of(client, OXSIO_EVENT_KIND_ACK);
    oxsio_result r = OXSIO_RESULT_OK;
    if (ev) {
        oxsio_event_id(ev, &got);
        oxsio_event_result(ev, &r);
    }
    EXPECT(ev && got == id && r == OXSIO_RESULT_TIMEOUT, "ack result %u", (unsigned)r);
    oxsio_event_free(ev);

    /* The server goes away: DISCONNECT, then reconnection attempts. */
    CHECK(oxsio_server_free(server));
    ev = next_of(client, OXSIO_EVENT_KIND_DISCONNECT);
    const char *reason = "";
    if (ev) oxsio_event_message(ev, &reason, NULL);
    EXPECT(ev && (strcmp(reason, "transport close") == 0 || strcmp(reason, "transport error") == 0),
           "disconnect reason %s", reason);
    oxsio_event_free(ev);
    ev = next_of(client, OXSIO_EVENT_KIND_RECONNECT_ATTEMPT);
    EXPECT(ev != NULL, "no RECONNECT_ATTEMPT");
    oxsio_event_free(ev);
    uint32_t state = 0;
    CHECK(oxsio_client_get_state(client, &state));
    EXPECT(state == OXSIO_CLIENT_STATE_CONNECTING, "state %u while reconnecting", state);

    /* It comes back on the same port: RECONNECT and CONNECT. */
    server = start(address, &port);
    ev = next_of(client, OXSIO_EVENT_KIND_RECONNECT);
    EXPECT(ev != NULL, "no RECONNECT");
    oxsio_event_free(ev);
    ev = next_of(client, OXSIO_EVENT_KIND_CONNECT);
    EXPECT(ev != NULL, "no CONNECT after reconnection");
    oxsio_event_free(ev);
    sock = drain_server(server, 5000);
    EXPECT(sock != NULL, "no CONNECTION on the new server");

    /* The server removes the socket: "io server disconnect", no reconnection. */
    if (sock) CHECK(oxsio_socket_disconnect(sock, false));
    ev = next_of(client, OXSIO_EVENT_KIND_DISCONNECT);
    reason = "";
    if (ev) oxsio_event_message(ev, &reason, NULL);
    EXPECT(ev && strcmp(reason, "io server disconnect") == 0, "reason %s", reason);
    oxsio_event_free(ev);
    CHECK(oxsio_client_get_state(client, &state));
    EXPECT(state == OXSIO_CLIENT_STATE_DISCONNECTED, "state %u", state);

    CHECK(oxsio_client_free(client));
    /* Waits at most 2 s; TIMEOUT means some connections were still closing. */
    oxsio_result down = oxsio_server_shutdown(server, 2000);
    if (down != OXSIO_RESULT_OK && down != OXSIO_RESULT_TIMEOUT) CHECK(down);
    CHECK(oxsio_server_free(server));
    printf(failed ? "lifecycle: FAILED\n" : "lifecycle: ok\n");
    return failed ? 1 : 0;
}
