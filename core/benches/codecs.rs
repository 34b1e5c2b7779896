//! Codec micro-benchmarks: `cargo bench -p oxsio --bench codecs`
//! (add `-- --quick` for a fast run).
//!
//! Each case encodes a Socket.IO packet into an Engine.IO message (`4…`)
//! and decodes it back the way the server does (Engine.IO packet →
//! Socket.IO decoder, attachments as binary messages).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oxsio::codec::engineio::Packet as EioPacket;
use oxsio::codec::polling::{self, Record};
use oxsio::codec::socketio::{Decoder, Packet};
use oxsio::{Map, Value};

/// `4` + the Socket.IO packet text; attachments separately.
fn encode_message(p: &Packet, text: &mut String, att: &mut Vec<Bytes>) {
    text.clear();
    att.clear();
    text.push('4');
    p.encode_into(text, att);
}

/// Decodes one Engine.IO text message plus its binary attachments.
fn decode_message(d: &mut Decoder, text: &str, att: &[Bytes]) -> Option<Packet> {
    let Ok(EioPacket::Message(m)) = EioPacket::decode(text) else {
        return None;
    };
    let mut got = d.decode_text(m).ok()?;
    for b in att {
        got = d.decode_binary(b.clone()).ok()?;
    }
    got
}

fn small_event() -> Packet {
    Packet::event("/", "echo", vec![Value::from("x".repeat(64))], None)
}

fn kib_event() -> Packet {
    let mut user = Map::new();
    user.insert("id".into(), Value::from(123_456_789u64));
    user.insert("name".into(), Value::from("Ada Lovelace"));
    user.insert("score".into(), Value::from(98.25));
    user.insert(
        "tags".into(),
        Value::from(vec![Value::from("a"), Value::from("b\n\"c\"")]),
    );
    let mut items = Vec::new();
    while Value::Array(items.clone()).to_string().len() < 860 {
        let mut item = Map::new();
        item.insert("n".into(), Value::from(items.len()));
        item.insert("text".into(), Value::from("lorem ipsum dolor sit é€"));
        item.insert("ok".into(), Value::from(items.len() % 2 == 0));
        items.push(Value::Object(item));
    }
    let make = |user: &Map| {
        Packet::event(
            "/chat",
            "update",
            vec![Value::Object(user.clone()), Value::Array(items.clone())],
            Some(42),
        )
    };
    // Pad to exactly 1 KiB of packet text.
    let len = make(&user).encode().0.len() + r#","pad":"""#.len();
    user.insert(
        "pad".into(),
        Value::from("x".repeat(1024usize.saturating_sub(len))),
    );
    let p = make(&user);
    assert_eq!(p.encode().0.len(), 1024);
    p
}

fn binary_event() -> Packet {
    let mut meta = Map::new();
    meta.insert("name".into(), Value::from("photo.png"));
    meta.insert("thumb".into(), Value::from(vec![7u8; 256]));
    Packet::event(
        "/",
        "upload",
        vec![Value::Object(meta), Value::from(vec![1u8; 1024])],
        Some(7),
    )
}

fn bench_packet(c: &mut Criterion, name: &str, p: &Packet) {
    let (mut text, mut att) = (String::new(), Vec::new());
    encode_message(p, &mut text, &mut att);
    let bytes = text.len() + att.iter().map(Bytes::len).sum::<usize>();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("encode", |b| {
        let (mut t, mut a) = (String::with_capacity(text.len()), Vec::new());
        b.iter(|| {
            encode_message(black_box(p), &mut t, &mut a);
            black_box((&t, &a));
        });
    });
    g.bench_function("decode", |b| {
        let mut d = Decoder::default();
        b.iter(|| {
            let got = decode_message(&mut d, black_box(&text), black_box(&att));
            debug_assert!(got.is_some());
            black_box(got)
        });
    });
    g.finish();
}

/// The same packet with the msgpack parser: one binary message.
fn bench_msgpack(c: &mut Criterion, name: &str, p: &Packet) {
    use oxsio::codec::msgpack;
    let bytes = msgpack::encode(p);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            msgpack::encode_into(&mut out, black_box(p));
            black_box(&out);
        });
    });
    // As the server reads a WebSocket frame: in place (`decode_binary_ref`).
    g.bench_function("decode", |b| {
        b.iter(|| {
            let got = msgpack::decode(black_box(&bytes), 128);
            debug_assert!(got.is_ok());
            black_box(got)
        });
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    bench_packet(c, "small_event_64B", &small_event());
    bench_msgpack(c, "msgpack_small_event_64B", &small_event());
    bench_packet(c, "event_1KiB", &kib_event());
    bench_msgpack(c, "msgpack_event_1KiB", &kib_event());
    bench_packet(c, "binary_event_2_attachments", &binary_event());
    bench_msgpack(c, "msgpack_binary_event", &binary_event());

    // A polling GET body: 16 packets (14 small events + 1 binary event
    // with its 2 attachments as `b…` records).
    let mut packets = vec![small_event(); 14];
    packets.insert(7, binary_event());
    packets.push(small_event());
    let build = |payload: &mut String, t: &mut String, a: &mut Vec<Bytes>| {
        payload.clear();
        for p in &packets {
            encode_message(p, t, a);
            polling::push_text(payload, t);
            for b in a.iter() {
                polling::push_binary(payload, b);
            }
        }
    };
    let (mut payload, mut t, mut a) = (String::new(), String::new(), Vec::new());
    build(&mut payload, &mut t, &mut a);
    let mut g = c.benchmark_group("polling_payload_16_packets");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("encode", |b| {
        let mut out = String::with_capacity(payload.len());
        b.iter(|| {
            build(&mut out, &mut t, &mut a);
            black_box(&out);
        });
    });
    g.bench_function("decode", |b| {
        let mut d = Decoder::default();
        b.iter(|| {
            let mut n = 0;
            for rec in polling::decode(black_box(&payload)) {
                let done = match rec {
                    Ok(Record::Text(t)) => match EioPacket::decode(t) {
                        Ok(EioPacket::Message(m)) => d.decode_text(m),
                        _ => continue,
                    },
                    Ok(Record::Binary(bin)) => d.decode_binary(bin),
                    Err(_) => continue,
                };
                if let Ok(Some(p)) = done {
                    black_box(p);
                    n += 1;
                }
            }
            debug_assert_eq!(n, 16);
            n
        });
    });
    g.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
