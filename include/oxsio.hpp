// oxsio.hpp: header-only C++17 RAII wrapper over the oxsio C ABI (oxsio.h).
//
// Hand-written (oxsio.h is generated). Choices:
// - Errors are exceptions: every failing C call throws oxsio::Error (a
//   std::runtime_error carrying the oxsio_result code and the detailed
//   message). The only exceptions: poll() returns std::nullopt when the queue
//   is empty, and wait() returns false on timeout.
// - Server, Client and Event own their handle, are move-only, and free it in
//   their destructor (which never blocks on the network and never throws).
//   Socket and EventView are non-owning views whose lifetimes the C header
//   states (a socket lives until its DISCONNECT event is released; a borrowed
//   event until its callback returns).
// - Callbacks are std::function<void(const EventView&)>; they run on a
//   library thread (callback mode). An exception escaping a callback is
//   caught and dropped at the boundary, never propagated into the library.
// - Inputs are std::string_view (copied to NUL-terminated strings for C);
//   outputs that point into an event are std::string_view / Bytes views.
#ifndef OXSIO_HPP
#define OXSIO_HPP

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oxsio.h"

namespace oxsio {

/// A failed call: the oxsio_result code and the library's detailed message.
class Error : public std::runtime_error {
public:
    Error(oxsio_result code, const std::string &detail)
        : std::runtime_error(std::string(oxsio_result_message(code)) +
                             (detail.empty() ? "" : ": " + detail)),
          code_(code) {}
    oxsio_result code() const noexcept { return code_; }

private:
    oxsio_result code_;
};

namespace detail {
inline void check(oxsio_result r) {
    if (r != OXSIO_RESULT_OK) throw Error(r, oxsio_last_error_message());
}
inline std::string z(std::string_view s) { return std::string(s); }
// The getters that copy into a caller's buffer (oxsio_socket_data_json,
// oxsio_socket_rooms, oxsio_server_metrics, oxsio_server_fetch_sockets):
// learn the length, then copy; again if the value grew in between.
template <class F> inline std::string copy_out(F &&call) {
    std::string out;
    for (int tries = 0; tries < 16; tries++) {
        size_t n = 0;
        oxsio_result r = call(nullptr, 0, &n);
        if (r != OXSIO_RESULT_BUFFER_TOO_SMALL) check(r);
        out.resize(n + 1 + n / 2);
        r = call(out.data(), out.size(), &n);
        if (r == OXSIO_RESULT_BUFFER_TOO_SMALL) continue;
        check(r);
        out.resize(n);
        return out;
    }
    throw Error(OXSIO_RESULT_BUFFER_TOO_SMALL, "the value kept growing while it was copied");
}
inline const char *opt(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }
} // namespace detail

/// The library's version (e.g. "0.1.0"); compare with OXSIO_VERSION.
inline std::string_view version() { return oxsio_version(); }

/// Dispatch mode of a handle.
enum class Dispatch : uint32_t { Callback = OXSIO_DISPATCH_CALLBACK, Poll = OXSIO_DISPATCH_POLL };

/// A borrowed byte range.
struct Bytes {
    const uint8_t *data = nullptr;
    size_t size = 0;
};

class EventView;
class Event;
using Handler = std::function<void(const EventView &)>;

namespace detail {
// Registration helpers: the library owns the heap-allocated std::function
// once the C call succeeds, and deletes it through release().
inline void trampoline(void *user_data, const oxsio_event *ev);
inline void release(void *user_data) { delete static_cast<Handler *>(user_data); }
template <class F> inline void register_handler(Handler h, F &&call) {
    auto owned = std::make_unique<Handler>(std::move(h));
    check(call(&trampoline, static_cast<void *>(owned.get()), &release));
    owned.release(); // now owned by the library
}
} // namespace detail

class Socket;

/// A non-owning view of an event (valid as long as the event it views).
class EventView {
public:
    explicit EventView(const oxsio_event *ev) noexcept : ev_(ev) {}
    const oxsio_event *get() const noexcept { return ev_; }

