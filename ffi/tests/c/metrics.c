/* Prometheus metrics through the C ABI (poll mode, one process): the
 * `metrics_path` config key, `oxsio_server_metrics` (length query, a buffer
 * too small, the text) and the counters moving with traffic. The Rust test
 * scrapes the printed port's /metrics over HTTP while this waits.
 *
 *   metrics        prints "listening <port>", waits for a line on stdin,
 *                  then "metrics: ok" and exits 0
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "common.h"

#include "expect.h"

/* The value of the metric line starting with `key ` in `text`, or -1. */
static long long metric(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ' ') return atoll(p + n + 1);
    }
    return -1;
}

int main(void) {
    oxsio_server *bad = NULL;
    EXPECT(oxsio_server_new("{\"metrics_path\":\"metrics\"}", OXSIO_DISPATCH_POLL, &bad) ==
               OXSIO_RESULT_INVALID_CONFIG,
           "a metrics_path without '/' is refused");
    oxsio_server *plain = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &plain));
    size_t len = 0;
    EXPECT(oxsio_server_metrics(plain, NULL, 0, &len) == OXSIO_RESULT_INVALID_ARGUMENT,
           "metrics off: INVALID_ARGUMENT");
    CHECK(oxsio_server_free(plain));

    oxsio_server *server = NULL;
    CHECK(oxsio_server_new("{\"metrics_path\":\"/metrics\"}", OXSIO_DISPATCH_POLL, &server));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
    oxsio_client *client = NULL;
    CHECK(oxsio_client_connect(url, "{\"transports\":[\"websocket\"]}", OXSIO_DISPATCH_POLL,
                               &client));
    CHECK(oxsio_client_wait_connected(client, 10000));
    for (int i = 0; i < 3; i++) CHECK(oxsio_client_emit(client, "hello", "[1]", NULL, 0));
    /* Drains the server until the three messages arrived. */
    int messages = 0;
    uint64_t end = now_ms() + 10000;
    while (messages < 3 && now_ms() < end) {
        oxsio_server_wait(server, 20);
        oxsio_event *ev;
        while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) {
            if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_MESSAGE) messages++;
            oxsio_event_free(ev);
        }
    }
    EXPECT(messages == 3, "%d messages", messages);

    EXPECT(oxsio_server_metrics(server, NULL, 0, &len) == OXSIO_RESULT_BUFFER_TOO_SMALL && len > 0,
           "length query");
    char small[16];
    EXPECT(oxsio_server_metrics(server, small, sizeof small, NULL) == OXSIO_RESULT_BUFFER_TOO_SMALL,
           "small buffer");
    size_t cap = len + 4096;
    char *text = malloc(cap);
    CHECK(oxsio_server_metrics(server, text, cap, &len));
    EXPECT(strlen(text) == len, "length");
    EXPECT(metric(text, "oxsio_packets_received_total{type=\"event\"}") == 3, "3 events in:\n%s", text);
    EXPECT(metric(text, "oxsio_engine_connections{transport=\"websocket\"}") == 1, "1 websocket");
    EXPECT(metric(text, "oxsio_sockets{namespace=\"/\"}") == 1, "1 socket");
    free(text);

    printf("listening %u\n", (unsigned)port);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) printf("stdin closed\n");

    CHECK(oxsio_client_free(client));
    oxsio_result down = oxsio_server_shutdown(server, 2000);
    if (down != OXSIO_RESULT_OK && down != OXSIO_RESULT_TIMEOUT) CHECK(down);
    CHECK(oxsio_server_free(server));
    if (failed) return 1;
    printf("metrics: ok\n");
    return 0;
}
