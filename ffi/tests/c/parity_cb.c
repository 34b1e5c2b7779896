/* C API parity in callback mode (one process):
 *   - oxsio_client_once / oxsio_socket_once: called for the first matching
 *     event only, user_data_free right after; `on` handlers keep firing;
 *   - oxsio_server_emit_with_ack: a broadcast whose replies are gathered
 *     into one ACK event (one JSON array per socket), a timeout when a
 *     socket does not answer, an empty selection, a reserved name refused
 *     without calling user_data_free, and WRONG_MODE checks;
 *   - oxsio_server_allow_request: the hook sees the request as JSON, a
 *     refusal is HTTP 403 with its reason at the client, removal lets the
 *     client in, user_data_free once;
 *   - oxsio_client_set_auth_provider / oxsio_client_set_auth: the payload
 *     made before every attempt (a provider that needs more room than the
 *     first buffer), a fixed payload replacing it, bad payloads refused;
 *   - oxsio_socket_on_any_outgoing / oxsio_client_on_any_outgoing: every
 *     event sent, with its name and arguments; off removes them;
 *   - oxsio_server_of_dynamic: a predicate lets clients into namespaces
 *     that were never declared, which then take targets; refused names get
 *     "Invalid namespace"; user_data_free once at oxsio_server_free;
 *   - oxsio_socket_use: a per-packet middleware sees each event first; a
 *     refused one never reaches the handlers, which get "error" with the
 *     reason instead.
 *
 *   parity_cb      prints "parity_cb: ok" and exits 0, or FAIL lines and exits 1
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <string.h>

#include "common.h"

#include "expect.h"

/* Waits (bounded) until *v >= want. */
static bool wait_for(atomic_int *v, int want, int ms) {
    uint64_t end = now_ms() + (uint64_t)ms;
    while (atomic_load(v) < want && now_ms() < end) sleep_ms(5);
    return atomic_load(v) >= want;
}

/* A registration's calls and frees. */
struct counter {
    atomic_int calls;
    atomic_int frees;
};
static atomic_int connections;
static struct counter socket_on_hello, socket_once_hello, client_on_ping, client_once_ping;

static void count(void *user_data, const oxsio_event *ev) {
    (void)ev;
    atomic_fetch_add(&((struct counter *)user_data)->calls, 1);
}
static void count_free(void *user_data) { atomic_fetch_add(&((struct counter *)user_data)->frees, 1); }

/* Outgoing catch-all: the first event's name and arguments, and a count. */
struct outgoing {
    atomic_int calls;
    atomic_int frees;
    char name[32];
    char args[64];
};
static struct outgoing sock_out, cli_out;
static void on_outgoing(void *user_data, const oxsio_event *ev) {
    struct outgoing *o = user_data;
    if (atomic_load(&o->calls) == 0) {
        const char *n = NULL, *a = NULL;
        CHECK(oxsio_event_name(ev, &n, NULL));
        CHECK(oxsio_event_args_json(ev, &a, NULL));
        snprintf(o->name, sizeof o->name, "%s", n);
        snprintf(o->args, sizeof o->args, "%s", a);
    }
    atomic_fetch_add(&o->calls, 1);
}
static void outgoing_free(void *user_data) { atomic_fetch_add(&((struct outgoing *)user_data)->frees, 1); }

/* Dynamic namespaces: names starting with "/room-". */
struct dynamic {
    atomic_int asked;
    atomic_int connections;
    atomic_int frees;
    char nsp[32];
};
static bool room_names(void *user_data, const char *nsp) {
    struct dynamic *d = user_data;
    atomic_fetch_add(&d->asked, 1);
    return strncmp(nsp, "/room-", 6) == 0;
}
static void on_room_connection(void *user_data, const oxsio_event *ev) {
    struct dynamic *d = user_data;
    const char *nsp = NULL;
    CHECK(oxsio_event_namespace(ev, &nsp, NULL));
    snprintf(d->nsp, sizeof d->nsp, "%s", nsp);
    atomic_fetch_add(&d->connections, 1);
}
static void dynamic_free(void *user_data) { atomic_fetch_add(&((struct dynamic *)user_data)->frees, 1); }

