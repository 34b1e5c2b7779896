/* The interop app of tests/interop/APP.md, hosted in C on the oxsio C ABI in
 * poll mode (one thread, no callbacks), so the official socket.io-client
 * scenarios (tests/interop/client_scenarios.js) can run against it.
 *
 *   interop_server [port [ping_ms [cert.pem key.pem]]]
 *
 * prints "listening <port>"; stops on SIGTERM/SIGINT. With a certificate
 * and key, it serves https / wss (the `tls` object of the server config).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>

#include "common.h"

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static oxsio_server *server;

/* The event's buffers as an oxsio_buf array (at most 16). */
static size_t event_buffers(const oxsio_event *ev, oxsio_buf *bufs, size_t cap) {
    size_t n = 0;
    CHECK(oxsio_event_binary_count(ev, &n));
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) CHECK(oxsio_event_binary(ev, i, &bufs[i].data, &bufs[i].len));
    return n;
}

/* "[<arg i json>]" into out. */
static int arg_as_array(const oxsio_event *ev, size_t i, char *out, size_t cap) {
    const char *json;
    size_t len;
    if (oxsio_event_arg_json(ev, i, &json, &len) != OXSIO_RESULT_OK) {
        snprintf(out, cap, "[]");
        return 0;
    }
    if (len + 3 > cap) return -1;
    out[0] = '[';
    memcpy(out + 1, json, len);
    out[len + 1] = ']';
    out[len + 2] = '\0';
    return 0;
}

