// The C++ wrappers of oxsio.hpp that the examples do not use, against a live
// server in one process (poll mode): version, Client::connect,
// dropped_events, Server::port / metrics / socket / socket_count /
// fetch_sockets, Socket::data_json / set_data_json / rooms_json / off.
//
//   wrappers_cpp     prints "wrappers: ok" and exits 0, or FAIL lines and exits 1
#include <chrono>
#include <cstring>
#include <iostream>
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
    if (failed) {
        std::cout << "wrappers: " << failed << " failure(s)\n";
        return 1;
    }
    std::cout << "wrappers: ok\n";
    return 0;
}
