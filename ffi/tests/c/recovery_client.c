/* Connection state recovery and retries through the C ABI (poll mode).
 * The Rust harness (ffi/tests/c_programs.rs) runs an oxsio server with
 * recovery behind a proxy that cuts the TCP connection; this client prints:
 *   connect recovered=<0|1> id=<id>   for each CONNECT event
 *   got <n>                           for each "n" event (first argument)
 *   task acked                        once the retried "task" is acknowledged
 * and exits 0 after "got 4".
 *
 *   recovery_client <url> [no-task]   (no-task: skip the retried emit)
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: recovery_client <url>\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    oxsio_client *c = NULL;
    CHECK(oxsio_client_connect(argv[1],
                               "{\"transports\":[\"websocket\"],\"reconnection_delay_ms\":100,"
                               "\"reconnection_delay_max_ms\":100,\"randomization_factor\":0,"
                               "\"retries\":3,\"ack_timeout_ms\":300}",
                               OXSIO_DISPATCH_POLL, &c));
    uint64_t end = now_ms() + 30000;
    int done = 0, tasked = argc > 2 && strcmp(argv[2], "no-task") == 0;
    while (!done && now_ms() < end) {
        oxsio_client_wait(c, 20);
        oxsio_event *ev;
        while (oxsio_client_poll(c, &ev) == OXSIO_RESULT_OK) {
            oxsio_event_kind kind = oxsio_event_get_kind(ev);
            if (kind == OXSIO_EVENT_KIND_CONNECT) {
                bool recovered = false;
                CHECK(oxsio_event_recovered(ev, &recovered));
                char id[64];
                size_t len = 0;
                CHECK(oxsio_client_id(c, id, sizeof id, &len));
                printf("connect recovered=%d id=%s\n", recovered ? 1 : 0, id);
                if (!tasked) {
                    /* Acknowledged by the server only at its second delivery. */
                    uint64_t ack_id = 0;
                    CHECK(oxsio_client_emit_with_ack(c, "task", "[1]", NULL, 0, 0, NULL, NULL, NULL, &ack_id));
                    tasked = 1;
                }
            } else if (kind == OXSIO_EVENT_KIND_ACK) {
                oxsio_result r = OXSIO_RESULT_OK;
                CHECK(oxsio_event_result(ev, &r));
                printf(r == OXSIO_RESULT_OK ? "task acked\n" : "task failed\n");
            } else if (kind == OXSIO_EVENT_KIND_MESSAGE) {
                double n = -1;
                CHECK(oxsio_event_arg_number(ev, 0, &n));
                printf("got %d\n", (int)n);
                if ((int)n == 4) done = 1;
            }
            oxsio_event_free(ev);
        }
    }
    oxsio_client_free(c);
    printf(done ? "recovery_client: ok\n" : "recovery_client: timeout\n");
    return done ? 0 : 1;
}