    oxsio_event_kind kind() const noexcept { return oxsio_event_get_kind(ev_); }
    std::string_view name() const { return str(&oxsio_event_name); }
    std::string_view nsp() const { return str(&oxsio_event_namespace); }
    std::string_view args_json() const { return str(&oxsio_event_args_json); }
    std::string_view message() const { return str(&oxsio_event_message); }
    std::string_view handshake_json() const { return str(&oxsio_event_handshake_json); }
    oxsio_result result() const {
        oxsio_result r = OXSIO_RESULT_OK;
        detail::check(oxsio_event_result(ev_, &r));
        return r;
    }
    uint64_t id() const {
        uint64_t v = 0;
        detail::check(oxsio_event_id(ev_, &v));
        return v;
    }
    size_t arg_count() const {
        size_t n = 0;
        detail::check(oxsio_event_arg_count(ev_, &n));
        return n;
    }
    oxsio_value_kind arg_kind(size_t i) const {
        uint32_t k = 0;
        detail::check(oxsio_event_arg_kind(ev_, i, &k));
        return static_cast<oxsio_value_kind>(k);
    }
    std::string_view arg_json(size_t i) const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(oxsio_event_arg_json(ev_, i, &p, &n));
        return {p, n};
    }
    std::string_view arg_string(size_t i) const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(oxsio_event_arg_string(ev_, i, &p, &n));
        return {p, n};
    }
    double arg_number(size_t i) const {
        double d = 0;
        detail::check(oxsio_event_arg_number(ev_, i, &d));
        return d;
    }
    bool arg_bool(size_t i) const {
        bool b = false;
        detail::check(oxsio_event_arg_bool(ev_, i, &b));
        return b;
    }
    Bytes arg_binary(size_t i) const {
        Bytes b;
        detail::check(oxsio_event_arg_binary(ev_, i, &b.data, &b.size));
        return b;
    }
    /// Every buffer, in placeholder order (views into the event).
    std::vector<oxsio_buf> buffers() const {
        size_t n = 0;
        detail::check(oxsio_event_binary_count(ev_, &n));
        std::vector<oxsio_buf> v(n);
        for (size_t i = 0; i < n; i++) detail::check(oxsio_event_binary(ev_, i, &v[i].data, &v[i].len));
        return v;
    }
    bool wants_ack() const {
        bool b = false;
        detail::check(oxsio_event_wants_ack(ev_, &b));
        return b;
    }
    /// A CONNECT / CONNECTION that recovered the previous session.
    bool recovered() const {
        bool b = false;
        detail::check(oxsio_event_recovered(ev_, &b));
        return b;
    }
    /// Answers the peer's ack request (JSON array text + buffers).
    void ack(std::string_view args_json = "[]", const std::vector<oxsio_buf> &bufs = {}) const {
        detail::check(oxsio_event_ack(ev_, detail::z(args_json).c_str(), bufs.data(), bufs.size()));
    }
    void ack_binary(const void *data, size_t len) const {
        detail::check(oxsio_event_ack_binary(ev_, static_cast<const uint8_t *>(data), len));
    }
    void accept() const { detail::check(oxsio_event_accept(ev_)); }
    void refuse(std::string_view message, std::optional<std::string> data_json = {}) const {
        detail::check(oxsio_event_refuse(ev_, detail::z(message).c_str(), detail::opt(data_json)));
    }
    inline Socket socket() const;
    inline Event clone() const;

private:
    using StrFn = oxsio_result (*)(const oxsio_event *, const char **, size_t *);
    std::string_view str(StrFn f) const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(f(ev_, &p, &n));
        return {p, n};
    }
    const oxsio_event *ev_;
};

/// An owned event (from poll() or clone()); freed by the destructor.
class Event : public EventView {
public:
    explicit Event(oxsio_event *ev) noexcept : EventView(ev), owned_(ev) {}
    Event(Event &&o) noexcept : EventView(o.owned_), owned_(std::exchange(o.owned_, nullptr)) {}
    Event &operator=(Event &&o) noexcept {
        if (this != &o) {
            oxsio_event_free(owned_);
            owned_ = std::exchange(o.owned_, nullptr);
            static_cast<EventView &>(*this) = EventView(owned_);
        }
        return *this;
    }
    Event(const Event &) = delete;
    Event &operator=(const Event &) = delete;
    ~Event() { oxsio_event_free(owned_); }

private:
    oxsio_event *owned_;
};

inline Event EventView::clone() const {
    oxsio_event *out = nullptr;
    detail::check(oxsio_event_clone(get(), &out));
    return Event(out);
}

namespace detail {
inline void trampoline(void *user_data, const oxsio_event *ev) {
    try {
        (*static_cast<Handler *>(user_data))(EventView(ev));
    } catch (...) {
        // Never let an exception unwind into the library.
    }
}
} // namespace detail

/// A non-owning view of a server-side socket.
class Socket {
public:
    explicit Socket(const oxsio_socket *s) noexcept : s_(s) {}
    const oxsio_socket *get() const noexcept { return s_; }
    bool operator==(const Socket &o) const noexcept { return s_ == o.s_; }

