/* C API parity with the Rust API (one process, poll mode):
 *   - oxsio_socket_rooms: a socket's rooms as a JSON array (own id room
 *     included), the length query and a buffer too small;
 *   - oxsio_server_fetch_sockets: id, nsp, rooms, handshake and data of the
 *     selected sockets (rooms, except, every socket), a buffer too small,
 *     an undeclared namespace, a NULL handle;
 *   - CONNECT_ERROR carries the server's refusal message unchanged.
 *
 *   parity         prints "parity: ok" and exits 0, or FAIL lines and exits 1
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "common.h"

#include "expect.h"

/* Counts the occurrences of `needle` in `hay`. */
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

#define MAX_SOCKETS 4
static oxsio_socket *sockets[MAX_SOCKETS];
static char ids[MAX_SOCKETS][32];
static int connected = 0;

/* Drains the server: accepts or refuses requests (auth "name" "bad" is
 * refused with "go away"), records connections, joins them to "red" (the
 * first two) and gives them data {"n":i}. */
static void drain(oxsio_server *server) {
    oxsio_event *ev = NULL;
    while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) {
        uint32_t kind = oxsio_event_get_kind(ev);
        if (kind == OXSIO_EVENT_KIND_CONNECTION_REQUEST) {
            const char *hs = NULL;
            CHECK(oxsio_event_handshake_json(ev, &hs, NULL));
            if (strstr(hs, "\"name\":\"bad\"")) {
                CHECK(oxsio_event_refuse(ev, "go away", "{\"why\":1}"));
            } else {
                CHECK(oxsio_event_accept(ev));
            }
        } else if (kind == OXSIO_EVENT_KIND_CONNECTION && connected < MAX_SOCKETS) {
            oxsio_socket *s = NULL;
            CHECK(oxsio_event_socket(ev, &s));
            const char *id = NULL;
            size_t n = 0;
            CHECK(oxsio_socket_id(s, &id, &n));
            snprintf(ids[connected], sizeof ids[connected], "%.*s", (int)n, id);
            if (connected < 2) CHECK(oxsio_socket_join(s, "red"));
            char data[32];
            snprintf(data, sizeof data, "{\"n\":%d}", connected);
            CHECK(oxsio_socket_set_data_json(s, data));
            sockets[connected++] = s;
        }
        oxsio_event_free(ev);
    }
}

static oxsio_client *client(const char *url, const char *name) {
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"auth\":{\"name\":\"%s\"},\"reconnection\":false}", name);
    oxsio_client *c = NULL;
    CHECK(oxsio_client_connect(url, cfg, OXSIO_DISPATCH_POLL, &c));
    return c;
}

