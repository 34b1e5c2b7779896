/* Echo round trips through the C ABI: emit "echo" with a small JSON
 * payload, wait for the server's "echo" back, repeat, for `ms` milliseconds.
 *
 *   bench_echo <url> <poll|callback> <ms>
 *
 * Prints "roundtrips <n> in <ms> ms: <rate>/s".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "common.h"

static const char *ARGS = "[{\"seq\":1,\"pos\":[1.5,-2.25],\"name\":\"player\"}]";

static oxsio_client *client;
static atomic_ulong count = 0;
static atomic_int stopping = 0;

static void on_echo(void *user_data, const oxsio_event *ev) {
    (void)user_data;
    (void)ev;
    atomic_fetch_add(&count, 1);
    if (!atomic_load(&stopping)) oxsio_client_emit(client, "echo", ARGS, NULL, 0);
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int poll_mode = strcmp(argv[2], "poll") == 0;
    unsigned ms = (unsigned)atoi(argv[3]);
    CHECK(oxsio_client_new(argv[1], "{\"transports\":[\"websocket\"]}",
                           poll_mode ? OXSIO_DISPATCH_POLL : OXSIO_DISPATCH_CALLBACK, &client));
    if (!poll_mode) CHECK(oxsio_client_on(client, "echo", on_echo, NULL, NULL));
    CHECK(oxsio_client_open(client));
    CHECK(oxsio_client_wait_connected(client, 5000));

    unsigned long n = 0;
    uint64_t start = now_ms(), end = start + ms;
    if (poll_mode) {
        CHECK(oxsio_client_emit(client, "echo", ARGS, NULL, 0));
        while (now_ms() < end) {
            if (oxsio_client_wait(client, 100) != OXSIO_RESULT_OK) continue;
            oxsio_event *ev;
            while (oxsio_client_poll(client, &ev) == OXSIO_RESULT_OK) {
                if (oxsio_event_get_kind(ev) == OXSIO_EVENT_KIND_MESSAGE) {
                    n++;
                    CHECK(oxsio_client_emit(client, "echo", ARGS, NULL, 0));
                }
                oxsio_event_free(ev);
            }
        }
    } else {
        CHECK(oxsio_client_emit(client, "echo", ARGS, NULL, 0));
        sleep_ms(ms);
        atomic_store(&stopping, 1);
        n = atomic_load(&count);
    }
    uint64_t took = now_ms() - start;
    CHECK(oxsio_client_free(client));
    printf("roundtrips %lu in %llu ms: %.0f/s\n", n, (unsigned long long)took,
           (double)n * 1000.0 / (double)(took ? took : 1));
    return 0;
}