    std::string_view id() const { return str(&oxsio_socket_id); }
    std::string_view nsp() const { return str(&oxsio_socket_namespace); }
    std::string_view auth_json() const { return str(&oxsio_socket_auth_json); }
    std::string_view handshake_json() const { return str(&oxsio_socket_handshake_json); }
    bool connected() const {
        bool b = false;
        detail::check(oxsio_socket_connected(s_, &b));
        return b;
    }
    void emit(std::string_view event, std::string_view args_json = "[]",
              const std::vector<oxsio_buf> &bufs = {}) const {
        detail::check(oxsio_socket_emit(s_, detail::z(event).c_str(), detail::z(args_json).c_str(),
                                        bufs.data(), bufs.size()));
    }
    void emit_binary(std::string_view event, const void *data, size_t len, bool volatile_ = false) const {
        detail::check(oxsio_socket_emit_binary(s_, detail::z(event).c_str(),
                                               static_cast<const uint8_t *>(data), len,
                                               volatile_ ? OXSIO_EMIT_VOLATILE : 0));
    }
    /// Callback mode: `reply` gets the ACK event. Poll mode: pass no reply;
    /// the ACK arrives from Server::poll with the returned id.
    uint64_t emit_with_ack(std::string_view event, std::string_view args_json, uint32_t timeout_ms,
                           Handler reply = nullptr, const std::vector<oxsio_buf> &bufs = {}) const {
        uint64_t id = 0;
        std::string e(event), a(args_json);
        if (reply) {
            detail::register_handler(std::move(reply), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
                return oxsio_socket_emit_with_ack(s_, e.c_str(), a.c_str(), bufs.data(), bufs.size(),
                                                  timeout_ms, cb, ud, f, &id);
            });
        } else {
            detail::check(oxsio_socket_emit_with_ack(s_, e.c_str(), a.c_str(), bufs.data(), bufs.size(),
                                                     timeout_ms, nullptr, nullptr, nullptr, &id));
        }
        return id;
    }
    /// Node's socket.data as JSON text (copied).
    std::string data_json() const {
        return detail::copy_out([&](char *b, size_t cap, size_t *n) { return oxsio_socket_data_json(s_, b, cap, n); });
    }
    void set_data_json(std::string_view json) const {
        detail::check(oxsio_socket_set_data_json(s_, detail::z(json).c_str()));
    }
    /// The rooms the socket is in (own id room included) as a JSON array of strings (copied).
    std::string rooms_json() const {
        return detail::copy_out([&](char *b, size_t cap, size_t *n) { return oxsio_socket_rooms(s_, b, cap, n); });
    }
    /// Callback mode: a per-packet middleware; return nullopt to let the
    /// event through, or the reason to drop it (handlers get "error").
    using PacketMiddleware = std::function<std::optional<std::string>(const EventView &)>;
    void use(PacketMiddleware mw) const {
        auto owned = std::make_unique<PacketMiddleware>(std::move(mw));
        detail::check(oxsio_socket_use(s_, &packet_trampoline, owned.get(), &packet_release));
        owned.release(); // now owned by the library
    }
    /// Callback mode: `h` sees every event this socket sends (on the emitting thread).
    void on_any_outgoing(Handler h) const {
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_socket_on_any_outgoing(s_, cb, ud, f);
        });
    }
    void off_any_outgoing() const { detail::check(oxsio_socket_off_any_outgoing(s_)); }
    /// Callback mode: as on(), for the first matching event only.
    void once(std::string_view event, Handler h) const {
        std::string e(event);
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_socket_once(s_, e.empty() ? nullptr : e.c_str(), cb, ud, f);
        });
    }
    /// Removes the callbacks of `event` (empty: every callback of the socket).
    void off(std::string_view event) const {
        std::string e(event);
        detail::check(oxsio_socket_off(s_, e.empty() ? nullptr : e.c_str()));
    }
    void join(std::string_view room) const { detail::check(oxsio_socket_join(s_, detail::z(room).c_str())); }
    void leave(std::string_view room) const { detail::check(oxsio_socket_leave(s_, detail::z(room).c_str())); }
    void disconnect(bool close = false) const { detail::check(oxsio_socket_disconnect(s_, close)); }
    /// Callback mode: handler for `event` ("disconnect" included); empty name: every event.
    void on(std::string_view event, Handler h) const {
        std::string e(event);
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_socket_on(s_, e.empty() ? nullptr : e.c_str(), cb, ud, f);
        });
    }

private:
    static bool packet_trampoline(void *user_data, const oxsio_event *ev, char *reason, size_t capacity) {
        try {
            auto r = (*static_cast<PacketMiddleware *>(user_data))(EventView(ev));
            if (!r) return true;
            std::snprintf(reason, capacity, "%s", r->c_str());
            return false;
        } catch (...) {
            std::snprintf(reason, capacity, "%s", "middleware failed");
            return false; // never unwind into the library
        }
    }
    static void packet_release(void *user_data) { delete static_cast<PacketMiddleware *>(user_data); }
    using StrFn = oxsio_result (*)(const oxsio_socket *, const char **, size_t *);
    std::string_view str(StrFn f) const {
        const char *p = nullptr;
        size_t n = 0;
        detail::check(f(s_, &p, &n));
        return {p, n};
    }
    const oxsio_socket *s_;
};

inline Socket EventView::socket() const {
    oxsio_socket *s = nullptr;
    detail::check(oxsio_event_socket(ev_, &s));
    return Socket(s);
}

/// A selection of sockets (see oxsio_target).
struct Target {
    std::string nsp = "/";
    std::vector<std::string> rooms;
    std::vector<std::string> except;
    uint32_t flags = 0;
};