/* Argument i as a NUL-terminated string in out ("" if not a string). */
static const char *arg_str(const oxsio_event *ev, size_t i, char *out, size_t cap) {
    const char *s;
    size_t len;
    out[0] = '\0';
    if (oxsio_event_arg_string(ev, i, &s, &len) == OXSIO_RESULT_OK && len < cap) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static const char *sid_of(const oxsio_socket *s) {
    const char *id = "";
    oxsio_socket_id(s, &id, NULL);
    return id;
}

static void on_request(const oxsio_event *ev) {
    const char *hs;
    CHECK(oxsio_event_handshake_json(ev, &hs, NULL));
    const char *auth = strstr(hs, "\"auth\":");
    if (auth && strstr(auth, "\"token\":\"bad\"")) {
        CHECK(oxsio_event_refuse(ev, "unauthorized", "{\"reason\":\"bad token\"}"));
    } else {
        CHECK(oxsio_event_accept(ev));
    }
}

static void on_connection(const oxsio_event *ev, const char *nsp) {
    oxsio_socket *s;
    CHECK(oxsio_event_socket(ev, &s));
    char json[4096];
    if (strcmp(nsp, "/admin") == 0) {
        oxsio_socket_join(s, "admins");
        snprintf(json, sizeof json, "[{\"sid\":\"%s\",\"nsp\":\"/admin\"}]", sid_of(s));
        oxsio_socket_emit(s, "welcome", json, NULL, 0);
        return;
    }
    /* Poll mode: the socket may have left already; its calls then fail
     * harmlessly (OXSIO_RESULT_DISCONNECTED), so they are not CHECKed. */
    oxsio_socket_join(s, "all");
    const char *auth;
    CHECK(oxsio_socket_auth_json(s, &auth, NULL));
    const char *room = strstr(auth, "\"room\":\"");
    if (room) {
        char name[256];
        size_t n = 0;
        room += 8;
        while (room[n] && room[n] != '"' && n + 1 < sizeof name) {
            name[n] = room[n];
            n++;
        }
        name[n] = '\0';
        oxsio_socket_join(s, name);
    }
    snprintf(json, sizeof json, "[{\"sid\":\"%s\",\"auth\":%s}]", sid_of(s), auth);
    oxsio_socket_emit(s, "welcome", json, NULL, 0);
}

static void emit_to(const char *room, const char *except, const char *event,
                    const oxsio_event *ev, size_t data_arg) {
    static char json[300000];
    oxsio_buf bufs[16];
    size_t nb = event_buffers(ev, bufs, 16);
    if (arg_as_array(ev, data_arg, json, sizeof json) != 0) return;
    const char *rooms[] = {room};
    const char *excepts[] = {except};
    oxsio_target t = {0};
    t.rooms = rooms;
    t.room_count = room ? 1 : 0;
    t.except_rooms = excepts;
    t.except_count = except ? 1 : 0;
    oxsio_server_emit(server, &t, event, json, bufs, nb);
}

static void on_message(const oxsio_event *ev, const char *nsp) {
    oxsio_socket *s;
    CHECK(oxsio_event_socket(ev, &s));
    const char *name, *args;
    CHECK(oxsio_event_name(ev, &name, NULL));
    CHECK(oxsio_event_args_json(ev, &args, NULL));
    oxsio_buf bufs[16];
    size_t nb = event_buffers(ev, bufs, 16);
    char a[512], b[512], c[512], json[1200];

    if (strcmp(name, "echo") == 0) {
        oxsio_socket_emit(s, "echo", args, bufs, nb);
    } else if (strcmp(nsp, "/admin") == 0) {
        return;
    } else if (strcmp(name, "echo-ack") == 0) {
        oxsio_event_ack(ev, args, bufs, nb);
    } else if (strcmp(name, "ask-client") == 0) {
        static char data[300000];
        if (arg_as_array(ev, 0, data, sizeof data) == 0)
            oxsio_socket_emit_with_ack(s, "question", data, bufs, nb, 5000, NULL, NULL, NULL, NULL);
    } else if (strcmp(name, "join") == 0 || strcmp(name, "leave") == 0) {
        int join = name[0] == 'j';
        arg_str(ev, 0, a, sizeof a);
        if (join)
            oxsio_socket_join(s, a);
        else
            oxsio_socket_leave(s, a);
        char q[600];
        json_quote(q, sizeof q, a, strlen(a));
        snprintf(json, sizeof json, "[\"%s\",%s]", join ? "joined" : "left", q);
        oxsio_event_ack(ev, json, NULL, 0);
    } else if (strcmp(name, "to-room") == 0) {
        emit_to(arg_str(ev, 0, a, sizeof a), NULL, arg_str(ev, 1, b, sizeof b), ev, 2);
    } else if (strcmp(name, "to-room-except") == 0) {
        emit_to(arg_str(ev, 0, a, sizeof a), arg_str(ev, 1, b, sizeof b),
                arg_str(ev, 2, c, sizeof c), ev, 3);
    } else if (strcmp(name, "broadcast") == 0) {
        emit_to(NULL, sid_of(s), arg_str(ev, 0, a, sizeof a), ev, 1);
    } else if (strcmp(name, "disconnect-me") == 0) {
        oxsio_socket_disconnect(s, false);
    } else if (strcmp(name, "observe") == 0) {
        oxsio_socket_join(s, "observers");
        oxsio_event_ack(ev, NULL, NULL, 0);
    } else if (strcmp(name, "size") == 0) {
        uint32_t kind = 0;
        size_t n = 0;
        const char *str;
        const uint8_t *bin;
        if (oxsio_event_arg_kind(ev, 0, &kind) == OXSIO_RESULT_OK) {
            if (kind == OXSIO_VALUE_KIND_STRING) oxsio_event_arg_string(ev, 0, &str, &n);
            if (kind == OXSIO_VALUE_KIND_BINARY) oxsio_event_arg_binary(ev, 0, &bin, &n);
        }
        snprintf(json, sizeof json, "[%zu]", n);
        oxsio_event_ack(ev, json, NULL, 0);
    }
}

static void on_ack(const oxsio_event *ev) {
    oxsio_socket *s;
    if (oxsio_event_socket(ev, &s) != OXSIO_RESULT_OK) return;
    oxsio_result r;
    CHECK(oxsio_event_result(ev, &r));
    if (r == OXSIO_RESULT_OK) {
        const char *args;
        oxsio_buf bufs[16];
        size_t nb = event_buffers(ev, bufs, 16);
        CHECK(oxsio_event_args_json(ev, &args, NULL));
        oxsio_socket_emit(s, "answer", args, bufs, nb);
    } else {
        char json[256];
        snprintf(json, sizeof json, "[\"%s\"]", oxsio_result_message(r));
        oxsio_socket_emit(s, "answer-error", json, NULL, 0);
    }
}

static void on_disconnect(const oxsio_event *ev, const char *nsp) {
    if (strcmp(nsp, "/") != 0) return;
    oxsio_socket *s;
    CHECK(oxsio_event_socket(ev, &s));
    const char *reason;
    CHECK(oxsio_event_message(ev, &reason, NULL));
    char json[256];
    snprintf(json, sizeof json, "[{\"sid\":\"%s\",\"reason\":\"%s\"}]", sid_of(s), reason);
    const char *rooms[] = {"observers"};
    oxsio_target t = {0};
    t.rooms = rooms;
    t.room_count = 1;
    oxsio_server_emit(server, &t, "peer-disconnect", json, NULL, 0);
}

int main(int argc, char **argv) {
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%s", argc > 1 ? argv[1] : "0");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* APP.md's heartbeat is 300/200 ms; a slower one for peers under valgrind. */
    unsigned ping = argc > 2 ? (unsigned)atoi(argv[2]) : 300;
    /* Optional: a PEM certificate chain and key file to serve https / wss. */
    char tls[1200] = "";
    if (argc > 4) {
        snprintf(tls, sizeof tls, ",\"tls\":{\"cert_file\":\"%s\",\"key_file\":\"%s\"}",
                 argv[3], argv[4]);
    }
    /* OXSIO_PARSER=msgpack: socket.io-msgpack-parser (the `parser` config key). */
    char parser[64] = "";
    const char *parser_name = getenv("OXSIO_PARSER");
    if (parser_name && strlen(parser_name) < 32)
        snprintf(parser, sizeof parser, ",\"parser\":\"%s\"", parser_name);
    char config[1500];
    snprintf(config, sizeof config,
             "{\"max_payload\":100000,\"ping_interval_ms\":%u,\"ping_timeout_ms\":%u%s%s}", ping,
             ping == 300 ? 200u : ping, tls, parser);
    CHECK(oxsio_server_new(config, OXSIO_DISPATCH_POLL, &server));
    CHECK(oxsio_server_of(server, "/admin"));
    CHECK(oxsio_server_use(server, "/", NULL, NULL, NULL));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, address, &port));
    printf("listening %u\n", (unsigned)port);
    fflush(stdout);

    unsigned long events = 0;
    while (!stop) {
        oxsio_result w = oxsio_server_wait(server, 50);
        if (w != OXSIO_RESULT_OK && w != OXSIO_RESULT_TIMEOUT) break;
        oxsio_event *ev;
        while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) {
            const char *nsp;
            CHECK(oxsio_event_namespace(ev, &nsp, NULL));
            switch (oxsio_event_get_kind(ev)) {
            case OXSIO_EVENT_KIND_CONNECTION_REQUEST: on_request(ev); break;
            case OXSIO_EVENT_KIND_CONNECTION: on_connection(ev, nsp); break;
            case OXSIO_EVENT_KIND_MESSAGE: on_message(ev, nsp); break;
            case OXSIO_EVENT_KIND_ACK: on_ack(ev); break;
            case OXSIO_EVENT_KIND_DISCONNECT: on_disconnect(ev, nsp); break;
            default: break;
            }
            CHECK(oxsio_event_free(ev));
            events++;
        }
    }
    /* Waits at most 2 s; TIMEOUT means some connections were still closing. */
    oxsio_result down = oxsio_server_shutdown(server, 2000);
    if (down != OXSIO_RESULT_OK && down != OXSIO_RESULT_TIMEOUT) CHECK(down);
    CHECK(oxsio_server_free(server));
    printf("stopped after %lu events\n", events);
    return 0;
}
