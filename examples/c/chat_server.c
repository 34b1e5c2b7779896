/* Chat server in C, callback mode: rooms, acks both ways, a connect
 * middleware, binary relays.
 *
 *   chat_server [port]        (default 3000; 0 picks a free port)
 *
 * Prints "listening <port>", then one line per connection, join, chat and
 * disconnection. Stops cleanly on SIGINT / SIGTERM.
 *
 * Protocol (the chat_client and binary_state examples speak it):
 *   auth {"name": "..."}           required, else connect_error "name required"
 *   "welcome" (id, room)           sent on connection; everyone starts in "lobby"
 *   "join" (room) + ack            moves the socket to `room`; ack("joined", room);
 *                                  then the server asks the client "ready?" with
 *                                  an ack and prints the answer
 *   "chat" (text) + ack            relayed to the room as "chat" (name, text);
 *                                  ack("delivered", <count of chats so far>)
 *   "state" <binary>               relayed, volatile, to the others in the room
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>

#include "common.h"

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static atomic_uint chats = 0;

/* Per-socket state, owned by the "chat" registration (freed by the
 * library through user_data_free when the socket is gone). */
typedef struct {
    const oxsio_server *server;
    char name[64];
    char room[64];
} member;

static const oxsio_socket *socket_of(const oxsio_event *ev) {
    oxsio_socket *s = NULL;
    CHECK(oxsio_event_socket(ev, &s));
    return s;
}

static const char *sid_of(const oxsio_socket *s) {
    const char *id = "?";
    oxsio_socket_id(s, &id, NULL);
    return id;
}

static void on_ready_reply(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    oxsio_result r = OXSIO_RESULT_OK;
    const char *args = "";
    CHECK(oxsio_event_result(ev, &r));
    if (r == OXSIO_RESULT_OK) {
        CHECK(oxsio_event_args_json(ev, &args, NULL));
        printf("ready %s %s\n", sid_of(socket_of(ev)), args);
    } else {
        printf("ready %s failed: %s\n", sid_of(socket_of(ev)), oxsio_result_message(r));
    }
    fflush(stdout);
}

static void on_join(void *user_data, const oxsio_event *ev) {
    member *m = user_data;
    const oxsio_socket *s = socket_of(ev);
    const char *room;
    size_t len;
    if (oxsio_event_arg_string(ev, 0, &room, &len) != OXSIO_RESULT_OK || len == 0 ||
        len >= sizeof m->room) {
        oxsio_event_ack(ev, "[\"error\",\"a room name is required\"]", NULL, 0);
        return;
    }
    CHECK(oxsio_socket_leave(s, m->room));
    memcpy(m->room, room, len);
    m->room[len] = '\0';
    CHECK(oxsio_socket_join(s, m->room));
    char quoted[160], json[200];
    json_quote(quoted, sizeof quoted, m->room, strlen(m->room));
    snprintf(json, sizeof json, "[\"joined\",%s]", quoted);
    oxsio_event_ack(ev, json, NULL, 0);
    printf("join %s %s\n", m->name, m->room);
    fflush(stdout);
    /* Server -> client acknowledgement: the reply goes to on_ready_reply. */
    CHECK(oxsio_socket_emit_with_ack(s, "ready?", NULL, NULL, 0, 5000, on_ready_reply, NULL,
                                     NULL, NULL));
}

static void on_chat(void *user_data, const oxsio_event *ev) {
    member *m = user_data;
    const oxsio_socket *s = socket_of(ev);
    const char *text;
    size_t len;
    if (oxsio_event_arg_string(ev, 0, &text, &len) != OXSIO_RESULT_OK) return;
    char qname[160], qtext[1100], json[1300];
    json_quote(qname, sizeof qname, m->name, strlen(m->name));
    json_quote(qtext, sizeof qtext, text, len);
    snprintf(json, sizeof json, "[%s,%s]", qname, qtext);
    const char *rooms[] = {m->room};
    const char *except[] = {sid_of(s)};
    oxsio_target to = {0};
    to.rooms = rooms;
    to.room_count = 1;
    to.except_rooms = except;
    to.except_count = 1;
    oxsio_result r = oxsio_server_emit(m->server, &to, "chat", json, NULL, 0);
    if (r != OXSIO_RESULT_OK) fprintf(stderr, "broadcast: %s\n", oxsio_result_message(r));
    unsigned n = atomic_fetch_add(&chats, 1) + 1;
    char ack[64];
    snprintf(ack, sizeof ack, "[\"delivered\",%u]", n);
    oxsio_event_ack(ev, ack, NULL, 0);
    printf("chat %s@%s: %.*s\n", m->name, m->room, (int)len, text);
    fflush(stdout);
}