/// A Socket.IO server (owning, move-only).
class Server {
public:
    explicit Server(std::string_view config_json = "", Dispatch mode = Dispatch::Callback) {
        detail::check(oxsio_server_new(detail::z(config_json).c_str(), static_cast<uint32_t>(mode), &s_));
    }
    Server(Server &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Server &operator=(Server &&o) noexcept {
        if (this != &o) {
            oxsio_server_free(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;
    ~Server() { oxsio_server_free(s_); }
    const oxsio_server *get() const noexcept { return s_; }

    /// Binds (port 0: any) and returns the bound port.
    uint16_t listen(std::string_view address) {
        uint16_t port = 0;
        detail::check(oxsio_server_listen(s_, detail::z(address).c_str(), &port));
        return port;
    }
    void of(std::string_view nsp) { detail::check(oxsio_server_of(s_, detail::z(nsp).c_str())); }
    void on_connection(std::string_view nsp, Handler h) {
        std::string n(nsp);
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_server_on_connection(s_, n.c_str(), cb, ud, f);
        });
    }
    /// Callback mode: decides on every handshake (Node's allowRequest):
    /// return nullopt to accept, or the refusal's reason (HTTP 403). An
    /// empty function removes the hook.
    using AllowRequest = std::function<std::optional<std::string>(std::string_view request_json)>;
    void allow_request(AllowRequest f) {
        if (!f) {
            detail::check(oxsio_server_allow_request(s_, nullptr, nullptr, nullptr));
            return;
        }
        auto owned = std::make_unique<AllowRequest>(std::move(f));
        detail::check(oxsio_server_allow_request(s_, &allow_trampoline, owned.get(), &allow_release));
        owned.release(); // now owned by the library
    }
    /// Callback mode: dynamic namespaces. `accept(name)` lets clients into
    /// namespaces never declared; their sockets come to `on_connection`.
    void of_dynamic(std::function<bool(std::string_view nsp)> accept, Handler on_connection = nullptr) {
        auto owned = std::make_unique<Dynamic>(Dynamic{std::move(accept), std::move(on_connection)});
        bool with_conn = static_cast<bool>(owned->on_connection);
        detail::check(oxsio_server_of_dynamic(s_, &dynamic_predicate, with_conn ? &dynamic_connection : nullptr,
                                              owned.get(), &dynamic_release));
        owned.release(); // now owned by the library
    }
    /// Events other nodes send with server_side_emit (SERVER_EVENT):
    /// callback mode with a handler; poll mode without one (from poll()).
    void on_server_event(std::string_view nsp, Handler h = nullptr) {
        std::string n(nsp);
        if (!h) {
            detail::check(oxsio_server_on_server_event(s_, n.c_str(), nullptr, nullptr, nullptr));
            return;
        }
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_server_on_server_event(s_, n.c_str(), cb, ud, f);
        });
    }
    /// Sends an event to the server-side handlers of every other node.
    void server_side_emit(std::string_view nsp, std::string_view event, std::string_view args_json = "[]",
                          const std::vector<oxsio_buf> &bufs = {}) {
        detail::check(oxsio_server_server_side_emit(s_, detail::z(nsp).c_str(), detail::z(event).c_str(),
                                                    detail::z(args_json).c_str(), bufs.data(), bufs.size()));
    }
    /// As server_side_emit, gathering one reply per other node (an ACK event).
    uint64_t server_side_emit_with_ack(std::string_view nsp, std::string_view event, std::string_view args_json,
                                       uint32_t timeout_ms, Handler reply = nullptr,
                                       const std::vector<oxsio_buf> &bufs = {}) {
        uint64_t id = 0;
        std::string n(nsp), e(event), a(args_json);
        if (reply) {
            detail::register_handler(std::move(reply), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
                return oxsio_server_server_side_emit_with_ack(s_, n.c_str(), e.c_str(), a.c_str(), bufs.data(),
                                                              bufs.size(), timeout_ms, cb, ud, f, &id);
            });
        } else {
            detail::check(oxsio_server_server_side_emit_with_ack(s_, n.c_str(), e.c_str(), a.c_str(), bufs.data(),
                                                                 bufs.size(), timeout_ms, nullptr, nullptr, nullptr,
                                                                 &id));
        }
        return id;
    }
    /// Middleware: callback mode with a handler; poll mode without one.
    void use(std::string_view nsp, Handler h = nullptr) {
        std::string n(nsp);
        if (!h) {
            detail::check(oxsio_server_use(s_, n.c_str(), nullptr, nullptr, nullptr));
            return;
        }
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_server_use(s_, n.c_str(), cb, ud, f);
        });
    }
    void emit(const Target &t, std::string_view event, std::string_view args_json = "[]",
              const std::vector<oxsio_buf> &bufs = {}) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_server_emit(s_, ct, detail::z(event).c_str(), detail::z(args_json).c_str(),
                                     bufs.data(), bufs.size());
        });
    }
    /// Broadcast with acknowledgements: one ACK event gathers every reply
    /// (one JSON array per socket). Callback mode: `reply` gets it. Poll
    /// mode: no reply; it arrives from poll() with the returned id.
    uint64_t emit_with_ack(const Target &t, std::string_view event, std::string_view args_json,
                           uint32_t timeout_ms, Handler reply = nullptr, const std::vector<oxsio_buf> &bufs = {}) {
        uint64_t id = 0;
        std::string e(event), a(args_json);
        with_target(t, [&](const oxsio_target *ct) {
            if (!reply)
                return oxsio_server_emit_with_ack(s_, ct, e.c_str(), a.c_str(), bufs.data(), bufs.size(), timeout_ms,
                                                  nullptr, nullptr, nullptr, &id);
            try {
                detail::register_handler(std::move(reply), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
                    return oxsio_server_emit_with_ack(s_, ct, e.c_str(), a.c_str(), bufs.data(), bufs.size(),
                                                      timeout_ms, cb, ud, f, &id);
                });
            } catch (const Error &err) {
                return err.code();
            }
            return static_cast<oxsio_result>(OXSIO_RESULT_OK);
        });
        return id;
    }
    void emit_binary(const Target &t, std::string_view event, const void *data, size_t len) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_server_emit_binary(s_, ct, detail::z(event).c_str(),
                                            static_cast<const uint8_t *>(data), len);
        });
    }
    void sockets_join(const Target &t, std::string_view room) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_server_sockets_join(s_, ct, detail::z(room).c_str());
        });
    }
    void sockets_leave(const Target &t, std::string_view room) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_server_sockets_leave(s_, ct, detail::z(room).c_str());
        });
    }
    void disconnect_sockets(const Target &t, bool close = false) {
        with_target(t, [&](const oxsio_target *ct) { return oxsio_server_disconnect_sockets(s_, ct, close); });
    }
    /// The bound port (0 when not listening).
    uint16_t port() const {
        uint16_t p = 0;
        detail::check(oxsio_server_port(s_, &p));
        return p;
    }
    /// The Prometheus metrics text (the config needs a metrics_path).
    std::string metrics() const {
        return detail::copy_out([&](char *b, size_t cap, size_t *n) { return oxsio_server_metrics(s_, b, cap, n); });
    }
    /// The connected socket `sid` of `nsp`, or nullopt.
    std::optional<Socket> socket(std::string_view nsp, std::string_view sid) const {
        oxsio_socket *out = nullptr;
        oxsio_result r = oxsio_server_socket(s_, detail::z(nsp).c_str(), detail::z(sid).c_str(), &out);
        if (r == OXSIO_RESULT_INVALID_ARGUMENT) return std::nullopt;
        detail::check(r);
        return Socket(out);
    }
    size_t socket_count(std::string_view nsp = "/") const {
        size_t n = 0;
        detail::check(oxsio_server_socket_count(s_, detail::z(nsp).c_str(), &n));
        return n;
    }
    /// The selected sockets, on every node, as a JSON array of
    /// {"id","nsp","rooms","handshake","data"} (blocks at most timeout_ms; not in a callback).
    std::string fetch_sockets(const Target &t, uint32_t timeout_ms = 0) {
        std::string out;
        with_target(t, [&](const oxsio_target *ct) {
            try {
                out = detail::copy_out([&](char *b, size_t cap, size_t *n) {
                    return oxsio_server_fetch_sockets(s_, ct, timeout_ms, b, cap, n);
                });
            } catch (const Error &e) {
                return e.code();
            }
            return static_cast<oxsio_result>(OXSIO_RESULT_OK);
        });
        return out;
    }
    /// Poll mode: how many MESSAGE events the bounded queue dropped.
    uint64_t dropped_events() const {
        uint64_t n = 0;
        detail::check(oxsio_server_dropped_events(s_, &n));
        return n;
    }
    /// Poll mode: the next event, or nullopt when none is queued (never blocks).
    std::optional<Event> poll() {
        oxsio_event *ev = nullptr;
        oxsio_result r = oxsio_server_poll(s_, &ev);
        if (r == OXSIO_RESULT_EMPTY) return std::nullopt;
        detail::check(r);
        return Event(ev);
    }
    /// Poll mode: true when an event is ready within timeout_ms.
    bool wait(uint32_t timeout_ms) {
        oxsio_result r = oxsio_server_wait(s_, timeout_ms);
        if (r == OXSIO_RESULT_TIMEOUT) return false;
        detail::check(r);
        return true;
    }
    /// Stops the server; false when connections were still closing after timeout_ms.
    bool shutdown(uint32_t timeout_ms = 2000) {
        oxsio_result r = oxsio_server_shutdown(s_, timeout_ms);
        if (r == OXSIO_RESULT_TIMEOUT) return false;
        detail::check(r);
        return true;
    }

