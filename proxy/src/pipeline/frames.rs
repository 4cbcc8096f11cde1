//! Counting the WebSocket messages that pass through a joined socket
//! without decoding them: the bytes go on unchanged; this reads only the
//! frame heads (RFC 6455 §5.2) to count messages and payload bytes, and the
//! first two payload bytes of a close frame for its status code. It never
//! buffers a payload, so its cost does not grow with message size.
//!
//! Frames are checked by whoever terminates the socket (the origin, or the
//! runtime for a Worker's `WebSocketPair`); a stream this cannot follow
//! (a length past 2^63) stops the count and nothing else.

/// Bytes of the longest frame head: 2 + 8 (length) + 4 (mask key).
const MAX_HEAD: usize = 14;

/// One direction of a WebSocket, as seen so far.
#[derive(Debug, Default)]
pub struct FrameScan {
    head: [u8; MAX_HEAD],
    /// Bytes of the current frame head gathered so far.
    have: usize,
    /// Payload bytes of the current frame still to pass.
    left: u64,
    /// The current frame is a close frame whose code is still being read:
    /// how many of its two code bytes were read.
    close_read: Option<u8>,
    close_code: [u8; 2],
    mask: Option<[u8; 4]>,
    /// Complete data messages (the final frame of a text or binary message).
    pub messages: u64,
    /// Payload bytes of data frames.
    pub payload: u64,
    /// The status code of the first close frame, `1005` when it had none.
    pub close: Option<u16>,
    /// The stream stopped making sense as frames; counting stopped.
    lost: bool,
}

impl FrameScan {
    /// Account for `data`, the next bytes of this direction.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.lost {
            if self.left > 0 {
                let take = usize::try_from(self.left).unwrap_or(usize::MAX).min(data.len());
                self.read_close_code(&data[..take]);
                self.left -= take as u64;
                data = &data[take..];
                continue;
            }
            let need = self.head_len();
            let take = (need - self.have).min(data.len());
            self.head[self.have..self.have + take].copy_from_slice(&data[..take]);
            self.have += take;
            data = &data[take..];
            // The length byte may have made the head longer than first thought.
            if self.have == need && self.head_len() == need {
                self.frame_head_done();
            }
        }
    }

    /// How long the current head is, as far as its bytes so far tell.
    fn head_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let len = match self.head[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        len + if self.head[1] & 0x80 != 0 { 4 } else { 0 }
    }

    fn frame_head_done(&mut self) {
        let fin = self.head[0] & 0x80 != 0;
        let opcode = self.head[0] & 0x0f;
        let (len, at) = match self.head[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([self.head[2], self.head[3]])), 4),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.head[2..10]);
                (u64::from_be_bytes(b), 10)
            }
            n => (u64::from(n), 2),
        };
        if len > i64::MAX as u64 {
            self.lost = true;
            return;
        }
        self.mask = (self.head[1] & 0x80 != 0).then(|| {
            let mut k = [0u8; 4];
            k.copy_from_slice(&self.head[at..at + 4]);
            k
        });
        self.have = 0;
        self.left = len;
        self.close_read = None;
        match opcode {
            0..=2 => {
                self.payload += len;
                if fin {
                    self.messages += 1;
                }
            }
            8 if self.close.is_none() => {
                if len >= 2 {
                    self.close_read = Some(0);
                } else {
                    self.close = Some(1005);
                }
            }
            _ => {}
        }
    }

    /// Take the close code from the start of a close frame's payload.
    fn read_close_code(&mut self, chunk: &[u8]) {
        let Some(mut got) = self.close_read else {
            return;
        };
        for &b in chunk.iter().take(2 - usize::from(got)) {
            let i = usize::from(got);
            self.close_code[i] = b ^ self.mask.map_or(0, |k| k[i]);
            got += 1;
        }
        if got == 2 {
            self.close = Some(u16::from_be_bytes(self.close_code));
            self.close_read = None;
        } else {
            self.close_read = Some(got);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FrameScan;

    /// A frame as a client (masked) or a server (unmasked) sends it.
    fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(m | n as u8),
            n if n <= 0xffff => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                out.extend_from_slice(&k);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    /// What a scan saw: messages, payload bytes, close code.
    type Seen = (u64, u64, Option<u16>);

    /// The same stream fed whole and one byte at a time counts the same.
    fn scan_all_ways(stream: &[u8]) -> Seen {
        let mut whole = FrameScan::default();
        whole.feed(stream);
        let mut bytewise = FrameScan::default();
        for b in stream {
            bytewise.feed(std::slice::from_ref(b));
        }
        let mut odd = FrameScan::default();
        for c in stream.chunks(7) {
            odd.feed(c);
        }
        let a = (whole.messages, whole.payload, whole.close);
        assert_eq!(a, (bytewise.messages, bytewise.payload, bytewise.close));
        assert_eq!(a, (odd.messages, odd.payload, odd.close));
        a
    }

    #[test]
    fn counts_messages_payload_and_close_code() {
        let key = Some([0x12, 0x34, 0x56, 0x78]);
        let big = vec![7u8; 70_000];
        let cases: Vec<(&str, Vec<Vec<u8>>, Seen)> = vec![
            ("one text", vec![frame(true, 1, b"hello", None)], (1, 5, None)),
            ("masked text", vec![frame(true, 1, b"hello", key)], (1, 5, None)),
            ("empty binary", vec![frame(true, 2, b"", None)], (1, 0, None)),
            (
                "16-bit and 64-bit lengths",
                vec![frame(true, 2, &big[..300], key), frame(true, 2, &big, None)],
                (2, 70_300, None),
            ),
            (
                "fragments make one message; a ping between them counts nothing",
                vec![
                    frame(false, 1, b"he", key),
                    frame(true, 9, b"p", key),
                    frame(false, 0, b"ll", key),
                    frame(true, 0, b"o", key),
                ],
                (1, 5, None),
            ),
            (
                "masked close code",
                vec![
                    frame(true, 1, b"x", key),
                    frame(true, 8, &[0x03, 0xe9, b'b', b'y'], key),
                ],
                (1, 1, Some(1001)),
            ),
            (
                "close without code",
                vec![frame(true, 8, b"", None)],
                (0, 0, Some(1005)),
            ),
            (
                "only the first close counts",
                vec![
                    frame(true, 8, &4000u16.to_be_bytes(), None),
                    frame(true, 8, &1000u16.to_be_bytes(), None),
                ],
                (0, 0, Some(4000)),
            ),
        ];
        for (name, frames, want) in cases {
            let stream: Vec<u8> = frames.concat();
            assert_eq!(scan_all_ways(&stream), want, "{name}");
        }
    }

    #[test]
    fn an_impossible_length_stops_counting_without_panicking() {
        let mut s = FrameScan::default();
        let mut bad = vec![0x82, 127];
        bad.extend_from_slice(&u64::MAX.to_be_bytes());
        bad.extend_from_slice(&frame(true, 1, b"after", None));
        s.feed(&bad);
        assert_eq!((s.messages, s.payload), (0, 0));
    }
}
