// Binary game state in C++17, callback mode (oxsio.hpp): raw 12-byte frames,
// no JSON, relayed by the server to the others in the room. Same behaviour
// and output as examples/c/binary_state.c.
//
//   binary_state_cpp <url> <name> <room> [frames_to_receive]
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "oxsio.hpp"

namespace {
struct State {
    uint32_t seq = 0;
    float x = 0, y = 0;
};

void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32(const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void encode(const State &s, uint8_t out[12]) {
    uint32_t x, y;
    std::memcpy(&x, &s.x, 4);
    std::memcpy(&y, &s.y, 4);
    put_u32(out, s.seq);
    put_u32(out + 4, x);
    put_u32(out + 8, y);
}
State decode(const uint8_t *in) {
    State s;
    uint32_t x = get_u32(in + 4), y = get_u32(in + 8);
    s.seq = get_u32(in);
    std::memcpy(&s.x, &x, 4);
    std::memcpy(&s.y, &y, 4);
    return s;
}
} // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::cerr << "usage: binary_state_cpp <url> <name> <room> [frames_to_receive]\n";
        return 2;
    }
    int want = argc > 4 ? std::atoi(argv[4]) : 5;
    std::string room = argv[3];
    std::atomic<bool> joined{false}, failed{false};
    std::atomic<int> received{0};
    std::mutex out;
    State me;
    int got = 0;
    try {
        oxsio::Client client(argv[1],
                             R"({"transports":["websocket"],"auth":{"name":)" + oxsio::json_quote(argv[2]) + "}}");
        oxsio::Client *c = &client;
        client.on("connect", [&, c](const oxsio::EventView &) {
            c->emit_with_ack("join", "[" + oxsio::json_quote(room) + "]", 5000, [&](const oxsio::EventView &r) {
                if (r.result() == OXSIO_RESULT_OK)
                    joined = true;
                else
                    failed = true;
            });
        });
        client.on("connect_error", [&](const oxsio::EventView &e) {
            std::lock_guard<std::mutex> lock(out);
            std::cerr << "connect_error: " << e.message() << std::endl;
            failed = true;
        });
        client.on("ready?", [](const oxsio::EventView &e) { e.ack("[\"ready\"]"); });
        client.on("state", [&](const oxsio::EventView &e) {
            auto frame = e.arg_binary(0); // a view into the event: no copy
            if (frame.size != 12) return;
            State s = decode(frame.data);
            if (++received <= 3) {
                std::lock_guard<std::mutex> lock(out);
                std::cout << "peer state #" << s.seq << " at (" << s.x << ", " << s.y << ")" << std::endl;
            }
        });
        client.open();

        using clock = std::chrono::steady_clock;
        auto deadline = clock::now() + std::chrono::seconds(20);
        std::optional<clock::time_point> linger;
        while (clock::now() < deadline && !failed) {
            if (received >= want && !linger) linger = clock::now() + std::chrono::milliseconds(500);
            if (linger && clock::now() >= *linger) break;
            if (joined) {
                uint8_t frame[12];
                me.seq++;
                me.x += 1.5f;
                me.y -= 0.5f;
                encode(me, frame);
                client.emit_binary("state", frame, sizeof frame, /*volatile_=*/true);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        got = received.load();
    } catch (const oxsio::Error &e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 1;
    }
    // The client is freed here: no callback runs after its destructor.
    std::cout << (got >= want ? "done" : "FAILED") << ": sent " << me.seq << " frames, received " << got
              << std::endl;
    return got >= want ? 0 : 1;
}
