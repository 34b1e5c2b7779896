/* The benchmark app on oxsio hosted from C, poll mode (include/oxsio.h,
 * the static library of ffi/): one thread drains the event queue with
 * oxsio_server_wait + oxsio_server_poll, as a game loop would.
 *
 * On connect join room "all"; "echo" -> emit back to the sender;
 * "broadcast" -> emit to room "all", sender included. Prints
 * "LISTENING <port>" once bound on 127.0.0.1 and serves until SIGTERM.
 * Usage: oxsio_c_poll_app [--port N] [--ping-interval-ms N] [--ping-timeout-ms N]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oxsio.h"

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

static long arg(int argc, char **argv, const char *name, long dflt) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return atol(argv[i + 1]);
  return dflt;
}

int main(int argc, char **argv) {
  char config[256] = "";
  long interval = arg(argc, argv, "--ping-interval-ms", 0);
  long timeout = arg(argc, argv, "--ping-timeout-ms", 0);
  if (interval > 0 && timeout > 0)
    snprintf(config, sizeof config, "{\"ping_interval_ms\":%ld,\"ping_timeout_ms\":%ld}",
             interval, timeout);
  oxsio_server *srv = NULL;
  if (oxsio_server_new(config, OXSIO_DISPATCH_POLL, &srv) != OXSIO_RESULT_OK) {
    fprintf(stderr, "oxsio_server_new: %s\n", oxsio_last_error_message());
    return 1;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%ld", arg(argc, argv, "--port", 0));
  uint16_t port = 0;
  if (oxsio_server_listen(srv, addr, &port) != OXSIO_RESULT_OK) {
    fprintf(stderr, "oxsio_server_listen: %s\n", oxsio_last_error_message());
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("LISTENING %u\n", (unsigned)port);
  fflush(stdout);

  const char *rooms[] = {"all"};
  oxsio_target all;
  memset(&all, 0, sizeof all);
  all.rooms = rooms;
  all.room_count = 1;

  while (!stop) {
    if (oxsio_server_wait(srv, 100) != OXSIO_RESULT_OK) continue;
    oxsio_event *ev = NULL;
    while (oxsio_server_poll(srv, &ev) == OXSIO_RESULT_OK) {
      oxsio_socket *sock = NULL;
      const char *name = NULL, *args = NULL;
      switch (oxsio_event_get_kind(ev)) {
      case OXSIO_EVENT_KIND_CONNECTION:
        if (oxsio_event_socket(ev, &sock) == OXSIO_RESULT_OK) oxsio_socket_join(sock, "all");
        break;
      case OXSIO_EVENT_KIND_MESSAGE:
        if (oxsio_event_name(ev, &name, NULL) != OXSIO_RESULT_OK) break;
        if (oxsio_event_args_json(ev, &args, NULL) != OXSIO_RESULT_OK) break;
        if (strcmp(name, "echo") == 0) {
          if (oxsio_event_socket(ev, &sock) == OXSIO_RESULT_OK)
            oxsio_socket_emit(sock, "echo", args, NULL, 0);
        } else if (strcmp(name, "broadcast") == 0) {
          oxsio_server_emit(srv, &all, "broadcast", args, NULL, 0);
        }
        break;
      default:
        break;
      }
      oxsio_event_free(ev);
    }
  }
  oxsio_server_shutdown(srv, 1000);
  oxsio_server_free(srv);
  return 0;
}
