// Chat client in C++17 with a poll-mode game loop (oxsio.hpp): the library
// never runs this program's code; each frame drains the event queue.
// Same behaviour and output as examples/c/chat_client.c.
//
//   chat_client_cpp <url> <name> <room> [--expect N] [message...]
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "oxsio.hpp"

int main(int argc, char **argv) {
    if (argc < 4) {
        std::cerr << "usage: chat_client_cpp <url> <name> <room> [--expect N] [message...]\n";
        return 2;
    }
    std::string url = argv[1], name = argv[2], room = argv[3];
    int expect = 0, first = 4;
    if (argc > 5 && std::strcmp(argv[4], "--expect") == 0) {
        expect = std::atoi(argv[5]);
        first = 6;
    }
    std::vector<std::string> messages(argv + first, argv + argc);
    int delivered = 0, received = 0, frames = 0;
    bool joined = false, failed = false;
    try {
        oxsio::Client client(url,
                             R"({"reconnection_attempts":3,"connect_timeout_ms":5000,"auth":{"name":)" +
                                 oxsio::json_quote(name) + "}}",
                             oxsio::Dispatch::Poll);
        client.open();
        uint64_t join_ack = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            // One frame: drain every queued event without blocking.
            while (auto ev = client.poll()) {
                switch (ev->kind()) {
                case OXSIO_EVENT_KIND_CONNECT:
                    std::cout << "connected\n";
                    join_ack = client.emit_with_ack("join", "[" + oxsio::json_quote(room) + "]", 5000);
                    break;
                case OXSIO_EVENT_KIND_CONNECT_ERROR:
                    std::cout << "connect_error: " << ev->message() << "\n";
                    failed = true;
                    break;
                case OXSIO_EVENT_KIND_DISCONNECT:
                    std::cout << "disconnected: " << ev->message() << "\n";
                    break;
                case OXSIO_EVENT_KIND_ACK:
                    if (ev->result() != OXSIO_RESULT_OK) {
                        std::cout << "ack " << ev->id() << " failed: " << oxsio_result_message(ev->result())
                                  << "\n";
                        failed = true;
                    } else if (ev->id() == join_ack) {
                        std::cout << "join ack " << ev->args_json() << "\n";
                        joined = true;
                        for (auto &m : messages) client.emit_with_ack("chat", "[" + oxsio::json_quote(m) + "]", 5000);
                    } else {
                        delivered++;
                        std::cout << "chat ack " << ev->args_json() << "\n";
                    }
                    break;
                case OXSIO_EVENT_KIND_MESSAGE:
                    if (ev->name() == "chat") {
                        std::cout << "chat from " << ev->arg_string(0) << ": " << ev->arg_string(1) << "\n";
                        received++;
                    } else if (ev->name() == "ready?") {
                        ev->ack("[\"ready\"]");
                        std::cout << "answered ready?\n";
                    } else if (ev->name() == "welcome") {
                        std::cout << "welcome to " << ev->arg_string(1) << "\n";
                    }
                    break;
                default:
                    break;
                }
            }
            std::cout.flush();
            if (failed || (joined && delivered == (int)messages.size() && received >= expect)) break;
            frames++; // game logic and rendering would go here
            std::this_thread::sleep_for(std::chrono::milliseconds(16));
        }
        client.disconnect();
    } catch (const oxsio::Error &e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 1;
    }
    bool ok = !failed && joined && delivered == (int)messages.size() && received >= expect;
    std::cout << (ok ? "done" : "FAILED") << " after " << frames << " frames: " << delivered << " delivered, "
              << received << " received" << std::endl;
    return ok ? 0 : 1;
}
