/* Chat client in C with a game loop in poll mode: the library never runs
 * this program's code on its threads; each frame drains the event queue.
 *
 *   chat_client <url> <name> <room> [--expect N] [message...]
 *
 * Connects with auth {"name": name}, joins `room` (ack), sends each message
 * (ack "delivered"), answers the server's "ready?" ack, prints the chats of
 * the others, and leaves once every message is delivered and N chats from
 * others were received (20 s at most). Exit code 0 on success.
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: chat_client <url> <name> <room> [--expect N] [message...]\n");
        return 2;
    }
    const char *url = argv[1], *name = argv[2], *room = argv[3];
    int expect = 0, first_msg = 4;
    if (argc > 5 && strcmp(argv[4], "--expect") == 0) {
        expect = atoi(argv[5]);
        first_msg = 6;
    }
    int to_send = argc - first_msg;

    char qname[160], config[256];
    json_quote(qname, sizeof qname, name, strlen(name));
    snprintf(config, sizeof config,
             "{\"auth\":{\"name\":%s},\"reconnection_attempts\":3,\"connect_timeout_ms\":5000}",
             qname);
    oxsio_client *client = NULL;
    CHECK(oxsio_client_connect(url, config, OXSIO_DISPATCH_POLL, &client));

    uint64_t join_ack = 0;
    int delivered = 0, received = 0, failed = 0, joined = 0;
    uint64_t deadline = now_ms() + 20000;
    unsigned frames = 0;

    while (now_ms() < deadline) {
        /* --- one frame: drain every queued event, never blocking --- */
        oxsio_event *ev;
        while (oxsio_client_poll(client, &ev) == OXSIO_RESULT_OK) {
            const char *ename = "";
            oxsio_event_name(ev, &ename, NULL);
            switch (oxsio_event_get_kind(ev)) {
            case OXSIO_EVENT_KIND_CONNECT: {
                printf("connected\n");
                char qroom[160], args[200];
                json_quote(qroom, sizeof qroom, room, strlen(room));
                snprintf(args, sizeof args, "[%s]", qroom);
                CHECK(oxsio_client_emit_with_ack(client, "join", args, NULL, 0, 5000, NULL, NULL,
                                                 NULL, &join_ack));
                break;
            }
            case OXSIO_EVENT_KIND_CONNECT_ERROR: {
                const char *msg = "";
                oxsio_event_message(ev, &msg, NULL);
                printf("connect_error: %s\n", msg);
                failed = 1;
                break;
            }
            case OXSIO_EVENT_KIND_DISCONNECT: {
                const char *reason = "";
                oxsio_event_message(ev, &reason, NULL);
                printf("disconnected: %s\n", reason);
                break;
            }
            case OXSIO_EVENT_KIND_ACK: {
                uint64_t id = 0;
                oxsio_result r = OXSIO_RESULT_OK;
                const char *json = "";
                oxsio_event_id(ev, &id);
                oxsio_event_result(ev, &r);
                if (r != OXSIO_RESULT_OK) {
                    printf("ack %llu failed: %s\n", (unsigned long long)id,
                           oxsio_result_message(r));
                    failed = 1;
                    break;
                }
                oxsio_event_args_json(ev, &json, NULL);
                if (id == join_ack) {
                    printf("join ack %s\n", json);
                    joined = 1;
                    for (int i = first_msg; i < argc; i++) {
                        char qtext[1100], args[1200];
                        json_quote(qtext, sizeof qtext, argv[i], strlen(argv[i]));
                        snprintf(args, sizeof args, "[%s]", qtext);
                        CHECK(oxsio_client_emit_with_ack(client, "chat", args, NULL, 0, 5000, NULL,
                                                         NULL, NULL, NULL));
                    }
                } else {
                    delivered++;
                    printf("chat ack %s\n", json);
                }
                break;
            }
            case OXSIO_EVENT_KIND_MESSAGE:
                if (strcmp(ename, "chat") == 0) {
                    const char *from, *text;
                    size_t from_len, text_len;
                    if (oxsio_event_arg_string(ev, 0, &from, &from_len) == OXSIO_RESULT_OK &&
                        oxsio_event_arg_string(ev, 1, &text, &text_len) == OXSIO_RESULT_OK) {
                        printf("chat from %.*s: %.*s\n", (int)from_len, from, (int)text_len, text);
                        received++;
                    }
                } else if (strcmp(ename, "ready?") == 0) {
                    /* The server asked for an acknowledgement: answer it. */
                    CHECK(oxsio_event_ack(ev, "[\"ready\"]", NULL, 0));
                    printf("answered ready?\n");
                } else if (strcmp(ename, "welcome") == 0) {
                    const char *room0;
                    size_t len;
                    if (oxsio_event_arg_string(ev, 1, &room0, &len) == OXSIO_RESULT_OK)
                        printf("welcome to %.*s\n", (int)len, room0);
                }
                break;
            default:
                break;
            }
            oxsio_event_free(ev);
        }
        fflush(stdout);
        if (failed || (joined && delivered == to_send && received >= expect)) break;

        /* --- the rest of the frame: game logic, rendering... --- */
        frames++;
        sleep_ms(16);
    }

    int ok = !failed && joined && delivered == to_send && received >= expect;
    CHECK(oxsio_client_disconnect(client));
    CHECK(oxsio_client_free(client));
    printf("%s after %u frames: %d delivered, %d received\n", ok ? "done" : "FAILED", frames,
           delivered, received);
    return ok ? 0 : 1;
}
