//! Seal and open of the packet envelope, with and without the base64 text layer, and the two
//! primitives under them (RSA-OAEP unwrap, AES-256-GCM) for comparison with `openssl speed`;
//! the streaming codec and its GCM for packets larger than memory.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keymgr_benches::{SIZES, fixture_recipient};
use keymgr_crypto::gcm_stream::GcmSealer;
use keymgr_crypto::{DataKey, RsaPrivateKey, aead};
use keymgr_envelope::{Codec, OpenParams, SealMode, StagedBuffer, base64};

fn label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{}MiB", s >> 20),
        s => format!("{}KiB", s >> 10),
    }
}

fn envelope(c: &mut Criterion) {
    let (recipient, keys) = fixture_recipient();
    let codec = Codec::default();
    for size in SIZES {
        let plain = vec![0xA5u8; size];
        let bytes = codec.seal(&plain, &recipient, SealMode::VerR2).unwrap();
        let text = base64::encode(&bytes);
        let mut group = c.benchmark_group("envelope");
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 16 << 20 {
            group.sample_size(10).measurement_time(Duration::from_secs(8));
        }
        group.bench_with_input(BenchmarkId::new("seal_bytes", label(size)), &plain, |b, p| {
            b.iter(|| codec.seal(p, &recipient, SealMode::VerR2).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("seal_text", label(size)), &plain, |b, p| {
            b.iter(|| codec.seal_text(p, &recipient, SealMode::VerR2).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("open_bytes", label(size)), &bytes, |b, e| {
            b.iter(|| codec.open(e.clone(), &keys, OpenParams::default()).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("open_text", label(size)), &text, |b, t| {
            b.iter(|| codec.open_text(t.as_bytes(), &keys, OpenParams::default()).unwrap())
        });
        // Text the caller owns (a request's field, already in memory): decoded and opened in
        // its own buffer. The copy that makes each input is not timed.
        group.bench_with_input(BenchmarkId::new("open_text_owned", label(size)), &text, |b, t| {
            b.iter_batched(
                || t.as_bytes().to_vec(),
                |owned| codec.open_text_owned(owned, &keys, OpenParams::default()).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// The streaming codec (packets larger than memory): seal from memory to a sink, open into a
/// staging buffer reserved up front, so that the codec is measured and not the disk.
fn streaming(c: &mut Criterion) {
    let (recipient, keys) = fixture_recipient();
    let codec = Codec::default();
    for size in SIZES {
        let plain = vec![0xA5u8; size];
        let text = codec.seal_text(&plain, &recipient, SealMode::VerR2).unwrap();
        let mut group = c.benchmark_group("envelope_stream");
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 16 << 20 {
            group.sample_size(10).measurement_time(Duration::from_secs(8));
        }
        group.bench_with_input(BenchmarkId::new("seal_stream", label(size)), &plain, |b, p| {
            b.iter(|| codec.seal_stream(&p[..], std::io::sink(), &recipient, SealMode::VerR2).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("open_stream", label(size)), &text, |b, t| {
            b.iter(|| {
                let staging = StagedBuffer::with_capacity(size);
                codec.open_stream(t.as_bytes(), staging, &keys, OpenParams::default()).unwrap()
            })
        });
        let data_key = DataKey::generate().unwrap();
        let mut buf = vec![0u8; size];
        group.bench_function(BenchmarkId::new("aes256gcm_stream_seal", label(size)), |b| {
            b.iter(|| {
                let mut sealer = GcmSealer::new(&data_key, &[1; 12], &[2; 32]).unwrap();
                for piece in buf.chunks_mut(768 << 10) {
                    sealer.encrypt(piece).unwrap();
                }
                sealer.finish()
            })
        });
        group.finish();
    }
}

fn primitives(c: &mut Criterion) {
    let key = RsaPrivateKey::generate_2048().unwrap();
    let wrapped = key.public_key().unwrap().oaep_wrap(&[7; 32]).unwrap();
    let mut group = c.benchmark_group("primitives");
    group.bench_function("rsa2048_oaep_unwrap", |b| b.iter(|| key.oaep_unwrap(&wrapped).unwrap()));
    let public = key.public_key().unwrap();
    group.bench_function("rsa2048_oaep_wrap", |b| b.iter(|| public.oaep_wrap(&[7; 32]).unwrap()));
    let data_key = DataKey::generate().unwrap();
    for size in [1usize << 10, 1 << 20, 16 << 20] {
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("aes256gcm_seal", label(size)), |b| {
            b.iter(|| aead::seal_in_place(&data_key, &[1; 12], &[2; 32], &mut buf).unwrap())
        });
        let text = base64::encode(&buf);
        group.bench_function(BenchmarkId::new("base64_encode", label(size)), |b| {
            b.iter(|| base64::encode(&buf))
        });
        group.bench_function(BenchmarkId::new("base64_decode", label(size)), |b| {
            b.iter(|| base64::decode(text.as_bytes(), usize::MAX).unwrap())
        });
        // The scalar codec, the SIMD path's oracle and fallback, for comparison.
        group.bench_function(BenchmarkId::new("base64_encode_scalar", label(size)), |b| {
            b.iter(|| keymgr_model::base64::encode_scalar(&buf))
        });
        group.bench_function(BenchmarkId::new("base64_decode_scalar", label(size)), |b| {
            b.iter(|| keymgr_model::base64::decode_scalar(text.as_bytes(), usize::MAX).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, envelope, streaming, primitives);
criterion_main!(benches);