static void on_state(void *user_data, const oxsio_event *ev) {
    member *m = user_data;
    const uint8_t *data;
    size_t len;
    if (oxsio_event_arg_binary(ev, 0, &data, &len) != OXSIO_RESULT_OK) return;
    const char *rooms[] = {m->room};
    const char *except[] = {sid_of(socket_of(ev))};
    oxsio_target to = {0};
    to.rooms = rooms;
    to.room_count = 1;
    to.except_rooms = except;
    to.except_count = 1;
    to.flags = OXSIO_TARGET_VOLATILE;
    oxsio_server_emit_binary(m->server, &to, "state", data, len);
}

static void on_disconnect(void *user_data, const oxsio_event *ev) {
    member *m = user_data;
    const char *reason = "";
    oxsio_event_message(ev, &reason, NULL);
    printf("disconnected %s (%s)\n", m->name, reason);
    fflush(stdout);
}

static void on_connection(void *user_data, const oxsio_event *ev) {
    const oxsio_server *server = user_data;
    const oxsio_socket *s = socket_of(ev);
    member *m = calloc(1, sizeof *m);
    if (!m) return;
    m->server = server;
    strcpy(m->room, "lobby");
    /* The auth payload was checked by the middleware: {"name": "..."}. */
    const char *auth;
    CHECK(oxsio_socket_auth_json(s, &auth, NULL));
    const char *p = strstr(auth, "\"name\":\"");
    if (p) {
        p += 8;
        size_t n = 0;
        while (p[n] && p[n] != '"' && n + 1 < sizeof m->name) n++;
        memcpy(m->name, p, n);
    }
    CHECK(oxsio_socket_join(s, "lobby"));
    /* The "chat" registration owns `m`: free() runs when the socket is gone. */
    CHECK(oxsio_socket_on(s, "chat", on_chat, m, free));
    CHECK(oxsio_socket_on(s, "join", on_join, m, NULL));
    CHECK(oxsio_socket_on(s, "state", on_state, m, NULL));
    CHECK(oxsio_socket_on(s, "disconnect", on_disconnect, m, NULL));
    char json[128];
    snprintf(json, sizeof json, "[\"%s\",\"lobby\"]", sid_of(s));
    CHECK(oxsio_socket_emit(s, "welcome", json, NULL, 0));
    printf("connected %s\n", m->name);
    fflush(stdout);
}

static void require_name(void *user_data, const oxsio_event *request) {
    (void)user_data;
    const char *handshake;
    CHECK(oxsio_event_handshake_json(request, &handshake, NULL));
    const char *auth = strstr(handshake, "\"auth\":");
    if (auth && strstr(auth, "\"name\":\"") && !strstr(auth, "\"name\":\"\"")) {
        CHECK(oxsio_event_accept(request));
    } else {
        CHECK(oxsio_event_refuse(request, "name required",
                                 "{\"hint\":\"connect with auth {\\\"name\\\": ...}\"}"));
    }
}

int main(int argc, char **argv) {
    const char *port = argc > 1 ? argv[1] : "3000";
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%s", port);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    oxsio_server *server = NULL;
    CHECK(oxsio_server_new("{\"ping_interval_ms\":5000,\"ping_timeout_ms\":5000}",
                           OXSIO_DISPATCH_CALLBACK, &server));
    CHECK(oxsio_server_use(server, "/", require_name, NULL, NULL));
    CHECK(oxsio_server_on_connection(server, "/", on_connection, server, NULL));
    uint16_t bound = 0;
    CHECK(oxsio_server_listen(server, address, &bound));
    printf("listening %u\n", (unsigned)bound);
    fflush(stdout);

    while (!stop) sleep_ms(20);

    /* Waits at most 2 s; TIMEOUT means some connections were still closing. */
    oxsio_result down = oxsio_server_shutdown(server, 2000);
    if (down != OXSIO_RESULT_OK && down != OXSIO_RESULT_TIMEOUT) CHECK(down);
    CHECK(oxsio_server_free(server));
    printf("stopped after %u chats\n", atomic_load(&chats));
    return 0;
}
