/* Misuse of the C ABI: NULL everywhere, invalid UTF-8, invalid JSON, bad
 * enum values, freed and wrongly-typed handles, double frees, free from
 * inside a callback, free while connecting. Every call must return an
 * error code (never crash); run under ASan/UBSan and valgrind.
 *
 *   misuse            prints "misuse: N checks ok" and exits 0
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

static int checks = 0, failed = 0;

#define EXPECT_RC(call, want)                                                          \
    do {                                                                               \
        oxsio_result got_ = (call);                                                    \
        checks++;                                                                      \
        if (got_ != (want)) {                                                          \
            failed++;                                                                  \
            printf("FAIL line %d: %s returned %u (%s), expected %u\n", __LINE__, #call, \
                   (unsigned)got_, oxsio_result_message(got_), (unsigned)(want));      \
        }                                                                              \
    } while (0)

#define OK(call) EXPECT_RC(call, OXSIO_RESULT_OK)

static const char bad_utf8[] = {'a', (char)0xff, (char)0xfe, 0};

static atomic_int freed_data = 0;
static void count_free(void *p) {
    (void)p;
    atomic_fetch_add(&freed_data, 1);
}

static oxsio_client *self_freeing = NULL;
static atomic_int freed_in_callback = 0;
static void free_myself(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
    /* Freeing the handle from inside its own callback is allowed. */
    if (oxsio_client_free(self_freeing) == OXSIO_RESULT_OK) atomic_store(&freed_in_callback, 1);
}

static oxsio_server *cb_server = NULL;
static atomic_int server_freed_in_callback = 0;
static void free_server(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
    if (oxsio_server_free(cb_server) == OXSIO_RESULT_OK)
        atomic_store(&server_freed_in_callback, 1);
}

/* Threads hammering one client while the main thread frees it. */
static oxsio_client *shared_client = NULL;
static atomic_int hammer_done = 0, hammer_bad = 0;
static void *hammer(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        oxsio_result r = oxsio_client_emit(shared_client, "spam", "[1,\"x\"]", NULL, 0);
        if (r == OXSIO_RESULT_INVALID_HANDLE) break; /* freed by the main thread */
        if (r != OXSIO_RESULT_OK && r != OXSIO_RESULT_BUFFER_FULL && r != OXSIO_RESULT_QUEUE_FULL) {
            printf("FAIL: concurrent emit returned %u\n", (unsigned)r);
            atomic_fetch_add(&hammer_bad, 1);
            break;
        }
    }
    atomic_fetch_add(&hammer_done, 1);
    return NULL;
}

/* The next event of `kind` (others are released), or NULL after ~5 s. */
static oxsio_event *next_server_event(oxsio_server *srv, oxsio_event_kind kind) {
    oxsio_event *ev = NULL;
    for (int i = 0; i < 100; i++) {
        oxsio_server_wait(srv, 50);
        if (oxsio_server_poll(srv, &ev) != OXSIO_RESULT_OK) continue;
        if (oxsio_event_get_kind(ev) == kind) return ev;
        oxsio_event_free(ev);
    }
    return NULL;
}

static oxsio_event *next_client_event(oxsio_client *cli, oxsio_event_kind kind) {
    oxsio_event *ev = NULL;
    for (int i = 0; i < 100; i++) {
        oxsio_client_wait(cli, 50);
        if (oxsio_client_poll(cli, &ev) != OXSIO_RESULT_OK) continue;
        if (oxsio_event_get_kind(ev) == kind) return ev;
        oxsio_event_free(ev);
    }
    return NULL;
}

static void nop_cb(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
}