private:
    struct Dynamic {
        std::function<bool(std::string_view)> accept;
        Handler on_connection;
    };
    static bool dynamic_predicate(void *user_data, const char *nsp) {
        try {
            return static_cast<Dynamic *>(user_data)->accept(nsp);
        } catch (...) {
            return false; // never unwind into the library
        }
    }
    static void dynamic_connection(void *user_data, const oxsio_event *ev) {
        try {
            static_cast<Dynamic *>(user_data)->on_connection(EventView(ev));
        } catch (...) {
        }
    }
    static void dynamic_release(void *user_data) { delete static_cast<Dynamic *>(user_data); }
    static bool allow_trampoline(void *user_data, const char *request_json, char *reason, size_t capacity) {
        try {
            auto r = (*static_cast<AllowRequest *>(user_data))(request_json);
            if (!r) return true;
            std::snprintf(reason, capacity, "%s", r->c_str());
            return false;
        } catch (...) {
            std::snprintf(reason, capacity, "%s", "allow_request hook failed");
            return false; // never unwind into the library
        }
    }
    static void allow_release(void *user_data) { delete static_cast<AllowRequest *>(user_data); }
    template <class F> void with_target(const Target &t, F &&call) {
        std::vector<const char *> rooms, except;
        for (auto &r : t.rooms) rooms.push_back(r.c_str());
        for (auto &r : t.except) except.push_back(r.c_str());
        oxsio_target ct{};
        ct.nsp = t.nsp.c_str();
        ct.rooms = rooms.data();
        ct.room_count = rooms.size();
        ct.except_rooms = except.data();
        ct.except_count = except.size();
        ct.flags = t.flags;
        detail::check(call(&ct));
    }
    oxsio_server *s_ = nullptr;
};

