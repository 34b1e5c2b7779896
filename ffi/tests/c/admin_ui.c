/* The Socket.IO Admin UI protocol through the C ABI: the `admin_ui` key of
 * the server config (bad values refused with OXSIO_RESULT_INVALID_CONFIG),
 * then an oxsio C client on the admin namespace: login, `config`,
 * `socket_connected` for an app client, `server_stats` with the server id,
 * a read-only refusal of a command, and a wrong password refused.
 *
 *   admin_ui       prints "admin_ui: ok" and exits 0
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "common.h"

/* bcrypt("changeit"), cost 4 (from bcryptjs). */
#define HASH "$2a$04$UXnWmZpPXvgpJSWHOPFRP.Kef5kthyOTCAS5iVTJ0EzgXAqiuo/VG"

#include "expect.h"

static oxsio_client *connect_to(const char *url, const char *auth) {
    char config[512];
    snprintf(config, sizeof config,
             "{\"transports\":[\"websocket\"],\"reconnection\":false,\"auth\":%s}", auth);
    oxsio_client *c = NULL;
    CHECK(oxsio_client_connect(url, config, OXSIO_DISPATCH_POLL, &c));
    return c;
}

/* Polls `c` (10 s at most) for an event of `kind` (and `name`) whose
 * arguments contain `needle`; NULL when none came. */
static oxsio_event *wait_for(oxsio_client *c, oxsio_event_kind kind, const char *name,
                             const char *needle) {
    uint64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        oxsio_client_wait(c, 50);
        oxsio_event *ev;
        while (oxsio_client_poll(c, &ev) == OXSIO_RESULT_OK) {
            const char *n = "", *args = "";
            oxsio_event_name(ev, &n, NULL);
            oxsio_event_args_json(ev, &args, NULL);
            if (oxsio_event_get_kind(ev) == kind && (!name || strcmp(n, name) == 0) &&
                (!needle || strstr(args, needle)))
                return ev;
            oxsio_event_free(ev);
        }
    }
    return NULL;
}

static const char *args_of(oxsio_event *ev) {
    const char *json = "";
    if (ev) oxsio_event_args_json(ev, &json, NULL);
    return json;
}

int main(void) {
    const char *bad[] = {
        "{\"admin_ui\":{}}",                                          /* auth is required */
        "{\"admin_ui\":{\"auth\":true}}",                             /* false or an object */
        "{\"admin_ui\":{\"auth\":{\"username\":\"a\",\"password\":\"changeit\"}}}", /* not a hash */
        "{\"admin_ui\":{\"auth\":false,\"mode\":\"prod\"}}",          /* unknown mode */
        "{\"admin_ui\":{\"auth\":false,\"stats_interval_ms\":0}}",    /* zero interval */
        "{\"admin_ui\":{\"auth\":false,\"readonly\":true}}",          /* unknown key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        oxsio_server *s = NULL;
        EXPECT(oxsio_server_new(bad[i], OXSIO_DISPATCH_POLL, &s) == OXSIO_RESULT_INVALID_CONFIG,
               "%s is refused", bad[i]);
        EXPECT(s == NULL, "no server for %s", bad[i]);
    }

    oxsio_server *server = NULL;
    CHECK(oxsio_server_new("{\"admin_ui\":{\"auth\":{\"type\":\"basic\",\"username\":\"admin\","
                           "\"password\":\"" HASH "\"},\"read_only\":true,"
                           "\"mode\":\"development\",\"server_id\":\"c-server\","
                           "\"stats_interval_ms\":200}}",
                           OXSIO_DISPATCH_POLL, &server));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    char url[64], admin_url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    snprintf(admin_url, sizeof admin_url, "%s/admin", url);

    oxsio_client *admin = connect_to(admin_url, "{\"username\":\"admin\",\"password\":\"changeit\"}");
    oxsio_event *ev = wait_for(admin, OXSIO_EVENT_KIND_MESSAGE, "config", NULL);
    EXPECT(ev && strcmp(args_of(ev),
                        "[{\"supportedFeatures\":[\"AGGREGATED_EVENTS\",\"ALL_EVENTS\"]}]") == 0,
           "config %s", args_of(ev));
    oxsio_event_free(ev);

    oxsio_client *app = connect_to(url, "{}");
    CHECK(oxsio_client_wait_connected(app, 10000));
    char id[64];
    CHECK(oxsio_client_id(app, id, sizeof id, NULL));
    ev = wait_for(admin, OXSIO_EVENT_KIND_MESSAGE, "socket_connected", id);
    EXPECT(ev && strstr(args_of(ev), "\"nsp\":\"/\""), "socket_connected %s", args_of(ev));
    oxsio_event_free(ev);
    ev = wait_for(admin, OXSIO_EVENT_KIND_MESSAGE, "server_stats", "\"serverId\":\"c-server\"");
    EXPECT(ev != NULL, "no server_stats from c-server");
    oxsio_event_free(ev);

    /* Read-only: a command is refused (answered when it asks for an ack). */
    char cmd[160];
    snprintf(cmd, sizeof cmd, "[\"/\",\"vip\",\"%s\"]", id);
    CHECK(oxsio_client_emit_with_ack(admin, "join", cmd, NULL, 0, 5000, NULL, NULL, NULL, NULL));
    ev = wait_for(admin, OXSIO_EVENT_KIND_ACK, NULL, NULL);
    EXPECT(ev && strcmp(args_of(ev), "[{\"error\":\"read-only\"}]") == 0, "ack %s", args_of(ev));
    oxsio_event_free(ev);

    /* A wrong password. */
    oxsio_client *intruder = connect_to(admin_url, "{\"username\":\"admin\",\"password\":\"nope\"}");
    ev = wait_for(intruder, OXSIO_EVENT_KIND_CONNECT_ERROR, NULL, NULL);
    oxsio_result r = OXSIO_RESULT_OK;
    const char *msg = "";
    if (ev) {
        oxsio_event_result(ev, &r);
        oxsio_event_message(ev, &msg, NULL);
    }
    EXPECT(ev && r == OXSIO_RESULT_REFUSED && strstr(msg, "invalid credentials"),
           "refusal %u %s", (unsigned)r, msg);
    oxsio_event_free(ev);

    CHECK(oxsio_client_free(intruder));
    CHECK(oxsio_client_free(app));
    CHECK(oxsio_client_free(admin));
    oxsio_result down = oxsio_server_shutdown(server, 2000);
    if (down != OXSIO_RESULT_OK && down != OXSIO_RESULT_TIMEOUT) CHECK(down);
    CHECK(oxsio_server_free(server));
    if (failed) return 1;
    printf("admin_ui: ok\n");
    return 0;
}
