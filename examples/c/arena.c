/* A small multiplayer arena in C with SDL2: each player moves a square;
 * the server and the clients run in poll mode (the library never runs this
 * program's code: each frame drains the queue), state travels as 16-byte
 * binary blobs each tick, and chat lines go with acknowledgements.
 *
 *   arena server [port]                         (0 picks a free port; prints "listening <port>")
 *   arena client <url> <name> <x> <y> <rrggbb> [--walk] [--frames N]
 *
 * Client: a 320x240 window; arrow keys (or --walk) move your square, your
 * position goes to the server 30 times a second, the others' squares are
 * drawn where their last blob put them. On connecting it says hello in the
 * chat (acknowledged by the server) and prints what it sees:
 *   "chat ack <n>", "chat <name>: <text>", "peer <id> at <x>,<y>",
 *   "ready" once it acked its chat, drew a peer and heard its chat. The
 *   chat goes out when the first peer shows up, so both players hear both.
 * It runs until the window closes, Escape, SIGINT / SIGTERM, or --frames N
 * frames. The server relays blobs to the others and chat to everyone, and
 * stops on SIGINT / SIGTERM.
 *
 * Blob, little-endian: player id (u32: a hash of the name), x (i32), y (i32), color (u32 0xRRGGBB).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>

#include <SDL.h>

#include "common.h"

#define W 320
#define H 240
#define SIZE 20
#define MAX_PEERS 8

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct {
    uint32_t id;
    int32_t x, y;
    uint32_t color;
} blob;

static void encode(const blob *b, uint8_t out[16]) {
    put_u32(out, b->id);
    put_u32(out + 4, (uint32_t)b->x);
    put_u32(out + 8, (uint32_t)b->y);
    put_u32(out + 12, b->color);
}
static blob decode(const uint8_t in[16]) {
    blob b = {get_u32(in), (int32_t)get_u32(in + 4), (int32_t)get_u32(in + 8), get_u32(in + 12)};
    return b;
}

static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* ------------------------------------------------------------------ server */

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static int run_server(const char *port_arg) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    oxsio_server *server = NULL;
    CHECK(oxsio_server_new(NULL, OXSIO_DISPATCH_POLL, &server));
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port_arg);
    uint16_t port = 0;
    CHECK(oxsio_server_listen(server, addr, &port));
    printf("listening %u\n", (unsigned)port);
    fflush(stdout);
    unsigned chats = 0, blobs = 0;
    while (!stop) {
        oxsio_event *ev = NULL;
        while (oxsio_server_poll(server, &ev) == OXSIO_RESULT_OK) {
            oxsio_socket *s = NULL;
            uint32_t kind = oxsio_event_get_kind(ev);
            if (kind == OXSIO_EVENT_KIND_CONNECTION && oxsio_event_socket(ev, &s) == OXSIO_RESULT_OK) {
                CHECK(oxsio_socket_join(s, "arena"));
            } else if (kind == OXSIO_EVENT_KIND_MESSAGE && oxsio_event_socket(ev, &s) == OXSIO_RESULT_OK) {
                const char *name = NULL, *id = NULL;
                oxsio_event_name(ev, &name, NULL);
                oxsio_socket_id(s, &id, NULL);
                const char *except[] = {id};
                oxsio_target everyone_else = {"/", NULL, 0, except, 1, OXSIO_TARGET_VOLATILE};
                if (strcmp(name, "state") == 0) {
                    const uint8_t *data = NULL;
                    size_t len = 0;
                    if (oxsio_event_arg_binary(ev, 0, &data, &len) == OXSIO_RESULT_OK && len == 16) {
                        oxsio_server_emit_binary(server, &everyone_else, "state", data, len);
                        blobs++;
                    }
                } else if (strcmp(name, "chat") == 0) {
                    /* Relays {"from":..,"text":..} as sent, then acknowledges. */
                    const char *args = NULL;
                    if (oxsio_event_args_json(ev, &args, NULL) == OXSIO_RESULT_OK) {
                        oxsio_target all = {"/", NULL, 0, NULL, 0, 0};
                        oxsio_server_emit(server, &all, "chat", args, NULL, 0);
                    }
                    char ack[64];
                    snprintf(ack, sizeof ack, "[\"delivered\",%u]", ++chats);
                    oxsio_event_ack(ev, ack, NULL, 0);
                }
            }
            oxsio_event_free(ev);
        }
        oxsio_server_wait(server, 50);
    }
    printf("stopped after %u chats, %u blobs\n", chats, blobs);
    oxsio_server_free(server);
    return 0;
}

/* ------------------------------------------------------------------ client */