/* Per-packet middleware: refuses "forbidden". */
static atomic_int mw_calls, mw_registered, mw_frees, forbidden_handled, errors_seen;
static char error_text[64];
static bool packet_mw(void *user_data, const oxsio_event *ev, char *reason, size_t capacity) {
    (void)user_data;
    atomic_fetch_add(&mw_calls, 1);
    const char *name = NULL;
    CHECK(oxsio_event_name(ev, &name, NULL));
    if (strcmp(name, "forbidden") == 0) {
        snprintf(reason, capacity, "not allowed");
        return false;
    }
    return true;
}
static void mw_free(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&mw_frees, 1);
}
static void on_forbidden(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
    atomic_fetch_add(&forbidden_handled, 1);
}
static void on_error_event(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    const char *msg = NULL;
    size_t n = 0;
    if (oxsio_event_arg_string(ev, 0, &msg, &n) == OXSIO_RESULT_OK)
        snprintf(error_text, sizeof error_text, "%.*s", (int)n, msg);
    atomic_fetch_add(&errors_seen, 1);
}

/* The auth payload of each connection, in order. */
#define MAX_AUTHS 16
static char auths[MAX_AUTHS][128];
static atomic_int auth_slots, auth_ready[MAX_AUTHS];

/* Waits (bounded) for a recorded auth starting with `prefix`; its slot or -1. */
static int find_auth(const char *prefix, int ms) {
    uint64_t end = now_ms() + (uint64_t)ms;
    do {
        int n = atomic_load(&auth_slots);
        for (int i = 0; i < n && i < MAX_AUTHS; i++)
            if (atomic_load(&auth_ready[i]) && strncmp(auths[i], prefix, strlen(prefix)) == 0) return i;
        sleep_ms(5);
    } while (now_ms() < end);
    return -1;
}

static void on_connection(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    oxsio_socket *s = NULL;
    CHECK(oxsio_event_socket(ev, &s));
    const char *auth = NULL;
    CHECK(oxsio_socket_auth_json(s, &auth, NULL));
    /* Connections may be handled on several threads at once: claim a slot. */
    int i = atomic_fetch_add(&auth_slots, 1);
    if (i < MAX_AUTHS) {
        /* The provider pads its payload: keep the start and the length. */
        snprintf(auths[i], sizeof auths[i], "%.40s len=%zu", auth, strlen(auth));
        atomic_store(&auth_ready[i], 1);
    }
    CHECK(oxsio_socket_on(s, "hello", count, &socket_on_hello, NULL));
    CHECK(oxsio_socket_once(s, "hello", count, &socket_once_hello, count_free));
    CHECK(oxsio_socket_use(s, packet_mw, NULL, mw_free));
    atomic_fetch_add(&mw_registered, 1);
    CHECK(oxsio_socket_on(s, "forbidden", on_forbidden, NULL, NULL));
    CHECK(oxsio_socket_on(s, "error", on_error_event, NULL, NULL));
    if (atomic_load(&connections) == 0) {
        CHECK(oxsio_socket_on_any_outgoing(s, on_outgoing, &sock_out, outgoing_free));
        CHECK(oxsio_socket_emit(s, "welcome", "[1,\"w\"]", NULL, 0));
    }
    /* socket_once_hello counts the calls and frees of both sockets' registrations. */
    atomic_fetch_add(&connections, 1);
}

/* Each client answers "survey" with [name, n]. */
struct answer {
    const char *name;
    int n;
};
static void on_survey(void *user_data, const oxsio_event *ev) {
    struct answer *a = user_data;
    char json[64];
    snprintf(json, sizeof json, "[\"%s\",%d]", a->name, a->n);
    CHECK(oxsio_event_ack(ev, json, NULL, 0));
}

struct reply {
    atomic_int calls;
    atomic_int frees;
    oxsio_result result;
    size_t args;
    uint64_t id;
    char json[256];
    oxsio_result socket_result;
};
static void on_reply(void *user_data, const oxsio_event *ev) {
    struct reply *r = user_data;
    CHECK(oxsio_event_result(ev, &r->result));
    CHECK(oxsio_event_arg_count(ev, &r->args));
    CHECK(oxsio_event_id(ev, &r->id));
    const char *j = NULL;
    CHECK(oxsio_event_args_json(ev, &j, NULL));
    snprintf(r->json, sizeof r->json, "%s", j);
    oxsio_socket *s = NULL;
    r->socket_result = oxsio_event_socket(ev, &s);
    atomic_fetch_add(&r->calls, 1);
}
static void reply_free(void *user_data) { atomic_fetch_add(&((struct reply *)user_data)->frees, 1); }

