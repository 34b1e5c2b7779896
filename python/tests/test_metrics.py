"""Prometheus metrics of the Python server (``metrics_path=``), parsed with
``prometheus_client``'s own text-format parser: the numbers move with the
traffic of python-socketio clients, scraping 100 times a second during load
keeps the server serving, and ``sio.metrics()`` gives the same text."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Dict, Iterator, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

import oxsio

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(r.read().decode())


def v(m: Samples, name: str, **labels: str) -> float:
    return m[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metered() -> Iterator[oxsio.Server]:
    sio = oxsio.Server(metrics_path="/metrics")

    @sio.event
    def echo(sid: str, data: object) -> object:
        return data

    @sio.event
    def shout(sid: str, data: object) -> None:
        sio.emit("shout", data)

    sio.start("127.0.0.1", 0)
    yield sio
    sio.close()


def test_numbers_move_with_traffic(metered: oxsio.Server) -> None:
    import socketio

    port = metered.port
    assert port
    before = scrape(port)
    assert v(before, "oxsio_engine_connections_opened_total") == 0
    clients = []
    for transport in ("websocket", "polling"):
        c = socketio.Client(reconnection=False)
        c.connect(f"http://127.0.0.1:{port}", transports=[transport], wait_timeout=5)
        clients.append(c)
    try:
        for c in clients:
            assert c.call("echo", {"n": 1}, timeout=5) == {"n": 1}
        got = threading.Event()
        clients[1].on("shout", lambda data: got.set())
        clients[0].emit("shout", "hi")
        assert got.wait(5)
        m = scrape(port)
        assert v(m, "oxsio_engine_connections_opened_total") == 2
        assert v(m, "oxsio_engine_connections", transport="websocket") == 1
        assert v(m, "oxsio_engine_connections", transport="polling") == 1
        assert v(m, "oxsio_sockets", namespace="/") == 2
        assert v(m, "oxsio_packets_received_total", type="event") == 3
        assert v(m, "oxsio_packets_sent_total", type="ack") == 2
        assert v(m, "oxsio_broadcasts_total") == 1
        assert v(m, "oxsio_broadcast_deliveries_total") == 2
        assert v(m, "oxsio_received_bytes_total") > 0
        assert v(m, "oxsio_sent_bytes_total") > 0
        # A bad handshake is counted by reason.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=3&transport=polling", timeout=5)
        m2 = parse(metered.metrics() or "")
        assert v(m2, "oxsio_handshake_refusals_total", reason="unsupported_protocol_version") == 1
        assert v(m2, "oxsio_adapter_request_duration_seconds_count", op="fetch_sockets") == 0
    finally:
        for c in clients:
            c.disconnect()


def test_scraped_100_times_a_second_during_load(metered: oxsio.Server) -> None:
    import socketio

    port = metered.port
    assert port
    stop = threading.Event()
    scrapes = []

    def scraper() -> None:
        while not stop.is_set():
            scrapes.append(scrape(port))
            time.sleep(0.01)

    t = threading.Thread(target=scraper)
    t.start()
    c = socketio.Client(reconnection=False)
    c.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=5)
    calls = 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < 2:
            assert c.call("echo", calls, timeout=5) == calls
            calls += 1
    finally:
        stop.set()
        t.join(10)
        c.disconnect()
    assert len(scrapes) >= 50, len(scrapes)
    counts = [v(m, "oxsio_packets_received_total", type="event") for m in scrapes]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    assert v(scrape(port), "oxsio_packets_received_total", type="event") == calls


def test_metrics_are_off_by_default() -> None:
    sio = oxsio.Server()
    try:
        assert sio.metrics() is None
        port = sio.start("127.0.0.1", 0)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert e.value.code == 404
        with pytest.raises(ValueError):
            oxsio.Server(metrics_path="metrics")
    finally:
        sio.close()
