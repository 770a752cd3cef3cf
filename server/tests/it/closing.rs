//! The closing handshake, frame by frame (issue 35), the way Autobahn's
//! section 7 tries it: a raw client sends a Close frame (valid codes,
//! none, reserved or out-of-range codes, a broken reason, a one-byte
//! payload, one in the middle of a fragmented message) and the server must
//! answer with a Close frame of its own (RFC 6455 §5.5.1: echoing a valid
//! code, 1002 or 1007 for a bad one) and then end the TCP connection. A
//! server that just drops the socket makes every polite client report
//! 1006, "abnormal closure".

use crate::common::TestServer;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A WebSocket client that writes frames byte by byte, as Autobahn's fuzzer does.
struct Raw {
    tcp: TcpStream,
    buffer: Vec<u8>,
}

impl Raw {
    async fn open(server: &TestServer, room: &str) -> Self {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /ws/chat/{room}/ HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            server.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Self {
            tcp,
            buffer: Vec::new(),
        };
        let head_end = loop {
            if let Some(end) = raw.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            assert!(raw.fill().await, "the server hung up during the handshake");
        };
        let head = String::from_utf8_lossy(&raw.buffer[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        raw.buffer.drain(..head_end);
        raw
    }

    /// Reads more bytes; false at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(5), self.tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => panic!("the server said nothing for 5 s"),
        }
    }

    /// Sends one masked frame: `fin`, `opcode`, `payload`.
    async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![(u8::from(fin) << 7) | opcode];
        assert!(payload.len() < 126, "short frames only");
        frame.push(0x80 | payload.len() as u8);
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&frame).await.unwrap();
    }

    async fn close_with(&mut self, payload: &[u8]) {
        self.send(true, 0x8, payload).await;
    }

    /// Reads frames until the server's Close; its payload, then whether the
    /// server ended the TCP connection after it. `None`: no Close came
    /// before the connection ended.
    async fn closing(&mut self) -> Option<(Vec<u8>, bool)> {
        loop {
            while let Some((opcode, payload, used)) = frame(&self.buffer) {
                self.buffer.drain(..used);
                if opcode == 0x8 {
                    let mut rest = [0u8; 64];
                    let ended = matches!(
                        tokio::time::timeout(Duration::from_secs(5), self.tcp.read(&mut rest))
                            .await,
                        Ok(Ok(0)) | Ok(Err(_))
                    );
                    return Some((payload, ended));
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }
}

/// The first whole (unmasked, server-sent) frame in `bytes`: its opcode,
/// payload and length.
fn frame(bytes: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, &second) = (bytes.first()?, bytes.get(1)?);
    let (len, at) = match second & 0x7f {
        126 => (
            u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = bytes.get(at..at + len)?.to_vec();
    Some((first & 0x0f, payload, at + len))
}

fn code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

/// Close with `code` and `reason`.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_then_the_connection_ends() {
    let server = TestServer::start().await;
    // Valid codes are echoed (7.1.1, 7.7.x).
    for valid in [1000u16, 1001, 1003, 1007, 1011, 3000, 3999, 4000, 4999] {
        let mut ws = Raw::open(&server, "closing").await;
        ws.close_with(&close_payload(valid, b"bye")).await;
        let (payload, ended) = ws.closing().await.expect("a Close in answer");
        assert_eq!(code(&payload), Some(valid), "{valid}: {payload:?}");
        assert!(
            ended,
            "{valid}: the server ends the connection after its Close"
        );
    }
    // No payload at all (7.3.1): answered, with no code or 1000.
    let mut ws = Raw::open(&server, "closing").await;
    ws.close_with(&[]).await;
    let (payload, ended) = ws.closing().await.expect("a Close in answer");
    assert!(matches!(code(&payload), None | Some(1000)), "{payload:?}");
    assert!(ended);
}

#[tokio::test]
async fn a_broken_close_is_answered_with_a_protocol_error() {
    let server = TestServer::start().await;
    let mut broken: Vec<(&str, Vec<u8>)> = vec![
        ("one byte (7.3.2)", vec![0x03]),
        (
            "a reason that is not UTF-8 (7.5.1)",
            close_payload(1000, &[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xff]),
        ),
    ];
    for reserved in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        broken.push((
            "a code nobody may send (7.9.x)",
            close_payload(reserved, b""),
        ));
    }
    for (what, payload) in broken {
        let mut ws = Raw::open(&server, "closing").await;
        ws.close_with(&payload).await;
        let (answer, ended) = ws
            .closing()
            .await
            .unwrap_or_else(|| panic!("{what} {payload:?}: no Close in answer"));
        assert!(
            matches!(code(&answer), Some(1002 | 1007)),
            "{what} {payload:?}: answered {answer:?}"
        );
        assert!(ended, "{what}");
    }
}

#[tokio::test]
async fn a_close_in_the_middle_of_a_fragmented_message_is_answered() {
    let server = TestServer::start().await;
    let mut ws = Raw::open(&server, "closing").await;
    // 5.x: a text message in two fragments, a Close between them.
    ws.send(false, 0x1, br#"{"message":"#).await;
    ws.close_with(&close_payload(1000, b"")).await;
    let (payload, ended) = ws.closing().await.expect("a Close in answer");
    assert_eq!(code(&payload), Some(1000));
    assert!(ended);
}

impl Raw {
    /// Writes `bytes` as they are (a frame no client library would make).
    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }
}

#[tokio::test]
async fn broken_frames_are_answered_with_a_close_that_names_the_fault() {
    let server = TestServer::start().await;
    let mask = [0u8; 4];
    let masked = |first: u8, payload: &[u8]| {
        let mut frame = vec![first, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend_from_slice(payload);
        frame
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a reserved opcode (4.1.1)", masked(0x83, b""), 1002),
        (
            "a reserved bit set (3.1)",
            masked(0x80 | 0x40 | 0x1, b"{}"),
            1002,
        ),
        (
            "an unmasked client frame",
            vec![0x81, 0x02, b'{', b'}'],
            1002,
        ),
        ("a fragmented ping (5.1)", masked(0x09, b"x"), 1002),
        (
            "text that is not UTF-8 (6.x)",
            masked(0x81, &[0xce, 0xba, 0xff]),
            1007,
        ),
        (
            "a continuation with nothing to continue (5.9)",
            masked(0x80, b"x"),
            1002,
        ),
    ];
    for (what, bytes, expected) in cases {
        let mut ws = Raw::open(&server, "framing").await;
        ws.send_bytes(&bytes).await;
        let (answer, ended) = ws
            .closing()
            .await
            .unwrap_or_else(|| panic!("{what}: dropped without a Close"));
        assert_eq!(code(&answer), Some(expected), "{what}: {answer:?}");
        assert!(ended, "{what}");
    }
    // A 125-byte ping is answered with its pong, and the socket stays.
    let mut ws = Raw::open(&server, "framing").await;
    ws.send(true, 0x9, &[b'p'; 125]).await;
    loop {
        while let Some((opcode, payload, used)) = frame(&ws.buffer) {
            ws.buffer.drain(..used);
            if opcode == 0xA {
                assert_eq!(payload, [b'p'; 125]);
                return;
            }
        }
        assert!(ws.fill().await, "no pong");
    }
}
