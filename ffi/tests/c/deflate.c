/* WebSocket compression and the client's limits through the C config
 * (one process, poll mode):
 *   - values of the wrong type for `per_message_deflate_threshold`,
 *     `max_payload`, `max_json_depth` and `max_attachments` are refused;
 *   - a server and a client with `per_message_deflate_threshold` echo a
 *     200 kB text over WebSocket intact;
 *   - a client with `max_payload` 1000 loses its connection to a
 *     5 000-byte message (the WebSocket closes with 1009);
 *   - `allow_eio3` on the server and `eio3` on the client: a Socket.IO
 *     2.x (protocol 3) connection over polling echoes.
 *
 *   deflate        prints "deflate: ok" and exits 0, or FAIL lines and exits 1
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "common.h"

#include "expect.h"

/* Serves: echoes "echo" to its sender. */
static void serve(oxsio_server *server) {
    oxsio_event *ev = NULL;
    while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) {
        const char *name = NULL;
        if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_MESSAGE &&
            oxsio_event_name(ev, &name, NULL) == OXSIO_RESULT_OK && strcmp(name, "echo") == 0) {
            oxsio_socket *s = NULL;
            const char *args = NULL;
            CHECK(oxsio_event_socket(ev, &s));
            CHECK(oxsio_event_args_json(ev, &args, NULL));
            CHECK(oxsio_socket_emit(s, "echo", args, NULL, 0));
        }
        oxsio_event_free(ev);
    }
}

/* Runs the server and waits for a client event of `kind` (and `name`). */
static oxsio_event *await_kind(oxsio_server *server, oxsio_client *c, uint32_t kind, const char *name) {
    uint64_t end = now_ms() + 10000;
    while (now_ms() < end) {
        serve(server);
        oxsio_event *ev = NULL;
        if (oxsio_client_poll(c, &ev) == OXSIO_RESULT_OK) {
            const char *n = NULL;
            if (oxsio_event_get_kind(ev) == kind &&
                (!name || (oxsio_event_name(ev, &n, NULL) == OXSIO_RESULT_OK && strcmp(n, name) == 0)))
                return ev;
            oxsio_event_free(ev);
        } else {
            oxsio_client_wait(c, 10);
        }
    }
    return NULL;
}

int main(void) {
    const char *bad_configs[] = {
        "{\"per_message_deflate_threshold\":\"on\"}",
        "{\"max_payload\":-1}",
        "{\"max_json_depth\":\"deep\"}",
        "{\"max_attachments\":1.5}",
        "{\"eio3\":\"yes\"}",
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof *bad_configs; i++) {
        oxsio_client *c = NULL;
        EXPECT(oxsio_client_new("http://127.0.0.1:1", bad_configs[i], OXSIO_DISPATCH_POLL, &c) ==
                   OXSIO_RESULT_INVALID_CONFIG,
               "%s is accepted", bad_configs[i]);
    }

    oxsio_server *server = NULL;
    CHECK(oxsio_server_new("{\"per_message_deflate_threshold\":0,\"allow_eio3\":true}", OXSIO_DISPATCH_POLL,
                           &server));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", (unsigned)port);

    /* A 200 kB echo, compressed both ways. */
    oxsio_client *c = NULL;
    CHECK(oxsio_client_connect(url,
                               "{\"transports\":[\"websocket\"],\"reconnection\":false,"
                               "\"per_message_deflate_threshold\":1024,\"max_payload\":1000000,"
                               "\"max_json_depth\":64,\"max_attachments\":4}",
                               OXSIO_DISPATCH_POLL, &c));
    oxsio_event *ev = await_kind(server, c, OXSIO_EVENT_KIND_CONNECT, NULL);
    EXPECT(ev != NULL, "the deflate client did not connect");
    oxsio_event_free(ev);
    size_t len = 200000;
    char *args = malloc(len + 8);
    args[0] = '[';
    args[1] = '"';
    for (size_t i = 0; i < len; i++) args[2 + i] = (char)('a' + i % 7);
    memcpy(args + 2 + len, "\"]", 3);
    CHECK(oxsio_client_emit(c, "echo", args, NULL, 0));
    ev = await_kind(server, c, OXSIO_EVENT_KIND_MESSAGE, "echo");
    EXPECT(ev != NULL, "no echo");
    if (ev) {
        const char *back = NULL;
        size_t n = 0;
        CHECK(oxsio_event_args_json(ev, &back, &n));
        EXPECT(n == len + 4 && memcmp(back, args, n) == 0, "the echo differs (%zu bytes)", n);
        oxsio_event_free(ev);
    }
    CHECK(oxsio_client_free(c));

    /* max_payload: a 5 000-byte message ends the connection. */
    c = NULL;
    CHECK(oxsio_client_connect(url, "{\"transports\":[\"websocket\"],\"reconnection\":false,\"max_payload\":1000}",
                               OXSIO_DISPATCH_POLL, &c));
    ev = await_kind(server, c, OXSIO_EVENT_KIND_CONNECT, NULL);
    EXPECT(ev != NULL, "the small client did not connect");
    oxsio_event_free(ev);
    args[2 + 5000] = '"';
    args[3 + 5000] = ']';
    args[4 + 5000] = 0;
    CHECK(oxsio_client_emit(c, "echo", args, NULL, 0));
    ev = await_kind(server, c, OXSIO_EVENT_KIND_DISCONNECT, NULL);
    EXPECT(ev != NULL, "a message over max_payload did not end the connection");
    oxsio_event_free(ev);
    CHECK(oxsio_client_free(c));

    /* Protocol 3 over polling, both ends. */
    c = NULL;
    CHECK(oxsio_client_connect(url, "{\"transports\":[\"polling\"],\"reconnection\":false,\"eio3\":true}",
                               OXSIO_DISPATCH_POLL, &c));
    ev = await_kind(server, c, OXSIO_EVENT_KIND_CONNECT, NULL);
    EXPECT(ev != NULL, "the eio3 client did not connect");
    oxsio_event_free(ev);
    CHECK(oxsio_client_emit(c, "echo", "[\"v2 \\u00e9\"]", NULL, 0));
    ev = await_kind(server, c, OXSIO_EVENT_KIND_MESSAGE, "echo");
    EXPECT(ev != NULL, "no echo over protocol 3");
    if (ev) {
        const char *back = NULL;
        CHECK(oxsio_event_args_json(ev, &back, NULL));
        EXPECT(strstr(back, "v2 ") != NULL, "echo %s", back);
        oxsio_event_free(ev);
    }
    CHECK(oxsio_client_free(c));
    free(args);
    CHECK(oxsio_server_free(server));
    if (failed) return 1;
    printf("deflate: ok\n");
    return 0;
}
