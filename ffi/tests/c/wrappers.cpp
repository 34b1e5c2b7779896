// The C++ wrappers of oxsio.hpp that the examples do not use, against a live
// server in one process (poll mode): version, Client::connect,
// dropped_events, Server::port / metrics / socket / socket_count /
// fetch_sockets, Socket::data_json / set_data_json / rooms_json / off, and
// the log sink (log_enable_queue / log_poll / log_dropped /
// log_set_callback / log_off), fed by an invalid packet sent over raw HTTP;
// then in callback mode Client::once, Socket::once and Server::emit_with_ack;
// Emitter: its errors become exceptions with the C code (no Redis listens
// on the port it is given; the emitter tests cover a live Redis).
//
//   wrappers_cpp     prints "wrappers: ok" and exits 0, or FAIL lines and exits 1
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "oxsio.hpp"

static int failed = 0;
#define EXPECT(cond, what)                                                     \
    do {                                                                       \
        if (!(cond)) {                                                         \
            std::cout << "FAIL line " << __LINE__ << ": " << what << "\n";     \
            failed++;                                                          \
        }                                                                      \
    } while (0)

// One HTTP request on a fresh connection to 127.0.0.1:port; the answer.
static std::string http(uint16_t port, const std::string &request) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
        ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
    }
    if (fd >= 0) ::close(fd);
    return answer;
}