int main(void) {
    oxsio_server *server = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &server));
    CHECK(oxsio_server_use(server, "/", NULL, NULL, NULL));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", (unsigned)port);

    oxsio_client *clients[3] = {client(url, "a"), client(url, "b"), client(url, "c")};
    oxsio_client *bad = client(url, "bad");
    uint64_t end = now_ms() + 10000;
    while (connected < 3 && now_ms() < end) {
        drain(server);
        oxsio_server_wait(server, 20);
    }
    EXPECT(connected == 3, "%d sockets connected", connected);

    /* CONNECT_ERROR: the server's message, unchanged. */
    oxsio_event *err = NULL;
    end = now_ms() + 10000;
    while (!err && now_ms() < end) {
        drain(server);
        oxsio_event *ev = NULL;
        if (oxsio_client_poll(bad, &ev) == OXSIO_RESULT_OK) {
            if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_CONNECT_ERROR) err = ev;
            else oxsio_event_free(ev);
        } else {
            oxsio_client_wait(bad, 20);
        }
    }
    EXPECT(err != NULL, "no CONNECT_ERROR");
    if (err) {
        const char *msg = NULL, *args = NULL;
        oxsio_result r = OXSIO_RESULT_OK;
        CHECK(oxsio_event_result(err, &r));
        CHECK(oxsio_event_message(err, &msg, NULL));
        CHECK(oxsio_event_args_json(err, &args, NULL));
        EXPECT(r == OXSIO_RESULT_REFUSED, "result %u", (unsigned)r);
        EXPECT(strcmp(msg, "go away") == 0, "message \"%s\" (the server's, unchanged)", msg);
        EXPECT(strcmp(args, "[{\"why\":1}]") == 0, "data %s", args);
        oxsio_event_free(err);
    }

    /* oxsio_socket_rooms */
    if (connected == 3) {
        size_t len = 0;
        EXPECT(oxsio_socket_rooms(sockets[0], NULL, 0, &len) == OXSIO_RESULT_BUFFER_TOO_SMALL && len > 0,
               "length query: %zu", len);
        char want[96];
        char rooms[256];
        EXPECT(oxsio_socket_rooms(sockets[0], rooms, 2, &len) == OXSIO_RESULT_BUFFER_TOO_SMALL,
               "capacity 2 is too small");
        CHECK(oxsio_socket_rooms(sockets[0], rooms, sizeof rooms, &len));
        EXPECT(len == strlen(rooms), "length %zu of \"%s\"", len, rooms);
        snprintf(want, sizeof want, "\"%s\"", ids[0]);
        EXPECT(rooms[0] == '[' && strstr(rooms, want) && strstr(rooms, "\"red\"") && count(rooms, ",") == 1,
               "rooms of socket 0: %s", rooms);
        CHECK(oxsio_socket_rooms(sockets[2], rooms, sizeof rooms, &len));
        EXPECT(count(rooms, "\"") == 2 && !strstr(rooms, "red"), "rooms of socket 2: %s", rooms);
        CHECK(oxsio_socket_leave(sockets[0], "red"));
        CHECK(oxsio_socket_join(sockets[0], "blue"));
        CHECK(oxsio_socket_rooms(sockets[0], rooms, sizeof rooms, &len));
        EXPECT(strstr(rooms, "\"blue\"") && !strstr(rooms, "red"), "after leave/join: %s", rooms);
        CHECK(oxsio_socket_leave(sockets[0], "blue"));
        CHECK(oxsio_socket_join(sockets[0], "red"));
        EXPECT(oxsio_socket_rooms(NULL, rooms, sizeof rooms, &len) == OXSIO_RESULT_INVALID_HANDLE,
               "NULL socket");
    }

    /* oxsio_server_fetch_sockets */
    if (connected == 3) {
        static char out[16384];
        size_t len = 0;
        const char *red[] = {"red"};
        oxsio_target t;
        memset(&t, 0, sizeof t);
        t.rooms = red;
        t.room_count = 1;
        CHECK(oxsio_server_fetch_sockets(server, &t, 0, out, sizeof out, &len));
        EXPECT(len == strlen(out), "length");
        EXPECT(count(out, "\"id\":") == 2, "two sockets in red: %s", out);
        for (int i = 0; i < 2; i++) {
            char want[64];
            snprintf(want, sizeof want, "\"id\":\"%s\"", ids[i]);
            EXPECT(strstr(out, want) != NULL, "socket %d in red: %s", i, out);
        }
        EXPECT(strstr(out, "\"nsp\":\"/\"") && strstr(out, "\"data\":{\"n\":0}") &&
                   strstr(out, "\"data\":{\"n\":1}") && !strstr(out, "\"data\":{\"n\":2}"),
               "nsp and data: %s", out);
        /* The clients connect at once: which names the first two sockets
         * carry depends on who came first. */
        EXPECT(strstr(out, "\"handshake\":{") && count(out, "\"auth\":{\"name\":\"") == 2 &&
                   strstr(out, "\"headers\":{"),
               "handshake: %s", out);
        EXPECT(strstr(out, "\"rooms\":[") && count(out, "\"red\"") == 2, "rooms: %s", out);

        const char *except[] = {ids[1]};
        t.except_rooms = except;
        t.except_count = 1;
        CHECK(oxsio_server_fetch_sockets(server, &t, 1000, out, sizeof out, &len));
        EXPECT(count(out, "\"id\":") == 1 && strstr(out, ids[0]), "red except socket 1: %s", out);

        CHECK(oxsio_server_fetch_sockets(server, NULL, 0, out, sizeof out, &len));
        EXPECT(count(out, "\"id\":") == 3, "every socket: %s", out);
        size_t need = 0;
        EXPECT(oxsio_server_fetch_sockets(server, NULL, 0, out, 4, &need) == OXSIO_RESULT_BUFFER_TOO_SMALL &&
                   need == len,
               "too small: need %zu, len %zu", need, len);

        const char *none[] = {"nobody-here"};
        memset(&t, 0, sizeof t);
        t.rooms = none;
        t.room_count = 1;
        CHECK(oxsio_server_fetch_sockets(server, &t, 0, out, sizeof out, &len));
        EXPECT(strcmp(out, "[]") == 0, "an empty room: %s", out);

        memset(&t, 0, sizeof t);
        t.nsp = "/undeclared";
        EXPECT(oxsio_server_fetch_sockets(server, &t, 0, out, sizeof out, &len) == OXSIO_RESULT_INVALID_ARGUMENT,
               "undeclared namespace");
        EXPECT(oxsio_server_fetch_sockets(NULL, NULL, 0, out, sizeof out, &len) == OXSIO_RESULT_INVALID_HANDLE,
               "NULL server");
        EXPECT(oxsio_server_fetch_sockets(server, NULL, 0, NULL, 10, &len) == OXSIO_RESULT_BUFFER_TOO_SMALL,
               "NULL buffer: only the length");
    }

    for (int i = 0; i < 3; i++) oxsio_client_free(clients[i]);
    oxsio_client_free(bad);
    oxsio_server_free(server);
    if (failed) {
        printf("parity: %d failure(s)\n", failed);
        return 1;
    }
    printf("parity: ok\n");
    return 0;
}