static int run_client(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: arena client <url> <name> <x> <y> <rrggbb> [--walk] [--frames N]\n");
        return 2;
    }
    const char *url = argv[2], *name = argv[3];
    blob me = {hash_name(name), atoi(argv[4]), atoi(argv[5]), (uint32_t)strtoul(argv[6], NULL, 16)};
    bool walk = false;
    long max_frames = -1;
    for (int i = 7; i < argc; i++) {
        if (strcmp(argv[i], "--walk") == 0) walk = true;
        else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) max_frames = atol(argv[++i]);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "SDL_Init: %s\n", SDL_GetError());
        return 1;
    }
    char title[64];
    snprintf(title, sizeof title, "arena: %s", name);
    SDL_Window *win = SDL_CreateWindow(title, 0, 0, W, H, 0);
    if (!win) {
        fprintf(stderr, "SDL_CreateWindow: %s\n", SDL_GetError());
        SDL_Quit();
        return 1;
    }

    oxsio_client *client = NULL;
    CHECK(oxsio_client_connect(url, "{\"transports\":[\"websocket\"]}", OXSIO_DISPATCH_POLL, &client));
    blob peers[MAX_PEERS];
    int npeers = 0;
    bool acked = false, drew_peer = false, ready = false, running = true, chatted = false;
    unsigned heard = 0; /* chat lines received, ours included */
    uint64_t chat_ack_id = 0;
    long frames = 0;
    uint64_t last_send = 0;
    while (running) {
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT) running = false;
            if (e.type == SDL_KEYDOWN) {
                int step = 5;
                if (e.key.keysym.sym == SDLK_LEFT) me.x -= step;
                if (e.key.keysym.sym == SDLK_RIGHT) me.x += step;
                if (e.key.keysym.sym == SDLK_UP) me.y -= step;
                if (e.key.keysym.sym == SDLK_DOWN) me.y += step;
                if (e.key.keysym.sym == SDLK_ESCAPE) running = false;
            }
        }
        /* The network, on this thread. */
        oxsio_event *ev = NULL;
        while (oxsio_client_poll(client, &ev) == OXSIO_RESULT_OK) {
            uint32_t kind = oxsio_event_get_kind(ev);
            if (kind == OXSIO_EVENT_KIND_ACK) {
                uint64_t id = 0;
                oxsio_result r = OXSIO_RESULT_OK;
                double n = 0;
                oxsio_event_id(ev, &id);
                oxsio_event_result(ev, &r);
                if (id == chat_ack_id && r == OXSIO_RESULT_OK && oxsio_event_arg_number(ev, 1, &n) == OXSIO_RESULT_OK) {
                    printf("chat ack %d\n", (int)n);
                    acked = true;
                }
            } else if (kind == OXSIO_EVENT_KIND_MESSAGE) {
                const char *ename = NULL;
                oxsio_event_name(ev, &ename, NULL);
                const uint8_t *data = NULL;
                size_t len = 0;
                if (strcmp(ename, "state") == 0 && oxsio_event_arg_binary(ev, 0, &data, &len) == OXSIO_RESULT_OK &&
                    len == 16) {
                    blob b = decode(data);
                    int i = 0;
                    while (i < npeers && peers[i].id != b.id) i++;
                    bool fresh = i == npeers;
                    if (fresh && npeers < MAX_PEERS) npeers++;
                    if (i < npeers) {
                        bool moved = fresh || peers[i].x != b.x || peers[i].y != b.y;
                        peers[i] = b;
                        if (moved) printf("peer %08x at %d,%d\n", (unsigned)b.id, (int)b.x, (int)b.y);
                    }
                    if (!chatted) {
                        /* The peer is connected: it hears this chat too. */
                        char chat[160];
                        snprintf(chat, sizeof chat, "[{\"from\":\"%s\",\"text\":\"hello from %s\"}]", name, name);
                        CHECK(oxsio_client_emit_with_ack(client, "chat", chat, NULL, 0, 5000, NULL, NULL, NULL,
                                                         &chat_ack_id));
                        chatted = true;
                    }
                } else if (strcmp(ename, "chat") == 0) {
                    const char *args = NULL;
                    oxsio_event_args_json(ev, &args, NULL);
                    printf("chat %s\n", args);
                    heard++;
                }
            }
            oxsio_event_free(ev);
        }
        /* The tick: move (--walk goes around a small square) and send the blob. */
        uint64_t now = now_ms();
        if (now - last_send >= 33) {
            if (walk) {
                long t = (frames / 10) % 40;
                me.x += t < 10 ? 1 : t < 20 ? 0 : t < 30 ? -1 : 0;
                me.y += t < 10 ? 0 : t < 20 ? 1 : t < 30 ? 0 : -1;
            }
            uint8_t out[16];
            encode(&me, out);
            oxsio_client_emit_binary(client, "state", out, sizeof out, OXSIO_EMIT_VOLATILE);
            last_send = now;
        }
        /* Draw: dark background, the peers, then us. */
        SDL_Surface *surf = SDL_GetWindowSurface(win);
        SDL_FillRect(surf, NULL, SDL_MapRGB(surf->format, 16, 16, 24));
        for (int i = 0; i < npeers; i++) {
            SDL_Rect r = {peers[i].x, peers[i].y, SIZE, SIZE};
            SDL_FillRect(surf, &r,
                         SDL_MapRGB(surf->format, (peers[i].color >> 16) & 255, (peers[i].color >> 8) & 255,
                                    peers[i].color & 255));
            drew_peer = true;
        }
        SDL_Rect r = {me.x, me.y, SIZE, SIZE};
        SDL_FillRect(surf, &r, SDL_MapRGB(surf->format, (me.color >> 16) & 255, (me.color >> 8) & 255, me.color & 255));
        SDL_UpdateWindowSurface(win);
        if (!ready && acked && drew_peer && heard >= 2) {
            ready = true;
            printf("ready\n");
        }
        fflush(stdout);
        frames++;
        if (max_frames >= 0 && frames >= max_frames) running = false;
        if (stop) running = false;
        SDL_Delay(16);
    }
    printf("done after %ld frames, %d peer(s)\n", frames, npeers);
    oxsio_client_free(client);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return ready ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "server") == 0) return run_server(argc > 2 ? argv[2] : "3000");
    if (argc >= 2 && strcmp(argv[1], "client") == 0) return run_client(argc, argv);
    fprintf(stderr, "usage: arena server [port] | arena client <url> <name> <x> <y> <rrggbb> [--walk] [--frames N]\n");
    return 2;
}