// A polling session that sends a Socket.IO packet of unknown type: the
// server logs "invalid packet, closing" at DEBUG.
static void invalid_packet(uint16_t port) {
    std::string open = http(port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto at = open.find("\"sid\":\"");
    if (at == std::string::npos) return;
    std::string sid = open.substr(at + 7, open.find('"', at + 7) - at - 7);
    http(port, "POST /socket.io/?EIO=4&transport=polling&sid=" + sid +
                   " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n49");
}

int main() {
    try {
        EXPECT(oxsio::version() == OXSIO_VERSION, "version " << oxsio::version());
        oxsio::Server server("{\"metrics_path\":\"/metrics\"}", oxsio::Dispatch::Poll);
        EXPECT(server.port() == 0, "port before listen");
        uint16_t port = server.listen("127.0.0.1:0");
        EXPECT(server.port() == port, "port " << server.port());
        std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
        oxsio::Client client = oxsio::Client::connect(url, "{\"auth\":{\"who\":\"cpp\"}}");
        EXPECT(client.wait_connected(10000), "connected");
        std::optional<oxsio::Socket> sock;
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!sock && std::chrono::steady_clock::now() < end) {
            while (auto ev = server.poll()) {
                if (ev->kind() == OXSIO_EVENT_KIND_CONNECTION) sock = ev->socket();
            }
            if (!sock) server.wait(20);
        }
        EXPECT(sock.has_value(), "connection");
        if (sock) {
            EXPECT(server.socket_count("/") == 1, "socket_count " << server.socket_count("/"));
            auto again = server.socket("/", client.id());
            EXPECT(again && again->id() == sock->id(), "socket() by id");
            EXPECT(!server.socket("/", "nope"), "socket() of an unknown id");
            EXPECT(sock->data_json() == "{}", "data at first " << sock->data_json());
            std::string big(5000, 'x');
            sock->set_data_json("{\"big\":\"" + big + "\"}");
            EXPECT(sock->data_json() == "{\"big\":\"" + big + "\"}", "data grew past a first guess");
            sock->join("team");
            std::string rooms = sock->rooms_json();
            EXPECT(rooms.find("\"team\"") != std::string::npos &&
                       rooms.find("\"" + std::string(sock->id()) + "\"") != std::string::npos,
                   "rooms " << rooms);
            oxsio::Target t;
            t.rooms = {"team"};
            std::string fetched = server.fetch_sockets(t, 2000);
            EXPECT(fetched.find("\"id\":\"" + std::string(sock->id()) + "\"") != std::string::npos &&
                       fetched.find("\"who\":\"cpp\"") != std::string::npos &&
                       fetched.find(big) != std::string::npos,
                   "fetch_sockets " << fetched.substr(0, 200));
            t.rooms = {"empty-room"};
            EXPECT(server.fetch_sockets(t) == "[]", "fetch_sockets of an empty room");
            sock->off("x");  // nothing registered: removes nothing, no error
            sock->off("");   // every callback of the socket
        }
        // The log sink, queue mode then callback mode.
        EXPECT(oxsio::log_dropped() == 0, "nothing dropped yet");
        oxsio::log_enable_queue(OXSIO_LOG_LEVEL_DEBUG);
        EXPECT(!oxsio::log_poll(), "an empty log queue");
        invalid_packet(port);
        std::optional<oxsio::LogRecord> rec;
        end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < end) {
            while (server.poll()) {
            }
            auto r = oxsio::log_poll();
            if (r && r->message.find("invalid packet, closing") != std::string::npos) {
                rec = r;
                break;
            }
            if (!r) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(rec && rec->level == OXSIO_LOG_LEVEL_DEBUG && rec->target == "oxsio::socketio::conn",
               "log record " << (rec ? rec->target + " " + rec->message : std::string("none")));
        auto calls = std::make_shared<std::atomic<int>>(0);
        auto alive = std::make_shared<int>(0);
        oxsio::log_set_callback(OXSIO_LOG_LEVEL_DEBUG, [calls, alive](uint32_t, std::string_view, std::string_view m) {
            if (m.find("invalid packet") != std::string_view::npos) (*calls)++;
        });
        invalid_packet(port);
        end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (*calls == 0 && std::chrono::steady_clock::now() < end) {
            while (server.poll()) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(*calls == 1, "log callback calls " << *calls);
        oxsio::log_off();
        end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (alive.use_count() > 1 && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT(alive.use_count() == 1, "the log handler was destroyed after log_off");
        EXPECT(server.metrics().find("oxsio_") != std::string::npos, "metrics text");
        EXPECT(server.dropped_events() == 0, "server dropped_events");
        EXPECT(client.dropped_events() == 0, "client dropped_events");
        oxsio::Target bad;
        bad.nsp = "/undeclared";
        try {
            server.fetch_sockets(bad);
            EXPECT(false, "fetch_sockets of an undeclared namespace should throw");
        } catch (const oxsio::Error &e) {
            EXPECT(e.code() == OXSIO_RESULT_INVALID_ARGUMENT, "undeclared: " << e.what());
        }
    } catch (const std::exception &e) {
        std::cout << "FAIL exception: " << e.what() << "\n";
        failed++;
    }
    try {
        oxsio::Server server("", oxsio::Dispatch::Callback);
        std::atomic<int> socket_once{0}, client_on{0}, client_once{0};
        std::atomic<int> socket_out{0}, client_out{0}, blocked_handled{0};
        std::string error_json;
        std::mutex em;
        server.on_connection("/", [&](const oxsio::EventView &ev) {
            ev.socket().on_any_outgoing([&](const oxsio::EventView &o) {
                if (o.name() == "hello-from-server") socket_out++;
            });
            ev.socket().emit("hello-from-server");
            ev.socket().use([](const oxsio::EventView &e) -> std::optional<std::string> {
                if (e.name() == "blocked") return std::string("blocked here");
                return std::nullopt;
            });
            ev.socket().on("blocked", [&](const oxsio::EventView &) { blocked_handled++; });
            ev.socket().on("error", [&](const oxsio::EventView &e) {
                std::lock_guard<std::mutex> g(em);
                error_json = std::string(e.args_json());
            });
            ev.socket().once("hi", [&](const oxsio::EventView &) { socket_once++; });
            ev.socket().on("survey", [](const oxsio::EventView &) {});
        });
        std::atomic<int> room_connections{0};
        server.of_dynamic([](std::string_view nsp) { return nsp.substr(0, 6) == "/room-"; },
                          [&](const oxsio::EventView &ev) {
                              if (ev.nsp() == "/room-cpp") room_connections++;
                          });
        std::atomic<int> gate_calls{0};
        server.allow_request([&](std::string_view req) -> std::optional<std::string> {
            gate_calls++;
            if (req.find("deny=1") != std::string_view::npos) return std::string("keep out");
            return std::nullopt;
        });
        uint16_t port = server.listen("127.0.0.1:0");
        {
            oxsio::Client denied("http://127.0.0.1:" + std::to_string(port) + "/",
                                 "{\"query\":{\"deny\":\"1\"},\"reconnection\":false}", oxsio::Dispatch::Callback);
            std::atomic<int> errors{0};
            std::string msg;
            std::mutex mm;
            denied.on("connect_error", [&](const oxsio::EventView &ev) {
                std::lock_guard<std::mutex> g(mm);
                msg = std::string(ev.message());
                errors++;
            });
            denied.open();
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (errors == 0 && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            std::lock_guard<std::mutex> g(mm);
            EXPECT(errors == 1 && msg.find("keep out") != std::string::npos, "allow_request refusal: " << msg);
        }
        std::string seen_auth;
        std::mutex am;
        server.on_connection("/", [&](const oxsio::EventView &ev) {
            std::lock_guard<std::mutex> g(am);
            seen_auth = std::string(ev.socket().auth_json());
        });
        oxsio::Client client("http://127.0.0.1:" + std::to_string(port) + "/", "", oxsio::Dispatch::Callback);
        std::atomic<int> provided{0};
        client.set_auth_provider([&] { return "{\"n\":" + std::to_string(++provided) + "}"; });
        client.on("ping", [&](const oxsio::EventView &) { client_on++; });
        client.once("ping", [&](const oxsio::EventView &) { client_once++; });
        client.on("survey", [](const oxsio::EventView &ev) { ev.ack("[\"yes\"]"); });
        client.on_any_outgoing([&](const oxsio::EventView &o) {
            if (o.name() == "hi") client_out++;
        });
        client.open();
        EXPECT(client.wait_connected(10000), "callback-mode client connected");
        client.emit("hi");
        client.emit("hi");
        client.emit("blocked");
        server.emit({}, "ping");
        server.emit({}, "ping");
        std::atomic<int> replies{0};
        std::string reply_json;
        std::mutex m;
        server.emit_with_ack({}, "survey", "[]", 5000, [&](const oxsio::EventView &ev) {
            std::lock_guard<std::mutex> g(m);
            reply_json = std::string(ev.args_json());
            replies++;
        });
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while ((client_on < 2 || replies < 1) && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT(client_on == 2 && client_once == 1, "client on " << client_on << " once " << client_once);
        EXPECT(socket_once == 1, "socket once " << socket_once);
        EXPECT(client_out == 2 && socket_out >= 1, "outgoing: client " << client_out << " socket " << socket_out);
        client.off_any_outgoing();
        {
            auto until3 = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (std::chrono::steady_clock::now() < until3) {
                {
                    std::lock_guard<std::mutex> g(em);
                    if (!error_json.empty()) break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            std::lock_guard<std::mutex> g(em);
            EXPECT(error_json == "[\"blocked here\"]" && blocked_handled == 0, "middleware: " << error_json);
        }
        std::lock_guard<std::mutex> g(m);
        EXPECT(replies == 1 && reply_json == "[[\"yes\"]]", "broadcast replies " << reply_json);
        EXPECT(gate_calls >= 2, "allow_request calls " << gate_calls);
        {
            // One node: no other node answers, the gathered reply is empty.
            server.on_server_event("/", [](const oxsio::EventView &) {});
            server.server_side_emit("/", "nobody", "[1]");
            std::atomic<int> sse{0};
            std::string sse_json;
            std::mutex sm;
            server.server_side_emit_with_ack("/", "anyone", "[]", 1000, [&](const oxsio::EventView &ev) {
                std::lock_guard<std::mutex> g(sm);
                sse_json = std::string(ev.args_json());
                sse++;
            });
            auto until4 = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (sse == 0 && std::chrono::steady_clock::now() < until4)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            std::lock_guard<std::mutex> g(sm);
            EXPECT(sse == 1 && sse_json == "[]", "server_side_emit_with_ack on one node: " << sse_json);
        }
        {
            oxsio::Client room("http://127.0.0.1:" + std::to_string(port) + "/room-cpp", "", oxsio::Dispatch::Callback);
            room.open();
            EXPECT(room.wait_connected(10000), "connected to a dynamic namespace");
            auto until2 = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            while (room_connections == 0 && std::chrono::steady_clock::now() < until2)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            EXPECT(room_connections == 1 && server.socket_count("/room-cpp") == 1, "dynamic namespace connection");
        }
        {
            std::lock_guard<std::mutex> ga(am);
            EXPECT(provided == 1 && seen_auth == "{\"n\":1}", "auth provider: " << seen_auth);
        }
        client.set_auth("{\"n\":\"fixed\"}");
        client.disconnect();
        client.open();
        EXPECT(client.wait_connected(10000), "reconnected");
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < until) {
            {
                std::lock_guard<std::mutex> ga(am);
                if (seen_auth == "{\"n\":\"fixed\"}") break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        {
            std::lock_guard<std::mutex> ga(am);
            EXPECT(seen_auth == "{\"n\":\"fixed\"}" && provided == 1, "set_auth: " << seen_auth);
        }
        server.allow_request(nullptr);
    } catch (const std::exception &e) {
        std::cout << "FAIL exception (callback mode): " << e.what() << "\n";
        failed++;
    }
    try {
        // Port 1: nothing listens, so each call ends in OXSIO_RESULT_IO.
        oxsio::Emitter em("{\"url\": \"redis://127.0.0.1:1\", \"timeout_ms\": 300}");
        oxsio::Emitter moved(std::move(em));
        oxsio::Target t;
        t.rooms = {"room1"};
        auto code_of = [](auto &&f) {
            try {
                f();
            } catch (const oxsio::Error &e) {
                return e.code();
            }
            return static_cast<oxsio_result>(OXSIO_RESULT_OK);
        };
        EXPECT(code_of([&] { moved.emit(t, "x", "[1]"); }) == OXSIO_RESULT_IO, "emitter emit");
        EXPECT(code_of([&] { moved.emit(t, "disconnect"); }) == OXSIO_RESULT_RESERVED_EVENT, "emitter reserved");
        EXPECT(code_of([&] { moved.sockets_join(t, "r"); }) == OXSIO_RESULT_IO, "emitter join");
        EXPECT(code_of([&] { moved.sockets_leave(t, "r"); }) == OXSIO_RESULT_IO, "emitter leave");
        EXPECT(code_of([&] { moved.disconnect_sockets(t, true); }) == OXSIO_RESULT_IO, "emitter disconnect");
        EXPECT(code_of([&] { moved.server_side_emit("/", "x"); }) == OXSIO_RESULT_IO, "emitter sse");
        EXPECT(code_of([] { oxsio::Emitter bad("{\"urls\": 1}"); }) == OXSIO_RESULT_INVALID_CONFIG, "emitter config");
    } catch (const std::exception &e) {
        std::cout << "FAIL exception (emitter): " << e.what() << "\n";
        failed++;
    }
    if (failed) {
        std::cout << "wrappers: " << failed << " failure(s)\n";
        return 1;
    }
    std::cout << "wrappers: ok\n";
    return 0;
}
