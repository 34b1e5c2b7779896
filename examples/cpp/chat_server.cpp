// Chat server in C++17 with oxsio.hpp, callback mode: the same protocol as
// examples/c/chat_server.c (rooms, acks both ways, a middleware, binary
// relays).
//
//   chat_server_cpp [port]    prints "listening <port>"; stops on SIGINT/SIGTERM
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "oxsio.hpp"

namespace {
volatile std::sig_atomic_t stop = 0;
std::atomic<unsigned> chats{0};
std::mutex out_mutex;

template <class... T> void say(const T &...parts) {
    std::lock_guard<std::mutex> lock(out_mutex);
    (std::cout << ... << parts) << std::endl;
}

// Per-socket state, shared by the socket's handlers.
struct Member {
    std::string name;
    std::string room = "lobby";
};

std::string name_from_auth(std::string_view auth) {
    auto p = auth.find("\"name\":\"");
    if (p == std::string_view::npos) return "";
    p += 8;
    return std::string(auth.substr(p, auth.find('"', p) - p));
}
} // namespace

int main(int argc, char **argv) {
    std::signal(SIGINT, [](int) { stop = 1; });
    std::signal(SIGTERM, [](int) { stop = 1; });
    std::string port = argc > 1 ? argv[1] : "3000";
    try {
        oxsio::Server io(R"({"ping_interval_ms":5000,"ping_timeout_ms":5000})");
        oxsio::Server *server = &io;

        io.use("/", [](const oxsio::EventView &request) {
            auto hs = request.handshake_json();
            auto auth = hs.substr(hs.find("\"auth\":"));
            if (!name_from_auth(auth).empty())
                request.accept();
            else
                request.refuse("name required", R"({"hint":"connect with auth {\"name\": ...}"})");
        });

        io.on_connection("/", [server](const oxsio::EventView &ev) {
            oxsio::Socket s = ev.socket();
            auto m = std::make_shared<Member>();
            m->name = name_from_auth(s.auth_json());
            s.join("lobby");
            s.on("join", [m](const oxsio::EventView &e) {
                oxsio::Socket s = e.socket();
                std::string room(e.arg_string(0));
                s.leave(m->room);
                m->room = room;
                s.join(room);
                e.ack("[\"joined\"," + oxsio::json_quote(room) + "]");
                say("join ", m->name, " ", room);
                std::string sid(s.id());
                s.emit_with_ack("ready?", "[]", 5000, [sid](const oxsio::EventView &reply) {
                    if (reply.result() == OXSIO_RESULT_OK)
                        say("ready ", sid, " ", reply.args_json());
                    else
                        say("ready ", sid, " failed: ", oxsio_result_message(reply.result()));
                });
            });
            s.on("chat", [m, server](const oxsio::EventView &e) {
                std::string text(e.arg_string(0));
                oxsio::Target to;
                to.rooms = {m->room};
                to.except = {std::string(e.socket().id())};
                server->emit(to, "chat", "[" + oxsio::json_quote(m->name) + "," + oxsio::json_quote(text) + "]");
                unsigned n = ++chats;
                e.ack("[\"delivered\"," + std::to_string(n) + "]");
                say("chat ", m->name, "@", m->room, ": ", text);
            });
            s.on("state", [m, server](const oxsio::EventView &e) {
                auto frame = e.arg_binary(0);
                oxsio::Target to;
                to.rooms = {m->room};
                to.except = {std::string(e.socket().id())};
                to.flags = OXSIO_TARGET_VOLATILE;
                server->emit_binary(to, "state", frame.data, frame.size);
            });
            s.on("disconnect", [m](const oxsio::EventView &e) {
                say("disconnected ", m->name, " (", e.message(), ")");
            });
            s.emit("welcome", "[\"" + std::string(s.id()) + "\",\"lobby\"]");
            say("connected ", m->name);
        });

        uint16_t bound = io.listen("127.0.0.1:" + port);
        say("listening ", bound);
        while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        io.shutdown(2000);
    } catch (const oxsio::Error &e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 1;
    }
    say("stopped after ", chats.load(), " chats");
    return 0;
}