int main(void) {
    /* ---- static helpers --------------------------------------------------- */
    checks++;
    if (strcmp(oxsio_version(), OXSIO_VERSION) != 0) {
        failed++;
        printf("FAIL: version %s != %s\n", oxsio_version(), OXSIO_VERSION);
    }
    checks++;
    if (strcmp(oxsio_result_message(123456), "unknown result code") != 0) failed++;

    /* ---- NULL handles and NULL arguments --------------------------------- */
    OK(oxsio_server_free(NULL));
    OK(oxsio_client_free(NULL));
    OK(oxsio_event_free(NULL));
    oxsio_server *srv = NULL;
    oxsio_client *cli = NULL;
    oxsio_event *ev = NULL;
    oxsio_socket *sock = NULL;
    uint16_t port = 0;
    size_t n = 0;
    const char *str = NULL;
    uint32_t u = 0;
    bool b = false;
    double d = 0;
    const uint8_t *data = NULL;

    EXPECT_RC(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, NULL), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_server_listen(NULL, "127.0.0.1:0", &port), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_poll(NULL, &ev), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_wait(NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_emit(NULL, NULL, "e", NULL, NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_of(NULL, "/x"), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_shutdown(NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_new(NULL, NULL, OXSIO_DISPATCH_POLL, &cli), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_client_connect("http://127.0.0.1:1", NULL, OXSIO_DISPATCH_POLL, NULL),
              OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_client_emit(NULL, "e", NULL, NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_poll(NULL, &ev), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_get_state(NULL, &u), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_open(NULL), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_disconnect(NULL), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_socket_emit(NULL, "e", NULL, NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_socket_join(NULL, "r"), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_socket_id(NULL, &str, NULL), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_event_name(NULL, &str, NULL), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_event_ack(NULL, NULL, NULL, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_event_accept(NULL), OXSIO_RESULT_INVALID_HANDLE);
    checks++;
    if (oxsio_event_get_kind(NULL) != OXSIO_EVENT_KIND_INVALID) failed++;

    /* ---- bad enum values, bad config, bad UTF-8, bad URL ------------------ */
    EXPECT_RC(oxsio_server_new(NULL, 7, &srv), OXSIO_RESULT_INVALID_ARGUMENT);
    EXPECT_RC(oxsio_server_new("{\"nope\":1}", OXSIO_DISPATCH_POLL, &srv),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new("{\"transports\":[\"carrier-pigeon\"]}", OXSIO_DISPATCH_POLL, &srv),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new("{", OXSIO_DISPATCH_POLL, &srv), OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new("{\"redis_url\":\"not a url\"}", OXSIO_DISPATCH_POLL, &srv),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new("{\"parser\":\"protobuf\"}", OXSIO_DISPATCH_POLL, &srv),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new("{\"parser\":7}", OXSIO_DISPATCH_POLL, &srv),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_server_new(bad_utf8, OXSIO_DISPATCH_POLL, &srv), OXSIO_RESULT_INVALID_UTF8);
    checks++;
    if (srv != NULL) failed++; /* outputs are written only on success */
    EXPECT_RC(oxsio_client_new("not a url", NULL, OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_INVALID_URL);
    EXPECT_RC(oxsio_client_new("ftp://x", NULL, OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_INVALID_URL);
    EXPECT_RC(oxsio_client_new(bad_utf8, NULL, OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_INVALID_UTF8);
    EXPECT_RC(oxsio_client_new("https://127.0.0.1:1", "{\"tls_ca_pem\":\"garbage\"}",
                               OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_TLS);
    EXPECT_RC(oxsio_client_new("http://127.0.0.1:1", "{\"randomization_factor\":3}",
                               OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_INVALID_CONFIG);
    EXPECT_RC(oxsio_client_new("http://127.0.0.1:1", "{\"parser\":\"MsgPack\"}",
                               OXSIO_DISPATCH_POLL, &cli),
              OXSIO_RESULT_INVALID_CONFIG);
    checks++;
    if (cli != NULL) failed++;

    /* ---- a real server and client, then abuse them ------------------------ */
    OK(oxsio_server_new("{\"max_rooms_per_socket\":2}", OXSIO_DISPATCH_POLL, &srv));
    EXPECT_RC(oxsio_server_listen(srv, "not an address", &port), OXSIO_RESULT_IO);
    EXPECT_RC(oxsio_server_listen(srv, bad_utf8, &port), OXSIO_RESULT_INVALID_UTF8);
    OK(oxsio_server_listen(srv, "127.0.0.1:0", &port));
    EXPECT_RC(oxsio_server_listen(srv, "127.0.0.1:0", &port), OXSIO_RESULT_INVALID_ARGUMENT);
    EXPECT_RC(oxsio_server_on_connection(srv, "/", nop_cb, NULL, NULL), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_server_use(srv, "/", nop_cb, NULL, NULL), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_server_emit(srv, NULL, "e", "not json", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_server_emit(srv, NULL, "e", "{\"not\":\"an array\"}", NULL, 0),
              OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_server_emit(srv, NULL, "e", "[{\"_placeholder\":true,\"num\":3}]", NULL, 0),
              OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_server_emit(srv, NULL, "e", "[1]", NULL, 2), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_server_emit(srv, NULL, bad_utf8, "[1]", NULL, 0), OXSIO_RESULT_INVALID_UTF8);
    EXPECT_RC(oxsio_server_emit(srv, NULL, "connect", "[1]", NULL, 0),
              OXSIO_RESULT_RESERVED_EVENT);
    EXPECT_RC(oxsio_server_emit(srv, NULL, NULL, "[1]", NULL, 0), OXSIO_RESULT_NULL_ARGUMENT);
    OK(oxsio_server_emit(srv, NULL, "e", "[1,\"two\",null]", NULL, 0));
    oxsio_target t = {0};
    t.nsp = "/undeclared";
    EXPECT_RC(oxsio_server_emit(srv, &t, "e", NULL, NULL, 0), OXSIO_RESULT_INVALID_ARGUMENT);
    t.nsp = NULL;
    t.flags = 0x80;
    EXPECT_RC(oxsio_server_emit(srv, &t, "e", NULL, NULL, 0), OXSIO_RESULT_INVALID_ARGUMENT);
    t.flags = 0;
    t.room_count = 1;
    EXPECT_RC(oxsio_server_emit(srv, &t, "e", NULL, NULL, 0), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_server_socket(srv, NULL, "nosuchsid", &sock), OXSIO_RESULT_INVALID_ARGUMENT);
    EXPECT_RC(oxsio_server_poll(srv, &ev), OXSIO_RESULT_EMPTY);
    EXPECT_RC(oxsio_server_poll(srv, NULL), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_server_wait(srv, 10), OXSIO_RESULT_TIMEOUT);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    OK(oxsio_client_connect(url,
                            "{\"transports\":[\"websocket\"],\"headers\":{\"x-game\":\"7\"},"
                            "\"query\":{\"level\":\"2\"},\"auth\":{\"token\":\"t\"}}",
                            OXSIO_DISPATCH_POLL, &cli));
    EXPECT_RC(oxsio_client_on(cli, "x", nop_cb, NULL, NULL), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_client_emit_with_ack(cli, "x", NULL, NULL, 0, 10, nop_cb, NULL, NULL, NULL),
              OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_client_emit(cli, "x", "[", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_client_emit_binary(cli, "x", NULL, 4, 0), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_client_emit_binary(cli, "x", NULL, 0, 0x10), OXSIO_RESULT_INVALID_ARGUMENT);
    OK(oxsio_client_wait_connected(cli, 5000));
    char idbuf[4];
    EXPECT_RC(oxsio_client_id(cli, idbuf, sizeof idbuf, &n), OXSIO_RESULT_BUFFER_TOO_SMALL);
    checks++;
    if (n != 20) failed++;

    /* The server sees the connection: exercise the event accessors. */
    oxsio_event *conn = next_server_event(srv, OXSIO_EVENT_KIND_CONNECTION);
    checks++;
    if (!conn) {
        failed++;
        printf("FAIL: no CONNECTION event\n");
        return 1;
    }
    OK(oxsio_event_socket(conn, &sock));
    OK(oxsio_event_handshake_json(conn, &str, &n));
    checks++;
    if (!strstr(str, "\"x-game\":\"7\"") || !strstr(str, "\"level\":\"2\"") ||
        !strstr(str, "\"auth\":{\"token\":\"t\"}") || !strstr(str, "\"EIO\":\"4\"")) {
        failed++;
        printf("FAIL: handshake %s\n", str);
    }
    OK(oxsio_socket_auth_json(sock, &str, NULL));
    checks++;
    if (strcmp(str, "{\"token\":\"t\"}") != 0) failed++;
    EXPECT_RC(oxsio_event_arg_string(conn, 0, &str, &n), OXSIO_RESULT_INVALID_ARGUMENT);
    EXPECT_RC(oxsio_event_arg_string(conn, 0, &str, NULL), OXSIO_RESULT_NULL_ARGUMENT);
    EXPECT_RC(oxsio_event_binary(conn, 5, &data, &n), OXSIO_RESULT_INVALID_ARGUMENT);
    EXPECT_RC(oxsio_event_ack(conn, NULL, NULL, 0), OXSIO_RESULT_NO_ACK);
    EXPECT_RC(oxsio_event_accept(conn), OXSIO_RESULT_NO_ACK);
    EXPECT_RC(oxsio_event_id(conn, NULL), OXSIO_RESULT_NULL_ARGUMENT);
    OK(oxsio_event_wants_ack(conn, &b));
    EXPECT_RC(oxsio_socket_on(sock, "x", nop_cb, NULL, NULL), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_socket_join(sock, bad_utf8), OXSIO_RESULT_INVALID_UTF8);
    OK(oxsio_socket_join(sock, "r1"));
    OK(oxsio_socket_join(sock, "r2"));
    EXPECT_RC(oxsio_socket_join(sock, "r3"), OXSIO_RESULT_TOO_MANY_ROOMS);
    EXPECT_RC(oxsio_socket_emit(sock, "x", "[1", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_socket_emit(sock, "x", "[1,]", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_socket_emit(sock, "x", "{\"a\":1}", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_socket_emit(sock, "x", "[\"\x01\"]", NULL, 0), OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_socket_emit(sock, "x", "[{\"_placeholder\":true,\"num\":0}]", NULL, 0),
              OXSIO_RESULT_INVALID_JSON);
    EXPECT_RC(oxsio_socket_emit(sock, "x", bad_utf8, NULL, 0), OXSIO_RESULT_INVALID_UTF8);
    EXPECT_RC(oxsio_socket_emit(sock, "connect", "[1]", NULL, 0), OXSIO_RESULT_RESERVED_EVENT);
    EXPECT_RC(oxsio_socket_emit_with_ack(sock, "x", NULL, NULL, 0, 10, nop_cb, NULL, NULL, NULL),
              OXSIO_RESULT_WRONG_MODE);

    /* Wrong handle types: a socket where an event is expected, and so on. */
    EXPECT_RC(oxsio_event_name((const oxsio_event *)sock, &str, NULL),
              OXSIO_RESULT_WRONG_HANDLE_TYPE);
    EXPECT_RC(oxsio_client_emit((const oxsio_client *)srv, "x", NULL, NULL, 0),
              OXSIO_RESULT_WRONG_HANDLE_TYPE);
    EXPECT_RC(oxsio_server_free((oxsio_server *)cli), OXSIO_RESULT_WRONG_HANDLE_TYPE);
    EXPECT_RC(oxsio_event_free((oxsio_event *)srv), OXSIO_RESULT_WRONG_HANDLE_TYPE);
    /* A forged handle. */
    EXPECT_RC(oxsio_client_emit((const oxsio_client *)(uintptr_t)0x12345, "x", NULL, NULL, 0),
              OXSIO_RESULT_INVALID_HANDLE);

    /* Clone, free twice, use after free: errors, never a crash. */
    oxsio_event *copy = NULL;
    OK(oxsio_event_clone(conn, &copy));
    OK(oxsio_event_free(conn));
    EXPECT_RC(oxsio_event_free(conn), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_event_name(conn, &str, NULL), OXSIO_RESULT_INVALID_HANDLE);
    OK(oxsio_event_name(copy, &str, NULL));
    checks++;
    if (strcmp(str, "connection") != 0) failed++;
    OK(oxsio_event_free(copy));

    /* A message with args: typed accessors. */
    OK(oxsio_socket_emit(sock, "m", "[\"s\",2.5,true,{\"_placeholder\":true,\"num\":0}]",
                         (oxsio_buf[]){{(const uint8_t *)"xy", 2}}, 1));
    oxsio_event *msg = next_client_event(cli, OXSIO_EVENT_KIND_MESSAGE);
    checks++;
    if (!msg) {
        failed++;
        printf("FAIL: no message\n");
    } else {
        OK(oxsio_event_arg_count(msg, &n));
        checks++;
        if (n != 4) failed++;
        OK(oxsio_event_arg_number(msg, 1, &d));
        OK(oxsio_event_arg_bool(msg, 2, &b));
        OK(oxsio_event_arg_kind(msg, 3, &u));
        checks++;
        if (d != 2.5 || !b || u != OXSIO_VALUE_KIND_BINARY) failed++;
        EXPECT_RC(oxsio_event_arg_number(msg, 0, &d), OXSIO_RESULT_INVALID_ARGUMENT);
        EXPECT_RC(oxsio_event_arg_kind(msg, 9, &u), OXSIO_RESULT_INVALID_ARGUMENT);
        OK(oxsio_event_arg_binary(msg, 3, &data, &n));
        checks++;
        if (n != 2 || data[0] != 'x') failed++;
        OK(oxsio_event_arg_json(msg, 3, &str, &n));
        checks++;
        if (n != 29 || strncmp(str, "{\"_placeholder\":true,\"num\":0}", n) != 0) failed++;
        OK(oxsio_event_free(msg));
    }

    /* JSON arguments are sent as written (spaces, exponents, escapes) and
     * arrive as the values they spell. */
    OK(oxsio_socket_emit(sock, "j", " [ \"a\\\"b\" , -1.5e1 , {\"k\" : [null]} ] ", NULL, 0));
    OK(oxsio_socket_emit(sock, "j", "  ", NULL, 0));
    for (int want = 0; want < 2; want++) {
        msg = next_client_event(cli, OXSIO_EVENT_KIND_MESSAGE);
        checks++;
        if (!msg) {
            failed++;
            printf("FAIL: no message j%d\n", want);
            continue;
        }
        OK(oxsio_event_args_json(msg, &str, &n));
        const char *expect = want == 0 ? "[\"a\\\"b\",-15,{\"k\":[null]}]" : "[]";
        checks++;
        if (strcmp(str, expect) != 0) {
            failed++;
            printf("FAIL: j%d arrived as %s\n", want, str);
        }
        OK(oxsio_event_free(msg));
    }

    /* A text event reaches the server with its JSON as received; the
     * typed accessors parse it on demand. */
    OK(oxsio_client_emit(cli, "t", "[\"s\\u0041\",2.5,[1,{\"a\":null}]]", NULL, 0));
    msg = next_server_event(srv, OXSIO_EVENT_KIND_MESSAGE);
    checks++;
    if (!msg) {
        failed++;
        printf("FAIL: no server message t\n");
    } else {
        OK(oxsio_event_name(msg, &str, NULL));
        checks++;
        if (strcmp(str, "t") != 0) failed++;
        OK(oxsio_event_args_json(msg, &str, &n));
        checks++;
        if (n != strlen(str) || str[0] != '[' || str[n - 1] != ']') failed++;
        OK(oxsio_event_arg_count(msg, &n));
        checks++;
        if (n != 3) failed++;
        OK(oxsio_event_arg_string(msg, 0, &str, &n));
        checks++;
        if (n != 2 || strncmp(str, "sA", 2) != 0) failed++;
        OK(oxsio_event_arg_number(msg, 1, &d));
        checks++;
        if (d != 2.5) failed++;
        OK(oxsio_event_arg_json(msg, 2, &str, &n));
        checks++;
        if (n != 14 || strncmp(str, "[1,{\"a\":null}]", n) != 0) {
            failed++;
            printf("FAIL: t arg 2 is %.*s\n", (int)n, str);
        }
        OK(oxsio_event_binary_count(msg, &n));
        checks++;
        if (n != 0) failed++;
        EXPECT_RC(oxsio_event_arg_json(msg, 3, &str, &n), OXSIO_RESULT_INVALID_ARGUMENT);
        OK(oxsio_event_free(msg));
    }

    /* Callbacks: user_data_free runs exactly once. */
    oxsio_client *cb_client = NULL;
    OK(oxsio_client_new(url, NULL, OXSIO_DISPATCH_CALLBACK, &cb_client));
    EXPECT_RC(oxsio_client_poll(cb_client, &ev), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_client_wait(cb_client, 0), OXSIO_RESULT_WRONG_MODE);
    EXPECT_RC(oxsio_client_on(cb_client, "x", NULL, NULL, count_free), OXSIO_RESULT_NULL_ARGUMENT);
    OK(oxsio_client_on(cb_client, "x", nop_cb, NULL, count_free));
    OK(oxsio_client_on(cb_client, NULL, nop_cb, NULL, count_free));
    OK(oxsio_client_off(cb_client, "x"));
    checks++;
    if (atomic_load(&freed_data) != 1) failed++;
    OK(oxsio_client_free(cb_client));
    checks++;
    if (atomic_load(&freed_data) != 2) failed++;
    EXPECT_RC(oxsio_client_free(cb_client), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_client_emit(cb_client, "x", NULL, NULL, 0), OXSIO_RESULT_INVALID_HANDLE);

    /* Free from inside a callback. */
    OK(oxsio_client_new(url, NULL, OXSIO_DISPATCH_CALLBACK, &self_freeing));
    OK(oxsio_client_on(self_freeing, "connect", free_myself, NULL, count_free));
    OK(oxsio_client_open(self_freeing));
    for (int i = 0; i < 200 && !atomic_load(&freed_in_callback); i++) sleep_ms(10);
    checks++;
    if (!atomic_load(&freed_in_callback)) {
        failed++;
        printf("FAIL: the client did not free itself in its callback\n");
    }
    for (int i = 0; i < 200 && atomic_load(&freed_data) != 3; i++) sleep_ms(10);
    checks++;
    if (atomic_load(&freed_data) != 3) failed++;

    /* A server freed from inside its connection callback. */
    OK(oxsio_server_new(NULL, OXSIO_DISPATCH_CALLBACK, &cb_server));
    OK(oxsio_server_on_connection(cb_server, NULL, free_server, NULL, count_free));
    uint16_t port2 = 0;
    OK(oxsio_server_listen(cb_server, "127.0.0.1:0", &port2));
    char url2[64];
    snprintf(url2, sizeof url2, "http://127.0.0.1:%u", (unsigned)port2);
    oxsio_client *victim = NULL;
    OK(oxsio_client_connect(url2, "{\"reconnection\":false}", OXSIO_DISPATCH_POLL, &victim));
    for (int i = 0; i < 300 && !atomic_load(&server_freed_in_callback); i++) sleep_ms(10);
    checks++;
    if (!atomic_load(&server_freed_in_callback)) {
        failed++;
        printf("FAIL: the server was not freed in its callback\n");
    }
    OK(oxsio_client_free(victim));

    /* Free while connecting (to a port nobody listens on, and to ours). */
    oxsio_client *early = NULL;
    OK(oxsio_client_connect("http://127.0.0.1:9", NULL, OXSIO_DISPATCH_POLL, &early));
    OK(oxsio_client_free(early));
    OK(oxsio_client_connect(url, NULL, OXSIO_DISPATCH_CALLBACK, &early));
    OK(oxsio_client_free(early));
    OK(oxsio_client_connect(url, NULL, OXSIO_DISPATCH_POLL, &early));
    OK(oxsio_client_free(early));

    /* Several threads use one client while another frees it. */
    OK(oxsio_client_connect(url, NULL, OXSIO_DISPATCH_POLL, &shared_client));
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, hammer, NULL);
    sleep_ms(30);
    OK(oxsio_client_free(shared_client));
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    checks++;
    if (atomic_load(&hammer_done) != 4 || atomic_load(&hammer_bad) != 0) failed++;

    /* Socket handles die with their DISCONNECT event. */
    OK(oxsio_client_disconnect(cli));
    int socket_gone = 0;
    for (int i = 0; i < 100 && !socket_gone; i++) {
        oxsio_server_wait(srv, 50);
        while (oxsio_server_poll(srv, &ev) == OXSIO_RESULT_OK) {
            oxsio_socket *who = NULL;
            oxsio_event_socket(ev, &who);
            if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_DISCONNECT && who == sock) {
                OK(oxsio_event_message(ev, &str, NULL));
                OK(oxsio_socket_id(sock, &str, NULL)); /* still valid here */
                oxsio_event_free(ev);
                EXPECT_RC(oxsio_socket_id(sock, &str, NULL), OXSIO_RESULT_INVALID_HANDLE);
                socket_gone = 1;
            } else {
                oxsio_event_free(ev);
            }
        }
    }
    checks++;
    if (!socket_gone) failed++;

    OK(oxsio_client_free(cli));
    OK(oxsio_server_free(srv));
    EXPECT_RC(oxsio_server_wait(srv, 0), OXSIO_RESULT_INVALID_HANDLE);
    EXPECT_RC(oxsio_server_free(srv), OXSIO_RESULT_INVALID_HANDLE);

    if (failed) {
        printf("misuse: %d of %d checks FAILED\n", failed, checks);
        return 1;
    }
    printf("misuse: %d checks ok\n", checks);
    return 0;
}