/// Publishes to a cluster of servers on the classic Redis adapter from a
/// process that is not a server (`@socket.io/redis-emitter`; owning,
/// move-only). Every call waits until Redis took the message and throws
/// Error otherwise (OXSIO_RESULT_IO, OXSIO_RESULT_RESERVED_EVENT, ...).
class Emitter {
public:
    /// `config_json`: {"url": ...} or {"nodes": [...]}, "prefix", "timeout_ms".
    explicit Emitter(std::string_view config_json = "") {
        detail::check(oxsio_emitter_new(detail::z(config_json).c_str(), &e_));
    }
    Emitter(Emitter &&o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    Emitter &operator=(Emitter &&o) noexcept {
        if (this != &o) {
            oxsio_emitter_free(e_);
            e_ = std::exchange(o.e_, nullptr);
        }
        return *this;
    }
    Emitter(const Emitter &) = delete;
    Emitter &operator=(const Emitter &) = delete;
    ~Emitter() { oxsio_emitter_free(e_); }
    const oxsio_emitter *get() const noexcept { return e_; }

    void emit(const Target &t, std::string_view event, std::string_view args_json = "[]",
              const std::vector<oxsio_buf> &bufs = {}) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_emitter_emit(e_, ct, detail::z(event).c_str(), detail::z(args_json).c_str(), bufs.data(),
                                      bufs.size());
        });
    }
    void sockets_join(const Target &t, std::string_view room) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_emitter_sockets_join(e_, ct, detail::z(room).c_str());
        });
    }
    void sockets_leave(const Target &t, std::string_view room) {
        with_target(t, [&](const oxsio_target *ct) {
            return oxsio_emitter_sockets_leave(e_, ct, detail::z(room).c_str());
        });
    }
    void disconnect_sockets(const Target &t, bool close = false) {
        with_target(t, [&](const oxsio_target *ct) { return oxsio_emitter_disconnect_sockets(e_, ct, close); });
    }
    /// Calls the server-side handlers of `event` on every server of `nsp`.
    void server_side_emit(std::string_view nsp, std::string_view event, std::string_view args_json = "[]",
                          const std::vector<oxsio_buf> &bufs = {}) {
        detail::check(oxsio_emitter_server_side_emit(e_, detail::z(nsp).c_str(), detail::z(event).c_str(),
                                                     detail::z(args_json).c_str(), bufs.data(), bufs.size()));
    }

private:
    template <class F> void with_target(const Target &t, F &&call) {
        std::vector<const char *> rooms, except;
        for (auto &r : t.rooms) rooms.push_back(r.c_str());
        for (auto &r : t.except) except.push_back(r.c_str());
        oxsio_target ct{};
        ct.nsp = t.nsp.c_str();
        ct.rooms = rooms.data();
        ct.room_count = rooms.size();
        ct.except_rooms = except.data();
        ct.except_count = except.size();
        ct.flags = t.flags;
        detail::check(call(&ct));
    }
    oxsio_emitter *e_ = nullptr;
};

