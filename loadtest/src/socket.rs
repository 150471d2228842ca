//! The load generator's websocket, opened as the browser opens it: a TCP
//! stream from one of many source addresses, the HTTP upgrade with the bearer
//! token, `hello`, a first `resume`; then text frames each way, every one
//! typed by `wire::protocol`.
//!
//! Frames are read with fastwebsockets straight from the stream's own read
//! half: no lock shared with the writer, no waker handed to both halves on
//! every read, no copy of a frame. Against a server delivering hundreds of
//! thousands of frames a second, the generator's CPU per frame is what
//! bounds what it can measure.
//!
//! Sockets are spread over the source addresses 127.0.0.2… (bound before
//! connecting), since one address pair has only ~28,000 ephemeral ports.

use std::{
    convert::Infallible,
    future::{ready, Future},
    io::Cursor,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
};

use bytes::{Bytes, BytesMut};
use fastwebsockets::{handshake, Frame, OpCode, Payload, Role, WebSocketRead, WebSocketWrite};
use http_body_util::Empty;
use hyper::{header, upgrade::Upgraded, Request};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, Chain},
    net::{
        tcp::{OwnedReadHalf, OwnedWriteHalf},
        TcpSocket, TcpStream,
    },
};
use wire::protocol::{ClientFrame, ServerFrame, WS_PATH};

/// The read side: what the upgrade read past the server's answer, then the stream.
type ReadSide = Chain<Cursor<Bytes>, OwnedReadHalf>;
pub type Reader = WebSocketRead<ReadSide>;
pub type Writer = WebSocketWrite<OwnedWriteHalf>;

/// An open websocket, `hello` read and the first `resume` sent.
pub struct Socket {
    pub reader: Reader,
    pub writer: Writer,
}

/// How many source addresses client sockets are spread over.
const SOURCE_ADDRESSES: usize = 100;
static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// The next source address, round robin over 127.0.0.2 ….
pub fn next_source() -> IpAddr {
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCE_ADDRESSES;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n as u8))
}

/// Runs the upgrade's HTTP connection task on the runtime.
struct Spawn;

impl hyper::rt::Executor<Pin<Box<dyn Future<Output = ()> + Send>>> for Spawn {
    fn execute(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        tokio::spawn(future);
    }
}

/// Opens `/ws` with the token and reads the `hello`. `query` lets the
/// baseline server know the client's conversation; Natter ignores it.
pub async fn open(addr: SocketAddr, token: Option<&str>, query: &str) -> Result<Socket, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.bind(SocketAddr::new(next_source(), 0)).map_err(|e| format!("bind: {e}"))?;
    let stream = socket.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let mut request = Request::get(format!("http://{addr}{WS_PATH}{query}"))
        .header(header::HOST, addr.to_string())
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_KEY, handshake::generate_key())
        .header(header::SEC_WEBSOCKET_VERSION, "13");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| format!("request: {e}"))?;
    let (ws, _) = handshake::client(&Spawn, request, stream).await.map_err(|e| format!("upgrade: {e}"))?;
    // Back to the TCP stream, to split it into halves that share nothing.
    let upgraded: Upgraded = ws.into_inner().into_inner();
    let parts = upgraded.downcast::<TokioIo<TcpStream>>().map_err(|_| "upgrade: not a TCP stream".to_owned())?;
    let (read, write) = parts.io.into_inner().into_split();
    let (mut reader, writer) = fastwebsockets::after_handshake_split(Cursor::new(parts.read_buf).chain(read), write, Role::Client);
    // Answered by the reader's owner, who holds the writer (see `read`).
    reader.set_auto_pong(false);
    reader.set_auto_close(false);
    let mut socket = Socket { reader, writer };
    match socket.next().await {
        Some(ServerFrame::Hello { .. }) => {}
        other => return Err(format!("expected hello, got {other:?}")),
    }
    socket.send(&ClientFrame::Resume { positions: vec![] }).await.map_err(|e| format!("resume: {e}"))?;
    Ok(socket)
}

/// A frame's JSON, as the frame that carries it.
pub fn text(frame: &ClientFrame) -> Frame<'static> {
    text_of(serde_json::to_vec(frame).expect("frames serialize"))
}

/// The text frame carrying `json`, already serialized.
pub fn text_of(json: Vec<u8>) -> Frame<'static> {
    Frame::text(Payload::Owned(json))
}

/// What a read brings.
pub enum Incoming {
    /// A text frame's payload.
    Text(BytesMut),
    /// A ping, to answer with a pong carrying the same bytes.
    Ping(Vec<u8>),
    /// The socket ended: the server's close code, or 0 when it failed.
    Closed(u16),
}

/// Reads up to the next frame the reader's owner must act on.
pub async fn read(reader: &mut Reader) -> Incoming {
    loop {
        // Pings and closes come back as frames (see `open`): nothing to send from here.
        let Ok(frame) = reader.read_frame(&mut |_| ready(Ok::<(), Infallible>(()))).await else {
            return Incoming::Closed(0);
        };
        match frame.opcode {
            OpCode::Text => {
                return Incoming::Text(match frame.payload {
                    // What fastwebsockets reads: the frame's bytes, not a copy.
                    Payload::Bytes(bytes) => bytes,
                    other => BytesMut::from(&other[..]),
                })
            }
            OpCode::Ping => return Incoming::Ping(frame.payload.to_vec()),
            OpCode::Close => {
                return Incoming::Closed(frame.payload.get(..2).map_or(1005, |code| u16::from_be_bytes([code[0], code[1]])))
            }
            _ => continue,
        }
    }
}

/// The pong that answers a ping's `payload`.
pub fn pong(payload: Vec<u8>) -> Frame<'static> {
    Frame::pong(Payload::Owned(payload))
}

impl Socket {
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), String> {
        self.writer.write_frame(text(frame)).await.map_err(|e| e.to_string())
    }

    /// The next frame the server sends; `None` once the socket is closed.
    /// A frame this version cannot read is skipped.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            let payload = self.next_payload().await.ok()?;
            if let Ok(frame) = serde_json::from_slice(&payload) {
                return Some(frame);
            }
        }
    }

    /// The next text frame's payload, answering pings on the way; or the
    /// close code the socket ended with (0: it failed).
    pub async fn next_payload(&mut self) -> Result<BytesMut, u16> {
        loop {
            match read(&mut self.reader).await {
                Incoming::Text(payload) => return Ok(payload),
                Incoming::Ping(payload) => {
                    self.writer.write_frame(pong(payload)).await.map_err(|_| 0u16)?;
                }
                Incoming::Closed(code) => return Err(code),
            }
        }
    }

    /// Closes the websocket as a browser leaving the page would.
    pub async fn close(mut self) {
        let _ = self.writer.write_frame(Frame::close(1000, b"")).await;
    }
}
