//! Tests of the codecs: round trips fed in odd pieces, gzip header fields,
//! lenient "deflate", bounded output, and corrupt or cut input.

use std::io::Write;

use super::*;

/// Run all of `input` through `codec`, `piece` bytes at a time; every
/// output step must stay within `OUT_CHUNK` (plus one codec call's worth).
fn run(mut codec: Codec, input: &[u8], piece: usize) -> Result<Vec<u8>, CodecError> {
    let mut all = Vec::new();
    for part in input.chunks(piece.max(1)) {
        let mut at = 0;
        loop {
            let mut out = Vec::new();
            at += codec.push(&part[at..], &mut out)?;
            assert!(
                out.len() <= OUT_CHUNK + IN_STEP + 1024,
                "step produced {} bytes",
                out.len()
            );
            if out.is_empty() {
                assert_eq!(at, part.len(), "codec stalled");
                break;
            }
            all.extend_from_slice(&out);
        }
    }
    loop {
        let mut out = Vec::new();
        let done = codec.finish(&mut out)?;
        all.extend_from_slice(&out);
        if done {
            return Ok(all);
        }
    }
}

fn sample() -> Vec<u8> {
    (0..200_000u32)
        .flat_map(|i| format!("line {} {}\n", i % 977, i % 13).into_bytes())
        .collect()
}

#[test]
fn round_trips_in_every_format_and_piece_size() {
    let data = sample();
    for format in [Format::Gzip, Format::Deflate, Format::DeflateRaw, Format::Brotli] {
        let packed = run(Codec::encoder(format), &data, 10_000).unwrap();
        assert!(packed.len() < data.len() / 4, "{format:?} did not compress");
        for piece in [1, 7, 4096, packed.len()] {
            let back = run(Codec::decoder(format, false), &packed, piece).unwrap();
            assert!(back == data, "{format:?} round trip with {piece}-byte pieces");
        }
    }
}

#[test]
fn reads_gzip_made_elsewhere_with_optional_header_fields() {
    let data = b"hello from another gzip writer".repeat(50);
    let mut w = flate2::GzBuilder::new()
        .filename("name.txt")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4])
        .write(Vec::new(), Compression::best());
    w.write_all(&data).unwrap();
    let packed = w.finish().unwrap();
    for piece in [1, 3, packed.len()] {
        assert_eq!(run(Codec::decoder(Format::Gzip, false), &packed, piece).unwrap(), data);
    }
    // A header CRC (FHCRC) is checked, not misread as deflate data.
    let mut with_hcrc = packed[..10].to_vec();
    with_hcrc[3] = FHCRC;
    let mut crc = Crc::new();
    crc.update(&with_hcrc);
    let good = (crc.sum() & 0xffff) as u16;
    let body_start = 10 + 2 + 4 + "name.txt".len() + 1 + "a comment".len() + 1;
    let mut bad = with_hcrc.clone();
    with_hcrc.extend_from_slice(&good.to_le_bytes());
    with_hcrc.extend_from_slice(&packed[body_start..]);
    assert_eq!(run(Codec::decoder(Format::Gzip, false), &with_hcrc, 5).unwrap(), data);
    bad.extend_from_slice(&(good ^ 1).to_le_bytes());
    bad.extend_from_slice(&packed[body_start..]);
    assert!(run(Codec::decoder(Format::Gzip, false), &bad, 5).is_err());
}

#[test]
fn lenient_deflate_takes_zlib_and_raw() {
    let data = b"deflate as servers send it ".repeat(40);
    let zlib = run(Codec::encoder(Format::Deflate), &data, 100).unwrap();
    let raw = run(Codec::encoder(Format::DeflateRaw), &data, 100).unwrap();
    assert_eq!(run(Codec::decoder(Format::Deflate, true), &zlib, 1).unwrap(), data);
    assert_eq!(run(Codec::decoder(Format::Deflate, true), &raw, 1).unwrap(), data);
    assert!(run(Codec::decoder(Format::Deflate, false), &raw, 100).is_err());
}

#[test]
fn expansion_comes_out_in_bounded_steps() {
    let zeros = vec![0u8; 16 * 1024 * 1024];
    for format in [Format::Gzip, Format::Brotli] {
        let packed = run(Codec::encoder(format), &zeros, zeros.len()).unwrap();
        assert!(packed.len() < 100_000);
        // One push of the whole compressed input: `run` checks each step's size.
        let back = run(Codec::decoder(format, false), &packed, packed.len()).unwrap();
        assert_eq!(back.len(), zeros.len());
    }
}

#[test]
fn corrupt_and_cut_input_fail() {
    let data = b"some text to break".repeat(20);
    for format in [Format::Gzip, Format::Deflate, Format::DeflateRaw, Format::Brotli] {
        let packed = run(Codec::encoder(format), &data, 64).unwrap();
        let cut = &packed[..packed.len() - 3];
        assert!(run(Codec::decoder(format, false), cut, 5).is_err(), "{format:?} cut");
        let mut extra = packed.clone();
        extra.push(0);
        assert!(
            run(Codec::decoder(format, false), &extra, 5).is_err(),
            "{format:?} trailing byte"
        );
    }
    assert!(run(Codec::decoder(Format::Gzip, false), b"not gzip at all", 4).is_err());
    assert!(run(Codec::decoder(Format::Brotli, false), &[0xff; 64], 4).is_err());
    let packed = run(Codec::encoder(Format::Gzip), &data, 64).unwrap();
    let mut bad_len = packed.clone();
    let n = bad_len.len();
    bad_len[n - 1] ^= 1;
    assert!(run(Codec::decoder(Format::Gzip, false), &bad_len, 64).is_err());
    // An unending file name is refused, not buffered.
    let mut long_name = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
    long_name.extend(std::iter::repeat_n(b'a', MAX_GZIP_HEADER + 10));
    assert!(run(Codec::decoder(Format::Gzip, false), &long_name, 1000).is_err());
}

#[test]
fn content_encoding_values() {
    let map = |vals: &[&str]| {
        let mut h = HeaderMap::new();
        for v in vals {
            h.append(http::header::CONTENT_ENCODING, v.parse().unwrap());
        }
        h
    };
    assert_eq!(Format::from_content_encoding(&map(&["gzip"])), Some(Format::Gzip));
    assert_eq!(Format::from_content_encoding(&map(&[" BR "])), Some(Format::Brotli));
    assert_eq!(Format::from_content_encoding(&map(&["deflate"])), Some(Format::Deflate));
    assert_eq!(Format::from_content_encoding(&map(&["gzip, br"])), None);
    assert_eq!(Format::from_content_encoding(&map(&["gzip", "br"])), None);
    assert_eq!(Format::from_content_encoding(&map(&["zstd"])), None);
    assert_eq!(Format::from_content_encoding(&map(&[])), None);
}