/// A Socket.IO client socket (owning, move-only).
class Client {
public:
    /// Creates without connecting (register handlers, then open()).
    Client(std::string_view url, std::string_view config_json = "", Dispatch mode = Dispatch::Callback) {
        detail::check(oxsio_client_new(detail::z(url).c_str(), detail::z(config_json).c_str(),
                                       static_cast<uint32_t>(mode), &c_));
    }
    Client(Client &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    Client &operator=(Client &&o) noexcept {
        if (this != &o) {
            oxsio_client_free(c_);
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    ~Client() { oxsio_client_free(c_); }
    const oxsio_client *get() const noexcept { return c_; }

    /// oxsio_client_connect: creates and starts connecting at once (handy in poll mode).
    static Client connect(std::string_view url, std::string_view config_json = "", Dispatch mode = Dispatch::Poll) {
        oxsio_client *out = nullptr;
        detail::check(oxsio_client_connect(detail::z(url).c_str(), detail::z(config_json).c_str(),
                                           static_cast<uint32_t>(mode), &out));
        return Client(out);
    }
    /// Poll mode: how many MESSAGE events the bounded queue dropped.
    uint64_t dropped_events() const {
        uint64_t n = 0;
        detail::check(oxsio_client_dropped_events(c_, &n));
        return n;
    }
    /// Another namespace over the same connection (not opened yet).
    Client of(std::string_view nsp, std::optional<std::string> auth_json = {}) const {
        oxsio_client *out = nullptr;
        detail::check(oxsio_client_of(c_, detail::z(nsp).c_str(), detail::opt(auth_json), &out));
        return Client(out);
    }
    void open() { detail::check(oxsio_client_open(c_)); }
    void disconnect() { detail::check(oxsio_client_disconnect(c_)); }
    /// Callback mode: handler for `event` or a lifecycle name ("connect", ...); empty: every event.
    void on(std::string_view event, Handler h) {
        std::string e(event);
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_client_on(c_, e.empty() ? nullptr : e.c_str(), cb, ud, f);
        });
    }
    /// The auth payload of the next attempts (a JSON object; empty: none).
    void set_auth(std::string_view auth_json) {
        std::string a(auth_json);
        detail::check(oxsio_client_set_auth(c_, a.empty() ? nullptr : a.c_str()));
    }
    /// Callback mode: makes the auth payload (JSON object text; "" for none)
    /// before every connection attempt, on a library thread. Empty function: no auth.
    using AuthProvider = std::function<std::string()>;
    void set_auth_provider(AuthProvider f) {
        if (!f) {
            detail::check(oxsio_client_set_auth_provider(c_, nullptr, nullptr, nullptr));
            return;
        }
        auto owned = std::make_unique<AuthProvider>(std::move(f));
        detail::check(oxsio_client_set_auth_provider(c_, &auth_trampoline, owned.get(), &auth_release));
        owned.release(); // now owned by the library
    }
    /// Callback mode: `h` sees every event this client sends (on the emitting thread).
    void on_any_outgoing(Handler h) {
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_client_on_any_outgoing(c_, cb, ud, f);
        });
    }
    void off_any_outgoing() { detail::check(oxsio_client_off_any_outgoing(c_)); }
    /// Callback mode: as on(), for the first matching event only.
    void once(std::string_view event, Handler h) {
        std::string e(event);
        detail::register_handler(std::move(h), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
            return oxsio_client_once(c_, e.empty() ? nullptr : e.c_str(), cb, ud, f);
        });
    }
    void off(std::string_view event) {
        std::string e(event);
        detail::check(oxsio_client_off(c_, e.empty() ? nullptr : e.c_str()));
    }
    void emit(std::string_view event, std::string_view args_json = "[]",
              const std::vector<oxsio_buf> &bufs = {}) {
        detail::check(oxsio_client_emit(c_, detail::z(event).c_str(), detail::z(args_json).c_str(),
                                        bufs.data(), bufs.size()));
    }
    void send(std::string_view args_json, const std::vector<oxsio_buf> &bufs = {}) {
        detail::check(oxsio_client_send(c_, detail::z(args_json).c_str(), bufs.data(), bufs.size()));
    }
    void emit_binary(std::string_view event, const void *data, size_t len, bool volatile_ = false) {
        detail::check(oxsio_client_emit_binary(c_, detail::z(event).c_str(),
                                               static_cast<const uint8_t *>(data), len,
                                               volatile_ ? OXSIO_EMIT_VOLATILE : 0));
    }
    /// Callback mode: `reply` gets the ACK event. Poll mode: no reply; the
    /// ACK arrives from poll() with the returned id.
    uint64_t emit_with_ack(std::string_view event, std::string_view args_json, uint32_t timeout_ms,
                           Handler reply = nullptr, const std::vector<oxsio_buf> &bufs = {}) {
        uint64_t id = 0;
        std::string e(event), a(args_json);
        if (reply) {
            detail::register_handler(std::move(reply), [&](oxsio_event_cb cb, void *ud, oxsio_free_cb f) {
                return oxsio_client_emit_with_ack(c_, e.c_str(), a.c_str(), bufs.data(), bufs.size(),
                                                  timeout_ms, cb, ud, f, &id);
            });
        } else {
            detail::check(oxsio_client_emit_with_ack(c_, e.c_str(), a.c_str(), bufs.data(), bufs.size(),
                                                     timeout_ms, nullptr, nullptr, nullptr, &id));
        }
        return id;
    }
    oxsio_client_state state() const {
        uint32_t s = 0;
        detail::check(oxsio_client_get_state(c_, &s));
        return static_cast<oxsio_client_state>(s);
    }
    /// The id the server gave, or "" while not connected.
    std::string id() const {
        char buf[128];
        size_t n = 0;
        oxsio_result r = oxsio_client_id(c_, buf, sizeof buf, &n);
        if (r == OXSIO_RESULT_NOT_CONNECTED) return {};
        detail::check(r);
        return std::string(buf, n);
    }
    bool wait_connected(uint32_t timeout_ms) {
        oxsio_result r = oxsio_client_wait_connected(c_, timeout_ms);
        if (r == OXSIO_RESULT_TIMEOUT) return false;
        detail::check(r);
        return true;
    }
    /// Poll mode: the next event, or nullopt when none is queued (never blocks).
    std::optional<Event> poll() {
        oxsio_event *ev = nullptr;
        oxsio_result r = oxsio_client_poll(c_, &ev);
        if (r == OXSIO_RESULT_EMPTY) return std::nullopt;
        detail::check(r);
        return Event(ev);
    }
    /// Poll mode: true when an event is ready within timeout_ms.
    bool wait(uint32_t timeout_ms) {
        oxsio_result r = oxsio_client_wait(c_, timeout_ms);
        if (r == OXSIO_RESULT_TIMEOUT) return false;
        detail::check(r);
        return true;
    }