/* allow_request: refuses requests whose query has deny=1. */
struct gate {
    atomic_int calls;
    atomic_int frees;
    char last[2048];
};
static bool allow(void *user_data, const char *request_json, char *reason, size_t capacity) {
    struct gate *g = user_data;
    snprintf(g->last, sizeof g->last, "%s", request_json);
    atomic_fetch_add(&g->calls, 1);
    if (strstr(request_json, "deny=1")) {
        snprintf(reason, capacity, "no entry");
        return false;
    }
    return true;
}
static void gate_free(void *user_data) { atomic_fetch_add(&((struct gate *)user_data)->frees, 1); }

/* Connects a callback-mode client and returns its first CONNECT or
 * CONNECT_ERROR (kind, result and message). */
struct outcome {
    atomic_int done;
    uint32_t kind;
    oxsio_result result;
    char message[512];
};
static void on_outcome(void *user_data, const oxsio_event *ev) {
    struct outcome *o = user_data;
    if (atomic_load(&o->done)) return;
    o->kind = oxsio_event_get_kind(ev);
    oxsio_event_result(ev, &o->result);
    const char *m = NULL;
    oxsio_event_message(ev, &m, NULL);
    snprintf(o->message, sizeof o->message, "%s", m ? m : "");
    atomic_store(&o->done, 1);
}
static void try_connect(const char *url, const char *config, struct outcome *o) {
    oxsio_client *c = NULL;
    CHECK(oxsio_client_new(url, config, OXSIO_DISPATCH_CALLBACK, &c));
    CHECK(oxsio_client_on(c, "connect", on_outcome, o, NULL));
    CHECK(oxsio_client_on(c, "connect_error", on_outcome, o, NULL));
    CHECK(oxsio_client_open(c));
    wait_for(&o->done, 1, 10000);
    oxsio_client_free(c);
}

/* An auth provider: {"token":"t<n>","pad":"<5000 x>"}, more than the
 * library's first buffer, so each attempt calls it twice. */
struct provider {
    atomic_int calls;
    atomic_int made;
    atomic_int frees;
};
static size_t provide(void *user_data, char *json, size_t capacity) {
    struct provider *p = user_data;
    atomic_fetch_add(&p->calls, 1);
    char pad[5001];
    memset(pad, 'x', 5000);
    pad[5000] = 0;
    static char text[6000];
    int n = snprintf(text, sizeof text, "{\"token\":\"t%d\",\"pad\":\"%s\"}", atomic_load(&p->made) + 1, pad);
    if ((size_t)n > capacity) return (size_t)n;
    memcpy(json, text, (size_t)n);
    atomic_fetch_add(&p->made, 1);
    return (size_t)n;
}
static void provider_free(void *user_data) { atomic_fetch_add(&((struct provider *)user_data)->frees, 1); }

/* Opens c and waits for its CONNECT (callback mode), then for the server's
 * record of it. */
static atomic_int cb_connects;
static void on_cb_connect(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
    atomic_fetch_add(&cb_connects, 1);
}
static void reopen(oxsio_client *c) {
    int before = atomic_load(&cb_connects);
    CHECK(oxsio_client_open(c));
    wait_for(&cb_connects, before + 1, 15000);
}

