/* The log sink through the C ABI: the core's tracing records (level,
 * target, message) in queue mode (oxsio_log_poll, level filter, a buffer
 * too small, the bound and its drop count) and in callback mode (on the
 * library's log thread; user_data_free once), plus misuse. The Rust test
 * (ffi/tests/c_programs.rs) makes the server log: each time this prints
 * "trigger" it sends the server an invalid Socket.IO packet (logged at
 * DEBUG as "invalid packet, closing") and answers with a line on stdin.
 *
 *   log            prints "listening <port>", "trigger" lines, then "log: ok"
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common.h"

#include "expect.h"

static oxsio_server *server;

/* Asks the Rust side for one invalid packet and waits for its answer. */
static void trigger(void) {
    printf("trigger\n");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        printf("FAIL: no answer on stdin\n");
        exit(1);
    }
}

static void drain_server(void) {
    oxsio_event *ev = NULL;
    while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) oxsio_event_free(ev);
}

/* Polls the log queue for up to ms; true when a record from the invalid
 * packet came (its level, target and message checked). */
static bool wait_invalid_packet(int ms) {
    uint64_t end = now_ms() + (uint64_t)ms;
    char target[128], message[1024];
    while (now_ms() < end) {
        drain_server();
        uint32_t level = 0;
        size_t tl = 0, ml = 0;
        oxsio_result r = oxsio_log_poll(&level, target, sizeof target, &tl, message, sizeof message, &ml);
        if (r == OXSIO_RESULT_EMPTY) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        CHECK(r);
        EXPECT(tl == strlen(target) && ml == strlen(message), "lengths");
        if (strstr(message, "invalid packet, closing")) {
            EXPECT(level == OXSIO_LOG_LEVEL_DEBUG, "level %u", level);
            EXPECT(strcmp(target, "oxsio::socketio::conn") == 0, "target %s", target);
            EXPECT(strstr(message, " sid=") && strstr(message, " error="), "fields in \"%s\"", message);
            return true;
        }
    }
    return false;
}

struct ctx {
    atomic_int calls;
    atomic_int frees;
    atomic_int on_main;
    pthread_t main;
    char message[1024];
    char target[128];
    uint32_t level;
};

static void on_log(void *user_data, uint32_t level, const char *target, const char *message) {
    struct ctx *c = user_data;
    if (pthread_equal(pthread_self(), c->main)) atomic_fetch_add(&c->on_main, 1);
    if (strstr(message, "invalid packet, closing") && atomic_load(&c->calls) == 0) {
        snprintf(c->message, sizeof c->message, "%s", message);
        snprintf(c->target, sizeof c->target, "%s", target);
        c->level = level;
        atomic_fetch_add(&c->calls, 1);
    }
}

static void free_ctx(void *user_data) {
    struct ctx *c = user_data;
    atomic_fetch_add(&c->frees, 1);
}

int main(void) {
    /* Misuse first. */
    uint32_t level = 0;
    char buf[8];
    EXPECT(oxsio_log_poll(&level, buf, sizeof buf, NULL, buf, sizeof buf, NULL) == OXSIO_RESULT_WRONG_MODE,
           "poll with the sink off");
    EXPECT(oxsio_log_enable_queue(9, 0) == OXSIO_RESULT_INVALID_ARGUMENT, "unknown level");
    EXPECT(oxsio_log_set_callback(OXSIO_LOG_LEVEL_DEBUG, NULL, NULL, NULL) == OXSIO_RESULT_NULL_ARGUMENT,
           "NULL callback");
    EXPECT(oxsio_log_off() == OXSIO_RESULT_OK && oxsio_log_off() == OXSIO_RESULT_OK, "off twice");

    /* Queue at WARN: the DEBUG record is filtered out. */
    CHECK(oxsio_log_enable_queue(OXSIO_LOG_LEVEL_WARN, 0));
    EXPECT(oxsio_log_poll(NULL, buf, sizeof buf, NULL, buf, sizeof buf, NULL) == OXSIO_RESULT_NULL_ARGUMENT,
           "NULL out_level");
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &server));
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, "127.0.0.1:0", &port));
    printf("listening %u\n", (unsigned)port);
    fflush(stdout);
    trigger();
    EXPECT(!wait_invalid_packet(500), "a DEBUG record passed a WARN filter");

    /* Queue at DEBUG: the record comes, with level, target and fields. */
    CHECK(oxsio_log_enable_queue(OXSIO_LOG_LEVEL_DEBUG, 0));
    trigger();
    /* A buffer too small leaves the record queued. */
    uint64_t end = now_ms() + 5000;
    size_t tl = 0, ml = 0;
    oxsio_result r = OXSIO_RESULT_EMPTY;
    while (r == OXSIO_RESULT_EMPTY && now_ms() < end) {
        drain_server();
        r = oxsio_log_poll(&level, buf, 1, &tl, buf, 1, &ml);
    }
    EXPECT(r == OXSIO_RESULT_BUFFER_TOO_SMALL && tl > 0 && ml > 0, "too small: %u %zu %zu", (unsigned)r, tl, ml);
    EXPECT(wait_invalid_packet(5000), "no DEBUG record for the invalid packet");

    /* The bound: one record fits, the next ones are dropped and counted. */
    uint64_t dropped0 = 0, dropped1 = 0;
    CHECK(oxsio_log_dropped(&dropped0));
    CHECK(oxsio_log_enable_queue(OXSIO_LOG_LEVEL_DEBUG, 1));
    trigger();
    trigger();
    end = now_ms() + 5000;
    while (dropped1 <= dropped0 && now_ms() < end) {
        drain_server();
        CHECK(oxsio_log_dropped(&dropped1));
    }
    EXPECT(dropped1 > dropped0, "dropped %llu → %llu", (unsigned long long)dropped0, (unsigned long long)dropped1);

    /* Callback mode: on the log thread, user_data_free once at off. */
    static struct ctx c;
    c.main = pthread_self();
    CHECK(oxsio_log_set_callback(OXSIO_LOG_LEVEL_DEBUG, on_log, &c, free_ctx));
    EXPECT(oxsio_log_poll(&level, buf, sizeof buf, NULL, buf, sizeof buf, NULL) == OXSIO_RESULT_WRONG_MODE,
           "poll in callback mode");
    trigger();
    end = now_ms() + 5000;
    while (atomic_load(&c.calls) == 0 && now_ms() < end) {
        drain_server();
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    EXPECT(atomic_load(&c.calls) == 1, "callback calls %d", atomic_load(&c.calls));
    EXPECT(c.level == OXSIO_LOG_LEVEL_DEBUG && strcmp(c.target, "oxsio::socketio::conn") == 0,
           "callback record %u %s", c.level, c.target);
    EXPECT(atomic_load(&c.on_main) == 0, "a log callback ran on the main thread");
    CHECK(oxsio_log_off());
    end = now_ms() + 5000;
    while (atomic_load(&c.frees) == 0 && now_ms() < end) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    EXPECT(atomic_load(&c.frees) == 1, "user_data_free ran %d times", atomic_load(&c.frees));
    CHECK(oxsio_log_off());
    EXPECT(atomic_load(&c.frees) == 1, "user_data_free ran again");

    oxsio_server_free(server);
    if (failed) {
        printf("log: %d failure(s)\n", failed);
        return 1;
    }
    printf("log: ok\n");
    return 0;
}