private:
    static size_t auth_trampoline(void *user_data, char *json, size_t capacity) {
        try {
            std::string text = (*static_cast<AuthProvider *>(user_data))();
            if (text.size() <= capacity) std::copy(text.begin(), text.end(), json);
            return text.size();
        } catch (...) {
            return 0; // never unwind into the library: no auth
        }
    }
    static void auth_release(void *user_data) { delete static_cast<AuthProvider *>(user_data); }
    explicit Client(oxsio_client *c) noexcept : c_(c) {}
    oxsio_client *c_ = nullptr;
};

/// One record of the library's log (oxsio_log_poll).
struct LogRecord {
    uint32_t level = 0; // OXSIO_LOG_LEVEL_*
    std::string target;
    std::string message;
};
using LogHandler = std::function<void(uint32_t level, std::string_view target, std::string_view message)>;

namespace detail {
inline void log_trampoline(void *user_data, uint32_t level, const char *target, const char *message) {
    try {
        (*static_cast<LogHandler *>(user_data))(level, target, message);
    } catch (...) {
        // Never let an exception unwind into the library.
    }
}
inline void log_release(void *user_data) { delete static_cast<LogHandler *>(user_data); }
} // namespace detail

/// The process-wide log sink: `h` gets the records of `max_level` and more
/// severe ones, on the library's log thread (oxsio_log_set_callback).
inline void log_set_callback(uint32_t max_level, LogHandler h) {
    auto owned = std::make_unique<LogHandler>(std::move(h));
    detail::check(oxsio_log_set_callback(max_level, &detail::log_trampoline, owned.get(), &detail::log_release));
    owned.release(); // now owned by the library
}
/// Queue mode for logs, drained with log_poll() (capacity 0: 1024).
inline void log_enable_queue(uint32_t max_level, size_t capacity = 0) {
    detail::check(oxsio_log_enable_queue(max_level, capacity));
}
/// The oldest queued log record, or nullopt when none waits (never blocks).
inline std::optional<LogRecord> log_poll() {
    std::string target(64, '\0'), message(256, '\0');
    for (int tries = 0; tries < 4; tries++) {
        uint32_t level = 0;
        size_t tl = 0, ml = 0;
        oxsio_result r = oxsio_log_poll(&level, target.data(), target.size(), &tl, message.data(), message.size(), &ml);
        if (r == OXSIO_RESULT_EMPTY) return std::nullopt;
        if (r == OXSIO_RESULT_BUFFER_TOO_SMALL) {
            target.resize(std::max(target.size(), tl + 1));
            message.resize(std::max(message.size(), ml + 1));
            continue;
        }
        detail::check(r);
        target.resize(tl);
        message.resize(ml);
        return LogRecord{level, std::move(target), std::move(message)};
    }
    throw Error(OXSIO_RESULT_BUFFER_TOO_SMALL, "log record kept growing");
}
/// Turns the log sink off (a callback's handler is destroyed after its last record).
inline void log_off() { detail::check(oxsio_log_off()); }
/// How many log records were dropped (queue or callback backlog full).
inline uint64_t log_dropped() {
    uint64_t n = 0;
    detail::check(oxsio_log_dropped(&n));
    return n;
}

/// Quotes `s` as a JSON string literal (for building argument arrays).
inline std::string json_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

} // namespace oxsio

#endif