int main(void) {
    oxsio_server *server = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_CALLBACK, &server));
    CHECK(oxsio_server_on_connection(server, "/", on_connection, NULL, NULL));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", (unsigned)port);

    static struct answer aa = {"a", 1}, ab = {"b", 2};
    oxsio_client *a = NULL, *b = NULL;
    CHECK(oxsio_client_new(url, NULL, OXSIO_DISPATCH_CALLBACK, &a));
    CHECK(oxsio_client_new(url, NULL, OXSIO_DISPATCH_CALLBACK, &b));
    CHECK(oxsio_client_on(a, "ping", count, &client_on_ping, NULL));
    CHECK(oxsio_client_once(a, "ping", count, &client_once_ping, count_free));
    CHECK(oxsio_client_on(a, "survey", on_survey, &aa, NULL));
    CHECK(oxsio_client_on(b, "survey", on_survey, &ab, NULL));
    CHECK(oxsio_client_on_any_outgoing(a, on_outgoing, &cli_out, outgoing_free));
    CHECK(oxsio_client_open(a));
    CHECK(oxsio_client_open(b));
    CHECK(oxsio_client_wait_connected(a, 10000));
    CHECK(oxsio_client_wait_connected(b, 10000));
    EXPECT(wait_for(&connections, 2, 10000), "connections %d", atomic_load(&connections));

    /* once, client side: two pings, the once handler runs for the first. */
    CHECK(oxsio_server_emit(server, NULL, "ping", "[1]", NULL, 0));
    CHECK(oxsio_server_emit(server, NULL, "ping", "[2]", NULL, 0));
    EXPECT(wait_for(&client_on_ping.calls, 2, 10000), "on ping %d", atomic_load(&client_on_ping.calls));
    EXPECT(atomic_load(&client_once_ping.calls) == 1, "once ping ran %d times", atomic_load(&client_once_ping.calls));
    EXPECT(atomic_load(&client_once_ping.frees) == 1, "once ping freed %d times", atomic_load(&client_once_ping.frees));

    /* once, server side: each client says hello twice. */
    for (int i = 0; i < 2; i++) {
        CHECK(oxsio_client_emit(a, "hello", NULL, NULL, 0));
        CHECK(oxsio_client_emit(b, "hello", NULL, NULL, 0));
    }
    EXPECT(wait_for(&socket_on_hello.calls, 4, 10000), "socket on hello %d", atomic_load(&socket_on_hello.calls));
    EXPECT(atomic_load(&socket_once_hello.calls) == 2, "socket once hello ran %d times (one per socket)",
           atomic_load(&socket_once_hello.calls));
    EXPECT(atomic_load(&socket_once_hello.frees) == 2, "socket once freed %d times",
           atomic_load(&socket_once_hello.frees));

    /* Per-packet middleware. */
    CHECK(oxsio_client_emit(a, "forbidden", "[1]", NULL, 0));
    EXPECT(wait_for(&errors_seen, 1, 5000) && strcmp(error_text, "not allowed") == 0, "error event \"%s\"",
           error_text);
    EXPECT(atomic_load(&forbidden_handled) == 0, "a refused packet reached its handler");
    EXPECT(atomic_load(&mw_calls) >= 5, "middleware calls %d", atomic_load(&mw_calls));

    /* Outgoing catch-all. */
    EXPECT(wait_for(&cli_out.calls, 2, 5000) && strcmp(cli_out.name, "hello") == 0 && strcmp(cli_out.args, "[]") == 0,
           "client outgoing: %d %s %s", atomic_load(&cli_out.calls), cli_out.name, cli_out.args);
    EXPECT(atomic_load(&sock_out.calls) >= 1 && strcmp(sock_out.name, "welcome") == 0 &&
               strcmp(sock_out.args, "[1,\"w\"]") == 0,
           "socket outgoing: %d %s %s", atomic_load(&sock_out.calls), sock_out.name, sock_out.args);
    CHECK(oxsio_client_off_any_outgoing(a));
    EXPECT(atomic_load(&cli_out.frees) == 1, "outgoing user_data_free at off (%d)", atomic_load(&cli_out.frees));
    int before_off = atomic_load(&cli_out.calls);
    CHECK(oxsio_client_emit(a, "after-off", NULL, NULL, 0));
    sleep_ms(50);
    EXPECT(atomic_load(&cli_out.calls) == before_off, "no outgoing call after off");

    /* Broadcast with ack: both replies gathered in one event. */
    static struct reply r1;
    uint64_t id = 0;
    CHECK(oxsio_server_emit_with_ack(server, NULL, "survey", "[\"q\"]", NULL, 0, 5000, on_reply, &r1, reply_free,
                                     &id));
    EXPECT(wait_for(&r1.calls, 1, 10000), "no broadcast reply");
    EXPECT(r1.result == OXSIO_RESULT_OK && r1.args == 2 && r1.id == id, "reply %u %zu %llu/%llu",
           (unsigned)r1.result, r1.args, (unsigned long long)r1.id, (unsigned long long)id);
    EXPECT(strstr(r1.json, "[\"a\",1]") && strstr(r1.json, "[\"b\",2]") && r1.json[0] == '[' && r1.json[1] == '[',
           "replies %s", r1.json);
    EXPECT(r1.socket_result == OXSIO_RESULT_INVALID_ARGUMENT, "a broadcast ack has no socket (%u)",
           (unsigned)r1.socket_result);
    EXPECT(wait_for(&r1.frees, 1, 5000) && atomic_load(&r1.frees) == 1, "user_data_free %d", atomic_load(&r1.frees));

    /* Nobody answers "unanswered": the reply is a timeout. */
    static struct reply r2;
    CHECK(oxsio_server_emit_with_ack(server, NULL, "unanswered", NULL, NULL, 0, 300, on_reply, &r2, reply_free, NULL));
    EXPECT(wait_for(&r2.calls, 1, 10000), "no timeout reply");
    EXPECT(r2.result == OXSIO_RESULT_TIMEOUT, "timeout result %u", (unsigned)r2.result);

    /* An empty selection answers at once, with no argument. */
    static struct reply r3;
    const char *room[] = {"empty"};
    oxsio_target t;
    memset(&t, 0, sizeof t);
    t.rooms = room;
    t.room_count = 1;
    CHECK(oxsio_server_emit_with_ack(server, &t, "survey", NULL, NULL, 0, 0, on_reply, &r3, reply_free, NULL));
    EXPECT(wait_for(&r3.calls, 1, 5000) && r3.result == OXSIO_RESULT_OK && r3.args == 0, "empty: %u %zu",
           (unsigned)r3.result, r3.args);

    /* Refused before sending: no call, no free. */
    static struct reply r4;
    EXPECT(oxsio_server_emit_with_ack(server, NULL, "connect", NULL, NULL, 0, 0, on_reply, &r4, reply_free, NULL) ==
               OXSIO_RESULT_RESERVED_EVENT,
           "a reserved name");
    EXPECT(oxsio_server_emit_with_ack(server, NULL, "x", "[1,", NULL, 0, 0, on_reply, &r4, reply_free, NULL) ==
               OXSIO_RESULT_INVALID_JSON,
           "bad JSON");
    sleep_ms(50);
    EXPECT(atomic_load(&r4.calls) == 0 && atomic_load(&r4.frees) == 0, "a refused call kept its user_data");
    EXPECT(oxsio_server_emit_with_ack(NULL, NULL, "x", NULL, NULL, 0, 0, NULL, NULL, NULL, NULL) ==
               OXSIO_RESULT_INVALID_HANDLE,
           "NULL server");

    /* allow_request */
    static struct gate g;
    CHECK(oxsio_server_allow_request(server, allow, &g, gate_free));
    static struct outcome denied, allowed, after;
    try_connect(url, "{\"query\":{\"deny\":\"1\"},\"reconnection\":false}", &denied);
    EXPECT(atomic_load(&denied.done) && denied.kind == OXSIO_EVENT_KIND_CONNECT_ERROR &&
               denied.result == OXSIO_RESULT_HTTP && strstr(denied.message, "403") &&
               strstr(denied.message, "no entry"),
           "denied: kind %u result %u \"%s\"", denied.kind, (unsigned)denied.result, denied.message);
    EXPECT(strstr(g.last, "\"query\":\"") && strstr(g.last, "deny=1") && strstr(g.last, "\"headers\":{") &&
               strstr(g.last, "\"address\":\"127.0.0.1:") && strstr(g.last, "\"secure\":false") &&
               strstr(g.last, "\"url\":\"/socket.io/?"),
           "request json %s", g.last);
    try_connect(url, "{\"reconnection\":false}", &allowed);
    EXPECT(allowed.kind == OXSIO_EVENT_KIND_CONNECT, "allowed: kind %u \"%s\"", allowed.kind, allowed.message);
    int calls = atomic_load(&g.calls);
    EXPECT(calls >= 2, "hook calls %d", calls);
    CHECK(oxsio_server_allow_request(server, NULL, NULL, NULL));
    EXPECT(atomic_load(&g.frees) == 1, "user_data_free once when removed (%d)", atomic_load(&g.frees));
    try_connect(url, "{\"query\":{\"deny\":\"1\"},\"reconnection\":false}", &after);
    EXPECT(after.kind == OXSIO_EVENT_KIND_CONNECT && atomic_load(&g.calls) == calls,
           "without the hook: kind %u, calls %d", after.kind, atomic_load(&g.calls));
    static struct gate g2;
    CHECK(oxsio_server_allow_request(server, allow, &g2, gate_free));

    /* Auth provider before every attempt, then a fixed payload. */
    {
        static struct provider p;
        oxsio_client *c = NULL;
        CHECK(oxsio_client_new(url, "{\"reconnection\":false}", OXSIO_DISPATCH_CALLBACK, &c));
        CHECK(oxsio_client_on(c, "connect", on_cb_connect, NULL, NULL));
        CHECK(oxsio_client_set_auth_provider(c, provide, &p, provider_free));
        reopen(c);
        int t1 = find_auth("{\"token\":\"t1\"", 15000);
        CHECK(oxsio_client_disconnect(c));
        reopen(c);
        int t2 = find_auth("{\"token\":\"t2\"", 15000);
        EXPECT(t1 >= 0 && t2 >= 0, "the server saw t1 (%d) and t2 (%d)", t1, t2);
        EXPECT(t1 < 0 || (strncmp(auths[t1], "{\"token\":\"t1\",\"pad\":\"xxx", 24) == 0 && strstr(auths[t1], "len=5023")),
               "first attempt's auth %s", t1 >= 0 ? auths[t1] : "");
        EXPECT(atomic_load(&p.made) == 2 && atomic_load(&p.calls) == 4, "provider made %d in %d calls",
               atomic_load(&p.made), atomic_load(&p.calls));
        EXPECT(oxsio_client_set_auth(c, "[1]") == OXSIO_RESULT_INVALID_ARGUMENT, "an array is not an auth payload");
        EXPECT(oxsio_client_set_auth(c, "{") == OXSIO_RESULT_INVALID_JSON, "bad JSON");
        EXPECT(atomic_load(&p.frees) == 0, "a refused set_auth keeps the provider");
        CHECK(oxsio_client_set_auth(c, "{\"token\":\"fixed\"}"));
        EXPECT(atomic_load(&p.frees) == 1, "the provider released when replaced (%d)", atomic_load(&p.frees));
        CHECK(oxsio_client_disconnect(c));
        reopen(c);
        int fixed = find_auth("{\"token\":\"fixed\"}", 15000);
        EXPECT(fixed >= 0 && strcmp(auths[fixed], "{\"token\":\"fixed\"} len=17") == 0, "fixed auth %s",
               fixed >= 0 ? auths[fixed] : "(none)");
        EXPECT(atomic_load(&p.calls) == 4, "the provider is no longer called");
        oxsio_client_free(c);
    }

    /* Dynamic namespaces. */
    static struct dynamic dyn;
    CHECK(oxsio_server_of_dynamic(server, room_names, on_room_connection, &dyn, dynamic_free));
    {
        char room_url[96], other_url[96];
        snprintf(room_url, sizeof room_url, "http://127.0.0.1:%u/room-7", (unsigned)port);
        snprintf(other_url, sizeof other_url, "http://127.0.0.1:%u/other", (unsigned)port);
        static struct outcome in_room, refused_ns;
        static struct counter room_msgs;
        oxsio_client *rc = NULL;
        CHECK(oxsio_client_new(room_url, "{\"reconnection\":false}", OXSIO_DISPATCH_CALLBACK, &rc));
        CHECK(oxsio_client_on(rc, "connect", on_outcome, &in_room, NULL));
        CHECK(oxsio_client_on(rc, "connect_error", on_outcome, &in_room, NULL));
        CHECK(oxsio_client_on(rc, "news", count, &room_msgs, NULL));
        CHECK(oxsio_client_open(rc));
        EXPECT(wait_for(&in_room.done, 1, 10000) && in_room.kind == OXSIO_EVENT_KIND_CONNECT,
               "into /room-7: kind %u \"%s\"", in_room.kind, in_room.message);
        EXPECT(wait_for(&dyn.connections, 1, 5000) && strcmp(dyn.nsp, "/room-7") == 0, "connection in %s", dyn.nsp);
        size_t n = 0;
        CHECK(oxsio_server_socket_count(server, "/room-7", &n));
        EXPECT(n == 1, "socket count of /room-7: %zu", n);
        oxsio_target rt;
        memset(&rt, 0, sizeof rt);
        rt.nsp = "/room-7";
        CHECK(oxsio_server_emit(server, &rt, "news", "[1]", NULL, 0));
        EXPECT(wait_for(&room_msgs.calls, 1, 5000), "a broadcast to the dynamic namespace");
        try_connect(other_url, "{\"reconnection\":false}", &refused_ns);
        EXPECT(refused_ns.kind == OXSIO_EVENT_KIND_CONNECT_ERROR && strstr(refused_ns.message, "Invalid namespace"),
               "/other: kind %u \"%s\"", refused_ns.kind, refused_ns.message);
        EXPECT(atomic_load(&dyn.asked) >= 2, "predicate asked %d times", atomic_load(&dyn.asked));
        EXPECT(atomic_load(&dyn.frees) == 0, "released early");
        oxsio_client_free(rc);
    }
    EXPECT(oxsio_server_of_dynamic(server, NULL, NULL, NULL, NULL) == OXSIO_RESULT_NULL_ARGUMENT, "NULL predicate");

    /* Poll-mode handles take no callbacks. */
    oxsio_server *ps = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &ps));
    EXPECT(oxsio_server_emit_with_ack(ps, NULL, "x", NULL, NULL, 0, 0, on_reply, &r4, NULL, NULL) ==
               OXSIO_RESULT_WRONG_MODE,
           "a callback on a poll-mode server");
    oxsio_client *pc = NULL;
    CHECK(oxsio_client_new(url, NULL, OXSIO_DISPATCH_POLL, &pc));
    EXPECT(oxsio_client_once(pc, "x", count, &client_once_ping, NULL) == OXSIO_RESULT_WRONG_MODE,
           "once on a poll-mode client");
    EXPECT(oxsio_server_allow_request(ps, allow, &g, NULL) == OXSIO_RESULT_WRONG_MODE,
           "allow_request on a poll-mode server");
    EXPECT(oxsio_server_of_dynamic(ps, room_names, NULL, &dyn, NULL) == OXSIO_RESULT_WRONG_MODE,
           "dynamic namespaces on a poll-mode server");
    EXPECT(oxsio_client_on_any_outgoing(pc, on_outgoing, &cli_out, NULL) == OXSIO_RESULT_WRONG_MODE,
           "outgoing catch-all on a poll-mode client");
    EXPECT(oxsio_client_set_auth_provider(pc, provide, NULL, NULL) == OXSIO_RESULT_WRONG_MODE,
           "an auth provider on a poll-mode client");
    CHECK(oxsio_client_set_auth(pc, "{\"token\":\"poll\"}"));
    CHECK(oxsio_client_set_auth(pc, NULL));
    oxsio_client_free(pc);
    oxsio_server_free(ps);

    oxsio_client_free(a);
    oxsio_client_free(b);
    oxsio_server_free(server);
    EXPECT(atomic_load(&sock_out.frees) == 1, "socket outgoing released with the server (%d)",
           atomic_load(&sock_out.frees));
    EXPECT(atomic_load(&dyn.frees) == 1, "dynamic predicate released with the server (%d)", atomic_load(&dyn.frees));
    EXPECT(atomic_load(&mw_frees) == atomic_load(&mw_registered), "middlewares released: %d of %d",
           atomic_load(&mw_frees), atomic_load(&mw_registered));
    EXPECT(atomic_load(&g2.frees) == 1, "a hook still set is released by oxsio_server_free (%d)",
           atomic_load(&g2.frees));
    if (failed) {
        printf("parity_cb: %d failure(s)\n", failed);
        return 1;
    }
    printf("parity_cb: ok\n");
    return 0;
}
